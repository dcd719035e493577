"""Oversized and odd events (issue 6, item 5): a clear outcome each, never a crash loop.

- near the EventBridge size limit: accepted; targets that cannot take it (Step Functions input
  and SNS messages are limited to 256 KiB) dead-letter it with an alarm; the archive keeps it;
- over the limit: PutEvents refuses it with a ValidationException; nothing runs;
- an event type no rule knows: ignored, and the trace shows no rule matched;
- a newer API version with extra fields: processed as usual;
- thin events (data.object holds only an id), per workflow: the money workflows (fulfilment,
  coupons, provisioning) are never started -- their rules filter on content a thin event lacks;
  the bookkeeping ones (audit trail, customer mirror, deprovisioning) either process it or fail
  clearly -- a bounded number of runs, ending failed or dead-lettered with an alarm.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from local_events import (
    ARCHIVE_RULE_PREFIX,
    CARD_ORDER,
    EVERY_EVENT_RULES,
    FULFILMENT_SUBJECT,
    alarms,
    alerts_topic_arn,
    buyer,
    dimensions,
    loaded,
    machine_arn,
    module_local,
    new_id,
    put_entry,
    stripe_event,
    subjects_to,
    workflow_rules,
)

from payops.localaws.core.recorder import RECORDER
from payops.localaws.runtime import EventTrace, LocalAws
from payops.localaws.services.events import (
    MAX_EXECUTION_INPUT_BYTES,
    MAX_PUT_EVENTS_BYTES,
    entry_size,
)
from stacks.notifications import MAX_RECEIVE_COUNT

STACK = "StripePayOps"
MONEY_WORKFLOWS = ("fulfilment", "coupon", "subscription-provision")


@pytest.fixture(scope="module")
def local() -> Iterator[LocalAws]:
    yield from module_local()


def archived_count(local: LocalAws) -> int:
    events = local.client("events")
    (archive,) = events.list_archives()["Archives"]
    return events.describe_archive(ArchiveName=archive["ArchiveName"])["EventCount"]


def send(local: LocalAws, event: dict[str, Any]) -> tuple[EventTrace, list[Any]]:
    mark = RECORDER.mark()
    trace = local.send(loaded(local, event))
    assert trace.delivery == "accepted"
    return trace, RECORDER.since(mark)


def has_alarm(local: LocalAws, metric: str, dims: dict[str, str]) -> bool:
    alerts = alerts_topic_arn(local)
    return any(
        a.get("MetricName") == metric and dimensions(a) == dims and a["AlarmActions"] == [alerts]
        for a in alarms(local)
    )


def padded(event: dict[str, Any], total: int, local: LocalAws) -> dict[str, Any]:
    """`event` with a metadata note that brings its PutEvents entry to `total` bytes."""
    event["data"]["object"]["metadata"]["note"] = ""
    missing = total - entry_size(put_entry(local, event))
    event["data"]["object"]["metadata"]["note"] = "x" * missing
    assert entry_size(put_entry(local, event)) == total
    return event


# -- size ----------------------------------------------------------------------------------------


def test_event_near_the_size_limit_is_archived_and_dead_lettered_where_too_big(
    local: LocalAws,
) -> None:
    order = padded(stripe_event(CARD_ORDER), MAX_PUT_EVENTS_BYTES - 4096, local)
    assert len(json.dumps(order)) > MAX_EXECUTION_INPUT_BYTES
    archived = archived_count(local)

    trace, facts = send(local, order)

    assert set(workflow_rules(trace)) == {"paid-order", "payment-activity"}
    assert archived_count(local) == archived + 1  # the archive keeps it for a later replay
    dead = [f.data for f in facts if f.kind == "dlq"]
    (workflow,) = [d for d in dead if d["target"].endswith(f":{STACK}-fulfilment")]
    (fan_out,) = [d for d in dead if "NotificationsPaymentActivity" in d["target"]]
    assert len(dead) == 2
    assert str(MAX_EXECUTION_INPUT_BYTES) in workflow["error"]  # StartExecution's input limit
    assert "too long" in fan_out["error"]  # SNS's 256 KiB message limit
    # The staff notice carries only the fields it prints (stacks/notifications.py): delivered.
    assert [e["state_machine"] for e in trace.executions] == ["notice"]
    assert subjects_to(buyer(order)) == []
    assert trace.sns == {"NotificationsOrders": 1}
    assert trace.dlq == {"RuleTargetsDeadLetters": 2}
    (queue,) = {f.data["queue"].rsplit(":", 1)[1] for f in facts if f.kind == "dlq"}
    assert has_alarm(local, "ApproximateNumberOfMessagesVisible", {"QueueName": queue})


def test_event_over_the_size_limit_is_refused_by_put_events(local: LocalAws) -> None:
    order = padded(stripe_event(CARD_ORDER), MAX_PUT_EVENTS_BYTES + 1, local)
    archived, mark = archived_count(local), RECORDER.mark()
    # Onto a bus the caller may name (the app bus): the request is refused as a whole.
    app_entry = {**put_entry(local, order), "EventBusName": app_bus(local)}
    with pytest.raises(ClientError) as refused:
        local.client("events").put_events(Entries=[app_entry])
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "over the limit" in error["Message"]
    local.settle()
    assert RECORDER.since(mark, "rule_matched") == [] and archived_count(local) == archived

    # A replay reports it as refused instead of stopping.
    trace = local.send(loaded(local, order))
    assert trace.delivery.startswith("refused:") and "over the limit" in trace.delivery
    assert trace.rules == [] and trace.executions == []

    # The limit is per request: two entries that fit alone are refused together.
    half = padded(stripe_event(CARD_ORDER), MAX_PUT_EVENTS_BYTES // 2 + 1, local)
    half_entry = {**put_entry(local, half), "EventBusName": app_bus(local)}
    with pytest.raises(ClientError) as refused:
        local.client("events").put_events(Entries=[half_entry] * 2)
    assert "over the limit" in refused.value.response["Error"]["Message"]


def app_bus(local: LocalAws) -> str:
    return str(local.deployed.outputs["AppEventBusName"])


# -- unknown and newer events ----------------------------------------------------------------------


def test_unknown_event_type_matches_no_rule_and_is_ignored(local: LocalAws) -> None:
    event = stripe_event(CARD_ORDER)
    event["type"] = "treasury.financial_account.features_status_updated"
    archived = archived_count(local)
    trace, facts = send(local, event)
    assert workflow_rules(trace) == []
    assert [r for r in trace.rules if r.startswith(ARCHIVE_RULE_PREFIX)]  # only archived
    assert archived_count(local) == archived + 1
    assert trace.executions == [] and trace.emails == [] and trace.sns == {} and trace.dlq == {}
    assert not [f for f in facts if f.kind in ("target_invoked", "target_failed", "dlq")
                and not f.data["rule"].startswith(EVERY_EVENT_RULES)]  # fmt: skip


def test_newer_api_version_with_extra_fields_is_processed(local: LocalAws) -> None:
    event = stripe_event(CARD_ORDER)
    event["api_version"] = "2099-01-01.future"
    event["context"] = "acct_" + new_id("", 16)
    event["data"]["object"]["presentment_details"] = {"presentment_amount": 4980, "extra": [1]}
    event["data"]["object"]["customer_details"]["business_name"] = "新しい会社"
    trace, _ = send(local, event)
    assert set(workflow_rules(trace)) == {"paid-order", "payment-activity"}
    assert Counter((e["state_machine"], e["status"]) for e in trace.executions) == {
        ("fulfilment", "SUCCEEDED"): 1,
        ("audit-record", "SUCCEEDED"): 1,
        ("notice", "SUCCEEDED"): 1,  # the "Paid order" staff notice
    }
    subjects = subjects_to(buyer(event))
    assert len(subjects) == 1 and subjects[0].startswith(FULFILMENT_SUBJECT)
    assert trace.dlq == {}


# -- thin events ---------------------------------------------------------------------------------

THIN_TYPES = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.updated",
    "invoice.payment_failed",
    "charge.refunded",
)


def thin_event(event_type: str) -> dict[str, Any]:
    """A Stripe event whose object carries its id only."""
    return {
        "id": new_id("evt_"),
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": {"id": new_id("obj_")}},
    }


@pytest.fixture(scope="module")
def thin(local: LocalAws) -> dict[str, tuple[EventTrace, list[Any]]]:
    return {event_type: send(local, thin_event(event_type)) for event_type in THIN_TYPES}


@pytest.mark.parametrize("event_type", THIN_TYPES)
def test_thin_event_never_starts_a_money_workflow(
    thin: dict[str, tuple[EventTrace, list[Any]]], event_type: str
) -> None:
    trace, _ = thin[event_type]
    assert not [e for e in trace.executions if e["state_machine"] in MONEY_WORKFLOWS]
    assert trace.emails == [] and not [r for r in workflow_rules(trace) if r in (
        "paid-order", "free-order", "coupon-qualifying-order", "large-order",
        "subscription-started",
    )]  # fmt: skip


@pytest.mark.parametrize("event_type", THIN_TYPES)
def test_thin_event_ends_clearly_in_every_workflow_it_reaches(
    local: LocalAws, thin: dict[str, tuple[EventTrace, list[Any]]], event_type: str
) -> None:
    """Per workflow: processed once, or failed with an alarm; via the audit queue, retried at
    most MAX_RECEIVE_COUNT times and then dead-lettered with an alarm. Never more runs."""
    trace, facts = thin[event_type]
    assert trace.delivery == "accepted"
    runs = Counter(e["state_machine"] for e in trace.executions)
    statuses = {
        name: {e["status"] for e in trace.executions if e["state_machine"] == name} for name in runs
    }
    for name, count in runs.items():
        if name == "audit-record":
            if statuses[name] == {"SUCCEEDED"}:
                assert count == 1
            else:  # the SQS redrive policy bounds the retries, then the DLQ holds it
                assert statuses[name] == {"FAILED"} and count == MAX_RECEIVE_COUNT
                assert trace.dlq == {"NotificationsAuditDeadLetters": 1}
                (queue,) = [
                    q for q, f in local.names.items() if f == "NotificationsAuditDeadLetters"
                ]
                assert has_alarm(local, "ApproximateNumberOfMessagesVisible", {"QueueName": queue})
        else:  # started by EventBridge once: a failed run is not retried, it alarms
            assert count == 1, (name, count)
            if statuses[name] == {"FAILED"}:
                assert has_alarm(
                    local, "ExecutionsFailed", {"StateMachineArn": machine_arn(local, name)}
                )
            else:
                assert statuses[name] == {"SUCCEEDED"}
    assert [f for f in facts if f.kind == "dlq"] == []  # every rule target took the event


def test_thin_subscription_end_removes_nothing(
    local: LocalAws, thin: dict[str, tuple[EventTrace, list[Any]]]
) -> None:
    trace, _ = thin["customer.subscription.deleted"]
    assert "subscription-ended" in workflow_rules(trace)
    deprovision = [e for e in trace.executions if e["state_machine"] == "subscription-deprovision"]
    assert len(deprovision) == 1
    assert "DeleteStack" not in deprovision[0]["states"]
