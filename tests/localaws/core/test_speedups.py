"""Speed-ups (each service's speedups.py, installed through
payops.localaws.core.registry.SPEEDUPS): plain moto's cost shown, then the same results cheaper.

Each definition is parsed once and copied per execution, Task states reuse boto3 clients, and
SendMessage no longer counts the whole queue; executions and queues must behave as before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from executions import count_parses, ended
from moto import mock_aws

from payops.localaws.core.account import ACCOUNT, REGION
from payops.localaws.core.patch import restored
from payops.localaws.core.registry import SPEEDUPS as speedups
from payops.localaws.services import stepfunctions as sfb

ROLE = "arn:aws:iam::123456789012:role/local-sfn"


@pytest.fixture
def aws() -> Iterator[None]:
    with restored(speedups), mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def test_speedups_are_listed_and_uninstall_restores_moto(aws: None) -> None:
    from moto.sqs.models import SQSBackend

    assert set(speedups.SPEEDUPS) == {
        "sfn.parsed_definitions",
        "sfn.shared_parses",
        "sfn.sll_parses",
        "sfn.task_clients",
        "sfn.result_paths",
        "sfn.pooled_threads",
        "sfn.json_copies",
        "sfn.execution_index",
        "sfn.inline_tasks",
        "sfn.thread_lists",
        "sfn.direct_calls",
        "sfn.sync_waits",
        "sqs.send_message_attributes",
        "sqs.receive_retention",
        "dynamodb.query_partition",
        "events.input_paths",
        "cfn.json_templates",
        "sfn.history_details",
        "sfn.size_quota",
        "sfn.program_states",
        "sfn.output_paths",
        "sfn.input_paths",
        "sfn.execution_outputs",
        "dynamodb.update_expressions",
        "dynamodb.condition_lexing",
        "dynamodb.update_copies",
        "dynamodb.validator_maps",
        "dynamodb.update_checks",
        "core.action_names",
        "core.backend_lookups",
        "core.request_environs",
        "core.serializer_aliases",
    }
    speedups.install()
    patched = SQSBackend.send_message
    speedups.uninstall()
    assert not speedups.is_installed() and SQSBackend.send_message is not patched
    speedups.install()
    speedups.install()  # idempotent
    assert speedups.is_installed() and SQSBackend.send_message is not patched


def _definition(**states: Any) -> str:
    # A unique comment: the parse cache must not already know this definition.
    first = next(iter(states))
    return json.dumps({"Comment": uuid.uuid4().hex, "StartAt": first, "States": states})


def _run_all(definition: str, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first execution alone (it fills the caches), then the others at the same time."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}", definition=definition, roleArn=ROLE
    )["stateMachineArn"]

    def start(item: dict[str, Any]) -> str:
        name = f"ex-{uuid.uuid4().hex[:8]}"
        return sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(item))[
            "executionArn"
        ]

    def wait(arn: str) -> dict[str, Any]:
        described = ended(sfn, arn)
        return described

    first = wait(start(inputs[0]))
    return [first] + [wait(arn) for arn in [start(item) for item in inputs[1:]]]


MAP_DEFINITION = {
    "Each": {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "Double",
            "States": {
                "Double": {
                    "Type": "Pass",
                    "Parameters": {"n.$": "States.MathAdd($.n, $.n)"},
                    "End": True,
                }
            },
        },
        "ResultPath": "$.doubled",
        "Next": "Done",
    },
    "Done": {"Type": "Pass", "End": True},
}


@pytest.mark.parametrize("enabled", [False, True])
def test_definitions_are_parsed_once_and_executions_share_nothing(
    aws: None, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    (speedups.install if enabled else speedups.uninstall)()
    parses = count_parses(monkeypatch)
    definition = _definition(**MAP_DEFINITION)
    inputs = [{"items": [{"n": i}, {"n": 10 * i + 1}]} for i in range(1, 5)]
    results = _run_all(definition, inputs)

    outputs = [json.loads(r["output"]) for r in results]
    assert [r["status"] for r in results] == ["SUCCEEDED"] * 4
    assert [o["doubled"] for o in outputs] == [
        [{"n": 2 * i}, {"n": 2 * (10 * i + 1)}] for i in range(1, 5)
    ]
    # create_state_machine validates by parsing once; then one parse per execution on plain
    # moto, none more with the speed-up (the validating parse is what the executions copy).
    assert len(parses) == (1 if enabled else 1 + len(inputs))


@pytest.mark.parametrize("enabled", [False, True])
def test_task_states_reuse_boto3_clients(
    aws: None, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    (speedups.install if enabled else speedups.uninstall)()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = f"t-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    created: list[str] = []
    original = boto3.client

    def counting_client(*args: Any, **kwargs: Any) -> Any:
        created.append(kwargs.get("service_name") or (args[0] if args else ""))
        return original(*args, **kwargs)

    monkeypatch.setattr(boto3, "client", counting_client)

    def put(suffix: str, next_state: str | None) -> dict[str, Any]:
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {
                "TableName": table,
                "Item": {"pk": {"S.$": f"States.Format('{{}}-{suffix}', $.id)"}},
            },
            "ResultPath": None,
        }
        return {**state, "Next": next_state} if next_state else {**state, "End": True}

    definition = _definition(First=put("a", "Second"), Second=put("b", None))
    results = _run_all(definition, [{"id": "x"}, {"id": "y"}])

    assert [r["status"] for r in results] == ["SUCCEEDED", "SUCCEEDED"]
    keys = {item["pk"]["S"] for item in dynamodb.scan(TableName=table)["Items"]}
    assert keys == {"x-a", "x-b", "y-a", "y-b"}
    task_clients = created.count("dynamodb")
    assert task_clients <= 1 if enabled else task_clients == 4


def _count_queue_depth_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the queues whose messages moto counts, one per count, from now on."""
    from moto.sqs.models import Queue

    counted: list[str] = []
    original = Queue.approximate_number_of_messages

    def counting(self: Any) -> int:
        counted.append(self.name)
        return original.fget(self)

    monkeypatch.setattr(Queue, "approximate_number_of_messages", property(counting))
    return counted


