"""`payops local` and `payops replay`: the stack in the local AWS, Stripe events through it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from payops.localaws.runtime import EventTrace, LocalAws


def summarize(traces: list[EventTrace]) -> dict[str, Any]:
    rules: Counter[str] = Counter()
    executions: dict[str, Counter[str]] = defaultdict(Counter)
    sns: Counter[str] = Counter()
    dlq: Counter[str] = Counter()
    emails, http_calls, failed, notices = [], [], [], []
    for trace in traces:
        rules.update(trace.rules)
        for execution in trace.executions:
            executions[execution["state_machine"]][execution["status"]] += 1
        emails += [{"to": e["to"], "subject": e["subject"]} for e in trace.emails]
        sns.update(trace.sns)
        http_calls += [{"method": c["method"], "url": c["url"]} for c in trace.http_calls]
        dlq.update(trace.dlq)
        failed += trace.failed
        notices += trace.notices
    return {
        "events": len(traces),
        "rules": dict(sorted(rules.items())),
        "executions": {k: dict(sorted(v.items())) for k, v in sorted(executions.items())},
        "emails": emails,
        "sns": dict(sorted(sns.items())),
        "http_calls": http_calls,
        "dlq": dict(sorted(dlq.items())),
        "failed": failed,
        "notices": notices,
    }


def format_failure(failure: dict[str, str], label: str | None = None) -> str:
    where = f" ({label})" if label else ""
    return (
        f"FAILED     {failure['workflow']} at {failure['state']} for {failure['event']}{where}: "
        f"{failure['error']}"
    )


def format_trace(trace: EventTrace, index: int, total: int) -> str:
    lines = [
        f"[{index}/{total}] {trace.label}",
        f"  event      {trace.event_type} {trace.event_id} ({trace.delivery}, "
        f"{trace.wall_seconds:.2f} s, {trace.simulated_seconds:.0f} s simulated)",
        f"  rules      {', '.join(trace.rules) or '(none matched)'}",
    ]
    for execution in trace.executions:
        path = " > ".join(execution["states"])
        lines.append(f"  execution  {execution['state_machine']} {execution['status']}: {path}")
    for email in trace.emails:
        lines.append(f"  email      to {email['to']}: {email['subject']}")
    for topic, count in trace.sns.items():
        lines.append(f"  sns        {topic} x{count}")
    if trace.table_writes:
        writes = ", ".join(f"{t} x{n}" for t, n in trace.table_writes.items())
        lines.append(f"  tables     {writes}")
    for call in trace.http_calls:
        lines.append(f"  http       {call['method']} {call['url']} -> {call['status']}")
    for queue, count in trace.dlq.items():
        lines.append(f"  DLQ        {queue} +{count}")
    lines += [f"  {format_failure(f, trace.label)}" for f in trace.failed]
    return "\n".join(lines)


def _progress(done: int, total: int, started: float) -> None:
    width = 30
    filled = width * done // total
    rate = done / max(time.perf_counter() - started, 1e-9)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {rate:.1f} ev/s")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def cmd_local(args: argparse.Namespace, context: dict[str, str]) -> int:
    from payops.localaws import bridges

    with LocalAws(context, stripe_data=args.stripe_data) as local:
        counts = Counter(r["Type"] for r in local.deployed.template["Resources"].values())
        print(
            f"deployed {local.deployed.stack_name} ({local.settings.ingress} ingress) into the "
            f"local AWS: synth {local.synth_seconds:.1f} s, deploy {local.deploy_seconds:.1f} s"
        )
        print("resources asserted to exist with their properties:")
        for kind, count in sorted(counts.items()):
            print(f"  {count:3d}  {kind}")
        print(f"moto gaps bridged: {len(bridges())} ({', '.join(sorted(bridges()))})")
    return 0


def _load(paths: list[str], settings: Any) -> tuple[list[Any], bool]:
    from payops.envelope import EventFileError, load_events

    events, failed = [], False
    for name in paths:
        try:
            events += load_events(Path(name), settings)
        except EventFileError as err:
            print(f"error: {err}", file=sys.stderr)
            failed = True
    return events, failed


def _replay_here(
    local: LocalAws, events: list[Any], *, as_json: bool
) -> tuple[list[EventTrace], float]:
    traces = []
    started = time.perf_counter()
    show_progress = not as_json and len(events) > 20
    for index, event in enumerate(events, 1):
        trace = local.send(event)
        traces.append(trace)
        if show_progress:
            if trace.failed:  # never hidden behind the progress bar
                sys.stderr.write("\n")
                for failure in trace.failed:
                    print(f"[{index}/{len(events)}] {format_failure(failure, trace.label)}")
                sys.stdout.flush()
            _progress(index, len(events), started)
        elif not as_json:
            print(format_trace(trace, index, len(events)))
    return traces, time.perf_counter() - started


def _report(
    traces: list[EventTrace],
    stacks: dict[str, str],
    args: argparse.Namespace,
    heading: str,
    unreadable: bool,
) -> int:
    """Print the replay's summary; its exit code (a file that could not be read: 1 as well)."""
    summary = summarize(traces)
    summary["stacks"] = stacks
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(f"\n{heading}; summary:")
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        if summary["failed"]:
            print(f"{len(summary['failed'])} failed or dead-lettered:", file=sys.stderr)
            for failure in summary["failed"]:
                print(f"  {format_failure(failure)}", file=sys.stderr)
    if summary["failed"] and not args.allow_failures:
        return 1
    return 1 if unreadable else 0


