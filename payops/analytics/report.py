"""`payops report`: replay Stripe events through the stack in the local AWS, then run the Athena
named queries (analytics/*.sql) with DuckDB over what the export wrote to the local S3, and write
DIR/report.json and charts (DIR/revenue.png, DIR/mrr.png).

Amounts are Stripe's minor units (JPY: yen, USD: cents) in report.json; the charts show major
units (a zero-decimal currency as is, others / 100).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from payops.analytics.queries import EVENTS_PREFIX, QueryError, connect, load_queries, run

# Stripe's zero-decimal currencies (docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())


class ReportError(RuntimeError):
    """One line: what is wrong and where."""


def run_queries(export_dir: Path, tz: str) -> dict[str, list[dict[str, Any]]]:
    """Every named query's rows; a query's `?` parameters are the time zone."""
    con = connect(export_dir)
    return {q.name: run(con, q, [tz] * q.parameters) for q in load_queries()}


def build_report(rows: dict[str, list[dict[str, Any]]], tz: str) -> dict[str, Any]:
    gross: dict[str, dict[str, int]] = defaultdict(dict)
    refunds: dict[str, dict[str, int]] = defaultdict(dict)
    net: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows["revenue_by_day"]:
        gross[row["day"]][row["currency"]] = int(row["gross"])
        refunds[row["day"]][row["currency"]] = int(row["refunds"])
        net[row["day"]][row["currency"]] = int(row["net"])
    by_day = {
        row["day"]: {"failed": int(row["failed"]), "paid": int(row["paid"]), "rate": row["rate"]}
        for row in rows["failed_payment_rate"]
    }
    failed = sum(day["failed"] for day in by_day.values())
    paid = sum(day["paid"] for day in by_day.values())
    return {
        "time_zone": tz,
        "amounts": "Stripe minor units (JPY: yen, USD: cents)",
        "gross_by_day": dict(gross),
        "refunds_by_day": dict(refunds),
        "net_by_day": dict(net),
        "orders_by_day": {row["day"]: int(row["orders"]) for row in rows["orders_by_day"]},
        "mrr": {row["currency"]: int(row["mrr"]) for row in rows["mrr"]},
        "failed_payment_rate": {
            "by_day": by_day,
            "total": {
                "failed": failed,
                "paid": paid,
                "rate": round(failed / (failed + paid), 4) if failed + paid else None,
            },
        },
        "queries": {q.name: f"analytics/{q.path.name}" for q in load_queries()},
    }


def _major(currency: str, amount: float) -> float:
    return amount if currency in ZERO_DECIMAL else amount / 100


def _label(currency: str) -> str:
    return f"amount ({currency.upper()})"


def draw_charts(report: dict[str, Any], out: Path) -> list[Path]:
    """revenue.png (gross, refunds, net per day, one panel per currency) and mrr.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    days = sorted(report["gross_by_day"])
    currencies = sorted({c for day in days for c in report["gross_by_day"][day]})
    panels = max(1, len(currencies))
    fig, axes = plt.subplots(panels, 1, figsize=(10, 3.2 * panels), squeeze=False)
    for ax, currency in zip(axes[:, 0], currencies or [""], strict=True):
        if not currency:
            ax.text(0.5, 0.5, "no revenue in these events", ha="center", va="center")
            ax.set_axis_off()
            continue
        x = list(range(len(days)))

        def series(name: str, cur: str = currency) -> list[float]:
            return [_major(cur, report[name][d].get(cur, 0)) for d in days]

        ax.bar([i - 0.2 for i in x], series("gross_by_day"), width=0.4, label="gross")
        ax.bar([i + 0.2 for i in x], [-v for v in series("refunds_by_day")], width=0.4,
               label="refunds", color="tab:red")  # fmt: skip
        ax.plot(x, series("net_by_day"), marker="o", color="black", label="net")
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.set_xticks(x, days, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel(_label(currency))
        ax.set_title(f"Revenue by day ({report['time_zone']}), {currency.upper()}")
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    written.append(out / "revenue.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)

    mrr = report["mrr"]
    fig, axes = plt.subplots(1, max(1, len(mrr)), figsize=(3.5 * max(1, len(mrr)), 3.5),
                             squeeze=False)  # fmt: skip
    for ax, currency in zip(axes[0], sorted(mrr) or [""], strict=True):
        if not currency:
            ax.text(0.5, 0.5, "no active subscriptions", ha="center", va="center")
            ax.set_axis_off()
            continue
        value = _major(currency, mrr[currency])
        ax.bar([currency.upper()], [value], color="tab:green")
        ax.bar_label(ax.containers[0], labels=[f"{value:,.2f}".rstrip("0").rstrip(".")])
        ax.set_ylabel(_label(currency))
        ax.set_title(f"MRR, {currency.upper()}")
    fig.tight_layout()
    written.append(out / "mrr.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    return written


def copy_export(local: Any, dest: Path) -> int:
    """The analytics bucket's events/ objects under `dest` (same keys); how many were copied."""
    buckets = local.deployed.resources_of("AWS::S3::Bucket")
    found = [b for logical, b in buckets.items() if logical.startswith("AnalyticsBucket")]
    if not found:
        raise ReportError(
            "the stack has no analytics export (setting analyticsExport=false); turn it on"
        )
    s3 = local.client("s3")
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=found[0], Prefix=EVENTS_PREFIX):
        for item in page.get("Contents", []):
            path = dest / item["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=found[0], Key=item["Key"])["Body"].read())
            count += 1
    return count


def replay_and_export(
    context: dict[str, Any], events: list[Any], stripe_data: Path | None, dest: Path
) -> tuple[int, int]:
    """Send `events` through the stack in the local AWS, then copy what the export wrote under
    `dest`. Returns (objects copied, events that failed or were dead-lettered somewhere)."""
    from payops.localaws.runtime import LocalAws

    with LocalAws(context, stripe_data=stripe_data) as local:
        failed = sum(1 for event in events if local.send(event).failed)
        return copy_export(local, dest), failed


def write_report(report: dict[str, Any], out: Path) -> list[Path]:
    """DIR/report.json and the charts; the paths of the charts."""
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return draw_charts(report, out)


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an IANA time zone (e.g. UTC, Asia/Tokyo)"
        ) from None
    return value


def cmd_report(args: argparse.Namespace, context: dict[str, str]) -> int:
    from payops.envelope import EventFileError, load_events
    from payops.settings import Settings

    settings = Settings.load(context)
    if not settings.analytics_export:
        print(
            "error: payops report needs the analytics export (analyticsExport=true)",
            file=sys.stderr,
        )
        return 2
    events, bad = [], False
    for name in args.paths:  # read before the deploy: a bad file fails in a second
        try:
            events += load_events(Path(name), settings)
        except EventFileError as err:
            print(f"error: {err}", file=sys.stderr)
            bad = True
    if bad:
        return 1
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"error: --out {out}: {err.strerror}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="payops-export-") as tmp:
        try:
            copied, failed = replay_and_export(context, events, args.stripe_data, Path(tmp))
            report = build_report(run_queries(Path(tmp), args.tz), args.tz)
        except (ReportError, QueryError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    report["events"] = {"replayed": len(events), "exported_objects": copied}
    charts = write_report(report, out)
    print(f"replayed {len(events)} events; the export wrote {copied} objects")
    if failed:
        print(
            f"note: {failed} events failed or were dead-lettered in the workflows "
            "(payops replay shows which); the export is independent of them"
        )
    for currency in sorted({c for d in report["gross_by_day"].values() for c in d}):
        total = {
            name: sum(day.get(currency, 0) for day in report[f"{name}_by_day"].values())
            for name in ("gross", "refunds", "net")
        }
        mrr = report["mrr"].get(currency, 0)
        print(
            f"{currency}: gross {total['gross']}, refunds {total['refunds']}, "
            f"net {total['net']}, MRR {mrr} (minor units)"
        )
    orders = sum(report["orders_by_day"].values())
    rate = report["failed_payment_rate"]["total"]["rate"]
    print(f"orders: {orders}; failed-payment rate: {rate}")
    print(f"wrote {out / 'report.json'}, " + ", ".join(str(p) for p in charts))
    return 0


def add_command(sub: Any, common: argparse.ArgumentParser, add_stripe_data: Any) -> None:
    report = sub.add_parser(
        "report",
        parents=[common],
        help="replay events through the local stack, then run the analytics queries (DuckDB)",
    )
    report.add_argument(
        "paths", nargs="+", metavar="PATH", help="event file, directory, or JSON list"
    )
    report.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="where report.json and the charts (revenue.png, mrr.png) go",
    )
    report.add_argument(
        "--tz",
        default="UTC",
        type=_time_zone,
        help="IANA time zone the days are counted in (default UTC; e.g. Asia/Tokyo)",
    )
    add_stripe_data(report)
    report.set_defaults(local_func=cmd_report)
