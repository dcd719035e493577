"""Reconciliation with Stripe and thin events (issue 16), in the local AWS with the deployed
template (one deployment for the module).

Reconciliation: Stripe (the fake API) knows several delivered events and one it never delivered;
the reconciliation workflow lists Stripe's events (GET /v1/events, paginated), re-injects exactly
the undelivered one under its own source, and the order it describes is fulfilled once, even when
the original delivery arrives afterwards.

Thin events: a thin `checkout.session.completed` (tests/fixtures/thin/, shaped after Stripe's
documented examples) is fetched back into its snapshot and fulfils the order as the snapshot
delivery does; a thin and a snapshot delivery of the same change act once; a 404 ends in a named
state with a staff notice.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PARTNER_SOURCE, ROOT

from payops.envelope import load_events
from payops.localaws.reconcile import fire, reconcile
from payops.localaws.runtime import LocalAws
from payops.settings import HYDRATION_SOURCE, RECONCILIATION_SOURCE, Settings

CONTEXT = {"ingress": "partner", "stripeEventSourceName": PARTNER_SOURCE}
STRIPE_DATA = ROOT / "examples" / "stripe-data"
PAID = json.loads((ROOT / "examples" / "events" / "10-payment-link-order-paid.json").read_text())
FIXTURES = ROOT / "tests" / "fixtures" / "events"
BASE = 1_790_000_000  # created of the test's orders; far from other tests' events


def order(n: int, created: int | None = None) -> dict[str, Any]:
    """A Payment Link order (the bundled one) with its own event, session and buyer."""
    event = copy.deepcopy(PAID)
    event["id"] = f"evt_1Recon{n:04d}PaymentLinkOrder"
    event["created"] = BASE + n if created is None else created
    session = event["data"]["object"]
    session["id"] = f"cs_test_recon{n:04d}"
    session["customer_details"]["email"] = f"buyer{n}@example.jp"
    return event


def other(name: str, n: int) -> dict[str, Any]:
    event = json.loads((FIXTURES / name).read_text())
    event = event.get("detail", event)
    event["id"] = f"evt_1Recon{n:04d}Other"
    event["created"] = BASE + n
    return event


@pytest.fixture(scope="module")
def local() -> Iterator[LocalAws]:
    local = LocalAws(CONTEXT, stripe_data=STRIPE_DATA).start()
    try:
        yield local
    finally:
        local.stop()


def deliver(local: LocalAws, event: dict[str, Any]) -> Any:
    (loaded,) = load_events_from(event, local.settings)
    return local.send(loaded)


def load_events_from(event: dict[str, Any], settings: Settings) -> list[Any]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{event['id']}.json"
        path.write_text(json.dumps(event))
        return load_events(path, settings)


def emails_to(local: LocalAws, address: str) -> int:
    return sum(1 for m in local._sent_emails() if address in str(m.destinations))


def claim(local: LocalAws, key: str) -> dict[str, Any] | None:
    tables = local.deployed.resources_of("AWS::DynamoDB::Table")
    (table,) = [t for logical, t in tables.items() if logical.startswith("IdempotencyTable")]
    return (
        local.client("dynamodb")
        .get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True)
        .get("Item")
    )


def test_reinjects_exactly_the_undelivered_event_once_and_the_order_is_fulfilled_once(
    local: LocalAws,
) -> None:
    delivered = [order(1), order(2), other("invoice.paid.jpy-5000.json", 3),
                 other("customer.created.json", 4), order(5)]  # fmt: skip
    for event in delivered:
        trace = deliver(local, event)
        assert not trace.failed, trace.failed
    missed = order(6, created=BASE + 3)  # between the delivered ones
    local.fake_stripe.never_delivered(missed)

    first = reconcile(local, since=BASE, until=BASE + 10)
    assert first.status == "SUCCEEDED"
    assert first.reinjected == [missed["id"]]
    assert first.trace is not None and not first.trace.failed
    assert "paid-order-recovered" in first.trace.rules  # its twin on the app event bus
    assert emails_to(local, "buyer6@example.jp") == 1
    fulfilment = [e for e in first.trace.executions if e["state_machine"] == "fulfilment"]
    assert [e["status"] for e in fulfilment] == ["SUCCEEDED"]
    assert fulfilment[0]["states"][-1] == "Fulfilled"
    # The audit trail now has it, under Stripe's own event id.
    assert claim(local, f"reconciliation#{missed['id']}") is not None

    second = reconcile(local, since=BASE, until=BASE + 10)
    assert second.status == "SUCCEEDED"
    assert second.reinjected == []
    assert emails_to(local, "buyer6@example.jp") == 1

    # Stripe's own retry finally gets through: nothing acts twice.
    late = deliver(local, missed)
    assert not late.failed
    states = [e["states"][-1] for e in late.executions if e["state_machine"] == "fulfilment"]
    assert states == ["AlreadyHandled"]
    assert emails_to(local, "buyer6@example.jp") == 1


def test_reinjected_events_carry_the_reconciliation_source(local: LocalAws) -> None:
    from payops.localaws.core.recorder import RECORDER

    missed = order(20)
    local.fake_stripe.never_delivered(missed)
    mark = RECORDER.mark()
    result = reconcile(local, since=BASE + 20, until=BASE + 20)
    assert result.reinjected == [missed["id"]]
    matched = [f.data for f in RECORDER.since(mark) if f.kind == "rule_matched"]
    assert {(m["rule"].removeprefix("StripePayOps-"), m["source"]) for m in matched} >= {
        ("paid-order-recovered", RECONCILIATION_SOURCE),
        ("payment-activity-recovered", RECONCILIATION_SOURCE),
    }
    assert {m["detail_type"] for m in matched} == {"checkout.session.completed"}
    assert emails_to(local, "buyer20@example.jp") == 1


def test_payops_reconcile_prints_what_it_reinjected(
    local: LocalAws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command's body (payops reconcile deploys its own local AWS; this one is shared).
    Runs before the tests that add hundreds of events: its window reaches up to now."""
    from payops.localaws.cli import reconcile_in

    delivered, missed = order(60), order(61)
    (tmp_path / "delivered.json").write_text(json.dumps(delivered))
    local.fake_stripe.never_delivered(missed)
    assert reconcile_in(local, BASE + 60, [str(tmp_path / "delivered.json")], as_json=True) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["status"] == "SUCCEEDED" and printed["reinjected"] == [missed["id"]]
    assert printed["summary"]["emails"] == [
        {"to": "buyer61@example.jp", "subject": printed["summary"]["emails"][0]["subject"]}
    ]
    assert reconcile_in(local, BASE + 60, [], as_json=False) == 0
    text = capsys.readouterr().out
    assert text.startswith("reconciliation SUCCEEDED: 0 event(s) re-injected, 0 delivered")


