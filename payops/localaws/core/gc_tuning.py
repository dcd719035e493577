"""The garbage collector's thresholds for a process that runs the local AWS.

A replay allocates a few hundred thousand short-lived containers per event (JSON state data,
history entries, parsed requests), so CPython's default thresholds (700, 10, 10) ran a
young-generation collection every few Tasks and a full one, walking every object moto keeps
(each execution's history, every table), every ~70 events. Measured on 1,000 generated events
in one local AWS (`gc.callbacks` timing each collection): 4.1 s of ~37 CPU s collecting, 3.2 s
of it in 15 full collections; with (20000, 20, 20), 1.4 s and no full collection, and the same
peak memory (869 -> 877 MB). Cycles are still collected, later: nothing else changes.

Set by the processes that run the local AWS and own their whole life: the CLI commands that
start one (`payops replay`, `local`, `serve`, `report`), the replay workers, and the test
session. `LocalAws` itself, a library, leaves a caller's collector alone.

The same processes call `leave_heap_at_exit()` as they end: CPython's shutdown runs more full
collections, walking everything moto still holds only to free memory the OS takes back anyway
(measured: a pytest worker of this suite ends 2-4 s sooner; a `payops serve` stop takes 0.8 s
instead of 2.2 s).
"""

from __future__ import annotations

import gc

LOCAL_AWS_THRESHOLDS = (20_000, 20, 20)


def tune_gc() -> tuple[int, ...]:
    """Collect as a local AWS process should; returns the thresholds it replaced."""
    previous = gc.get_threshold()
    gc.set_threshold(*LOCAL_AWS_THRESHOLDS)
    return previous


def leave_heap_at_exit(collect: bool = True) -> None:
    """For a process about to end: garbage is collected once more (`collect`), so finalizers
    run and unraisable errors are reported as before, then every object still alive goes to the
    collector's permanent generation (`gc.freeze`). The collections that still run before the
    exit (the interpreter's own at shutdown, pytest's cleanup) then walk only what is made
    afterwards. `collect=False`: the caller has just collected."""
    if collect:
        gc.collect()
    gc.freeze()
