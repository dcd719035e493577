"""`payops replay --workers N`: one replay spread over N local AWSs, one process each.

The local AWS is one in-memory Python process, so a replay uses one core however many the machine
has. Stripe events about different customers do not meet in the stack: every table, claim, notice
and Stripe call a workflow makes is keyed by the customer, order, payment, subscription, invoice
or event it was started for. So the events are split into groups that share no such object
(`groups`: events naming a common customer, checkout session, payment intent, charge, invoice,
subscription, app user or event id are in one group, transitively), whole groups go to the
workers, and each worker replays its events in their original order into its own deployment of
the same assembly. Their traces are put back in the original order, so the summary is the one a
single local AWS gives (`tests/localaws/test_replay_workers.py` replays the same history both
ways and compares).

What is not split: the order of one group's events, and anything the stack keeps across
customers (none today; a workflow that did would need its key added to `_LINK_PREFIXES`).
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from payops.envelope import LoadedEvent
from payops.localaws.runtime import EventTrace
from payops.localaws.syntheses import SHARED_ASSEMBLIES_ENV, synthesize

# Ids of the objects a workflow acts on or keys its records by. Catalogue objects (products,
# prices, plans, payment links, coupons) are only read, and every order names them: they link
# nothing.
_LINK_PREFIXES = (
    "evt_", "cus_", "cs_", "pi_", "ch_", "py_", "re_", "in_", "il_", "ii_", "sub_", "si_",
    "sub_sched_", "seti_", "pm_", "dp_", "du_", "cn_", "src_",
)  # fmt: skip
_USER_KEYS = ("app_user_id", "client_reference_id")  # the app user an access record is kept for


def _links(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _USER_KEYS and isinstance(item, str) and item:
                found.add("user:" + item)
            else:
                _links(item, found)
    elif isinstance(value, list):
        for item in value:
            _links(item, found)
    elif isinstance(value, str) and value.startswith(_LINK_PREFIXES):
        found.add(value)


def groups(events: list[LoadedEvent]) -> list[list[int]]:
    """Indexes of `events` in groups that name no common object, each in its original order,
    the groups by their first event."""
    parent = list(range(len(events)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for index, event in enumerate(events):
        found: set[str] = set()
        _links(event.stripe_event, found)
        for link in found:
            if link in owner:
                a, b = root(owner[link]), root(index)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[link] = index
    by_root: dict[int, list[int]] = {}
    for index in range(len(events)):
        by_root.setdefault(root(index), []).append(index)
    return list(by_root.values())


def assign(events: list[LoadedEvent], workers: int) -> list[list[int]]:
    """Whole groups to workers, the largest first to the least loaded; each worker's indexes in
    their original order."""
    shares: list[list[int]] = [[] for _ in range(workers)]
    for group in sorted(groups(events), key=len, reverse=True):
        min(shares, key=len).extend(group)
    return [sorted(share) for share in shares if share]


@dataclass
class WorkerReplay:
    traces: list[EventTrace]  # in the events' order
    stacks: dict[str, str]  # every worker's customer stacks
    synth_seconds: float
    deploy_seconds: float  # the slowest worker's
    workers: int
    per_worker: list[int] = field(default_factory=list)  # events each replayed


def _replay_share(
    context: dict[str, Any], stripe_data: str | None, share: list[tuple[int, LoadedEvent]]
) -> tuple[list[tuple[int, dict[str, Any]]], dict[str, str], float]:
    """In a worker process: deploy, replay this share in order, report traces as dicts."""
    import logging

    from payops.localaws.runtime import LocalAws

    logging.disable(logging.CRITICAL)
    data = Path(stripe_data) if stripe_data else None
    with LocalAws(context, stripe_data=data) as local:
        traces = [(index, asdict(local.send(event))) for index, event in share]
        return traces, local.customer_stacks(), local.deploy_seconds


def replay_in_workers(
    context: dict[str, Any],
    events: list[LoadedEvent],
    workers: int,
    *,
    stripe_data: Path | None = None,
) -> WorkerReplay:
    """Replay `events` over `workers` local AWSs (see the module docstring)."""
    from concurrent.futures import ProcessPoolExecutor

    shares = assign(events, workers)
    saved = os.environ.get(SHARED_ASSEMBLIES_ENV)
    with tempfile.TemporaryDirectory(prefix="payops-workers-") as shared:
        # Synthesized once, here; the workers deploy that assembly (syntheses.py).
        os.environ[SHARED_ASSEMBLIES_ENV] = saved or shared
        try:
            started = time.perf_counter()
            synthesis = synthesize(context, None)
            synth_seconds = synthesis.seconds or (time.perf_counter() - started)
            spawn = multiprocessing.get_context("spawn")  # no inherited threads or Node process
            with ProcessPoolExecutor(len(shares), mp_context=spawn) as pool:
                futures = [
                    pool.submit(
                        _replay_share,
                        context,
                        str(stripe_data) if stripe_data else None,
                        [(index, events[index]) for index in share],
                    )
                    for share in shares
                ]
                results = [future.result() for future in futures]
        finally:
            if saved is None:
                os.environ.pop(SHARED_ASSEMBLIES_ENV, None)
    traces: list[EventTrace | None] = [None] * len(events)
    stacks: dict[str, str] = {}
    for share_traces, share_stacks, _ in results:
        for index, trace in share_traces:
            traces[index] = EventTrace(**trace)
        stacks.update(share_stacks)
    return WorkerReplay(
        traces=[t for t in traces if t is not None],
        stacks=dict(sorted(stacks.items())),
        synth_seconds=synth_seconds,
        deploy_seconds=max(r[2] for r in results),
        workers=len(shares),
        per_worker=[len(s) for s in shares],
    )