def test_the_audited_types_are_the_payment_activity_rules() -> None:
    """Reconciliation judges exactly the event types the audit trail records: the Choice in
    the ASL and the payment-activity rule cannot drift apart."""
    asl = json.loads((ROOT / "statemachines" / "reconciliation.asl.json").read_text())
    choice = asl["States"]["EachEvent"]["ItemProcessor"]["States"]["IsAudited"]
    globs = sorted(c["StringMatches"] for c in choice["Choices"][0]["Or"])
    rule = json.loads((ROOT / "rules" / "payment-activity.json").read_text())
    prefixes = sorted(p["prefix"] + "*" for p in rule["pattern"]["detail-type"])
    assert globs == prefixes


def test_overlapping_runs_reinject_a_missed_event_once(local: LocalAws) -> None:
    """Two runs judging the same window at once both find the event unseen (neither has been
    audited yet): the claim reconciliation#<evt> lets one of them put it on the bus."""
    from payops.localaws.reconcile import machine_arn

    missed = order(70)
    local.fake_stripe.never_delivered(missed)
    sfn = local.client("stepfunctions")
    window = json.dumps({"since": BASE + 70, "until": BASE + 70})
    arns = [
        sfn.start_execution(stateMachineArn=machine_arn(local), name=f"overlap-{i}",
                            input=window)["executionArn"]
        for i in range(2)
    ]  # fmt: skip
    local.settle()
    outputs = [json.loads(sfn.describe_execution(executionArn=a)["output"]) for a in arns]
    assert sorted(o["found"] for o in outputs) == [0, 1]
    assert emails_to(local, "buyer70@example.jp") == 1


def test_pagination_reads_every_page(local: LocalAws) -> None:
    # 230 undelivered non-payment events and 2 missed orders at the oldest end: 3 pages.
    start = BASE + 1000
    for n in range(230):
        event = other("customer.created.json", 1000 + n)
        event["created"] = start + 10 + n
        local.fake_stripe.never_delivered(event)
    oldest = [order(900, created=start), order(901, created=start + 1)]
    for event in oldest:
        local.fake_stripe.never_delivered(event)
    before = len([c for c in local.fake_stripe.calls if c.path == "/v1/events"])
    result = reconcile(local, since=start, until=start + 500)
    assert result.status == "SUCCEEDED"
    assert sorted(result.reinjected) == sorted(e["id"] for e in oldest)
    assert result.pages == 3
    calls = [c for c in local.fake_stripe.calls if c.path == "/v1/events"][before:]
    cursors = [c.params.get("starting_after") for c in calls if c.params.get("limit") == "100"]
    assert cursors[0] is None and all(cursors[1:]) and len(cursors) == 3


