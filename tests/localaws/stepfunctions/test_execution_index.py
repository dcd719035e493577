"""sfn.execution_index (services/stepfunctions/lookups.py): StartExecution and DescribeExecution
find an execution without scanning the machine's every execution, and answer as moto does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from executions import ended
from moto import mock_aws

from payops.localaws.core.account import REGION
from payops.localaws.core.patch import restored
from payops.localaws.services.stepfunctions import SERVICE
from payops.localaws.services.stepfunctions.lookups import IndexedExecutions

ROLE = "arn:aws:iam::123456789012:role/local-sfn"
SPEEDUPS = SERVICE.speedup_patches
assert SPEEDUPS is not None
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@pytest.fixture(params=["moto", "indexed"])
def sfn(request: pytest.FixtureRequest) -> Iterator[Any]:
    with restored(SPEEDUPS):
        (SPEEDUPS.install if request.param == "indexed" else SPEEDUPS.uninstall)()
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            yield boto3.client("stepfunctions", region_name=REGION)


def _finished(sfn: Any, arn: str) -> dict[str, Any]:
    described = ended(sfn, arn, within_s=10)
    return dict(described)


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_starts_and_describes_answer_as_moto_does(sfn: Any) -> None:
    machine = sfn.create_state_machine(name="indexed", definition=DEFINITION, roleArn=ROLE)
    arns = [
        sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"], name=f"run-{i}", input=json.dumps({"i": i})
        )["executionArn"]
        for i in range(5)
    ]
    outputs = [json.loads(_finished(sfn, arn)["output"]) for arn in arns]
    assert outputs == [{"i": i} for i in range(5)]
    assert sfn.get_execution_history(executionArn=arns[3])["events"][0]["type"] == (
        "ExecutionStarted"
    )
    # A finished execution's name cannot be used again, whatever the input.
    assert _error(
        sfn.start_execution,
        stateMachineArn=machine["stateMachineArn"],
        name="run-2",
        input=json.dumps({"i": 2}),
    ) == ("ExecutionAlreadyExists", f"Execution Already Exists: '{arns[2]}'")
    missing = arns[0].replace("run-0", "never-ran")
    assert _error(sfn.describe_execution, executionArn=missing) == (
        "ExecutionDoesNotExist",
        f"Execution Does Not Exist: '{missing}'",
    )
    listed = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    assert sorted(e["name"] for e in listed) == [f"run-{i}" for i in range(5)]


class _CountingScans(IndexedExecutions):
    scans = 0

    def __iter__(self) -> Iterator[Any]:
        type(self).scans += 1
        return super().__iter__()


def test_a_start_and_a_describe_no_longer_scan_every_execution(sfn: Any) -> None:
    from moto.stepfunctions.responses import get_backend

    machine = sfn.create_state_machine(name="scanned", definition=DEFINITION, roleArn=ROLE)
    arn = machine["stateMachineArn"]
    for i in range(20):
        sfn.start_execution(stateMachineArn=arn, name=f"run-{i}", input="{}")
    executions = get_backend("123456789012", REGION).describe_state_machine(arn).executions
    indexed = SPEEDUPS.is_installed()
    assert isinstance(executions, IndexedExecutions) == indexed
    if indexed:
        executions.__class__ = _CountingScans
    else:  # moto's own list: count its scans through a counting list with the same items
        machine_model = get_backend("123456789012", REGION).describe_state_machine(arn)
        machine_model.executions = _ScanCountingList(executions)
    _CountingScans.scans = _ScanCountingList.scans = 0

    started = sfn.start_execution(stateMachineArn=arn, name="run-new", input="{}")
    _finished(sfn, started["executionArn"])
    scans = _CountingScans.scans if indexed else _ScanCountingList.scans
    # moto scans the list once for the name and once per describe; the index never does.
    assert (scans == 0) if indexed else (scans >= 2)


class _ScanCountingList(list):  # type: ignore[type-arg]
    scans = 0

    def __iter__(self) -> Iterator[Any]:
        type(self).scans += 1
        return super().__iter__()


def test_the_index_follows_every_change_to_the_list() -> None:
    class Run:
        def __init__(self, name: str) -> None:
            self.name, self.execution_arn = name, f"arn:{name}"

    a, b, c = Run("a"), Run("b"), Run("c")
    runs = IndexedExecutions([a])
    runs.append(b)
    runs.insert(0, c)
    assert runs == [c, a, b] and set(runs.by_name) == {"a", "b", "c"}
    runs.remove(a)
    del runs[0]
    assert runs == [b] and runs.by_name == {"b": b} and runs.by_arn == {"arn:b": b}
    runs.clear()
    assert runs.by_name == {} and runs.by_arn == {}


def test_history_events_are_moto_s_own_entries_read_not_copied(sfn: Any) -> None:
    """lookups.history_events: what the per-event trace reads of each execution's history."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    from payops.localaws.services.stepfunctions.lookups import history_events

    definition = json.dumps(
        {
            "StartAt": "Claim",
            "States": {
                "Claim": {"Type": "Pass", "Result": {"id": "evt_1"}, "Next": "Fail"},
                "Fail": {"Type": "Fail", "Error": "Refused", "Cause": "no such order"},
            },
        }
    )
    machine = sfn.create_state_machine(name="history", definition=definition, roleArn=ROLE)
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")[
        "executionArn"
    ]
    assert _finished(sfn, arn)["status"] == "FAILED"
    backend = stepfunctions_parser_backends["123456789012"][REGION]
    execution = backend.describe_execution(arn)
    read = history_events(execution)
    copied = execution.to_history_output()["events"]
    assert read == copied and len(read) >= 5
    assert [e["type"] for e in read][-1] == "ExecutionFailed"
    kept = execution.exec_worker.env.event_manager._history_event_list
    assert read is not kept and all(a is b for a, b in zip(read, kept, strict=True))
    assert not any(a is b for a, b in zip(copied, kept, strict=True))  # what moto hands out
