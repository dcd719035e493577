"""`payops replay --json` and `payops local` as a user runs them (own module: own local AWS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "events"


def test_replay_cli_prints_one_summary_object(capsys: pytest.CaptureFixture[str]) -> None:
    from payops.cli import main

    # The Payment Link order (metadata {}): fulfilled from what --stripe-data says it sold.
    order = EXAMPLES / "10-payment-link-order-paid.json"
    data = ROOT / "examples" / "stripe-data"
    status = main(["replay", "--stripe-data", str(data), str(order), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0
    assert summary["events"] == 1
    assert summary["executions"]["fulfilment"] == {"SUCCEEDED": 1}
    assert summary["emails"] == [
        {
            "to": "kenji.tanaka@example.jp",
            "subject": "Your download is ready / ダウンロードのご案内",
        }
    ]
    assert [c["url"].split("?")[0].rsplit("/", 1)[-1] for c in summary["http_calls"]] == [
        "cs_test_a1PaymentLinkCheckoutV9wX2yZ5aB8cD1eF4gH7iJ0kL3mN6oP9qR2sT5u",
        "line_items",
    ]


def test_replay_reports_bad_files_and_still_replays_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from payops.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    # With both chat and ticket consumers on: the fake Slack and Backlog calls are in http_calls.
    providers = ["-c", "chatProvider=slack", "-c", "ticketProvider=backlog"]
    failed = str(EXAMPLES / "04-payment-failed.json")
    status = main(["replay", *providers, str(bad), failed, "--json"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.strip().startswith(f"error: {bad}: not valid JSON")
    assert sorted(c["url"] for c in json.loads(captured.out)["http_calls"]) == [
        "https://example.backlog.com/api/v2/issues?apiKey=****",  # the key stays out of traces
        "https://slack.com/api/chat.postMessage",
    ]
    assert json.loads(captured.out)["rules"] == {
        "Events-Archive-StripePayOps-stripe-events": 1,  # the archive's rule keeps every event
        "analytics-export": 1,  # and the analytics export (issue 16)
        "customer-dunning": 1,
        "payment-activity": 1,
        "payment-failed": 1,
    }


def test_local_deploys_and_lists_what_it_asserted(capsys: pytest.CaptureFixture[str]) -> None:
    from payops.cli import main

    assert main(["local"]) == 0
    out = capsys.readouterr().out
    assert "into the local AWS" in out
    assert "AWS::StepFunctions::StateMachine" in out and "AWS::Events::Rule" in out
    assert "moto gaps bridged:" in out


def _many_events_one_too_big_for_step_functions(tmp_path: Path) -> tuple[list[str], str]:
    """21 events (more than the per-event trace shows): 20 small ones and one paid order of
    ~300 KiB, which PutEvents accepts (1 MiB) but StartExecution (256 KiB) refuses, so its
    workflow target is dead-lettered."""
    failed_payment = json.loads((EXAMPLES / "04-payment-failed.json").read_text())
    paths = []
    for n in range(20):
        event = dict(failed_payment, id=f"evt_many{n:02d}")
        path = tmp_path / f"{n:02d}.json"
        path.write_text(json.dumps(event))
        paths.append(str(path))
    big = json.loads((EXAMPLES / "01-card-order-paid.json").read_text())
    big["id"] = "evt_too_big_for_step_functions"
    big["data"]["object"]["metadata"]["note"] = "x" * 300_000
    path = tmp_path / "20-big.json"
    path.write_text(json.dumps(big))
    return [*paths, str(path)], big["id"]


def test_replay_prints_every_failure_at_any_event_count_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from payops.cli import main

    paths, big_id = _many_events_one_too_big_for_step_functions(tmp_path)
    status = main(["replay", *paths])
    out = capsys.readouterr().out
    assert status == 1  # something was dead-lettered
    (line,) = [line for line in out.splitlines() if "FAILED" in line and "fulfilment" in line]
    assert big_id in line and "20-big.json" in line
    assert "rule paid-order -> RuleTargetsDeadLetters" in line  # where it went
    assert "262144" in line  # StartExecution's input limit: the error says why


def test_replay_json_lists_failures_and_notices_and_allow_failures_keeps_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from payops.cli import main

    paths, big_id = _many_events_one_too_big_for_step_functions(tmp_path)
    status = main(["replay", *paths, "--json", "--allow-failures"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0
    failed = {(f["event"], f["workflow"]) for f in summary["failed"]}
    assert (big_id, "fulfilment") in failed
    assert all(set(f) == {"event", "workflow", "state", "error"} for f in summary["failed"])
    assert {f["event"] for f in summary["failed"]} == {big_id}
    topics = [n["topic"] for n in summary["notices"]]
    # 20 payment-failed notices and the big order's staff notice (small: it is delivered).
    assert topics.count("NotificationsPaymentProblems") == 20
    assert topics.count("NotificationsOrders") == 1
    assert all(n["message"] for n in summary["notices"])
    assert "NotificationsPaymentActivity" not in topics  # raw events are not notices


def _story(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """One customer: A started, B started (a resubscription), A ended; and C whose deleted
    event is delivered before its start. Shaped from the bundled examples."""
    # 07: the first payment went through (incomplete -> active): the subscription started.
    created = json.loads((EXAMPLES / "07-subscription-updated-active.json").read_text())
    deleted = json.loads((EXAMPLES / "08-subscription-deleted.json").read_text())
    events = []
    subs = {"A": "sub_1PStoryA000000001", "B": "sub_1PStoryB000000001", "C": "sub_1PStoryC0000001"}
    for label, template, offset in (
        ("A", created, 0), ("B", created, 100), ("A", deleted, 200),
        ("C", deleted, 400), ("C", created, 300),
    ):  # fmt: skip
        event = json.loads(json.dumps(template))
        event["id"] = f"evt_1PStory{label}{offset:04d}{event['type'].rsplit('.', 1)[1]}"
        event["created"] += offset
        event["data"]["object"]["id"] = subs[label]
        events.append(event)
    path = tmp_path / "story.json"
    path.write_text(json.dumps(events))
    customer = created["data"]["object"]["customer"]
    names = {k: f"payops-customer-{customer}-{v}".replace("_", "-") for k, v in subs.items()}
    return path, names


def test_replay_summary_lists_customer_stacks_two_subscriptions_one_ends(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from payops.cli import main

    path, names = _story(tmp_path)
    status = main(["replay", str(path), "--json"])
    summary = json.loads(capsys.readouterr().out)

    assert status == 0
    # A removed, B (the other live subscription) kept, C (deleted before created) never made.
    assert summary["stacks"] == {names["A"]: "DELETE_COMPLETE", names["B"]: "CREATE_COMPLETE"}
    assert not [c for c in summary["http_calls"] if c["url"].endswith("/v1/refunds")]
    assert summary["executions"]["subscription-provision"] == {"SUCCEEDED": 3}
    assert summary["executions"]["subscription-deprovision"] == {"SUCCEEDED": 2}
