"""Parsed programs shared by a session's processes (services/stepfunctions/program_store.py).

"Another process" is this one with its parse cache emptied and the bridges built again, as a
fresh process would have them: new task and error-name classes, the same names.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from executions import count_parses, ended
from moto import mock_aws

from payops.localaws.core.account import REGION
from payops.localaws.core.patch import restored
from payops.localaws.core.shared_directory import SHARED_ASSEMBLIES_ENV
from payops.localaws.services import stepfunctions as sfb
from payops.localaws.services.stepfunctions import error_names, program_store, speedups

ROLE = "arn:aws:iam::123456789012:role/local-sfn"
SPEEDUPS = sfb.SERVICE.speedup_patches
assert SPEEDUPS is not None

# Each bridge class a program can hold: the aws-sdk task (its error named as AWS names it, so the
# Catch matches), the HTTP error names in a Retry, the states:startExecution task, a Fail.
STATES: dict[str, Any] = {
    "Read": {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue",
        "Parameters": {"SecretId": "no-such-secret"},
        "Retry": [{"ErrorEquals": ["States.Http.StatusCode.429"], "MaxAttempts": 1}],
        "Catch": [
            {
                "ErrorEquals": ["SecretsManager.ResourceNotFoundException"],
                "ResultPath": "$.error",
                "Next": "Branch",
            }
        ],
        "End": True,
    },
    "Branch": {
        "Type": "Choice",
        "Choices": [{"Variable": "$.start", "IsPresent": True, "Next": "Start"}],
        "Default": "Done",
    },
    "Start": {
        "Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution",
        "Parameters": {"StateMachineArn.$": "$.start", "Input": {}},
        "Next": "Stop",
    },
    "Stop": {"Type": "Fail", "Error": "Payops.Stopped", "Cause": "never reached"},
    "Done": {"Type": "Pass", "Result": "done", "End": True},
}


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv(SHARED_ASSEMBLIES_ENV, str(tmp_path))
    with restored(sfb.SERVICE.patches), restored(SPEEDUPS):
        sfb.SERVICE.patches.install()
        SPEEDUPS.install()
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            yield tmp_path / "sfn-programs"


def _as_another_process() -> None:
    with speedups._PARSE_LOCK:
        speedups._PARSED.clear()
        speedups._IDLE.clear()
    SPEEDUPS.uninstall()
    sfb.SERVICE.patches.uninstall()
    sfb.SERVICE.patches.install()  # new classes, the same qualified names
    SPEEDUPS.install()


def _run(definition: str) -> tuple[str, list[tuple[str, Any]]]:
    """The ending and the history without its times and ids."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}", definition=definition, roleArn=ROLE
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    described = ended(sfn, arn)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    history = [
        (e["type"], {k: v for k, v in e.items() if k.endswith("EventDetails")}) for e in events
    ]
    text = re.sub(r"Request ID: \w+", "Request ID: ID", json.dumps(history).replace(arn, "ARN"))
    return described["status"], json.loads(text)


def test_a_program_parsed_by_one_process_runs_the_same_in_another_unparsed(
    aws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    definition = json.dumps({"Comment": uuid.uuid4().hex, "StartAt": "Read", "States": STATES})
    parses = count_parses(monkeypatch)
    first = _run(definition)
    assert first[0] == "SUCCEEDED"  # caught by the bridged aws-sdk task's error name
    assert len(parses) == 1 and len(list(aws.glob("*.pickle"))) == 1

    _as_another_process()
    assert _run(definition) == first
    assert len(parses) == 1  # loaded, not parsed

    # A program loaded holds the classes of this install, not of the one that parsed it.
    (template,) = [t for k, t in speedups._PARSED.items() if k[0] == definition]
    made_by_bridges = {type(obj) for obj in _walk(template) if "<locals>" in type(obj).__qualname__}
    assert {c.__qualname__ for c in made_by_bridges} == {
        "task_factory_patches.<locals>.BridgedStateTaskServiceAwsSdk",
        "task_factory_patches.<locals>.BridgedStateTaskServiceSfn",
        "error_names_patches.<locals>.HttpErrorName",
    }
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_factory as factory,
    )

    installed = {
        type(factory.state_task_service_for("aws-sdk")),
        type(factory.state_task_service_for("states")),
        type(error_names.error_name_factory("States.Http.StatusCode.429")),
    }
    assert made_by_bridges == installed