@pytest.mark.parametrize("enabled", [False, True])
def test_send_message_no_longer_counts_the_queue(
    aws: None, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:

    (speedups.install if enabled else speedups.uninstall)()
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    fifo = sqs.create_queue(
        QueueName=f"f-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    counted = _count_queue_depth_reads(monkeypatch)
    for index in range(50):
        sqs.send_message(QueueUrl=queue, MessageBody=f"m{index}")
    for _ in range(2):  # the same body twice: content-based deduplication keeps one
        sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
    sends_counted = len(counted)

    def depth(url: str) -> int:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    assert (depth(queue), depth(fifo)) == (50, 1)
    # Plain moto counts the queue on every send (O(depth) each); the speed-up never does.
    assert sends_counted == 0 if enabled else sends_counted >= 52


@pytest.mark.parametrize("enabled", [False, True])
def test_receive_message_no_longer_counts_the_queue_per_message(
    aws: None, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:

    (speedups.install if enabled else speedups.uninstall)()
    sqs = boto3.client("sqs", region_name=REGION)
    kept = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    expiring = sqs.create_queue(
        QueueName=f"e-{uuid.uuid4().hex[:8]}", Attributes={"MessageRetentionPeriod": "60"}
    )["QueueUrl"]
    for index in range(40):
        sqs.send_message(QueueUrl=kept, MessageBody=f"m{index}")
    sqs.send_message(QueueUrl=expiring, MessageBody="old")
    sqs.send_message(QueueUrl=expiring, MessageBody="new")
    backend_queue = next(q for q in _sqs_backend().queues.values() if q.name in expiring)
    backend_queue._messages[0].sent_timestamp -= 61_000  # sent 61 s ago: past its 60 s
    counted = _count_queue_depth_reads(monkeypatch)
    received = [
        m["Body"]
        for _ in range(4)
        for m in sqs.receive_message(QueueUrl=kept, MaxNumberOfMessages=10).get("Messages", [])
    ]
    receives_counted = len(counted)
    # moto's check: a message past the queue's retention period ends the receive, a young one is
    # handed out (the same answer with and without the speed-up).
    too_old = sqs.receive_message(QueueUrl=expiring, MaxNumberOfMessages=10).get("Messages", [])
    assert sorted(received) == sorted(f"m{i}" for i in range(40))
    assert too_old == []
    # Plain moto counted the whole queue three times per message received; the speed-up never.
    assert receives_counted == 0 if enabled else receives_counted >= 3 * 40


def _sqs_backend() -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[ACCOUNT][REGION]


def test_a_reused_program_starts_each_execution_afresh(aws: None) -> None:
    """Retry counters live per execution: a program given back and reused must not carry them."""
    sfb_was_installed = sfb.is_installed()
    sfb.install()  # simulated retry back-off: no real sleeping
    speedups.install()
    try:
        definition = _definition(
            Read={
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": "no-such-table", "Key": {"pk": {"S.$": "$.id"}}},
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Out"}],
                "Next": "Out",
            },
            Out={"Type": "Pass", "End": True},
        )
        sfn = boto3.client("stepfunctions", region_name=REGION)
        results = _run_all(definition, [{"id": str(i)} for i in range(4)])
        results += _run_all(definition, [{"id": "again"}])
        for described in results:
            assert described["status"] == "SUCCEEDED"
            output = json.loads(described["output"])
            assert "error" in output
            history = sfn.get_execution_history(executionArn=described["executionArn"])
            scheduled = [e for e in history["events"] if e["type"] == "TaskScheduled"]
            assert len(scheduled) == 3, described["executionArn"]  # 1 try + 2 retries, each
    finally:
        if not sfb_was_installed:
            sfb.uninstall()


@pytest.mark.parametrize("enabled", [False, True])
def test_rule_input_paths_are_parsed_once(
    aws: None, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    import jsonpath_ng.ext
    from moto.events.utils import EventTemplateParser

    (speedups.install if enabled else speedups.uninstall)()
    calls = []
    original = jsonpath_ng.ext.parse

    def counting(path: str) -> Any:
        calls.append(path)
        return original(path)

    monkeypatch.setattr(jsonpath_ng.ext, "parse", counting)
    event = {"detail": {"id": "evt_1", "amount": 4980}, "ingestion-time": "t"}
    paths = {"id": "$.detail.id", "amount": "$.detail.amount", "missing": "$.detail.nope"}
    template = '{"text": "<id> paid <amount><missing>", "raw": <aws.events.event.json>}'
    outputs = [EventTemplateParser.parse(template, paths, event) for _ in range(5)]

    # moto leaves the placeholder of a missing path in place; the speed-up changes nothing.
    assert outputs == [{"text": "evt_1 paid 4980<missing>", "raw": event}] * 5
    # moto parses every path on every delivery; the speed-up parses a path once per process
    # (the patched parse was bound before this test counted, so none are counted then).
    assert len(calls) == (0 if enabled else 5 * len(paths))


def test_a_definition_created_again_is_not_parsed_again_and_bad_ones_still_fail(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack deployed again creates the same definitions: known valid, parsed no more."""
    speedups.install()
    parses = count_parses(monkeypatch)
    definition = _definition(**MAP_DEFINITION)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    for _ in range(3):
        sfn.create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:8]}", definition=definition, roleArn=ROLE
        )
    assert len(parses) == 1
    for _ in range(2):  # an invalid definition is refused each time, with moto's own error
        with pytest.raises(ClientError, match="ASLParserException"):
            sfn.create_state_machine(
                name=f"sm-{uuid.uuid4().hex[:8]}",
                definition=_definition(Bad={"Type": "Pass", "Next": 7}),
                roleArn=ROLE,
            )


def test_a_definition_is_not_parsed_again_after_the_bridges_are_reinstalled(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests lift and reinstall the bridges between deploys; the next deploy's definitions were
    parsed again each time (~1.5 s a deploy). The cache outlives an install."""
    with restored(sfb):
        sfb.install()
        speedups.install()
        parses = count_parses(monkeypatch)
        definition = _definition(**MAP_DEFINITION)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        sfn.create_state_machine(name="before", definition=definition, roleArn=ROLE)
        speedups.uninstall()
        sfb.uninstall()
        sfb.install()
        speedups.install()
        sfn.create_state_machine(name="after", definition=definition, roleArn=ROLE)
    assert len(parses) == 1


def test_a_program_parsed_under_other_bridges_is_not_reused(aws: None) -> None:
    """What the parser builds depends on the bridges (task classes, error names): switching the
    Step Functions bridges on must not run a program parsed without them."""
    with restored(sfb):
        speedups.install()
        definition = _definition(
            Read={
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue",
                "Parameters": {"SecretId": "no-such-secret"},
                "Catch": [
                    {
                        "ErrorEquals": ["SecretsManager.ResourceNotFoundException"],
                        "ResultPath": "$.error",
                        "Next": "Caught",
                    }
                ],
                "End": True,
            },
            Caught={"Type": "Pass", "End": True},
        )
        sfb.uninstall()  # plain moto names the error secretsmanager.ResourceNotFoundException
        (plain,) = _run_all(definition, [{}])
        sfb.install()  # bridged: SecretsManager.ResourceNotFoundException, as AWS names it
        (bridged,) = _run_all(definition, [{}])
    assert (plain["status"], bridged["status"]) == ("FAILED", "SUCCEEDED")
