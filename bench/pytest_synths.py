"""A pytest plugin for the suite benchmark (`pytest -p bench.pytest_synths`).

Counts every in-process app build (payops.app_factory.build_app, which each synthesis starts
with) and reads tests/conftest.py's SYNTH_COUNT (the apps conftest builds for their construct
tree: cdk-nag, the catalogue); writes both, with the outcome counts, as JSON to the file named
by $BENCH_SYNTH_REPORT. Under pytest-xdist each worker hands its counts to the controller
(workeroutput), which adds them up and writes the report.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest

_builds = {"n": 0}
_from_workers: list[dict[str, Any]] = []


def pytest_configure(config: pytest.Config) -> None:
    import payops.app_factory as app_factory

    original = app_factory.build_app

    def counting_build_app(*args: Any, **kwargs: Any) -> Any:
        _builds["n"] += 1
        return original(*args, **kwargs)

    app_factory.build_app = counting_build_app  # before any test module imports it


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:  # xdist controller: a worker is done
    counts = getattr(node, "workeroutput", {}).get("bench_synths")
    if counts:
        _from_workers.append(counts)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("BENCH_SYNTH_REPORT")
    if not path:
        return
    conftest_counts = [
        module.SYNTH_COUNT["n"]
        for name, module in list(sys.modules.items())
        if name.rsplit(".", 1)[-1] == "conftest" and hasattr(module, "SYNTH_COUNT")
    ]
    own = {
        "session_synths": sum(conftest_counts) if conftest_counts else None,
        "app_builds": _builds["n"],
    }
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller reports
        session.config.workeroutput["bench_synths"] = own  # type: ignore[attr-defined]
        return
    for counts in _from_workers:
        if counts["session_synths"] is not None:
            own["session_synths"] = (own["session_synths"] or 0) + counts["session_synths"]
        own["app_builds"] += counts["app_builds"]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(reporter, "stats", {}) if reporter else {}
    outcomes = {
        key: len(stats.get(key, [])) for key in ("passed", "failed", "error", "skipped", "xfailed")
    }
    report = {
        **own,
        "outcomes": outcomes,
        "exit_status": int(exitstatus),
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle)