def _walk(obj: Any, seen: set[int] | None = None) -> Iterator[Any]:
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, (str, int, float, bool, type(None))):
        return
    seen.add(id(obj))
    yield obj
    children = (
        obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else []
    )
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        children = list(children) + list(vars(obj).values())
    for child in children:
        yield from _walk(child, seen)


def test_nothing_is_shared_without_the_directory_or_under_moto_s_own_hooks(
    aws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SHARED_ASSEMBLIES_ENV)
    _run(json.dumps({"Comment": uuid.uuid4().hex, "StartAt": "Read", "States": STATES}))
    assert not aws.exists()

    monkeypatch.setenv(SHARED_ASSEMBLIES_ENV, str(aws.parent))
    sfb.SERVICE.patches.uninstall()  # moto's own task classes: known to this process only
    done = {"Done": STATES["Done"]}  # (moto refuses the HTTP error names)
    assert _run(json.dumps({"Comment": uuid.uuid4().hex, "StartAt": "Done", "States": done}))[0]
    assert not aws.exists()
    sfb.SERVICE.patches.install()
    _run(json.dumps({"Comment": uuid.uuid4().hex, "StartAt": "Done", "States": done}))
    assert len(list(aws.glob("*.pickle"))) == 1


def test_a_file_that_does_not_load_is_parsed_again(
    aws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    definition = json.dumps({"Comment": uuid.uuid4().hex, "StartAt": "Read", "States": STATES})
    first = _run(definition)
    (stored,) = aws.glob("*.pickle")
    stored.write_bytes(stored.read_bytes()[:100])  # cut short
    _as_another_process()
    parses = count_parses(monkeypatch)
    assert _run(definition) == first
    assert len(parses) == 1


# --- sfn.sll_parses: ANTLR's SLL prediction first, moto's LL parse on any error -------------


def _tree_text(tree: Any) -> str:
    from antlr4.tree.Trees import Trees
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser

    return str(Trees.toStringTree(tree, ASLParser.ruleNames))


def _app_definitions(template: dict[str, Any]) -> list[str]:
    """The app's definitions, each placeholder a value that reads as a number or a string."""
    return [
        re.sub(r"\$\{[A-Za-z]+\}", "7", resource["Properties"]["DefinitionString"])
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
    ]


def test_the_app_s_definitions_parse_to_moto_s_trees_by_sll(partner: Any, webhook: Any) -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    definitions = _app_definitions(partner.json) + _app_definitions(webhook.json)
    assert len(definitions) >= 20
    with restored(sfb.SERVICE.patches):
        sfb.SERVICE.patches.install()  # the HTTP Task's error names parse only when bridged
        for definition in definitions:
            tree = program_store.sll_tree(definition)
            assert tree is not None  # no fallback needed for any of them
            assert _tree_text(tree) == _tree_text(AmazonStateLanguageParser.parse(definition)[1])


@pytest.mark.parametrize(
    "definition",
    [
        '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true,}}}',  # a syntax error
        '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": }}}',
        '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}} ~',  # a lexer error
        '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": ${X}, "End": true}}}',
    ],
)
def test_a_definition_sll_cannot_parse_gets_moto_s_error_and_messages(
    definition: str, capfd: pytest.CaptureFixture[str]
) -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    def outcome(parse: Any) -> tuple[str, str]:
        try:
            result = repr(type(parse(definition)))
        except Exception as error:
            result = f"{type(error).__name__}: {error}"
        return result, capfd.readouterr().err

    assert program_store.sll_tree(definition) is None
    capfd.readouterr()
    fast = outcome(program_store.parse_program)
    plain = outcome(lambda d: AmazonStateLanguageParser.parse(d)[0])
    assert fast == plain
