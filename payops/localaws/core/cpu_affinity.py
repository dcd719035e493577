"""One CPU per replay worker: each local AWS's threads hand work to each other on one core.

A local AWS is one process whose threads take turns (the GIL): the sender, the workflows' pooled
threads, the pipes. Each turn wakes a thread, about a hundred times per event. With one process
per core and no pinning, Linux often wakes that thread on the other core, which is busy with the
other process, while the core just left goes idle: measured on 2 cores, two replays side by side
each got 0.89 of a core (the machine 13% idle), and each 0.99 when each was pinned to its own
core, at the same CPU time per event (600 events each: 22.9 -> 25.7 events/s per process).

Linux only (`os.sched_setaffinity`); elsewhere, or with fewer CPUs than workers, nothing is
pinned. Affinity is per thread: `pinned` sets every thread of the process, so threads started
inside inherit it, and puts every thread back on the way out.

A pinned worker's threads also take longer turns: CPython makes a thread holding the GIL let a
waiting one run every 5 ms (`sys.setswitchinterval`), and the workflows one event starts run
side by side, trading the core. At 50 ms, two pinned replays side by side made ~14% fewer
context switches and ran 1.8-4.7% more events per second (four pairs of runs, 600-800 events
each). Nothing waits on a turn: each execution runs to its end, and settling waits for all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_INTERVAL_S = 0.05  # a pinned worker's GIL turn (CPython's default: 0.005)


def current_cpus() -> list[int]:
    """The CPUs this thread may run on, in order; [] where the OS has no affinity."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def worker_cpus(workers: int) -> list[int] | None:
    """A CPU for each of `workers` processes, or None: no affinity on this OS, or too few CPUs
    for one each (sharing pinned CPUs would be worse than the scheduler's placement)."""
    cpus = current_cpus()
    return cpus[:workers] if workers >= 2 and len(cpus) >= workers else None


def _threads() -> list[int]:
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return [0]  # no /proc: this thread only


def _set(tid: int, cpus: set[int]) -> None:
    try:
        os.sched_setaffinity(tid, cpus)
    except OSError:  # a thread that ended meanwhile, or a container that refuses
        pass


def pin_process(cpu: int) -> None:
    """Every thread of this process, and the threads they start, to `cpu`, taking turns of
    SWITCH_INTERVAL_S (for a process that ends with its replay: a spawned worker)."""
    for tid in _threads():
        _set(tid, {cpu})
    sys.setswitchinterval(SWITCH_INTERVAL_S)


@contextmanager
def pinned(cpu: int | None) -> Iterator[None]:
    """This process on `cpu` for the duration (None: unchanged); then every thread, including
    those started meanwhile, back on the CPUs this thread had, and the turns as they were."""
    if cpu is None:
        yield
        return
    before, interval = os.sched_getaffinity(0), sys.getswitchinterval()
    pin_process(cpu)
    try:
        yield
    finally:
        for tid in _threads():
            _set(tid, before)
        sys.setswitchinterval(interval)
