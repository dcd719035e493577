"""Synthesis benchmark: the full app vs an empty CDK app, each in a fresh interpreter.

Every run is a new process, as `cdk synth` is: Python starts, jsii starts its Node runtime,
the app is built and synthesized into a temporary cloud assembly. The empty app (one empty Stack)
is the floor no CDK Python app can go below; the ratio is what this app adds on top.

    .venv/bin/python -m bench.synth full|empty   # one child run: its phases as JSON
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("full", "empty")


def child(kind: str) -> dict[str, float]:
    """Build and synthesize one app in this (fresh) process; seconds per phase."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    started = time.perf_counter()
    import aws_cdk as cdk

    imported = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as outdir:
        if kind == "full":
            from payops.app_factory import build_app

            app, _stack = build_app(outdir=outdir)  # as app.py: settings defaults, cdk-nag on
        else:
            app = cdk.App(outdir=outdir)
            cdk.Stack(app, "Empty")
        built = time.perf_counter()
        app.synth()
        done = time.perf_counter()
    return {"import_s": imported - started, "build_s": built - imported, "synth_s": done - built}


def run_once(kind: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOPS_")}
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "bench.synth", kind],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    wall = time.perf_counter() - started
    return {"wall_s": wall, **json.loads(out.stdout.strip().splitlines()[-1])}


def measure(runs: int = 3) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for kind in KINDS:
        samples = [run_once(kind) for _ in range(runs)]
        results[kind] = {
            "wall_s": statistics.median(s["wall_s"] for s in samples),
            "phases_s": {
                phase: statistics.median(s[phase] for s in samples)
                for phase in ("import_s", "build_s", "synth_s")
            },
            "runs": samples,
        }
    results["ratio"] = results["full"]["wall_s"] / results["empty"]["wall_s"]
    return results


if __name__ == "__main__":
    if sys.argv[1:2] not in ([k] for k in KINDS):
        sys.exit("usage: python -m bench.synth full|empty")
    print(json.dumps(child(sys.argv[1])))
