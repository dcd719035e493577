"""`payops replay --workers N`: one replay spread over N local AWSs, one process each.

The local AWS is one in-memory Python process, so a replay uses one core however many the machine
has. Stripe events about different customers do not meet in the stack: every table, claim, notice
and Stripe call a workflow makes is keyed by the customer, order, payment, subscription, invoice
or event it was started for. So the events are split into groups that share no such object
(`groups`: events naming a common customer, checkout session, payment intent, charge, invoice,
subscription, app user or event id are in one group, transitively), whole groups go to the
workers as they are free, and each worker replays a group's events in their original order
into its own deployment of the same assembly. Their traces are put back in the original order,
so the summary is the one a single local AWS gives (`tests/localaws/test_replay_workers.py`
replays the same history both ways and compares).

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
from payops.localaws.core.cpu_affinity import current_cpus, pin_process, pinned, worker_cpus
from payops.localaws.core.gc_tuning import leave_heap_at_exit, tune_gc
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


@dataclass
class WorkerReplay:
    traces: list[EventTrace]  # in the events' order
    stacks: dict[str, str]  # every worker's customer stacks
    synth_seconds: float
    deploy_seconds: float  # the slowest worker's
    workers: int
    per_worker: list[int] = field(default_factory=list)  # events each replayed
    cpus: list[list[int]] | None = None  # each worker's CPUs as it replayed; None: not pinned


_START_TIMEOUT_S = 600.0  # a worker's start (spawn, imports, deploy) takes ~10 s


class ReplayWorkerError(RuntimeError):
    """A worker process failed; the message carries its traceback."""


# What one worker reports: (its traces by event index, its customer stacks, its deploy seconds,
# the CPUs it replayed on).
_Report = tuple[list[tuple[int, dict[str, Any]]], dict[str, str], float, list[int]]


def _replay_groups(
    context: dict[str, Any], stripe_data: str | None, take: Any, ready: Any
) -> _Report:
    """Deploy, then replay whole groups from `take()` (None: no more), each in its order."""
    from payops.localaws.runtime import LocalAws

    traces = []
    with LocalAws(context, stripe_data=Path(stripe_data) if stripe_data else None) as local:
        if ready is not None:  # every worker deployed before any takes a group
            ready.wait(timeout=_START_TIMEOUT_S)
        while (group := take()) is not None:
            traces += [(index, asdict(local.send(event))) for index, event in group]
        return traces, local.customer_stacks(), local.deploy_seconds, current_cpus()


def _worker(
    context: dict[str, Any],
    stripe_data: str | None,
    queues: tuple[Any, Any],
    synthesized: Any,
    ready: Any,
    cpu: int | None = None,
) -> None:
    """A worker process's main: its report, or its traceback, goes on the reports queue.

    Started while the caller synthesizes: its imports and moto's patches are done meanwhile,
    then it waits for the assembly (deploying before it exists would synthesize again). Pinned
    to its own CPU first, so every thread it starts is (core/cpu_affinity.py)."""
    import logging
    import traceback

    tasks, reports = queues
    logging.disable(logging.CRITICAL)  # the workers' logs would interleave
    if cpu is not None:
        pin_process(cpu)
    try:
        from payops.localaws.core import registry

        tune_gc()
        registry.install()  # what LocalAws.start does first: the imports of every bridge
        if not synthesized.wait(timeout=_START_TIMEOUT_S):
            raise ReplayWorkerError("the assembly to deploy was never synthesized")
        reports.put(("ok", _replay_groups(context, stripe_data, tasks.get, ready)))
    except BaseException:
        reports.put(("error", traceback.format_exc()))


def _worker_process(*args: Any) -> None:
    """A spawned worker's target: `_worker`, then the process ends (the queue's thread still
    sends the report), its heap left to the OS instead of walked once more by the interpreter's
    shutdown (core/gc_tuning.py)."""
    _worker(*args)
    leave_heap_at_exit()


def replay_in_workers(
    context: dict[str, Any],
    events: list[LoadedEvent],
    workers: int,
    *,
    stripe_data: Path | None = None,
    start_together: bool = False,
) -> WorkerReplay:
    """Replay `events` over `workers` local AWSs (see the module docstring).

    This process is one of them (it is warm: modules imported, parses cached); the others are
    spawned, so that they inherit no thread, mock or Node process. Whole groups are handed out
    from one queue, the largest first, to whichever worker is free: a worker still starting
    takes none meanwhile (`start_together`: every worker waits until all are deployed, so each
    gets a share however short the replay). With a CPU for each, each worker is pinned to its
    own (this process only while it replays)."""
    found = sorted(groups(events), key=len, reverse=True)
    workers = max(1, min(workers, len(found)))
    cpus = worker_cpus(workers)
    data = str(stripe_data) if stripe_data else None
    saved = os.environ.get(SHARED_ASSEMBLIES_ENV)
    spawn = multiprocessing.get_context("spawn")
    tasks, reports = spawn.Queue(), spawn.Queue()
    ready = spawn.Barrier(workers) if start_together and workers > 1 else None
    for group in found:
        tasks.put([(index, events[index]) for index in group])
    for _ in range(workers):
        tasks.put(None)
    synthesized = spawn.Event()
    with tempfile.TemporaryDirectory(prefix="payops-workers-") as shared:
        # Synthesized once, here; the workers deploy that assembly (syntheses.py). They start
        # first, so that their imports overlap the synthesis.
        os.environ[SHARED_ASSEMBLIES_ENV] = saved or shared
        try:
            children = [
                spawn.Process(
                    target=_worker_process,
                    args=(context, data, (tasks, reports), synthesized, ready, cpu),
                    daemon=True,
                )
                for cpu in (cpus[1:] if cpus else [None] * (workers - 1))
            ]
            for child in children:
                child.start()
            try:
                started = time.perf_counter()
                synthesis = synthesize(context, None)
                synth_seconds = synthesis.seconds or (time.perf_counter() - started)
                synthesized.set()
                with pinned(cpus[0] if cpus else None):  # after the synthesis: Node uses both
                    results = [_replay_groups(context, data, tasks.get, ready)]
                    results += _collect(reports, children)
            finally:
                for child in children:  # after a failure here: nothing left running
                    if child.is_alive():
                        child.terminate()
        finally:
            if saved is None:
                os.environ.pop(SHARED_ASSEMBLIES_ENV, None)
    traces: list[EventTrace | None] = [None] * len(events)
    stacks: dict[str, str] = {}
    for worker_traces, worker_stacks, _, _ in results:
        for index, trace in worker_traces:
            traces[index] = EventTrace(**trace)
        stacks.update(worker_stacks)
    return WorkerReplay(
        traces=[t for t in traces if t is not None],
        stacks=dict(sorted(stacks.items())),
        synth_seconds=synth_seconds,
        deploy_seconds=max(r[2] for r in results),
        workers=workers,
        per_worker=[len(r[0]) for r in results],
        cpus=[r[3] for r in results] if cpus else None,
    )


def _collect(reports: Any, children: list[Any]) -> list[_Report]:
    """Every child's report; a child that failed, or died without one, raises."""
    import queue

    collected: list[_Report] = []
    while len(collected) < len(children):
        try:
            status, report = reports.get(timeout=1.0)
        except queue.Empty:
            dead = [c for c in children if c.exitcode not in (None, 0)]
            if dead:
                raise ReplayWorkerError(
                    f"a replay worker died (exit code {dead[0].exitcode}) before reporting"
                ) from None
            continue
        if status != "ok":
            raise ReplayWorkerError(f"a replay worker failed:\n{report}")
        collected.append(report)
    for child in children:
        child.join()
    return collected
