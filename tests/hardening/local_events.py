"""Shared by the hardening tests: fresh Stripe events, and reading what the local AWS did.

Every test in a module shares one LocalAws (a deploy takes seconds), so each test sends events
with ids of its own: a copy of an example event gets a new event id, object id, customer and
buyer email, so the claims, orders, coupons, customer stacks and emails of one test never meet
another's.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from payops.envelope import LoadedEvent, wrap
from payops.localaws.core.account import ACCOUNT, REGION
from payops.localaws.runtime import EventTrace, LocalAws

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "events"
STRIPE_DATA = ROOT / "examples" / "stripe-data"  # the Payment Link, products and their files
STATEMACHINES = ROOT / "statemachines"
PARTNER_SOURCE = "aws.partner/stripe.com/ed_test_61SampleDestination"
CONTEXT = {"ingress": "partner", "stripeEventSourceName": PARTNER_SOURCE}
CUSTOMER_STACK_PREFIX = "payops-customer-"
ARCHIVE_RULE_PREFIX = "Events-Archive-"  # the rule EventBridge manages for an archive
# Rules that see every Stripe event and start no workflow: the archive's and the analytics
# export's (issue 16; "StripePayOps-analytics-export" in the recorder's facts).
EVERY_EVENT_RULES = (ARCHIVE_RULE_PREFIX, "analytics-export", "StripePayOps-analytics-export")

CARD_ORDER = "01-card-order-paid"  # ¥4,980 paid: fulfilment
LARGE_ORDER = "05-large-order-paid"  # ¥36,000 paid: fulfilment, coupon, large-order notice
SUBSCRIPTION_STARTED = "07-subscription-updated-active"  # incomplete -> active: provisioning
FULFILMENT_SUBJECT = "Your download is ready"
COUPON_SUBJECT = "A thank-you coupon for your next order"


def new_id(prefix: str, length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def stripe_event(name: str) -> dict[str, Any]:
    """A copy of examples/events/<name>.json with new ids (event, object, customer, email)."""
    event = copy.deepcopy(json.loads((EXAMPLES / f"{name}.json").read_text()))
    event["id"] = new_id("evt_")
    event["created"] = int(time.time())
    obj = event["data"]["object"]
    head, _, _ = obj["id"].rpartition("_")
    obj["id"] = new_id(head + "_")
    if obj.get("customer"):
        obj["customer"] = new_id("cus_", 14)
    if isinstance(obj.get("customer_details"), dict):
        obj["customer_details"]["email"] = f"{new_id('buyer-', 10).lower()}@example.jp"
    return event


def buyer(event: dict[str, Any]) -> str:
    return event["data"]["object"]["customer_details"]["email"]


def loaded(local: LocalAws, event: dict[str, Any], label: str = "hardening") -> LoadedEvent:
    return LoadedEvent(label, wrap(event, local.settings))


def put_entry(local: LocalAws, event: dict[str, Any]) -> dict[str, Any]:
    """The PutEvents entry Stripe's event destination sends for `event`."""
    return {
        "EventBusName": local.bus_name,
        "Source": local.settings.event_source,
        "DetailType": event["type"],
        "Detail": json.dumps(event),
    }


# -- side effects -----------------------------------------------------------------------------


def emails_to(address: str) -> list[Any]:
    """SES messages sent to `address` (moto records every accepted SendEmail)."""
    from moto.ses.models import ses_backends

    sent = list(ses_backends[ACCOUNT][REGION].sent_messages)
    return [m for m in sent if address in (getattr(m, "destinations", None) or {}).get(
        "ToAddresses", []
    )]  # fmt: skip


def subjects_to(address: str) -> list[str]:
    return sorted(str(m.subject) for m in emails_to(address))


def coupons_for(local: LocalAws, event: dict[str, Any]) -> list[dict[str, Any]]:
    """Coupons the fake Stripe created for this event (the workflow tags them)."""
    return [
        c
        for c in local.fake_stripe.coupons.values()
        if (c.get("metadata") or {}).get("stripe_event") == event["id"]
    ]


