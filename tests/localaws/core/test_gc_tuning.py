"""core/gc_tuning.py: the processes that run the local AWS collect garbage with its thresholds,
and leave their heap to the OS as they end."""

from __future__ import annotations

import argparse
import gc
import json
import queue
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from payops.localaws.core import gc_tuning
from payops.localaws.core.gc_tuning import LOCAL_AWS_THRESHOLDS, tune_gc

ROOT = Path(__file__).resolve().parents[3]

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


# A process with garbage waiting (a cycle whose finalizer prints) and live objects, leaving its
# heap at exit; it prints what the collector holds afterwards.
_ENDING = """
import gc, json
from payops.localaws.core.gc_tuning import leave_heap_at_exit

class Cycle:
    def __del__(self):
        print("finalized", flush=True)

kept = [[i] for i in range(50_000)]  # lists: tracked by the collector
garbage = Cycle()
garbage.me = garbage
del garbage
leave_heap_at_exit()
print(json.dumps({"frozen": gc.get_freeze_count(), "walked": len(gc.get_objects())}), flush=True)
"""


def test_leave_heap_at_exit_finalizes_the_garbage_then_freezes_what_lives() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _ENDING], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.splitlines()
    # The garbage was collected before the freeze: its finalizer ran, and ran first.
    assert out[0] == "finalized", out
    after = json.loads(out[1])
    # Everything alive went to the permanent generation: a later collection (the shutdown's)
    # walks only what was made since, not the 50,000 kept lists.
    assert after["frozen"] > 50_000, after
    assert after["walked"] < 1_000, after
    assert out.count("finalized") == 1


def test_the_payops_command_leaves_the_heap_after_main_and_main_alone_does_not(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from payops import cli

    frozen = gc.get_freeze_count()
    assert cli.main(["rules"]) == 0  # in-process callers (tests) keep their collector
    assert gc.get_freeze_count() == frozen
    calls: list[str] = []
    monkeypatch.setattr(cli, "main", lambda: calls.append("main") or 3)
    monkeypatch.setattr(gc_tuning, "leave_heap_at_exit", lambda: calls.append("leave"))
    assert cli.run() == 3 and calls == ["main", "leave"]
    # The installed command and `python -m payops` are `run`.
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["payops"] == "payops.cli:run"
    assert "sys.exit(run())" in (ROOT / "payops" / "__main__.py").read_text()
    capsys.readouterr()


def test_a_spawned_replay_worker_leaves_its_heap_after_its_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from payops.localaws import replay_workers

    calls: list[str] = []
    monkeypatch.setattr(replay_workers, "_worker", lambda *args: calls.append("report"))
    monkeypatch.setattr(replay_workers, "leave_heap_at_exit", lambda: calls.append("leave"))
    replay_workers._worker_process({}, None, (None, None), None, None)
    assert calls == ["report", "leave"]
