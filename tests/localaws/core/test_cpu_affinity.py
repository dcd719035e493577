"""core/cpu_affinity.py: a replay worker's threads, started before or after, on one CPU; the
caller's CPUs back afterwards."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from payops.localaws.core.cpu_affinity import SWITCH_INTERVAL_S, pinned, worker_cpus

linux_affinity = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux CPU affinity and 2 CPUs",
)


def _affinities() -> dict[int, set[int]]:
    return {int(t): os.sched_getaffinity(int(t)) for t in os.listdir("/proc/self/task")}


def test_workers_get_a_cpu_each_only_when_there_are_enough() -> None:
    if not hasattr(os, "sched_getaffinity"):
        assert worker_cpus(2) is None
        return
    cpus = sorted(os.sched_getaffinity(0))
    assert worker_cpus(1) is None  # one process: the scheduler's placement
    assert worker_cpus(len(cpus) + 1) is None  # never two workers on one pinned CPU
    if len(cpus) >= 2:
        assert worker_cpus(2) == cpus[:2]


@linux_affinity
def test_every_thread_is_pinned_and_put_back() -> None:
    before, interval = os.sched_getaffinity(0), sys.getswitchinterval()
    cpu = sorted(before)[-1]
    started, release = threading.Event(), threading.Event()
    seen: dict[str, set[int]] = {}

    def older() -> None:
        started.set()
        release.wait(30)
        seen["older"] = os.sched_getaffinity(0)

    thread = threading.Thread(target=older)
    thread.start()
    started.wait(30)
    with pinned(cpu):
        release.set()
        thread.join(30)
        newer = threading.Thread(target=lambda: seen.setdefault("newer", os.sched_getaffinity(0)))
        newer.start()
        newer.join(30)
        seen["caller"] = os.sched_getaffinity(0)
        turns = sys.getswitchinterval()
        waiting = threading.Event()
        kept = threading.Thread(target=waiting.wait, args=(30,))  # lives on after the block
        kept.start()
    try:
        assert seen == {"older": {cpu}, "newer": {cpu}, "caller": {cpu}}
        assert all(cpus == before for cpus in _affinities().values())  # the kept thread too
        assert turns == pytest.approx(SWITCH_INTERVAL_S) and sys.getswitchinterval() == interval
        assert interval < SWITCH_INTERVAL_S
    finally:
        waiting.set()
        kept.join(30)


def test_no_cpu_changes_nothing() -> None:
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this OS")
    before = _affinities()
    with pinned(None):
        assert _affinities() == before
