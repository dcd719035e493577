"""`payops report`'s refusals: bad input is one line naming what is wrong, before any deploy."""

from __future__ import annotations

from pathlib import Path

import pytest

from payops.cli import main

GOOD = (
    Path(__file__).resolve().parents[1] / "fixtures" / "analytics" / "01-card-order-jpy-4980.json"
)


def test_a_bad_event_file_is_named_and_nothing_is_deployed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import payops.analytics.report as report

    monkeypatch.setattr(report, "replay_and_export", lambda *a: pytest.fail("deployed"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    missing = tmp_path / "missing.json"
    status = main(["report", str(GOOD), str(bad), str(missing), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert err == [
        f"error: {bad}: not valid JSON: Expecting property name enclosed in double quotes "
        "(line 1, column 2)",
        f"error: {missing}: no such file",
    ]
    assert not (tmp_path / "out").exists()


def test_an_unknown_time_zone_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(GOOD), "--out", "x", "--tz", "Mars/Olympus"])
    assert exit_.value.code == 2
    assert "'Mars/Olympus' is not an IANA time zone" in capsys.readouterr().err


def test_the_report_needs_the_export(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["report", str(GOOD), "--out", "x", "-c", "analyticsExport=false"])
    assert status == 2
    assert capsys.readouterr().err == (
        "error: payops report needs the analytics export (analyticsExport=true)\n"
    )
