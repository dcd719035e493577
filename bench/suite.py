"""Test suite benchmark: wall time of one full `pytest` run and how many syntheses it made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
        report_path = Path(tmp) / "synths.json"
        env = {**os.environ, "BENCH_SYNTH_REPORT": str(report_path)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += ["-p", "bench.pytest_synths"]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return {
        "wall_s": wall,
        "exit_code": done.returncode,
        "session_synths": report.get("session_synths"),
        "app_builds": report.get("app_builds"),
        "outcomes": report.get("outcomes", {}),
        "not_passed": [
            line for line in done.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))
        ],
    }
