"""The Pipes bridge: AWS::Pipes::Pipe via CloudFormation, and SQS -> Step Functions delivery."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from moto import mock_aws

from payops.localaws.core.account import REGION
from payops.localaws.services import pipes as pipes_bridge

SUCCEED_UNLESS_POISON = {
    "StartAt": "First",
    "States": {
        "First": {
            "Type": "Pass",
            "Parameters": {"first.$": "States.ArrayGetItem($, 0)"},
            "Next": "Check",
        },
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.first.body", "StringEquals": "poison", "Next": "Boom"}],
            "Default": "Done",
        },
        "Boom": {"Type": "Fail", "Error": "Poison"},
        "Done": {"Type": "Succeed"},
    },
}


def template(state_machine_arn: str, queue_arn: str) -> str:
    return json.dumps({
        "Resources": {
            "Pipe": {
                "Type": "AWS::Pipes::Pipe",
                "Properties": {
                    "Name": "audit-pipe",
                    "RoleArn": "arn:aws:iam::123456789012:role/pipe",
                    "Source": queue_arn,
                    "SourceParameters": {"SqsQueueParameters": {"BatchSize": 1}},
                    "Target": state_machine_arn,
                    "TargetParameters": {"StepFunctionStateMachineParameters": {
                        "InvocationType": "REQUEST_RESPONSE"}},
                },
            }
        },
        "Outputs": {"PipeArn": {"Value": {"Fn::GetAtt": ["Pipe", "Arn"]}}},
    })  # fmt: skip


def queue_with_dlq(sqs, name: str) -> tuple[str, str, dict]:
    """(queue URL, DLQ URL, GetQueueAttributes of the queue); two receives, then the DLQ."""
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
    redrive = {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": 2}
    queue = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(redrive)})
    url = queue["QueueUrl"]
    return url, dlq, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])


@pytest.fixture
def aws():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sqs = boto3.client("sqs", region_name=REGION)
        queue, dlq, queue_arn = queue_with_dlq(sqs, "audit")
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="audit", definition=json.dumps(SUCCEED_UNLESS_POISON),
            roleArn="arn:aws:iam::123456789012:role/sfn", type="EXPRESS",
        )["stateMachineArn"]  # fmt: skip
        yield {
            "sqs": sqs, "sfn": sfn, "queue": queue, "dlq": dlq, "machine": machine,
            "queue_arn": queue_arn["Attributes"]["QueueArn"],
        }  # fmt: skip


def create_stack(aws: dict) -> dict:
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName="s", TemplateBody=template(aws["machine"], aws["queue_arn"]))
    return cfn.describe_stacks(StackName="s")["Stacks"][0]


def test_moto_has_no_cloudformation_model_for_pipes_of_its_own() -> None:
    from moto.core.common_models import CloudFormationModel

    others = [
        model
        for model in CloudFormationModel.__subclasses__()
        if model.cloudformation_type() == "AWS::Pipes::Pipe" and model is not pipes_bridge.CfnPipe
    ]
    assert others == []  # if moto grows one, this bridge should go


def test_cloudformation_creates_the_pipe(aws: dict) -> None:
    pipes_bridge.install()
    stack = create_stack(aws)
    pipe = boto3.client("pipes", region_name=REGION).describe_pipe(Name="audit-pipe")
    assert pipe["Source"] == aws["queue_arn"] and pipe["Target"] == aws["machine"]
    assert stack["Outputs"][0]["OutputValue"] == pipe["Arn"]


def executions(aws: dict) -> list[str]:
    deadline = time.monotonic() + 10
    while True:
        listed = aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"]
        if all(e["status"] != "RUNNING" for e in listed) or time.monotonic() > deadline:
            return [e["status"] for e in listed]
        time.sleep(0.01)


def depth(aws: dict, queue: str) -> int:
    attrs = aws["sqs"].get_queue_attributes(
        QueueUrl=aws[queue], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def test_drain_moves_messages_into_the_target_and_deletes_them(aws: dict) -> None:
    pipes_bridge.install()
    create_stack(aws)
    for body in ("evt_1", "evt_2"):
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=body)
    assert pipes_bridge.drain() == 2
    assert executions(aws) == ["SUCCEEDED", "SUCCEEDED"]
    assert depth(aws, "queue") == 0 and depth(aws, "dlq") == 0
    first = aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"][0]
    payload = json.loads(aws["sfn"].describe_execution(executionArn=first["executionArn"])["input"])
    assert payload[0]["eventSource"] == "aws:sqs" and payload[0]["body"] in ("evt_1", "evt_2")


def test_a_drained_queue_is_not_asked_again(aws: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend tells that the queue is empty: no ReceiveMessage only to get nothing (one
    per queue per settle step, a few percent of a replay)."""
    from moto.sqs.models import SQSBackend

    pipes_bridge.install()
    create_stack(aws)
    received: list[int] = []
    receive = SQSBackend.receive_message

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = receive(self, *args, **kwargs)
        received.append(len(found))
        return found

    monkeypatch.setattr(SQSBackend, "receive_message", counting)
    for body in ("evt_1", "evt_2", "evt_3"):
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=body)
    assert pipes_bridge.drain() == 3  # batches of one (the pipe's BatchSize)
    assert executions(aws) == ["SUCCEEDED"] * 3
    assert received == [1, 1, 1] and depth(aws, "queue") == 0  # never an empty receive


def test_a_failing_batch_is_retried_then_dead_lettered_by_the_redrive_policy(aws: dict) -> None:
    pipes_bridge.install()
    create_stack(aws)
    aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody="poison")
    pipes_bridge.drain()
    assert executions(aws) == ["FAILED", "FAILED"]  # maxReceiveCount 2: two tries, then the DLQ
    assert depth(aws, "queue") == 0
    assert depth(aws, "dlq") == 1
