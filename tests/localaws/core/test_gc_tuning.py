"""core/gc_tuning.py: the processes that run the local AWS collect garbage with its thresholds."""

from __future__ import annotations

import argparse
import gc
import queue
from collections.abc import Iterator
from typing import Any

import pytest

from payops.localaws.core.gc_tuning import LOCAL_AWS_THRESHOLDS, tune_gc

DEFAULTS = (700, 10, 10)  # CPython's


@pytest.fixture
def default_collector() -> Iterator[None]:
    """The collector as a plain `python` process starts (the test session tunes its own)."""
    session = gc.get_threshold()
    gc.set_threshold(*DEFAULTS)
    try:
        yield
    finally:
        gc.set_threshold(*session)


def test_tune_gc_sets_the_local_aws_thresholds_and_returns_the_old(default_collector: None) -> None:
    assert tune_gc() == DEFAULTS
    assert gc.get_threshold() == LOCAL_AWS_THRESHOLDS
    assert LOCAL_AWS_THRESHOLDS[0] > 10 * DEFAULTS[0] and gc.isenabled()


def test_the_local_aws_commands_run_with_the_thresholds(default_collector: None) -> None:
    from payops.cli import cmd_local_aws

    seen: list[tuple[int, ...]] = []

    def command(args: argparse.Namespace, context: dict[str, str]) -> int:
        seen.append(gc.get_threshold())
        return 0

    args = argparse.Namespace(context=[], ingress=None, local_func=command)
    assert cmd_local_aws(args) == 0
    assert seen == [LOCAL_AWS_THRESHOLDS]


def test_a_replay_worker_runs_with_the_thresholds(
    default_collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payops.localaws import replay_workers
    from payops.localaws.core import registry

    seen: list[tuple[int, ...]] = []

    def install(*args: Any, **kwargs: Any) -> None:  # the worker's first step: stop it there
        seen.append(gc.get_threshold())
        raise RuntimeError("stopped after the worker's set-up")

    monkeypatch.setattr(registry, "install", install)
    reports: queue.Queue[Any] = queue.Queue()
    replay_workers._worker({}, None, (queue.Queue(), reports), None, None)
    status, report = reports.get_nowait()
    assert status == "error" and "stopped after the worker's set-up" in report
    assert seen == [LOCAL_AWS_THRESHOLDS]
