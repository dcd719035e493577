"""Test suite benchmark: wall time of one full `pytest` run and how many syntheses it made."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# As `make test` runs the suite (its PYTEST_ARGS): 2 pytest-xdist workers, a file per worker.
WORKERS = ["-n", "2", "--dist", "loadfile", "--no-loadscope-reorder"]


class SuiteNotRun(RuntimeError):
    """pytest ran no test: nothing to time."""


def _children_cpu() -> float:
    """User + system seconds of the finished child processes so far (noisy machines: compare
    these, not only wall time)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
        report_path = Path(tmp) / "synths.json"
        env = {**os.environ, "BENCH_SYNTH_REPORT": str(report_path)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += ["-p", "bench.pytest_synths", *WORKERS]
        started, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
    if not sum(report.get("outcomes", {}).values()):
        # Not a measurement: pytest stopped before running a test (a missing plugin, a bad
        # option, a collection error). Its own words, not a 0-second suite in the table.
        said = (done.stderr.strip() or done.stdout.strip())[-1500:]
        raise SuiteNotRun(f"the suite ran no test (pytest exit code {done.returncode}):\n{said}")
    return {
        "wall_s": wall,
        "cpu_s": cpu,  # user + system of pytest and what it started (the suite's own work)
        "exit_code": done.returncode,
        "session_synths": report.get("session_synths"),
        "app_builds": report.get("app_builds"),
        "outcomes": report.get("outcomes", {}),
        "not_passed": [
            line for line in done.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))
        ],
    }
