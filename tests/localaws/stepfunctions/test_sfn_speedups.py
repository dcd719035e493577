"""Step Functions speed-ups (services/stepfunctions/speedups.py): the same executions, less work.

Each test runs one machine with and without the speed-ups: the outputs and histories must be
equal, and the work plain moto does (deep copies of JSON data, ResultPath parses, new threads)
must shrink with them.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from executions import ended
from moto import mock_aws
from moto.stepfunctions.parser.asl.eval.states import States

from payops.localaws.core.account import REGION
from payops.localaws.core.patch import restored
from payops.localaws.services.stepfunctions import SERVICE
from payops.localaws.services.stepfunctions.speedups import PooledThread, json_copy

ROLE = "arn:aws:iam::123456789012:role/local-sfn"
_STATE = "CommonStateField"
SPEEDUPS = SERVICE.speedup_patches
assert SPEEDUPS is not None


@pytest.fixture
def aws() -> Iterator[None]:
    with restored(SPEEDUPS), mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def test_json_copy_is_as_deep_and_independent_as_deepcopy() -> None:
    class Opaque:
        def __init__(self) -> None:
            self.items = [1, 2]

    when = datetime(2026, 12, 1, tzinfo=UTC)
    value = {"a": [{"b": "c", "n": 1.5, "none": None}], "t": True, "when": when, "o": Opaque()}
    copied = json_copy(value)

    assert copied == {**value, "o": copied["o"]} and copied["when"] is when
    assert copied is not value and copied["a"] is not value["a"]
    assert copied["a"][0] is not value["a"][0]
    assert copied["o"] is not value["o"] and copied["o"].items == [1, 2]
    copied["a"][0]["b"] = "changed"
    copied["o"].items.append(3)
    assert value["a"][0]["b"] == "c" and value["o"].items == [1, 2]


def test_a_pooled_thread_runs_joins_and_reports_like_a_thread() -> None:
    ran: list[int] = []
    gate = threading.Event()
    thread = PooledThread(target=lambda n: (gate.wait(5), ran.append(n)), args=(7,), daemon=True)
    thread.start()
    assert thread.is_alive()
    thread.join(timeout=0.01)
    assert thread.is_alive() and ran == []  # a timed-out join leaves it running, as a thread's
    gate.set()
    thread.join(timeout=5)
    assert not thread.is_alive() and ran == [7] and thread.native_id is not None
    with pytest.raises(RuntimeError):
        thread.start()


DEFINITION = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Put",
                "States": {
                    "Put": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::dynamodb:putItem",
                        "Parameters": {
                            "TableName": "speedups",
                            "Item": {
                                "pk": {"S.$": "$.id"},
                                "n": {"N.$": "States.Format('{}', $.n)"},
                            },
                        },
                        "ResultPath": "$.put.response",
                        "End": True,
                    }
                },
            },
            "ResultPath": "$.results.each",
            "Next": "Both",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                {
                    "StartAt": "Right",
                    "States": {"Right": {"Type": "Pass", "Result": 1, "End": True}},
                },
            ],
            "ResultPath": "$.results.both",
            "End": True,
        },
    },
}


def _run(
    inputs: list[dict[str, Any]], definition: dict[str, Any] = DEFINITION
) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    runs = []
    for item in inputs:
        arn = sfn.start_execution(
            stateMachineArn=machine, name=f"ex-{uuid.uuid4().hex[:8]}", input=json.dumps(item)
        )["executionArn"]
        described = ended(sfn, arn)
        history = sfn.get_execution_history(executionArn=arn)["events"]
        runs.append(
            {
                "status": described["status"],
                "output": json.loads(described.get("output", "null")),
                "error": [described.get("error"), described.get("cause")],
                # Map iterations run side by side: their events interleave in any order.
                "history": sorted(
                    json.dumps(
                        [
                            e["type"],
                            e.get("stateEnteredEventDetails"),
                            e.get("stateExitedEventDetails"),
                        ],
                        sort_keys=True,
                    )
                    for e in history
                ),
            }
        )
    return runs


def _counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    from jsonpath_ng.parser import JsonPathParser

    counts = {"json_deepcopies": 0, "threads": 0, "result_path_parses": 0}
    deepcopy, start, parse = copy.deepcopy, threading.Thread.start, JsonPathParser.parse

    def counting_deepcopy(value: Any, memo: Any = None) -> Any:
        if memo is None and type(value) in (dict, list):  # a state's data, not a program state
            counts["json_deepcopies"] += 1
        return deepcopy(value, memo)

    def counting_start(self: threading.Thread) -> None:
        counts["threads"] += 1
        start(self)

    def counting_parse(self: Any, text: str, *args: Any, **kwargs: Any) -> Any:
        if text.startswith("$.put") or text.startswith("$.results"):
            counts["result_path_parses"] += 1
        return parse(self, text, *args, **kwargs)

    monkeypatch.setattr(copy, "deepcopy", counting_deepcopy)
    monkeypatch.setattr(threading.Thread, "start", counting_start)
    monkeypatch.setattr(JsonPathParser, "parse", counting_parse)
    return counts


@pytest.fixture
def table(aws: None) -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="speedups",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_executions_are_the_same_with_less_copying_parsing_and_fewer_threads(
    table: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = [
        {"items": [{"id": f"{run}-{i}", "n": i} for i in range(3)], "event": {"deep": [run]}}
        for run in range(4)
    ]
    SPEEDUPS.uninstall()
    _run(inputs[:1])  # warm: moto's own caches filled before counting
    plain_counts = _counted(monkeypatch)
    plain = _run(inputs)
    monkeypatch.undo()

    SPEEDUPS.install()
    _run(inputs[:1])  # warm: the program and the first worker threads exist
    fast_counts = _counted(monkeypatch)
    fast = _run(inputs)

    assert [r["status"] for r in fast] == ["SUCCEEDED"] * 4
    each = fast[0]["output"]["results"]["each"]
    assert [i["id"] for i in each] == ["0-0", "0-1", "0-2"] and "response" in each[2]["put"]
    assert fast == plain
    # Plain moto: hundreds of deep copies of JSON data, a ResultPath parse per state and item,
    # ~10 new threads per execution; with the speed-ups none of those (workers from the warm-up
    # are reused).
    assert plain_counts["json_deepcopies"] > 100 and fast_counts["json_deepcopies"] == 0
    assert plain_counts["result_path_parses"] >= 4 * 5 and fast_counts["result_path_parses"] == 0
    assert plain_counts["threads"] >= 4 * 8 and fast_counts["threads"] <= 4


def test_history_entries_are_the_same_without_copying_the_state_data(
    table: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sfn.history_details: StateEntered/StateExited entries serialized from the state's data
    itself; moto copied the whole data (States.get_input) for each entry first."""
    from moto.stepfunctions.parser.asl.eval.states import States

    inputs = [{"items": [{"id": f"{run}-0", "n": 0}], "event": {"deep": [run]}} for run in range(2)]
    SPEEDUPS.install()
    _run(inputs[:1])
    copies = {"n": 0}
    get_input = States.get_input

    def counting(self: Any, query: Any = None) -> Any:
        copies["n"] += query is None  # the whole data, copied
        return get_input(self, query)

    monkeypatch.setattr(States, "get_input", counting)
    fast, fast_copies = _run(inputs), copies["n"]
    copies["n"] = 0
    entered, exited = "_get_state_entered_event_details", "_get_state_exited_event_details"
    with SPEEDUPS.lifted(f"{_STATE}.{entered}"), SPEEDUPS.lifted(f"{_STATE}.{exited}"):
        plain, plain_copies = _run(inputs), copies["n"]
    assert fast == plain
    entries = [h for r in plain for h in r["history"] if "StateEntered" in h or "StateExited" in h]
    assert len(entries) >= 2 * 5 * len(inputs)  # every state's two entries, details compared
    assert plain_copies - fast_copies >= len(entries)


