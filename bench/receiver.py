"""Webhook receiver benchmark: cold-start proxy (import time) and per-request time.

The receiver (functions/webhook_receiver/handler.py, verifying with the `stripe` library) against
bench/baseline_receiver.py (plain `hmac`). Secrets Manager and PutEvents are stubbed in-process,
so the numbers are the receivers' own work; no moto, no network.

    .venv/bin/python -m bench.receiver requests   # one child run: per-request timings as JSON
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RECEIVER_DIR = ROOT / "functions" / "webhook_receiver"
EVENT_FILE = ROOT / "examples" / "events" / "01-card-order-paid.json"
IMPORT_CODE = (
    "import sys, time\n"
    "sys.path.insert(0, {path!r})\n"
    "started = time.perf_counter()\n"
    "import {module}\n"
    "print(time.perf_counter() - started)\n"
)
RECEIVERS = {
    "stripe library (handler.py)": (str(RECEIVER_DIR), "handler"),
    "plain hmac (baseline)": (str(ROOT), "bench.baseline_receiver"),
}


def import_seconds(path: str, module: str) -> float:
    """Seconds to import `module` in a fresh interpreter (what a Lambda cold start pays)."""
    code = IMPORT_CODE.format(path=path, module=module)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return float(out.stdout.strip().splitlines()[-1])


class _Stub:
    """Secrets Manager and EventBridge, answering at once."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.puts = 0

    def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803 - boto3's name
        return {"SecretString": self.secret}

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.puts += len(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "stub"}]}


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def signed_request(secret: str) -> dict[str, Any]:
    """A function URL request carrying a valid Stripe signature, as Stripe sends it."""
    body = json.dumps(json.loads(EVENT_FILE.read_text(encoding="utf-8")), indent=2)
    timestamp = int(time.time())
    signature = hmac.new(
        secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "version": "2.0",
        "rawPath": "/",
        "headers": {
            "content-type": "application/json; charset=utf-8",
            "stripe-signature": f"t={timestamp},v1={signature}",
        },
        "requestContext": {"http": {"method": "POST", "path": "/"}},
        "body": body,
        "isBase64Encoded": False,
    }


def request_timings(requests: int = 2000, repeats: int = 7) -> dict[str, Any]:
    """Median seconds per valid request for each receiver (run in a fresh process)."""
    import importlib

    os.environ.update(
        EVENT_BUS_NAME="bench-bus",
        SIGNING_SECRET_ARN="arn:aws:secretsmanager:us-east-1:123456789012:secret:bench",
    )
    secret = "whsec_" + secrets.token_hex(16)  # generated per run, never stored
    request = signed_request(secret)
    results: dict[str, Any] = {}
    for label, (path, module_name) in RECEIVERS.items():
        sys.path.insert(0, path)
        module = importlib.import_module(module_name)
        stub = _Stub(secret)
        module._clients.update(secretsmanager=stub, events=stub)
        with contextlib.redirect_stdout(_Discard()):  # type: ignore[type-var]
            first = module.handler(request, None)
            if first["statusCode"] != 200 or stub.puts != 1:
                raise RuntimeError(f"{label}: a valid request was not accepted: {first}")
            per_request = []
            for _ in range(repeats):
                started = time.perf_counter()
                for _ in range(requests):
                    module.handler(request, None)
                per_request.append((time.perf_counter() - started) / requests)
        if stub.puts != 1 + repeats * requests:
            raise RuntimeError(f"{label}: not every request reached PutEvents")
        results[label] = {
            "median_s": statistics.median(per_request),
            "runs": [round(x, 9) for x in per_request],
            "requests_per_run": requests,
        }
    return results


def measure(import_runs: int = 7, requests: int = 2000, repeats: int = 7) -> dict[str, Any]:
    imports = {
        label: [import_seconds(path, module) for _ in range(import_runs)]
        for label, (path, module) in RECEIVERS.items()
    }
    child = subprocess.run(
        [sys.executable, "-m", "bench.receiver", "requests", str(requests), str(repeats)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    timings = json.loads(child.stdout)
    return {
        label: {
            "import_s": statistics.median(imports[label]),
            "import_runs": imports[label],
            "request_s": timings[label]["median_s"],
            "request_runs": timings[label]["runs"],
            "requests_per_run": requests,
        }
        for label in RECEIVERS
    }


if __name__ == "__main__":
    if sys.argv[1:2] != ["requests"]:
        sys.exit("usage: python -m bench.receiver requests [REQUESTS [REPEATS]]")
    arguments = [int(a) for a in sys.argv[2:4]]
    print(json.dumps(request_timings(*arguments)))