def test_scheduled_run_advances_the_checkpoint_only_after_success(local: LocalAws) -> None:
    # First scheduled run: only starts the checkpoint at Stripe's newest event.
    local.fake_stripe.never_delivered(other("customer.created.json", 2999))
    first = fire(local)
    assert first.status == "SUCCEEDED" and first.reinjected == []
    checkpoint = claim(local, "reconciliation#checkpoint")
    assert checkpoint is not None
    horizon = int(checkpoint["horizon"]["N"])
    # An event Stripe made after that, never delivered; the next run only records the new
    # horizon (it judges up to the old one); the run after that re-injects it.
    missed = order(3000, created=horizon + 5)
    local.fake_stripe.never_delivered(missed)
    newer = other("customer.created.json", 3001)
    newer["created"] = horizon + 50
    local.fake_stripe.never_delivered(newer)
    assert fire(local).reinjected == []
    assert int(claim(local, "reconciliation#checkpoint")["horizon"]["N"]) == horizon + 50

    # Stripe fails the listing longer than the retries last: the run fails, the checkpoint
    # stays where it was, and the next run judges the same window.
    saved = claim(local, "reconciliation#checkpoint")
    # (skip=1: the newest-event read goes through, the window's listing fails)
    local.fake_stripe.fail_next(500, times=12, path="/v1/events", skip=1)
    failed = fire(local)
    assert failed.status == "FAILED"
    assert claim(local, "reconciliation#checkpoint") == saved
    local.fake_stripe._failures.clear()

    ok = fire(local)
    assert ok.status == "SUCCEEDED"
    assert ok.reinjected == [missed["id"]]
    assert int(claim(local, "reconciliation#checkpoint")["checked"]["N"]) == horizon + 50


# -- thin events ---------------------------------------------------------------------------------
THIN = ROOT / "tests" / "fixtures" / "thin"


def thin_fixture(name: str) -> dict[str, Any]:
    envelope = json.loads((THIN / name).read_text())
    envelope["source"] = PARTNER_SOURCE
    return envelope


def send_envelope(local: LocalAws, envelope: dict[str, Any]) -> Any:
    from payops.envelope import LoadedEvent

    return local.send(LoadedEvent(envelope["detail"]["id"], envelope))


def thin_for(snapshot: dict[str, Any], n: int, *, in_notification: bool) -> dict[str, Any]:
    """The thin version of a snapshot order event, and what Stripe's v2 Events API knows."""
    envelope = thin_fixture("v1.checkout.session.completed.json")
    notification = envelope["detail"]
    notification["id"] = f"evt_test_65RThin{n:04d}"
    session = snapshot["data"]["object"]["id"]
    notification["related_object"].update(id=session, url=f"/v1/checkout/sessions/{session}")
    if in_notification:  # a snapshot destination runs beside the thin one (migration guide)
        notification["snapshot_event"] = snapshot["id"]
    fetched = {**notification, "changes": None, "snapshot_event": snapshot["id"]}
    return envelope, fetched


def send_thin(
    local: LocalAws, snapshot: dict[str, Any], n: int, *, in_notification: bool
) -> tuple[dict[str, Any], Any, dict[str, str]]:
    """Deliver the thin version of `snapshot`; it must be hydrated. Returns the envelope, the
    trace and each workflow's last state."""
    envelope, fetched = thin_for(snapshot, n, in_notification=in_notification)
    local.fake_stripe.events.add_thin(fetched)
    trace = send_envelope(local, envelope)
    assert not trace.failed, trace.failed
    ended = {e["state_machine"]: e["states"][-1] for e in trace.executions}
    assert ended["thin-event"] == "Hydrated"
    return envelope, trace, ended


def email_text(local: LocalAws, address: str) -> list[tuple[str, str]]:
    """(subject, body) of each email to `address`, with link tokens and the buyer masked."""
    import re

    found = []
    for message in local._sent_emails():
        if address not in str(getattr(message, "destinations", "")):
            continue
        body = str(getattr(message, "body", ""))
        body = re.sub(r"https?://\S+", "<link>", body).replace(address, "<buyer>")
        body = re.sub(r"cs_test_\w+", "<session>", body)
        found.append((str(getattr(message, "subject", "")), body))
    return found


