"""`make bench`: measure, in one run on this machine, and print the table.

    .venv/bin/python -m bench.run [--with-suite] [--replay-events 5000] [--synth-runs 3]

Writes bench/results.json (every sample) and docs/BENCH.md (the table, for the README). Each
line says what it is compared with and how many runs its median is of; the slow parts (synth in
a fresh process, the suite, the 5,000-event replay) run fewer times, as the table says.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cost, receiver, replay, suite, synth

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
MARKDOWN = ROOT / "docs" / "BENCH.md"


def _machine() -> dict[str, str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        node = "not found"
    import os

    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "node": node or "not found",
    }


def _step(name: str, results: dict[str, Any], run: Any) -> None:
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    results[name] = run()
    print(f"[bench] {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _money(value: float) -> str:
    text = f"{value:,.3f}"
    return text[:-1] if text.endswith("0") else text


def _price(price: float, unit: str) -> str:
    if price >= 0.01:
        return f"${_money(price)} {unit}"  # e.g. "per GB archived"
    return f"${_money(price * 1e6)} per 1M {unit}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1e6:,.0f} µs"


# What a replay in several local AWSs must give exactly as one does (bench.replay's results).
_REPLAY_OUTCOME = ("executions", "execution_statuses", "rules", "dlq", "download_emails", "refused")


def table(results: dict[str, Any]) -> str:
    """The results as Markdown: the summary table, the cost breakdown, the conditions."""
    runs = results["runs"]
    lines = [
        "| measure | this project | compared with | ratio |",
        "|---|---|---|---|",
    ]
    s = results.get("synth")
    if s:
        lines.append(
            f"| synth in a fresh process (`build_app` + `app.synth`), median of {runs['synth']} "
            f"| {s['full']['wall_s']:.1f} s | empty CDK Python app (one empty Stack): "
            f"{s['empty']['wall_s']:.1f} s | {s['ratio']:.2f}x |"
        )
    t = results.get("suite")
    if t:
        outcomes = t["outcomes"]
        counted = ", ".join(f"{n} {k}" for k, n in outcomes.items() if n)
        lines.append(
            f"| test suite, one `pytest -n 2` run ({counted}) | {t['wall_s']:.0f} s | "
            f"syntheses per run: {t['session_synths']} construct trees for the session's "
            "templates (conftest; the templates themselves come from the shared assemblies), "
            f"{t['app_builds']} app builds in all | - |"
        )
    r = results.get("replay")
    if r:
        hist = r["history"]
        lines.append(
            f"| local replay, {hist['events']:,} generated Stripe events ({hist['duplicates']} "
            f"redeliveries), end to end, one run | {r['events_per_s']:.1f} events/s "
            f"({r['replay_s']:.0f} s) | deploy into the local AWS first: "
            f"{r['synth_s'] + r['deploy_s']:.1f} s | - |"
        )
    spread = results.get("replay_workers")
    if r and spread:
        lines.append(
            f"| local replay in {spread['workers']} local AWSs (`payops replay --workers "
            f"{spread['workers']}`), the same history, end to end (starting the other worker "
            f"and every deploy included), one run | {spread['events_per_s']:.1f} events/s "
            f"({spread['replay_s']:.0f} s), {spread['events_per_cpu_s']:.1f} per CPU s | one "
            f"local AWS: {r['events_per_s']:.1f} events/s | "
            f"{spread['events_per_s'] / r['events_per_s']:.2f}x |"
        )
    b = results.get("replay_before")
    if r and b:
        lines.append(
            f"| local replay before the last `--replay-only` run ({r.get('date', '-')}), "
            f"{b['history']['events']:,} events, measured {b.get('date', results['date'])} | "
            f"{b['events_per_s']:.1f} events/s ({b['replay_s']:.0f} s) | now: "
            f"{r['events_per_s']:.1f} events/s | {r['events_per_s'] / b['events_per_s']:.2f}x |"
        )
    lines += _baseline_rows(results)
    w = results.get("receiver")
    if w:
        ours, base = w["stripe library (handler.py)"], w["plain hmac (baseline)"]
        lines.append(
            f"| webhook receiver import, fresh interpreter (cold-start proxy), median of "
            f"{runs['receiver_imports']} | {_ms(ours['import_s'])} | plain-`hmac` receiver: "
            f"{_ms(base['import_s'])} | {ours['import_s'] / base['import_s']:.2f}x |"
        )
        lines.append(
            f"| webhook receiver, one valid signed event (stubbed AWS), median of "
            f"{runs['receiver_repeats']} x {runs['receiver_requests']:,} | "
            f"{_ms(ours['request_s'])} | plain-`hmac` receiver: {_ms(base['request_s'])} | "
            f"{ours['request_s'] / base['request_s']:.2f}x |"
        )
    c = results.get("cost")
    if c:
        lines.append(
            f"| AWS cost per 1,000,000 paid orders (list prices, us-east-1, without SES and "
            f"data transfer) | {_usd(c['total_ours_usd'])} | same flow as Standard workflows "
            f"with a Lambda per step: {_usd(c['total_sample_usd'])} | "
            f"{c['total_ours_usd'] / c['total_sample_usd']:.2f}x |"
        )
    if r:
        windows = r["seconds_per_500_events"]
        statuses = ", ".join(
            f"{n:,} {k.lower()}" for k, n in sorted(r["execution_statuses"].items())
        )
        lines += [
            "",
            f"Replay check: {r['history']['events']:,} events, {r['refused']} refused; workflow "
            f"executions {statuses}; {sum(r['dlq'].values())} dead-lettered; "
            f"{r['download_emails']:,} download emails for {r['paid_orders_in_history']:,} "
            f"distinct paid orders (a redelivery sends nothing twice). Seconds per 500 events, in "
            f"order: {', '.join(f'{w:.0f}' for w in windows)} (the last 500 took "
            f"{windows[-1] / windows[0]:.2f}x the first).",
        ]
        if spread:
            same = all(spread[k] == r[k] for k in _REPLAY_OUTCOME)
            shares = " + ".join(map(str, spread["events_per_worker"]))
            lines[-1] += (
                f" In {spread['workers']} local AWSs ({shares} events): "
                f"{'the same' if same else 'NOT the same'} executions by workflow and status, "
                f"rules, dead letters and download emails as in one."
            )
    if c:
        seen = c["observed"]
        rules = ", ".join(
            "the archive's" if name.startswith("Events-Archive-") else name
            for name in seen["rules"]
        )
        flows = ", ".join(
            f"{e['state_machine']} ({e['type'].title()}, {e['states_entered']} states, "
            f"{e['task_states_entered']} tasks)"
            for e in seen["executions"]
        )
        lines += [
            "",
            f"Cost per 1,000,000 paid orders, from one paid order replayed locally "
            f"(`{seen['event_file']}`: rules {rules}; executions {flows}):",
            "",
            "| item | unit price | this project: per order | $ | sample design: per order | $ |",
            "|---|---|---|---|---|---|",
        ]
        for row in c["rows"] + c["separate"]:
            note = f" ({row['note']})" if row["note"] else ""
            lines.append(
                f"| {row['item']}{note} | {_price(row['price'], row['unit'])} | "
                f"{row['ours_per_order']:.4g} | {_usd(row['ours_usd'])} | "
                f"{row['sample_per_order']:.4g} | {_usd(row['sample_usd'])} |"
            )
        lines += [
            f"| **total, without SES and data transfer** | | | **{_usd(c['total_ours_usd'])}** "
            f"| | **{_usd(c['total_sample_usd'])}** |",
            "",
            f"Prices: us-east-1 list prices from the AWS pricing pages named by each row's "
            f"source (`bench/cost.py`), as checked on {c['checked']}; free tiers ignored. "
            "Counts are what the local run did; durations cannot be observed locally and are "
            "the stated assumptions. Not per order and so not in the total: the KMS key "
            "($1/month), CloudWatch alarms ($0.10 each per month), secrets ($0.40 each per "
            "month), X-Ray traces (tracing is on; $5 per million traces recorded after "
            "sampling), storage (DynamoDB, the event archive, S3).",
        ]
    m = results["machine"]
    lines += [
        "",
        f"Measured {results['date']} on {m['cpu']}, {m['cores']} cores, {m['os']}, "
        f"Python {m['python']}, Node {m['node']}; `make bench` "
        f"({results['elapsed_s']:.0f} s in all).",
    ]
    return "\n".join(lines) + "\n"


def _tests(suite: dict[str, Any]) -> int:
    return sum((suite.get("outcomes") or {}).values())


def _baseline_rows(results: dict[str, Any]) -> list[str]:
    """This run's replay and suite beside the baseline's (results.json keeps it across runs)."""
    base, rows = results.get("baseline"), []
    if not base:
        return rows
    r, b = results.get("replay"), base.get("replay")
    if r and b:
        per_cpu = f", {r['events_per_cpu_s']:.1f} per CPU s" if "events_per_cpu_s" in r else ""
        base_cpu = f", {b['events_per_cpu_s']:.1f} per CPU s" if "events_per_cpu_s" in b else ""
        rows.append(
            f"| local replay vs the baseline ({b['events']:,} events each) | "
            f"{r['events_per_s']:.1f} events/s{per_cpu} | baseline ({b['date']}): "
            f"{b['events_per_s']:.1f} events/s{base_cpu} | "
            f"{r['events_per_s'] / b['events_per_s']:.2f}x |"
        )
    t, b = results.get("suite"), base.get("suite")
    if t and b:
        cpu = f", {t['cpu_s']:.0f} CPU s" if t.get("cpu_s") else ""
        base_cpu = f", {b['cpu_s']:.0f} CPU s" if b.get("cpu_s") else ""
        rows.append(
            f"| test suite vs the baseline (wall, and user+system CPU) | {t['wall_s']:.0f} s"
            f"{cpu}, {_tests(t):,} tests | baseline ({b['date']}): {b['wall_s']:.0f} s{base_cpu}, "
            f"{b['tests']:,} tests | {t['wall_s'] / b['wall_s']:.2f}x |"
        )
    return rows


def _with_baseline(results: dict[str, Any], previous: dict[str, Any], rebase: bool) -> None:
    """Keep the baseline the previous results carried; the first time (or with --rebase), the
    previous results' own replay and suite figures become it."""
    if previous.get("baseline") and not rebase:
        results["baseline"] = previous["baseline"]
        return
    base: dict[str, Any] = {}
    r, t = previous.get("replay"), previous.get("suite")
    if r:
        base["replay"] = {
            "date": r.get("date", previous.get("date")),
            "events": r["history"]["events"],
            **{k: r[k] for k in ("events_per_s", "events_per_cpu_s", "replay_s") if k in r},
        }
    if t:
        base["suite"] = {
            "date": previous.get("date"),
            "tests": _tests(t),
            **{k: t[k] for k in ("wall_s", "cpu_s") if k in t},
        }
    if base:
        results["baseline"] = base


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except suite.SuiteNotRun as err:  # nothing measured, nothing written
        print(f"bench: {err}", file=sys.stderr)
        return 1


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure and print the benchmark table.")
    parser.add_argument("--with-suite", action="store_true", help="also time the test suite")
    parser.add_argument("--replay-events", type=int, default=5000)
    parser.add_argument(
        "--replay-workers",
        type=int,
        default=2,
        help="also replay the history over this many local AWSs (payops replay --workers); 1: not",
    )
    parser.add_argument("--synth-runs", type=int, default=3)
    parser.add_argument("--receiver-imports", type=int, default=7)
    parser.add_argument("--receiver-requests", type=int, default=2000)
    parser.add_argument("--receiver-repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--markdown", type=Path, default=MARKDOWN)
    parser.add_argument(
        "--from-results", action="store_true", help="only re-render the table from --out"
    )
    parser.add_argument(
        "--replay-only",
        action="store_true",
        help="re-measure only the local replay into --out (the previous figure is kept beside "
        "it as the one before), then re-render",
    )
    parser.add_argument(
        "--rebase",
        action="store_true",
        help="make the previous results' replay and suite figures the new baseline",
    )
    parser.add_argument(
        "--suite-only",
        action="store_true",
        help="re-time only the test suite (as make test runs it) into --out, then re-render",
    )
    parser.add_argument(
        "--cost-only",
        action="store_true",
        help="re-measure only the cost per paid order (~30 s) into --out, then re-render",
    )
    args = parser.parse_args(argv)
    partial = args.cost_only or args.from_results or args.replay_only or args.suite_only
    if partial and not args.out.is_file():
        # These re-measure one part into the earlier results: without them there is nothing
        # to add to (a full `make bench` writes them).
        parser.error(f"--out {args.out}: no earlier results to update (run `make bench` first)")
    if args.cost_only:
        results = json.loads(args.out.read_text())
        results["cost"] = cost.measure()
        args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        _write(results, args)
        return 0
    if args.from_results:
        _write(json.loads(args.out.read_text()), args)
        return 0
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.suite_only:
        results = json.loads(args.out.read_text())
        _with_baseline(results, previous, args.rebase)
        results["suite"] = suite.measure()
        args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        _write(results, args)
        return 0
    if args.replay_only:
        results = json.loads(args.out.read_text())
        _with_baseline(results, previous, args.rebase)
        if "replay" in results:
            results["replay_before"] = results["replay"]
        results["replay"] = replay.measure(args.replay_events)
        results["replay"]["date"] = datetime.now(UTC).strftime("%Y-%m-%d")
        results.pop("replay_workers", None)
        if args.replay_workers > 1:
            results["replay_workers"] = replay.measure(
                args.replay_events, workers=args.replay_workers
            )
        args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        _write(results, args)
        return 0

    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": _machine(),
        "runs": {
            "synth": args.synth_runs,
            "receiver_imports": args.receiver_imports,
            "receiver_requests": args.receiver_requests,
            "receiver_repeats": args.receiver_repeats,
            "suite": 1 if args.with_suite else 0,
            "replay": 1,
        },
    }
    _step("synth", results, lambda: synth.measure(args.synth_runs))
    _step(
        "receiver",
        results,
        lambda: receiver.measure(
            args.receiver_imports, args.receiver_requests, args.receiver_repeats
        ),
    )
    _step("cost", results, cost.measure)
    if args.with_suite:
        _step("suite", results, suite.measure)
    _step("replay", results, lambda: replay.measure(args.replay_events))
    if args.replay_workers > 1:
        _step(
            "replay_workers",
            results,
            lambda: replay.measure(args.replay_events, workers=args.replay_workers),
        )
    results["elapsed_s"] = time.perf_counter() - started
    _with_baseline(results, previous, args.rebase)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    _write(results, args)
    return 0


def _write(results: dict[str, Any], args: argparse.Namespace) -> None:
    text = table(results)
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(
        "# Benchmarks\n\nWritten by `make bench` (`python -m bench.run --with-suite`); every "
        "sample is in `bench/results.json`.\n\n" + text
    )
    print(text)


if __name__ == "__main__":
    sys.exit(main())
