"""A pytest plugin for the suite benchmark (`pytest -p bench.pytest_synths`).

Counts every in-process app build (payops.app_factory.build_app, which each synthesis starts
with) and reads tests/conftest.py's SYNTH_COUNT (session synths); writes both, with the outcome
counts, as JSON to the file named by $BENCH_SYNTH_REPORT.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest

_builds = {"n": 0}


def pytest_configure(config: pytest.Config) -> None:
    import payops.app_factory as app_factory

    original = app_factory.build_app

    def counting_build_app(*args: Any, **kwargs: Any) -> Any:
        _builds["n"] += 1
        return original(*args, **kwargs)

    app_factory.build_app = counting_build_app  # before any test module imports it


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("BENCH_SYNTH_REPORT")
    if not path:
        return
    conftest_counts = [
        module.SYNTH_COUNT["n"]
        for name, module in list(sys.modules.items())
        if name.rsplit(".", 1)[-1] == "conftest" and hasattr(module, "SYNTH_COUNT")
    ]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(reporter, "stats", {}) if reporter else {}
    outcomes = {
        key: len(stats.get(key, [])) for key in ("passed", "failed", "error", "skipped", "xfailed")
    }
    report = {
        "session_synths": sum(conftest_counts) if conftest_counts else None,
        "app_builds": _builds["n"],
        "outcomes": outcomes,
        "exit_status": int(exitstatus),
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle)
