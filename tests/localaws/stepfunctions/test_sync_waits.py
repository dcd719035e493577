"""sfn.sync_waits (services/stepfunctions/sync_waits.py): a `.sync` Task stops waiting for its
child when the child ends, not at the next of moto's half-second polls; the runs are the same."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from executions import ended
from moto import mock_aws

from payops.localaws.core.account import REGION
from payops.localaws.services import stepfunctions as sfb
from payops.localaws.services.stepfunctions import SERVICE, sync_waits

ROLE = "arn:aws:iam::123456789012:role/local-sfn"
SPEEDUPS = SERVICE.speedup_patches
assert SPEEDUPS is not None
# The child writes an item (held below until its parent waits), then fails for n == 1: the
# parent's output and its error both come from the child.
CHILD = {
    "StartAt": "Put",
    "States": {
        "Put": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "held", "Item": {"pk": {"S.$": "$.id"}}},
            "ResultPath": None,
            "Next": "Check",
        },
        "Check": {"Type": "Choice", "Choices": [
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
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="held",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield boto3.client("stepfunctions", region_name=REGION)
    (SPEEDUPS.install if was[1] else SPEEDUPS.uninstall)()
    if not was[0]:
        sfb.uninstall()


def _held_until(parent_waits: threading.Event, monkeypatch: pytest.MonkeyPatch) -> None:
    """The child's PutItem waits until its parent waits between two checks: the child is still
    running at the parent's first check, however fast the interpreter is."""
    from moto.dynamodb.models import DynamoDBBackend

    put_item = DynamoDBBackend.put_item

    def held(self: Any, *args: Any, **kwargs: Any) -> Any:
        assert parent_waits.wait(10), "the parent never waited for its child"
        return put_item(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", held)


def _runs(sfn: Any, tag: str, parent_waits: threading.Event) -> list[dict[str, Any]]:
    """Two parents that start the child with startExecution.sync:2, each waited for."""
    make = sfn.create_state_machine
    child = make(name=f"child-{tag}", definition=json.dumps(CHILD), roleArn=ROLE, type="EXPRESS")
    start = {
        "Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {
            "StateMachineArn": child["stateMachineArn"],
            "Input": {"n.$": "$.n", "id.$": "$$.Execution.Name"},
        },
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
        parent_waits.clear()
        arn = sfn.start_execution(
            stateMachineArn=parent, name=f"run-{n}", input=json.dumps({"n": n})
        )["executionArn"]
        described = ended(sfn, arn)
        history = sfn.get_execution_history(executionArn=arn)["events"]
        runs.append({
            "status": described["status"],
            "output": described.get("output"),
            "error": described.get("error"),
            "history": [e["type"] for e in history],
        })  # fmt: skip
    return runs


def _signalling(parent_waits: threading.Event, wait: Callable[..., Any]) -> Callable[..., Any]:
    def waiting(*args: Any) -> Any:
        parent_waits.set()
        return wait(*args)

    return waiting


def test_a_sync_task_wakes_when_its_child_ends_with_the_same_runs(
    sfn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback,
    )

    parent_waits = threading.Event()
    SPEEDUPS.uninstall()
    slept: list[float] = []
    sleep = _signalling(parent_waits, lambda seconds: (slept.append(seconds), time.sleep(seconds)))
    monkeypatch.setattr(callback, "time", type("Time", (), {"sleep": staticmethod(sleep)}))
    _held_until(parent_waits, monkeypatch)
    plain = _runs(sfn, "plain", parent_waits)
    monkeypatch.undo()
    assert slept and set(slept) == {0.5}  # moto: half a second between two checks

    SPEEDUPS.install()
    woken: list[bool] = []
    wait = sync_waits.wait_for_an_ending
    recorded = _signalling(parent_waits, lambda *args: woken.append(wait(*args)) or woken[-1])
    monkeypatch.setattr(sync_waits, "wait_for_an_ending", recorded)
    _held_until(parent_waits, monkeypatch)
    fast = _runs(sfn, "fast", parent_waits)

    assert fast == plain
    assert [r["status"] for r in fast] == ["SUCCEEDED", "FAILED"]
    assert json.loads(fast[0]["output"]) == {"got": 0} and fast[1]["error"] == "States.TaskFailed"
    assert len(woken) >= 2 and all(woken)  # each wait ended with an ending, not moto's 0.5 s