def cmd_replay(args: argparse.Namespace, context: dict[str, str]) -> int:
    if args.workers > 1:
        return _replay_in_workers(args, context)
    with LocalAws(context, stripe_data=args.stripe_data) as local:
        events, unreadable = _load(args.paths, local.settings)
        traces, elapsed = _replay_here(local, events, as_json=args.json)
        heading = (
            f"replayed {len(events)} events in {elapsed:.1f} s "
            f"(deploy {local.deploy_seconds:.1f} s)"
        )
        return _report(traces, local.customer_stacks(), args, heading, unreadable)


def _replay_in_workers(args: argparse.Namespace, context: dict[str, str]) -> int:
    from payops.localaws.replay_workers import ReplayWorkerError, replay_in_workers
    from payops.settings import Settings

    events, unreadable = _load(args.paths, Settings.load(context))
    if not args.json:
        print(f"replaying {len(events)} events in {args.workers} local AWSs ...", flush=True)
    started = time.perf_counter()
    try:
        done = replay_in_workers(context, events, args.workers, stripe_data=args.stripe_data)
    except ReplayWorkerError as err:  # its message carries the worker's own traceback
        print(f"error: {err}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    if not args.json:  # as _replay_here prints them, once all are back
        for index, trace in enumerate(done.traces, 1):
            if len(events) <= 20:
                print(format_trace(trace, index, len(events)))  # its failures included
                continue
            for failure in trace.failed:
                print(f"[{index}/{len(events)}] {format_failure(failure, trace.label)}")
    heading = (
        f"replayed {len(events)} events in {elapsed:.1f} s with {done.workers} local AWSs "
        f"({', '.join(map(str, done.per_worker))} events; deploy {done.deploy_seconds:.1f} s"
        + (
            f"; one CPU each: {', '.join(','.join(map(str, c)) for c in done.cpus)}"
            if done.cpus
            else ""
        )
        + ")"
    )
    return _report(done.traces, done.stacks, args, heading, unreadable)


def cmd_reconcile(args: argparse.Namespace, context: dict[str, str]) -> int:
    """issue 16: deliver PATH events (if any), then run the reconciliation over
    [--since, now] and print what it re-injected and what that started."""
    from payops.localaws.reconcile import ReconcileError, parse_since

    try:
        since = parse_since(args.since)
    except ReconcileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    with LocalAws(context, stripe_data=args.stripe_data) as local:
        return reconcile_in(local, since, args.paths, as_json=args.json)


def reconcile_in(local: LocalAws, since: int, paths: list[str], *, as_json: bool) -> int:
    from payops.envelope import EventFileError, load_events
    from payops.localaws.reconcile import reconcile

    delivered = []
    for name in paths:
        try:
            delivered += load_events(Path(name), local.settings)
        except EventFileError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    for event in delivered:
        local.send(event)
    result = reconcile(local, since)
    assert result.trace is not None
    types = {}
    for event_id in result.reinjected:
        types[event_id] = local.fake_stripe.events.get(event_id, {}).get("type", "?")
    if as_json:
        summary = summarize([result.trace])
        print(json.dumps({"status": result.status, "reinjected": result.reinjected,
                          "summary": summary}, ensure_ascii=False))  # fmt: skip
    else:
        print(f"reconciliation {result.status}: {len(result.reinjected)} event(s) re-injected, "
              f"{len(delivered)} delivered before")  # fmt: skip
        for event_id in result.reinjected:
            print(f"  re-injected  {types[event_id]} {event_id}")
        print(format_trace(result.trace, 1, 1))
    return 0 if result.status == "SUCCEEDED" and not result.trace.failed else 1


def _workers(value: str) -> int:
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if not 1 <= workers <= 64:
        raise argparse.ArgumentTypeError(f"--workers {value!r}: a whole number from 1 to 64")
    return workers


def _stripe_data_dir(value: str) -> Path:
    """--stripe-data: checked at once, so a typo fails before the minute-long deploy."""
    from payops.localaws.fakes.stripe_catalogue import Catalogue, StripeDataError

    path = Path(value)
    try:
        Catalogue().load_dir(path)
    except StripeDataError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return path


def _add_stripe_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stripe-data",
        metavar="DIR",
        type=_stripe_data_dir,
        help="what the fake Stripe API knows: JSON list files as the Stripe CLI prints them "
        "(stripe products list, prices list, payment_links list --expand data.line_items, "
        "checkout sessions list --expand data.line_items); DIR/downloads/* are uploaded to the "
        "downloads bucket as products/<name>",
    )


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    local = sub.add_parser(
        "local",
        parents=[common],
        help="deploy the stack into the local AWS and assert its resources",
    )
    _add_stripe_data(local)
    local.set_defaults(local_func=cmd_local)
    replay = sub.add_parser(
        "replay", parents=[common], help="send Stripe events through the stack in the local AWS"
    )
    replay.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="event file, directory, or JSON list (stripe events list)",
    )
    replay.add_argument("--json", action="store_true", help="print one final summary object")
    replay.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="spread the events over N local AWSs, one process (and core) each; events naming "
        "a common customer, order, payment or subscription stay together, in order",
    )
    replay.add_argument(
        "--allow-failures",
        action="store_true",
        help="exit 0 even when an execution failed or an event was dead-lettered",
    )
    _add_stripe_data(replay)
    replay.set_defaults(local_func=cmd_replay)
    reconcile = sub.add_parser(
        "reconcile",
        parents=[common],
        help="run the reconciliation workflow in the local AWS against the fake Stripe API",
    )
    reconcile.add_argument(
        "--since", required=True, help="window start: epoch seconds or ISO date (UTC)"
    )
    reconcile.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="events delivered first (the rest of --stripe-data's events were never delivered)",
    )
    reconcile.add_argument("--json", action="store_true", help="print one JSON object")
    _add_stripe_data(reconcile)
    reconcile.set_defaults(local_func=cmd_reconcile)
