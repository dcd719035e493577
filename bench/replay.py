"""Local replay throughput: a generated Stripe history through the real stack in the local AWS.

The whole path runs for every event, as `payops replay` does it: onto the partner bus, through the
rules, to topics, queues, the pipe and the workflows, until everything has settled. Deploy time is
measured apart; events per second is over the replay alone.

    .venv/bin/python -m bench.replay 5000 [SEED]   # one child run: results as JSON
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


def child(n_events: int, seed: int = 7) -> dict[str, Any]:
    from bench.history import describe, generate
    from payops.envelope import LoadedEvent, wrap
    from payops.localaws.cli import summarize
    from payops.localaws.runtime import LocalAws

    logging.disable(logging.CRITICAL)
    history = generate(n_events, seed)
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
    summary = summarize(traces)
    statuses: Counter[str] = Counter()
    for by_status in summary["executions"].values():
        statuses.update(by_status)
    downloads = sum(1 for e in summary["emails"] if e["subject"].startswith("Your download"))
    windows = [sum(t.wall_seconds for t in traces[i : i + 500]) for i in range(0, len(traces), 500)]
    return {
        "history": describe(history),
        "seed": seed,
        "start_s": ready - started,
        "synth_s": synth_s,
        "deploy_s": deploy_s,
        "replay_s": replay_s,
        "events_per_s": len(history) / replay_s,
        "replay_cpu_s": replay_cpu,  # user + system of the replaying process, all its threads
        "events_per_cpu_s": len(history) / replay_cpu,
        "seconds_per_500_events": [round(w, 2) for w in windows],
        "p50_ms_by_type": {
            kind: round(statistics.median(times) * 1000, 1)
            for kind, times in sorted(per_type.items())
        },
        "executions": summary["executions"],
        "execution_statuses": dict(statuses),
        "rules": summary["rules"],
        "dlq": summary["dlq"],
        "download_emails": downloads,
        "paid_orders_in_history": _paid_orders(history),
        "refused": sum(1 for t in traces if t.delivery != "accepted"),
    }


def measure(n_events: int = 5000, seed: int = 7) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.replay", str(n_events), str(seed)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )  # progress lines pass through on stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m bench.replay N_EVENTS [SEED]")
    print(json.dumps(child(*(int(a) for a in sys.argv[1:]))))