def customer_stacks(local: LocalAws, event: dict[str, Any]) -> list[dict[str, Any]]:
    """CloudFormation stacks of the event's customer, one per subscription
    (cus_X, sub_Y -> payops-customer-cus-X-sub-Y)."""
    name = CUSTOMER_STACK_PREFIX + event["data"]["object"]["customer"].replace("_", "-") + "-"
    summaries = local.client("cloudformation").list_stacks()["StackSummaries"]
    return [s for s in summaries if s["StackName"].startswith(name)]


# -- the deployment -----------------------------------------------------------------------------


def machine_arn(local: LocalAws, asl_name: str) -> str:
    machines = local.client("stepfunctions").list_state_machines()["stateMachines"]
    (arn,) = [m["stateMachineArn"] for m in machines if m["name"].endswith(f"-{asl_name}")]
    return arn


def rule_arn(local: LocalAws, rule_name: str) -> str:
    rules = local.client("events").list_rules(EventBusName=local.bus_name)["Rules"]
    (arn,) = [r["Arn"] for r in rules if r["Name"].endswith(f"-{rule_name}")]
    return arn


def alerts_topic_arn(local: LocalAws) -> str:
    topics = local.deployed.resources_of("AWS::SNS::Topic")
    (arn,) = [arn for logical, arn in topics.items() if logical.startswith("NotificationsPayment")
              and "Problems" in logical]  # fmt: skip
    return arn


def alarms(local: LocalAws) -> list[dict[str, Any]]:
    pages = local.client("cloudwatch").get_paginator("describe_alarms").paginate()
    return [alarm for page in pages for alarm in page["MetricAlarms"]]


def dimensions(alarm: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}


def executions_of(local: LocalAws, asl_name: str, event_id: str) -> list[dict[str, Any]]:
    """Executions of one workflow whose input is (an envelope of) this Stripe event."""
    sfn = local.client("stepfunctions")
    found = []
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=machine_arn(local, asl_name)
    )
    for page in pages:
        for execution in page["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if event_id in described.get("input", ""):  # ids are random: no false match
                found.append(described)
    return found


def states_of(local: LocalAws, execution_arn: str) -> list[str]:
    history = local.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    return [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]


def workflow_rules(trace: EventTrace) -> list[str]:
    """The rules an event matched, without the archive's own rule and the analytics export."""
    return [r for r in trace.rules if not r.startswith(EVERY_EVENT_RULES)]


def replay(
    local: LocalAws,
    name: str,
    since: datetime,
    *,
    until: datetime | None = None,
    rules: list[str] | None = None,
) -> dict[str, Any]:
    """Re-drive archived events from `since` until `until` or now, optionally to some rules
    only (as the README's "What the system guarantees" says), and wait until at rest."""
    events = local.client("events")
    (archive,) = events.list_archives()["Archives"]
    described = events.describe_archive(ArchiveName=archive["ArchiveName"])
    destination: dict[str, Any] = {"Arn": described["EventSourceArn"]}
    if rules is not None:
        destination["FilterArns"] = [rule_arn(local, rule) for rule in rules]
    events.start_replay(
        ReplayName=name,
        EventSourceArn=described["ArchiveArn"],
        EventStartTime=since,
        EventEndTime=until or datetime.now(UTC),
        Destination=destination,
    )
    local.settle()
    return events.describe_replay(ReplayName=name)


def module_local() -> Iterator[LocalAws]:
    """Body of each module's `local` fixture: one deployment per module, always stopped."""
    local = LocalAws(CONTEXT, stripe_data=STRIPE_DATA).start()
    try:
        yield local
    finally:
        local.stop()


def asl_max_attempts(asl_name: str, state: str, error: str) -> int:
    """MaxAttempts of the Retry entry of `state` that covers `error` (0 if none)."""
    definition = json.loads((STATEMACHINES / f"{asl_name}.asl.json").read_text())
    for retrier in definition["States"][state].get("Retry", []):
        if error in retrier["ErrorEquals"]:
            return int(retrier.get("MaxAttempts", 3))
    pytest.fail(f"{asl_name}.{state} has no Retry for {error}")
