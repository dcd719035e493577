"""`payops report` end to end: the events of tests/fixtures/analytics/ replayed through the stack
in the local AWS (one deploy for the module), the export read back from the local S3, the named
queries run with DuckDB; every figure checked against this hand count.

Days are UTC (2024-08-01 = D1); "JST" is the Asia/Tokyo day where it differs. Amounts in
minor units (JPY yen, USD cents).

file: event (created) -> counted as
01 checkout.session.completed payment paid 4980 JPY cs_A (D1 01:00)
   -> gross JPY 4980 D1, order D1, paid D1
02 the same event again (same id: a duplicate delivery) -> nothing
03 checkout.session.completed payment unpaid 2980 JPY cs_B, konbini (D1 02:00) -> nothing yet
04 checkout.session.completed payment paid 2500 USD cs_C (D1 10:00)
   -> gross USD 2500 D1, order D1, paid D1
05 checkout.session.completed subscription paid 1500 USD (D1 11:06) -> not gross, not an order
06 invoice.paid in_D 1500 USD, its first invoice (D1 11:06) -> gross USD 1500 D1, paid D1
07 customer.subscription.created sub_items active: items 1500 USD/month + 12000 USD/year
   -> MRR USD 1500 + 1000
08 customer.subscription.created sub_plan, API 2016 `plan` shape (no items), 980 JPY/month x3
09 customer.subscription.updated sub_plan -> past_due (D3): still collected -> MRR JPY 2940
10 customer.subscription.deleted sub_gone (D2), delivered before
11 customer.subscription.created sub_gone (D1): latest state canceled -> no MRR
12 checkout.session.async_payment_succeeded cs_B paid 2980 JPY (D2 16:30 = JST D3 01:30)
   -> gross JPY 2980, order, paid: D2 (JST D3)
13 checkout.session.completed payment no_payment_required 0 JPY (D2 05:00), a free order
   -> order D2, gross JPY 0 D2
14 charge.refunded ch_A 1000 of 4980, previous 0 (D2 01:00) -> refunds JPY 1000 D2
15 charge.refunded ch_A 4980, previous 1000 (D3 01:00) -> refunds JPY 3980 D3
16 charge.refunded ch_C 2500, previous 0 (D3 02:00) -> refunds USD 2500 D3
17 invoice.payment_failed in_F USD (D2 02:00), a failed renewal -> failed D2
18 checkout.session.async_payment_failed cs_G (D3 03:00), konbini never paid -> failed D3

UTC:  gross  D1 JPY 4980, USD 4000 | D2 JPY 2980 | D3 JPY 0, USD 0
      refund D1 0, 0              | D2 JPY 1000 | D3 JPY 3980, USD 2500
      net    D1 JPY 4980, USD 4000 | D2 JPY 1980 | D3 JPY -3980, USD -2500
      orders D1 2 | D2 2;  failed/paid: D1 0/3 | D2 1/1 | D3 1/0 -> total 2/4 = 0.3333
JST:  gross D2 JPY 0 (the free order) | D3 JPY 2980; refunds and the rest as in UTC
      orders D1 2 | D2 1 | D3 1;  failed/paid: D1 0/3 | D2 1/0 | D3 1/1
MRR:  USD 2500, JPY 2940
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from payops.analytics.report import build_report, replay_and_export, run_queries, write_report
from payops.envelope import load_events
from payops.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "fixtures" / "analytics"
D1, D2, D3 = "2024-08-01", "2024-08-02", "2024-08-03"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    dest = tmp_path_factory.mktemp("export")
    events = load_events(EVENTS, Settings.load({}, env={}))
    copied, _failed = replay_and_export({}, events, None, dest)
    return dest, copied


def test_every_delivery_is_exported_once(export: tuple[Path, int]) -> None:
    dest, copied = export
    lines = [
        json.loads(line)
        for path in sorted((dest / "events").rglob("*.gz"))
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]
    assert copied == 18  # the local Firehose writes each record at once: one object each
    assert len(lines) == 18  # 18 deliveries; the duplicate (02) is exported, counted once
    assert len({line["detail"]["id"] for line in lines}) == 17


def test_utc_report_matches_the_hand_count(export: tuple[Path, int]) -> None:
    report = build_report(run_queries(export[0], "UTC"), "UTC")
    assert report["gross_by_day"] == {
        D1: {"jpy": 4980, "usd": 4000},
        D2: {"jpy": 2980},
        D3: {"jpy": 0, "usd": 0},
    }
    assert report["refunds_by_day"] == {
        D1: {"jpy": 0, "usd": 0},
        D2: {"jpy": 1000},
        D3: {"jpy": 3980, "usd": 2500},
    }
    assert report["net_by_day"] == {
        D1: {"jpy": 4980, "usd": 4000},
        D2: {"jpy": 1980},
        D3: {"jpy": -3980, "usd": -2500},
    }
    assert report["orders_by_day"] == {D1: 2, D2: 2}
    assert report["mrr"] == {"jpy": 2940, "usd": 2500}
    assert report["failed_payment_rate"] == {
        "by_day": {
            D1: {"failed": 0, "paid": 3, "rate": 0.0},
            D2: {"failed": 1, "paid": 1, "rate": 0.5},
            D3: {"failed": 1, "paid": 0, "rate": 1.0},
        },
        "total": {"failed": 2, "paid": 4, "rate": 0.3333},
    }


def test_tokyo_days_move_the_konbini_payment_to_the_next_day(export: tuple[Path, int]) -> None:
    report = build_report(run_queries(export[0], "Asia/Tokyo"), "Asia/Tokyo")
    assert report["gross_by_day"] == {
        D1: {"jpy": 4980, "usd": 4000},
        D2: {"jpy": 0},
        D3: {"jpy": 2980, "usd": 0},
    }
    assert report["net_by_day"] == {
        D1: {"jpy": 4980, "usd": 4000},
        D2: {"jpy": -1000},
        D3: {"jpy": -1000, "usd": -2500},
    }
    assert report["orders_by_day"] == {D1: 2, D2: 1, D3: 1}
    assert report["failed_payment_rate"]["by_day"] == {
        D1: {"failed": 0, "paid": 3, "rate": 0.0},
        D2: {"failed": 1, "paid": 0, "rate": 1.0},
        D3: {"failed": 1, "paid": 1, "rate": 0.5},
    }
    assert report["mrr"] == {"jpy": 2940, "usd": 2500}


def test_report_json_and_charts_are_written(export: tuple[Path, int], tmp_path: Path) -> None:
    report = build_report(run_queries(export[0], "UTC"), "UTC")
    charts = write_report(report, tmp_path)
    assert json.loads((tmp_path / "report.json").read_text())["mrr"] == {"jpy": 2940, "usd": 2500}
    assert [c.name for c in charts] == ["revenue.png", "mrr.png"]
    for chart in charts:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000
