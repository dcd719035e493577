"""sfn.size_quota and sfn.program_states (services/stepfunctions): the same executions, less work.

A state's output is serialized once, compactly, and that text decides the 256 KiB check moto
makes on its spaced form (`json.dumps` defaults). The decision must be moto's at the limit: an
output whose spaced form is one byte under it succeeds, one that reaches it fails with
States.DataLimitExceeded, and one whose compact text is only near the limit because its strings
are full of commas and colons is decided by moto's own check.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from executions import ended
from moto import mock_aws
from moto.stepfunctions.parser.quotas import MAX_STATE_SIZE_UTF8_BYTES

from payops.localaws.core.account import REGION
from payops.localaws.core.patch import restored
from payops.localaws.services.stepfunctions import SERVICE

ROLE = "arn:aws:iam::123456789012:role/local-sfn"
SPEEDUPS = SERVICE.speedup_patches
assert SPEEDUPS is not None
FUSED = "CommonStateField._eval_body"


@pytest.fixture
def aws() -> Iterator[None]:
    with restored(SPEEDUPS):
        SPEEDUPS.install()
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            yield


def _output_of_spaced_size(size: int, filler: str = "x") -> dict[str, Any]:
    """A JSON object whose `json.dumps` (spaced) form is exactly `size` bytes: 2,000 small
    members (so the compact form is ~4 KB shorter) and a string of `filler` to make up the rest."""
    data: dict[str, Any] = {"members": {f"k{i:04d}": i for i in range(2000)}, "pad": ""}
    missing = size - len(json.dumps(data))
    data["pad"] = (filler * missing)[:missing]
    assert len(json.dumps(data)) == size
    return data


def _run(result: Any) -> dict[str, Any]:
    """One Pass state whose Result is `result`: the execution's end and its history entries."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = {
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Result": {"small": True}, "Next": "Big"},
            "Big": {"Type": "Pass", "Result": result, "Next": "Last"},
            "Last": {"Type": "Pass", "Result": "done", "End": True},
        },
    }
    machine = sfn.create_state_machine(
        name=f"quota-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input='{"in": 1}')["executionArn"]
    described = ended(sfn, arn)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return {
        "status": described["status"],
        "error": described.get("error"),
        "cause": described.get("cause"),
        "output": described.get("output"),
        "entries": [
            (e["type"], e.get("stateEnteredEventDetails"), e.get("stateExitedEventDetails"))
            for e in events
            if "stateEnteredEventDetails" in e or "stateExitedEventDetails" in e
        ],
    }


@pytest.mark.parametrize(
    ("size", "filler", "status"),
    [
        (MAX_STATE_SIZE_UTF8_BYTES - 1, "x", "SUCCEEDED"),  # compact ~4 KB under: no doubt
        (MAX_STATE_SIZE_UTF8_BYTES, "x", "FAILED"),  # only the spaced form reaches the limit
        (MAX_STATE_SIZE_UTF8_BYTES - 1, ",:", "SUCCEEDED"),  # commas in strings: moto decides
    ],
    ids=["one-byte-under", "at-the-limit", "commas-in-strings"],
)
def test_the_size_check_decides_as_moto_at_the_limit(
    aws: None, size: int, filler: str, status: str
) -> None:
    result = _output_of_spaced_size(size, filler)
    fast = _run(result)
    with SPEEDUPS.lifted(FUSED):
        plain = _run(result)
    assert fast["status"] == status
    assert fast == plain
    if status == "FAILED":
        assert fast["error"] == "States.DataLimitExceeded"


def test_one_serialization_serves_the_check_and_both_entries(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto serialized each state's output for the check (from a copy), for StateExited and for
    the next StateEntered; now once, and the entries are the same text."""
    from moto.stepfunctions.parser import quotas
    from moto.stepfunctions.parser.asl.component.state import state as state_module
    from moto.stepfunctions.parser.asl.utils import encoding

    to_json_str = encoding.to_json_str
    calls = {"n": 0}

    def counting(obj: Any, separators: Any = None) -> str:
        calls["n"] += 1
        return to_json_str(obj, separators)

    # Where moto's state code, its size check and (at install) the speed-ups find it.
    for module in (encoding, state_module, quotas):
        monkeypatch.setattr(module, "to_json_str", counting)

    result = {"deep": [{"n": i} for i in range(50)]}
    SPEEDUPS.uninstall()
    SPEEDUPS.install()  # the patches bind to_json_str afresh: the counting one
    calls["n"] = 0
    fast, fast_calls = _run(result), calls["n"]
    calls["n"] = 0
    with SPEEDUPS.lifted(FUSED):
        plain, plain_calls = _run(result), calls["n"]
    assert fast == plain and fast["status"] == "SUCCEEDED"
    assert len(fast["entries"]) == 6  # three states, entered and exited
    # Three states: plain moto 3 (check) + 3 (exited) + 3 (entered); now 3 + the first entry.
    assert plain_calls - fast_calls >= 4, (plain_calls, fast_calls)


def test_a_program_state_is_copied_as_independently_as_deepcopy() -> None:
    import copy

    from moto.stepfunctions.parser.asl.eval import program_state as ps
    from moto.stepfunctions.parser.asl.eval.environment import Environment

    SPEEDUPS.install()
    running = ps.ProgramRunning()
    running.next_state_name = "Next"
    states = [
        running,
        ps.ProgramEnded(),
        ps.ProgramStopped(stop_date=None, error="E", cause="C"),  # type: ignore[arg-type]
        ps.ProgramTimedOut(),
        ps.ProgramError(error={"error": "E", "cause": "C"}),
    ]
    for state in states:
        env = Environment.__new__(Environment)
        env._program_state = state
        copied = env.program_state()
        assert type(copied) is type(state) and copied is not state
        assert vars(copied) == vars(copy.deepcopy(state))
    copied_error = Environment.program_state(_with(states[-1]))
    assert copied_error.error is not states[-1].error  # a dict: deep-copied, as moto does
    copied_running = Environment.program_state(_with(running))
    copied_running.next_state_name = "Other"
    assert running.next_state_name == "Next"


def _with(state: Any) -> Any:
    from moto.stepfunctions.parser.asl.eval.environment import Environment

    env = Environment.__new__(Environment)
    env._program_state = state
    return env
