"""Waiting for a Step Functions execution in the tests that drive moto directly."""

from __future__ import annotations

import time
from typing import Any


def ended(sfn: Any, arn: str, within_s: float = 15.0) -> dict[str, Any]:
    """DescribeExecution once the execution is no longer RUNNING; fails the test, naming the
    execution, if it still is after `within_s`."""
    deadline = time.monotonic() + within_s
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still RUNNING after {within_s} s"
        time.sleep(0.005)
    return described
