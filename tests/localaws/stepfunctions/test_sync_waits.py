"""sfn.sync_waits (services/stepfunctions/sync_waits.py): a `.sync` Task stops waiting for its
child when the child ends, not at the next of moto's half-second polls; the runs are the same."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from payops.localaws.core.account import REGION
from payops.localaws.services import stepfunctions as sfb
from payops.localaws.services.stepfunctions import SERVICE, sync_waits

ROLE = "arn:aws:iam::123456789012:role/local-sfn"
SPEEDUPS = SERVICE.speedup_patches
assert SPEEDUPS is not None
# A child still running when its parent first checks it (a few dozen states), then failing
# half the time: the parent's output and its error both come from the child.
STEPS = {f"P{n}": {"Type": "Pass", "Next": f"P{n + 1}"} for n in range(40)}
CHILD = {
    "StartAt": "P0",
    "States": {
        **STEPS,
        "P40": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericEquals": 1, "Next": "Fail"}], "Default": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"got.$": "$.n"}, "End": True},
        "Fail": {"Type": "Fail", "Error": "ChildFailed"},
    },
}  # fmt: skip


@pytest.fixture
def sfn() -> Iterator[Any]:
    was = sfb.is_installed(), SPEEDUPS.is_installed()
    sfb.install()  # the status-change events that signal each ending
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name=REGION)
    (SPEEDUPS.install if was[1] else SPEEDUPS.uninstall)()
    if not was[0]:
        sfb.uninstall()


def _runs(sfn: Any, tag: str) -> list[dict[str, Any]]:
    """Two parents that start the child with startExecution.sync:2, each waited for."""
    make = sfn.create_state_machine
    child = make(name=f"child-{tag}", definition=json.dumps(CHILD), roleArn=ROLE, type="EXPRESS")
    start = {
        "Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": child["stateMachineArn"], "Input": {"n.$": "$.n"}},
        "OutputPath": "$.Output",
        "End": True,
    }
    parent = make(
        name=f"parent-{tag}",
        definition=json.dumps({"StartAt": "S", "States": {"S": start}}),
        roleArn=ROLE,
    )["stateMachineArn"]
    runs = []
    for n in (0, 1):
        arn = sfn.start_execution(
            stateMachineArn=parent, name=f"run-{n}", input=json.dumps({"n": n})
        )
        deadline = time.monotonic() + 15
        while (described := sfn.describe_execution(executionArn=arn["executionArn"]))[
            "status"
        ] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        history = sfn.get_execution_history(executionArn=arn["executionArn"])["events"]
        runs.append({
            "status": described["status"],
            "output": described.get("output"),
            "error": described.get("error"),
            "history": [e["type"] for e in history],
        })  # fmt: skip
    return runs


def test_a_sync_task_wakes_when_its_child_ends_with_the_same_runs(
    sfn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback,
    )

    SPEEDUPS.uninstall()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(callback, "time", SimpleNamespace(sleep=sleep))
    plain = _runs(sfn, "plain")
    monkeypatch.undo()
    assert slept and set(slept) == {0.5}  # moto: half a second between two checks

    SPEEDUPS.install()
    woken: list[bool] = []
    wait = sync_waits.wait_for_an_ending

    def recorded(seen: int, timeout: float) -> bool:
        woken.append(wait(seen, timeout))
        return woken[-1]

    monkeypatch.setattr(sync_waits, "wait_for_an_ending", recorded)
    fast = _runs(sfn, "fast")

    assert fast == plain
    assert [r["status"] for r in fast] == ["SUCCEEDED", "FAILED"]
    assert json.loads(fast[0]["output"]) == {"got": 0} and fast[1]["error"] == "States.TaskFailed"
    assert woken and all(woken)  # every wait ended with an ending, none after moto's 0.5 s