def test_a_thin_checkout_session_completed_fulfils_the_order_as_the_snapshot_one(
    local: LocalAws,
) -> None:
    snapshot_order = order(40)
    assert not deliver(local, snapshot_order).failed

    thin_order = order(41)
    local.fake_stripe.never_delivered(thin_order)  # a thin destination sends no snapshot
    envelope, trace, ended = send_thin(local, thin_order, 41, in_notification=False)
    assert ended["fulfilment"] == "Fulfilled"
    assert "paid-order-recovered" in trace.rules  # its twin on the app event bus
    paths = [urllib_path(c["url"]) for c in trace.http_calls]
    assert paths[:2] == [f"/v2/core/events/{envelope['detail']['id']}",
                         f"/v1/events/{thin_order['id']}"]  # fmt: skip
    thin_mail = email_text(local, "buyer41@example.jp")
    snapshot_mail = email_text(local, "buyer40@example.jp")
    assert len(thin_mail) == 1 and thin_mail == snapshot_mail
    assert thin_mail[0][1].count("<link>") >= 2  # the e-book and the video: one link each


def urllib_path(url: str) -> str:
    import urllib.parse

    return urllib.parse.urlsplit(url).path


def test_thin_and_snapshot_deliveries_of_the_same_change_act_once(local: LocalAws) -> None:
    snapshot = order(42)
    assert not deliver(local, snapshot).failed
    _, trace, ended = send_thin(local, snapshot, 42, in_notification=True)
    assert ended["fulfilment"] == "AlreadyHandled"
    # The notification named its snapshot event: no v2 fetch was needed.
    assert [urllib_path(c["url"]) for c in trace.http_calls][0] == f"/v1/events/{snapshot['id']}"
    assert len(email_text(local, "buyer42@example.jp")) == 1


def test_a_thin_event_stripe_no_longer_has_ends_in_event_gone_with_a_notice(
    local: LocalAws,
) -> None:
    envelope = thin_fixture("v1.checkout.session.completed.json")
    envelope["detail"]["id"] = "evt_test_65RThinGone"  # the v2 Events API does not know it
    trace = send_envelope(local, envelope)
    assert not trace.failed, trace.failed
    (run,) = [e for e in trace.executions if e["state_machine"] == "thin-event"]
    assert run["status"] == "SUCCEEDED" and run["states"][-1] == "EventGone"
    notices = [n["message"] for n in trace.notices]
    assert len(notices) == 1 and "evt_test_65RThinGone" in notices[0] and "404" in notices[0]
    assert not [e for e in trace.executions if e["state_machine"] == "fulfilment"]


def test_a_v2_event_notification_is_hydrated_with_its_related_object(local: LocalAws) -> None:
    """Stripe's documented ping example: GET /v2/core/events/{id}, then related_object.url."""
    envelope = thin_fixture("v2.core.event_destination.ping.json")
    notification = envelope["detail"]
    local.fake_stripe.events.add_thin({**notification, "data": None})
    destination = {
        "id": notification["related_object"]["id"],
        "object": "v2.core.event_destination",
        "type": "amazon_eventbridge",
        "event_payload": "thin",
        "status": "enabled",
    }
    local.fake_stripe.events.add_object(notification["related_object"]["url"], destination)
    trace = send_envelope(local, envelope)
    assert not trace.failed, trace.failed
    (run,) = [e for e in trace.executions if e["state_machine"] == "thin-event"]
    assert "FetchRelatedObject" in run["states"] and run["states"][-1] == "Hydrated"
    (entry,) = put_entries(local)
    assert entry["Source"] == HYDRATION_SOURCE
    assert entry["DetailType"] == "v2.core.event_destination.ping"
    detail = entry["Detail"]
    assert detail["object"] == "event" and detail["id"] == notification["id"]
    assert detail["data"] == {"object": destination}
    assert detail["related_object"] == notification["related_object"]


def put_entries(local: LocalAws) -> list[dict[str, Any]]:
    """The PutEvents entries of the newest thin-event run (from its history)."""
    sfn = local.client("stepfunctions")
    arn = next(
        m["stateMachineArn"]
        for m in sfn.list_state_machines()["stateMachines"]
        if m["name"].endswith("-thin-event")
    )
    newest = max(sfn.list_executions(stateMachineArn=arn)["executions"],
                 key=lambda e: e["startDate"])  # fmt: skip
    history = sfn.get_execution_history(executionArn=newest["executionArn"])["events"]
    entries = []
    for event in history:
        scheduled = event.get("taskScheduledEventDetails")
        if scheduled and scheduled["resourceType"] == "events":
            for e in json.loads(scheduled["parameters"])["Entries"]:
                detail = e["Detail"]
                entries.append(
                    {**e, "Detail": json.loads(detail) if isinstance(detail, str) else detail}
                )
    return entries


def test_parse_since() -> None:
    from payops.localaws.reconcile import ReconcileError, parse_since

    assert parse_since("1764547200") == 1764547200
    assert parse_since("2025-12-01") == 1764547200
    assert parse_since("2025-12-01T09:00:00+09:00") == 1764547200
    with pytest.raises(ReconcileError, match="--since 'yesterday'"):
        parse_since("yesterday")
