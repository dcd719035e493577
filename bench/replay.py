"""Local replay throughput: a generated Stripe history through the real stack in the local AWS.

The whole path runs for every event, as `payops replay` does it: onto the partner bus, through the
rules, to topics, queues, the pipe and the workflows, until everything has settled. Deploy time is
measured apart; events per second is over the replay alone.

With WORKERS > 1 the replay is `payops replay --workers N`'s (payops/localaws/replay_workers.py):
the events spread over N local AWSs, one process each. Its seconds run from handing out the
first event to the last trace back, so they include starting and deploying the other workers;
its CPU seconds are every process's.

    .venv/bin/python -m bench.replay 5000 [SEED] [WORKERS]   # one child run: results as JSON
"""

from __future__ import annotations

import json
import logging
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _paid_orders(history: list[dict[str, Any]]) -> int:
    """Distinct checkout sessions that reached paid (or free) status: one email each."""
    sessions = {
        event["data"]["object"]["id"]
        for event in history
        if event["type"].startswith("checkout.session.")
        and event["data"]["object"].get("payment_status") in ("paid", "no_payment_required")
    }
    return len(sessions)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # children waited for
    return usage.ru_utime + usage.ru_stime


def _replay_in_workers(history: list[dict[str, Any]], workers: int) -> tuple[Any, ...]:
    from payops.envelope import LoadedEvent, wrap
    from payops.localaws.replay_workers import replay_in_workers
    from payops.settings import Settings

    context = {"ingress": "partner"}
    settings = Settings.load(context)
    events = [LoadedEvent(f"history#{i}", wrap(e, settings)) for i, e in enumerate(history)]
    started, cpu = time.perf_counter(), _cpu() + _children_cpu()
    done = replay_in_workers(
        context, events, workers, stripe_data=ROOT / "examples" / "stripe-data"
    )
    # The synthesis (once, before any worker starts) is measured apart, as for one local AWS.
    replay_s = time.perf_counter() - started - done.synth_seconds
    cpu = _cpu() + _children_cpu() - cpu - done.synth_seconds
    print(f"  replay {len(events)} in {replay_s:.0f} s ({done.per_worker})", file=sys.stderr)
    return done, done.synth_seconds, replay_s, cpu


def child(n_events: int, seed: int = 7, workers: int = 1) -> dict[str, Any]:
    from bench.history import generate
    from payops.envelope import LoadedEvent, wrap
    from payops.localaws.core.gc_tuning import tune_gc
    from payops.localaws.runtime import LocalAws

    logging.disable(logging.CRITICAL)
    tune_gc()  # as `payops replay` runs (payops/cli.py)
    history = generate(n_events, seed)
    if workers > 1:
        done, synth_s, replay_s, replay_cpu = _replay_in_workers(history, workers)
        return _results(
            history, seed, done.traces, synth_s, done.deploy_seconds, replay_s, replay_cpu
        ) | {"workers": done.workers, "events_per_worker": done.per_worker}
    started = time.perf_counter()
    # The shop's files, as `make demo` has them: fulfilment delivers only products with a file.
    with LocalAws({"ingress": "partner"}, stripe_data=ROOT / "examples" / "stripe-data") as local:
        ready = time.perf_counter()
        traces, per_type = [], defaultdict(list)
        replay_started, replay_cpu = time.perf_counter(), _cpu()
        for index, event in enumerate(history):
            trace = local.send(LoadedEvent(f"history#{index}", wrap(event, local.settings)))
            traces.append(trace)
            per_type[event["type"]].append(trace.wall_seconds)
            if (index + 1) % 500 == 0:
                rate = (index + 1) / (time.perf_counter() - replay_started)
                print(f"  replay {index + 1}/{len(history)} ({rate:.1f} ev/s)", file=sys.stderr)
        replay_s, replay_cpu = time.perf_counter() - replay_started, _cpu() - replay_cpu
        synth_s, deploy_s = local.synth_seconds, local.deploy_seconds
    return _results(history, seed, traces, synth_s, deploy_s, replay_s, replay_cpu) | {
        "start_s": ready - started,
        "seconds_per_500_events": [
            round(sum(t.wall_seconds for t in traces[i : i + 500]), 2)
            for i in range(0, len(traces), 500)
        ],
        "p50_ms_by_type": {
            kind: round(statistics.median(times) * 1000, 1)
            for kind, times in sorted(per_type.items())
        },
    }


def _results(
    history: list[dict[str, Any]],
    seed: int,
    traces: list[Any],
    synth_s: float,
    deploy_s: float,
    replay_s: float,
    replay_cpu: float,
) -> dict[str, Any]:
    from bench.history import describe
    from payops.localaws.cli import summarize

    summary = summarize(traces)
    statuses: Counter[str] = Counter()
    for by_status in summary["executions"].values():
        statuses.update(by_status)
    downloads = sum(1 for e in summary["emails"] if e["subject"].startswith("Your download"))
    return {
        "history": describe(history),
        "seed": seed,
        "workers": 1,
        "synth_s": synth_s,
        "deploy_s": deploy_s,
        "replay_s": replay_s,
        "events_per_s": len(history) / replay_s,
        "replay_cpu_s": replay_cpu,  # user + system of the replaying process, all its threads
        "events_per_cpu_s": len(history) / replay_cpu,
        "executions": summary["executions"],
        "execution_statuses": dict(statuses),
        "rules": summary["rules"],
        "dlq": summary["dlq"],
        "download_emails": downloads,
        "paid_orders_in_history": _paid_orders(history),
        "refused": sum(1 for t in traces if t.delivery != "accepted"),
    }


def measure(n_events: int = 5000, seed: int = 7, workers: int = 1) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.replay", str(n_events), str(seed), str(workers)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )  # progress lines pass through on stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3, 4):
        sys.exit("usage: python -m bench.replay N_EVENTS [SEED] [WORKERS]")
    print(json.dumps(child(*(int(a) for a in sys.argv[1:]))))
