"""Fire a schedule now: what EventBridge Scheduler does at the schedule's next time."""

from __future__ import annotations

import uuid

import boto3

from payops.localaws.core.account import REGION


def fire(name: str, group: str = "default") -> str:
    """Start the schedule's Step Functions target with the schedule's input; returns the
    execution ARN. Raises ValueError for a disabled schedule or another kind of target."""
    schedule = boto3.client("scheduler", region_name=REGION).get_schedule(
        Name=name, GroupName=group
    )
    if schedule.get("State") == "DISABLED":
        raise ValueError(f"schedule {name}: DISABLED, it would not fire")
    target = schedule["Target"]
    if ":states:" not in target["Arn"]:
        raise ValueError(f"schedule {name}: only Step Functions targets are fired locally")
    return boto3.client("stepfunctions", region_name=REGION).start_execution(
        stateMachineArn=target["Arn"],
        name=f"{name}-{uuid.uuid4().hex[:12]}"[:80],
        input=target.get("Input") or "{}",
    )["executionArn"]
