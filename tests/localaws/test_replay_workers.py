"""payops/localaws/replay_workers.py (`payops replay --workers N`): a replay spread over several
local AWSs gives, event by event, what one local AWS gives."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from payops.envelope import LoadedEvent, load_events, wrap
from payops.localaws.core.cpu_affinity import current_cpus
from payops.localaws.replay_workers import groups, replay_in_workers
from payops.localaws.runtime import EventTrace, LocalAws
from payops.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "events"
STRIPE_DATA = ROOT / "examples" / "stripe-data"
CONTEXT = {"ingress": "partner"}


def _examples() -> dict[str, LoadedEvent]:
    settings = Settings.load(CONTEXT)
    return {Path(e.label).name: e for e in load_events(EXAMPLES, settings)}


def _named(events: dict[str, LoadedEvent], grouped: list[list[int]]) -> list[set[str]]:
    names = list(events)
    return [{names[i][:2] for i in group} for group in grouped]


def test_events_about_one_order_customer_or_subscription_stay_together() -> None:
    """The example story, grouped: the konbini order's placement and payment (one checkout
    session); Hanako's card order, its redelivery (one event id) and her subscription's three
    events (one customer); the Payment Link order and its redelivery; the other customers'
    orders, which share only the catalogue (products, prices), each alone."""
    events = _examples()
    assert _named(events, groups(list(events.values()))) == [
        {"01", "06", "07", "08", "09"},
        {"02", "03"},
        {"04"},
        {"05"},
        {"10", "11"},
    ]


def test_an_app_user_links_their_customers_and_a_shared_price_links_nothing() -> None:
    settings = Settings.load(CONTEXT)

    def event(n: int, obj: dict[str, Any]) -> LoadedEvent:
        stripe = {"id": f"evt_{n:024d}", "type": "customer.updated", "data": {"object": obj}}
        return LoadedEvent(f"e#{n}", wrap(stripe, settings))

    events = [
        event(0, {"id": "cus_A", "metadata": {"app_user_id": "u1"}}),
        event(1, {"id": "cus_B", "metadata": {"app_user_id": "u1"}}),  # same user, 2nd customer
        event(2, {"id": "cus_C", "metadata": {}, "default_price": "price_shared"}),
        event(3, {"id": "cus_D", "metadata": {"note": None}, "price": "price_shared"}),
        event(4, {"id": "cs_1", "customer": "cus_C", "client_reference_id": None}),
    ]
    assert groups(events) == [[0, 1], [2, 4], [3]]


def _outcome(trace: EventTrace) -> dict[str, Any]:
    """One event's trace, with what runs concurrently within the event (two workflows of one
    checkout) compared as multisets."""

    def bag(items: list[Any]) -> list[str]:
        return sorted(json.dumps(i, sort_keys=True) for i in items)

    return {
        "event": (trace.label, trace.event_id, trace.event_type, trace.delivery),
        "rules": sorted(trace.rules),
        "executions": bag(
            [{k: e[k] for k in ("state_machine", "status", "states")} for e in trace.executions]
        ),
        "emails": bag([{"to": e["to"], "subject": e["subject"]} for e in trace.emails]),
        "sns": trace.sns,
        "tables": trace.table_writes,
        "http": bag([{"method": c["method"], "url": c["url"]} for c in trace.http_calls]),
        "dlq": trace.dlq,
        "failed": bag(trace.failed),
        "notices": bag(trace.notices),
    }


def test_a_generated_month_replays_event_by_event_as_in_one_local_aws() -> None:
    from bench.history import generate

    settings = Settings.load(CONTEXT)
    history = generate(60, 3)  # orders, konbini, subscriptions created and ended, a redelivery
    events = [LoadedEvent(f"h#{i}", wrap(e, settings)) for i, e in enumerate(history)]
    assert Counter(e["id"] for e in history).most_common(1)[0][1] > 1  # a redelivery in it
    customers = Counter(
        o.get("customer") or o["id"]
        for o in (e["data"]["object"] for e in history)
        if str(o.get("customer") or o["id"]).startswith("cus_")
    )
    assert customers.most_common(1)[0][1] >= 3  # one customer's story spans several events

    with LocalAws(CONTEXT, stripe_data=STRIPE_DATA) as local:
        alone = [local.send(event) for event in events]
        alone_stacks = local.customer_stacks()
    cpus = current_cpus()
    spread = replay_in_workers(CONTEXT, events, 2, stripe_data=STRIPE_DATA, start_together=True)

    assert spread.workers == 2 and sum(spread.per_worker) == len(events)
    # Each worker replayed on a CPU of its own (core/cpu_affinity.py) where there are two.
    assert spread.cpus == ([[cpus[0]], [cpus[1]]] if len(cpus) >= 2 else None)
    assert current_cpus() == cpus  # this process is back on all its CPUs
    assert min(spread.per_worker) > len(events) // 4  # both did a real share
    assert [_outcome(t) for t in spread.traces] == [_outcome(t) for t in alone]
    assert spread.stacks == alone_stacks and alone_stacks  # a subscription's stack in it
    assert sum(len(t.executions) for t in alone) > len(events)  # workflows really ran


def test_a_worker_that_fails_or_dies_is_reported(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    """A worker's traceback, or its death without a report, is raised; `payops replay` prints it
    as an error and exits 1."""
    import queue

    import payops.localaws.replay_workers as workers
    from payops.cli import main

    class Child:
        def __init__(self, exitcode: int | None) -> None:
            self.exitcode = exitcode

        def join(self) -> None:
            pass

    failed: queue.Queue[Any] = queue.Queue()
    failed.put(("error", "Traceback (most recent call last):\nRuntimeError: boom"))
    with pytest.raises(workers.ReplayWorkerError, match="RuntimeError: boom"):
        workers._collect(failed, [Child(0)])
    with pytest.raises(workers.ReplayWorkerError, match="died \\(exit code -9\\)"):
        workers._collect(queue.Queue(), [Child(-9)])

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise workers.ReplayWorkerError("a replay worker failed:\nRuntimeError: boom")

    monkeypatch.setattr(workers, "replay_in_workers", failing)
    path = tmp_path / "one.json"
    path.write_text((EXAMPLES / "01-card-order-paid.json").read_text())
    assert main(["replay", str(path), "--json", "--workers", "2"]) == 1
    assert "error: a replay worker failed:\nRuntimeError: boom" in capsys.readouterr().err