# Two executions' inputs for the OutputPath and InputPath machines.
PATH_INPUTS = [{"v": run, "list": [{"n": run}, {"n": 2}]} for run in range(2)]


def _with_and_without(
    speedup: str,
    inputs: list[dict[str, Any]],
    definition: dict[str, Any],
    counted: tuple[Any, str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[list[dict[str, Any]], int, list[dict[str, Any]], int]:
    """The runs of `definition` and the calls of `counted` (owner, method name) with the
    speed-ups, then with `speedup` lifted (moto's own code), after a warm-up run."""
    SPEEDUPS.install()
    _run(inputs[:1], definition)
    owner, name = counted
    method, calls = getattr(owner, name), {"n": 0}
    monkeypatch.setattr(owner, name, lambda *args: calls.update(n=calls["n"] + 1) or method(*args))
    fast, fast_calls = _run(inputs, definition), calls["n"]
    calls["n"] = 0
    with SPEEDUPS.lifted(speedup):
        plain, plain_calls = _run(inputs, definition), calls["n"]
    return fast, fast_calls, plain, plain_calls


OUTPUT_PATHS = {
    "StartAt": "Select",
    "States": {
        "Select": {  # a path selecting part of the output
            "Type": "Pass",
            "Parameters": {"x": {"y.$": "$.v", "list.$": "$.list"}, "dropped": 1},
            "OutputPath": "$.x",
            "Next": "Change",
        },
        "Change": {  # the next state changes its data: the kept output must be its own
            "Type": "Pass",
            "Result": {"r": 1},
            "ResultPath": "$.list[0]",
            "Next": "Context",
        },
        "Context": {"Type": "Pass", "OutputPath": "$$.Execution.Input", "Next": "Whole"},
        "Whole": {"Type": "Pass", "Next": "Missing"},  # OutputPath "$"
        "Missing": {"Type": "Pass", "OutputPath": "$.nowhere", "End": True},
    },
}


def test_an_output_path_keeps_its_own_copy_as_the_next_states_data(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sfn.output_paths: the same outputs, histories and failure as moto's, without
    States.reset copying the path's fresh copy again."""
    inputs = PATH_INPUTS
    fast, fast_resets, plain, plain_resets = _with_and_without(
        "OutputPath._eval_body", inputs, OUTPUT_PATHS, (States, "reset"), monkeypatch
    )
    assert fast == plain
    run = plain[0]
    assert run["status"] == "FAILED" and "$.nowhere" in run["error"][1]
    exited = [json.loads(h)[2] for h in run["history"] if "PassStateExited" in h]
    outputs = {e["name"]: json.loads(e["output"]) for e in exited}
    assert outputs["Select"] == {"y": 0, "list": [{"n": 0}, {"n": 2}]}
    assert outputs["Change"] == {"y": 0, "list": [{"r": 1}, {"n": 2}]}
    assert outputs["Context"] == outputs["Whole"] == inputs[0]
    # Three states per run hand their output over through a JSONPath (the context path and the
    # failing one go through moto's code).
    assert plain_resets - fast_resets == 3 * len(inputs)


INPUT_PATHS = {
    "StartAt": "Whole",
    "States": {
        "Whole": {  # InputPath "$"
            "Type": "Pass",
            "Parameters": {"v.$": "$.v", "list.$": "$.list"},
            "ResultPath": "$.copied",
            "Next": "Select",
        },
        "Select": {
            "Type": "Pass",
            "InputPath": "$.list[0]",
            "ResultPath": "$.first",
            "Next": "Put",
        },
        "Put": {  # a Task: its thread copied the whole stack
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "InputPath": "$.first",
            "Parameters": {
                "TableName": "speedups",
                "Item": {"pk": {"S.$": "States.Format('in-{}', $.n)"}},
            },
            "ResultPath": "$.put",
            "Next": "Context",
        },
        "Context": {
            "Type": "Pass",
            "InputPath": "$$.Execution.Input",
            "ResultPath": "$.context",
            "Next": "Each",
        },
        "Each": {  # InputPath "$" for the Map and for each item's state
            "Type": "Map",
            "ItemsPath": "$.list",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Item",
                "States": {"Item": {"Type": "Pass", "InputPath": "$.n", "End": True}},
            },
            "ResultPath": "$.ns",
            "Next": "Missing",
        },
        "Missing": {"Type": "Pass", "InputPath": "$.nowhere", "End": True},
    },
}


def test_an_input_path_selects_from_the_input_without_copying_all_of_it(
    table: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sfn.input_paths: the same outputs, histories and failure as moto's, without a deep copy
    of each state's whole input left unread beneath its selection."""
    fast, fast_reads, plain, plain_reads = _with_and_without(
        "InputPath._eval_body", PATH_INPUTS, INPUT_PATHS, (States, "get_input"), monkeypatch
    )
    inputs = PATH_INPUTS
    assert fast == plain
    run = plain[1]
    assert run["status"] == "FAILED" and "$.nowhere" in run["error"][1]
    exited = {
        e["name"]: json.loads(e["output"])
        for e in (json.loads(h)[2] for h in run["history"] if "StateExited" in h)
        if e is not None
    }
    assert exited["Each"]["copied"] == {"v": 1, "list": inputs[1]["list"]}
    assert exited["Each"]["first"] == {"n": 1} and exited["Each"]["ns"] == [1, 2]
    assert exited["Each"]["context"] == inputs[1]
    assert exited["Item"] == 2
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName="speedups")["Items"]
    assert {"in-0", "in-1"} <= {item["pk"]["S"] for item in items}
    # Per run, six states select through a JSONPath (Whole, Select, Put, Each, Item twice); the
    # context path and the failing one go through moto's code.
    assert plain_reads - fast_reads == 6 * len(inputs)


def test_a_succeeded_execution_keeps_its_last_data_as_its_output(
    table: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sfn.execution_outputs: the same outputs and histories as moto's, without a deep copy of
    the last state's data per succeeded execution; a failed one goes through moto's code."""
    speedup = "BaseExecutionWorkerCommunication._reflect_execution_status"
    inputs = [
        {"items": [{"id": f"out-{run}-{i}", "n": i} for i in range(2)], "event": {"deep": [run]}}
        for run in range(2)
    ]
    fast, fast_reads, plain, plain_reads = _with_and_without(
        speedup, inputs, DEFINITION, (States, "get_input"), monkeypatch
    )
    assert [r["status"] for r in fast] == ["SUCCEEDED"] * 2 and fast == plain
    assert fast[1]["output"]["event"] == {"deep": [1]} and len(fast[1]["output"]["results"]) == 2
    assert plain_reads - fast_reads == len(inputs)
    monkeypatch.undo()
    fast, fast_reads, plain, plain_reads = _with_and_without(
        speedup, PATH_INPUTS, OUTPUT_PATHS, (States, "get_input"), monkeypatch
    )
    assert [r["status"] for r in fast] == ["FAILED"] * 2 and fast == plain
    assert fast_reads == plain_reads


class _Unreadable:
    """Fails on any use but a copy: what sfn.input_paths leaves beneath a selection is unread."""

    def __deepcopy__(self, memo: Any) -> _Unreadable:
        return self

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the slot beneath an InputPath's selection was read ({name})")

    def __iter__(self) -> Any:
        raise AssertionError("the slot beneath an InputPath's selection was iterated")

    def __eq__(self, other: object) -> bool:
        raise AssertionError("the slot beneath an InputPath's selection was compared")

    __hash__ = object.__hash__


def test_nothing_reads_what_an_input_path_leaves_beneath_its_selection(
    table: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sfn.input_paths keeps moto's stack shape but not its copy: with an object that fails on
    any use in that slot, a Map of DynamoDB Tasks, a Parallel, Pass states, a Task with an
    InputPath and a failing path end exactly as with None there."""
    from payops.localaws.services.stepfunctions import state_copies

    SPEEDUPS.install()
    runs = {}
    for unread in (None, _Unreadable()):
        monkeypatch.setattr(state_copies, "_UNREAD", unread)
        runs[type(unread).__name__] = (
            _run(_MAP_INPUTS, DEFINITION),
            _run(PATH_INPUTS, INPUT_PATHS),
        )
    assert runs["_Unreadable"] == runs["NoneType"]
    assert [r["status"] for r in runs["_Unreadable"][0]] == ["SUCCEEDED"] * len(_MAP_INPUTS)
    assert [r["status"] for r in runs["_Unreadable"][1]] == ["FAILED"] * len(PATH_INPUTS)


_MAP_INPUTS = [
    {"items": [{"id": f"slot-{run}-{i}", "n": i} for i in range(2)], "event": {"deep": [run]}}
    for run in range(2)
]
