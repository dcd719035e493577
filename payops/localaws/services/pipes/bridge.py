"""EventBridge Pipes in the local AWS: SQS source -> Step Functions target, as AWS runs them.

The pinned moto stores pipes (create/describe) but never moves a message, and its
CloudFormation has no
AWS::Pipes::Pipe. This bridge adds both: the CloudFormation resource (created on moto's own pipes
backend) and `drain()`, which the local AWS calls while settling: it reads each running pipe's
source queue and invokes the target like Pipes does. A failed batch is not deleted, so SQS's
redrive policy moves it to the queue's DLQ after maxReceiveCount receives, as on AWS.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
from moto.cloudformation import parsing as cfn_parsing
from moto.core.common_models import CloudFormationModel
from moto.pipes.models import pipes_backends

from payops.localaws.core.account import ACCOUNT, REGION
from payops.localaws.core.patch import Patch
from payops.localaws.core.recorder import RECORDER

GAPS: dict[str, str] = {
    "cfn-pipes-pipe": ("moto's CloudFormation lacks AWS::Pipes::Pipe: create it on moto's backend"),
    "pipes-sqs-to-sfn": (
        "moto's pipes never move messages: drain() polls SQS sources into targets"
    ),
}
_endpoint_url: str | None = None


class PipeError(RuntimeError):
    pass


class CfnPipe(CloudFormationModel):
    """AWS::Pipes::Pipe for moto's CloudFormation (Ref = name, GetAtt Arn)."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Pipes::Pipe"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "CurrentState", "Name")

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return {
            "Arn": self.pipe.arn,
            "Name": self.pipe.name,
            "CurrentState": self.pipe.current_state,
        }[attribute_name]

    @property
    def physical_resource_id(self) -> str:
        return self.pipe.name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnPipe:
        props = cloudformation_json["Properties"]
        pipe = pipes_backends[account_id][region_name].create_pipe(
            name=props.get("Name") or resource_name,
            description=props.get("Description"),
            desired_state=props.get("DesiredState", "RUNNING"),
            source=props["Source"],
            source_parameters=props.get("SourceParameters"),
            enrichment=props.get("Enrichment"),
            enrichment_parameters=props.get("EnrichmentParameters"),
            target=props["Target"],
            target_parameters=props.get("TargetParameters"),
            role_arn=props["RoleArn"],
            tags=props.get("Tags"),
            log_configuration=props.get("LogConfiguration"),
            kms_key_identifier=props.get("KmsKeyIdentifier"),
        )
        return cls(pipe)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        backend = pipes_backends[account_id][region_name]
        backend.pipes.pop(resource_name, None)


def refreshed_model_cache() -> list[Patch]:
    """Nothing to replace: moto caches its resource-type map, and a CloudFormationModel defined
    after the first lookup (CfnPipe) is found only once that cache is cleared."""
    for cached in ("get_model_list", "get_model_map", "get_name_type_map"):
        getattr(cfn_parsing, cached).cache_clear()
    return []


_clients: dict[tuple[str, str, str | None], Any] = {}


def _client(service: str, region: str) -> Any:
    # Cached: drain() runs on every settle poll, and a boto3 client costs ~10 ms to create.
    key = (service, region, _endpoint_url)
    if key not in _clients:
        _clients[key] = boto3.client(service, region_name=region, endpoint_url=_endpoint_url)
    return _clients[key]


def set_endpoint_url(url: str | None) -> None:
    """Where drain() sends its SQS / Step Functions calls (None: in-process mock_aws)."""
    global _endpoint_url
    _endpoint_url = url


def _records(messages: list[dict[str, Any]], source_arn: str, region: str) -> list[dict[str, Any]]:
    return [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": source_arn,
            "awsRegion": region,
        }
        for m in messages
    ]


def _invoke_state_machine(pipe: Any, payload: str, region: str) -> None:
    sfn = _client("stepfunctions", region)
    params = (pipe.target_parameters or {}).get("StepFunctionStateMachineParameters", {})
    invocation = params.get("InvocationType", "FIRE_AND_FORGET")
    execution = sfn.start_execution(
        stateMachineArn=pipe.target, name=f"pipe-{uuid.uuid4().hex[:20]}", input=payload
    )
    RECORDER.record("pipe_invoked", pipe=pipe.name, target=pipe.target, invocation=invocation)
    if invocation != "REQUEST_RESPONSE":
        return
    deadline = time.monotonic() + 60
    while True:  # REQUEST_RESPONSE: the batch succeeds only if the execution does
        status = sfn.describe_execution(executionArn=execution["executionArn"])["status"]
        if status != "RUNNING":
            break
        if time.monotonic() > deadline:
            raise PipeError(f"pipe {pipe.name}: target execution still running after 60 s")
        time.sleep(0.005)
    if status != "SUCCEEDED":
        raise PipeError(f"pipe {pipe.name}: target execution {status}")


def drain(account: str = ACCOUNT, region: str = REGION, max_batches: int = 1000) -> int:
    """Move every visible message of every running SQS-sourced pipe; returns batches sent."""
    batches = 0
    for pipe in list(pipes_backends[account][region].pipes.values()):
        if pipe.desired_state == "STOPPED" or ":sqs:" not in pipe.source:
            continue
        if ":states:" not in pipe.target:
            raise PipeError(f"pipe {pipe.name}: target {pipe.target} is not emulated locally")
        sqs = _client("sqs", region)
        queue_url = sqs.get_queue_url(QueueName=pipe.source.rsplit(":", 1)[1])["QueueUrl"]
        size = (pipe.source_parameters or {}).get("SqsQueueParameters", {}).get("BatchSize", 10)
        for _ in range(max_batches):  # bounded: a queue without a DLQ must not spin forever
            # Visibility 0: a failed batch is seen again at once; its receive count still rises,
            # so the queue's redrive policy dead-letters it after maxReceiveCount, as on AWS.
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(size, 10),
                VisibilityTimeout=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            batches += 1
            try:
                _invoke_state_machine(
                    pipe, json.dumps(_records(messages, pipe.source, region)), region
                )
            except PipeError as err:
                RECORDER.record("pipe_failed", pipe=pipe.name, error=str(err))
                continue
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
    return batches
