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
    status = main(["replay", str(bad), str(EXAMPLES / "04-payment-failed.json"), "--json"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.strip().startswith(f"error: {bad}: not valid JSON")
    assert json.loads(captured.out)["rules"] == {
        "Events-Archive-StripePayOps-stripe-events": 1,  # the archive's rule keeps every event
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
