"""The benchmark's own logic: the generated history and the cost model (no AWS, no synthesis)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from bench import cost, history
from payops.envelope import wrap
from payops.patterns import matches
from payops.rules import is_internal, load_catalogue
from payops.settings import Settings


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return history.generate(1200, seed=3)


def test_history_has_the_size_mix_and_redeliveries_asked_for(events: list[dict]) -> None:
    described = history.describe(events)
    assert described["events"] == 1200
    assert 0.04 <= described["duplicates"] / 1200 <= 0.06
    for kind in (
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "charge.refunded",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.created",
        "invoice.payment_failed",
    ):
        assert described["types"].get(kind, 0) > 0, kind
    assert history.generate(300, seed=3) == history.generate(300, seed=3)  # deterministic


def test_redeliveries_repeat_an_earlier_event_exactly(events: list[dict]) -> None:
    first: dict[str, dict] = {}
    for event in events:
        if event["id"] in first:
            assert event == first[event["id"]]
        else:
            first[event["id"]] = event


def test_ids_are_consistent_across_a_story(events: list[dict]) -> None:
    sessions = {}
    paid_intents = set()
    for event in events:
        obj = event["data"]["object"]
        if event["type"] == "checkout.session.completed":
            sessions.setdefault(obj["id"], obj)
            if obj["payment_status"] == "paid":
                paid_intents.add(obj["payment_intent"])
        elif event["type"].startswith("checkout.session.async_payment_"):
            placed = sessions[obj["id"]]  # paid later: the session placed earlier
            assert (obj["customer"], obj["amount_total"]) == (
                placed["customer"],
                placed["amount_total"],
            )
        elif event["type"] == "charge.refunded":
            assert obj["payment_intent"] in paid_intents  # refunds a paid order
    created = {
        e["data"]["object"]["id"] for e in events if e["type"] == "customer.subscription.created"
    }
    for event in events:
        if event["type"] in ("customer.subscription.updated", "customer.subscription.deleted"):
            assert event["data"]["object"]["id"] in created


def test_every_rule_fires_somewhere_in_the_history(events: list[dict]) -> None:
    settings = Settings.load({})
    rules = load_catalogue(settings)
    fired = {
        rule.name
        for event in events
        for rule in rules
        if matches(rule.pattern, wrap(event, settings))
    }
    # The rules of the stack's own events (live status) take no Stripe event.
    internal = {rule.name for rule in rules if is_internal(rule)}
    expected = {rule.name for rule in rules} - {"subscription-schedule-status-changed"} - internal
    assert expected <= fired


SEEN = {
    "executions": [
        {"state_machine": "fulfilment", "type": "STANDARD", "states_entered": 9,
         "task_states_entered": 7},
        {"state_machine": "audit-record", "type": "EXPRESS", "states_entered": 8,
         "task_states_entered": 1},
    ],
    "eventbridge_events": 1,
    "event_bytes": 3000,
    "archive": False,
    "pipe_requests": 1,
    "sns_publishes": 2,
    "sqs_requests": 5,
    "ddb_writes": {"Orders": 2, "Big": 1},
    "ddb_item_bytes": {"Orders": 400, "Big": 2500},
    "ddb_reads": 0,
    "lambda_invokes": {"clock": 1},
    "lambda_config": {"clock": {"memory_mb": 256, "architecture": "arm64"}},
    "emails": 1,
}  # fmt: skip


def test_cost_model_prices_what_was_observed() -> None:
    model = cost.model(SEEN)
    rows = {row["item"]: row for row in model["rows"]}
    per_million = cost.ORDERS
    # Standard: only the Standard workflow's states; the sample makes every state a transition.
    assert rows["Step Functions Standard transitions"]["ours_usd"] == pytest.approx(
        9 * 0.025 / 1000 * per_million
    )
    assert rows["Step Functions Standard transitions"]["sample_usd"] == pytest.approx(
        17 * 0.025 / 1000 * per_million
    )
    # A 2.5 KB item is 3 write units.
    assert rows["DynamoDB writes"]["ours_per_order"] == 2 + 3
    assert rows["Lambda requests"]["sample_per_order"] == 8  # one Lambda per Task state
    assert model["total_ours_usd"] == pytest.approx(sum(r["ours_usd"] for r in model["rows"]))
    assert model["total_ours_usd"] < model["total_sample_usd"]


def test_cost_model_bills_firehose_records_in_5_kb_units() -> None:
    exported = {**SEEN, "firehose_records": 1}  # 3,000 bytes: one 5 KB unit
    rows = {row["item"]: row for row in cost.model(exported)["rows"]}
    assert rows["Firehose ingestion (analytics)"]["ours_usd"] == pytest.approx(
        5 * 1024 / 1e9 * 0.029 * cost.ORDERS
    )
    assert rows["Firehose dynamic partitioning"]["ours_usd"] == pytest.approx(
        3000 / 1e9 * 0.02 * cost.ORDERS
    )
    assert {r["item"]: r for r in cost.model(SEEN)["rows"]}["Firehose ingestion (analytics)"][
        "ours_usd"
    ] == 0  # no export observed, nothing billed


def test_cost_model_counts_large_events_in_64_kb_chunks() -> None:
    big = copy.deepcopy(SEEN)
    big["event_bytes"] = 200 * 1024
    rows = {row["item"]: row for row in cost.model(big)["rows"]}
    assert rows["EventBridge events in"]["ours_per_order"] == 4


@pytest.mark.parametrize("flag", ["--replay-only", "--suite-only", "--cost-only", "--from-results"])
def test_a_partial_run_without_earlier_results_names_the_file(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.run import main

    missing = tmp_path / "results.json"
    with pytest.raises(SystemExit) as stopped:
        main([flag, "--out", str(missing)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"--out {missing}: no earlier results to update" in err
    assert "Traceback" not in err


def test_the_table_puts_the_replay_in_workers_beside_one_local_aws() -> None:
    from bench.run import table

    one = {"history": {"events": 5000, "duplicates": 250}, "events_per_s": 20.0, "replay_s": 250,
           "synth_s": 7.0, "deploy_s": 1.0, "events_per_cpu_s": 20.5,
           "seconds_per_500_events": [20, 25], "execution_statuses": {"SUCCEEDED": 9},
           "executions": {"fulfilment": {"SUCCEEDED": 9}}, "rules": {"paid-order": 9},
           "dlq": {}, "download_emails": 9, "paid_orders_in_history": 9, "refused": 0}  # fmt: skip
    two = {**one, "events_per_s": 40.0, "replay_s": 125, "events_per_cpu_s": 19.0, "workers": 2,
           "events_per_worker": [2400, 2600]}  # fmt: skip
    machine = {"cpu": "x", "cores": 2, "os": "linux", "python": "3.11", "node": "20"}
    base = {"runs": {}, "date": "2026-12-01", "machine": machine, "elapsed_s": 1, "replay": one}
    rendered = table({**base, "replay_workers": two})
    (row,) = [line for line in rendered.splitlines() if "--workers 2" in line]
    assert "40.0 events/s (125 s), 19.0 per CPU s" in row and "one local AWS: 20.0 events/s" in row
    assert row.endswith("| 2.00x |")
    assert "In 2 local AWSs (2400 + 2600 events): the same executions" in rendered
    differing = {**two, "dlq": {"fulfilment-dlq": 1}}
    rendered = table({**base, "replay_workers": differing})
    assert "NOT the same executions" in rendered


def test_a_suite_that_runs_no_test_is_an_error_not_a_zero_second_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A virtualenv without pytest-xdist made `--suite-only` write a 0 s, 0-test suite into the
    table; now pytest's own message is shown and the results are left as they were."""
    import subprocess

    from bench import suite
    from bench.run import main

    refused = subprocess.CompletedProcess([], 4, "", "error: unrecognized arguments: -n 2")
    monkeypatch.setattr(suite.subprocess, "run", lambda *args, **kwargs: refused)
    results = tmp_path / "results.json"
    results.write_text('{"date": "2026-12-01"}\n')
    assert main(["--suite-only", "--out", str(results), "--markdown", str(tmp_path / "B.md")]) == 1
    err = capsys.readouterr().err
    assert "the suite ran no test (pytest exit code 4)" in err
    assert "unrecognized arguments: -n 2" in err and "Traceback" not in err
    assert results.read_text() == '{"date": "2026-12-01"}\n'
