"""EventBridge Pipes in the local AWS: SQS source -> (filter) -> (Express enrichment) -> Step
Functions or API destination target, as AWS runs them.

The pinned moto stores pipes (create/describe) but never moves a message, and its
CloudFormation has no
AWS::Pipes::Pipe. This bridge adds both: the CloudFormation resource (created on moto's own pipes
backend) and `drain()`, which the local AWS calls while settling: it reads each running pipe's
source queue and invokes the target like Pipes does. Records no filter keeps are deleted; an
enrichment's output ([] sends nothing) goes to the target through its input template
(transform.py, api_target.py). A failed batch is not deleted, so SQS's redrive policy moves it to
the queue's DLQ after maxReceiveCount receives, as on AWS.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from moto.cloudformation import parsing as cfn_parsing
from moto.core.common_models import CloudFormationModel
from moto.pipes.models import pipes_backends

from payops.localaws.core.account import ACCOUNT, REGION
from payops.localaws.core.clients import new_client
from payops.localaws.core.patch import Patch
from payops.localaws.core.recorder import RECORDER
from payops.localaws.services.pipes import api_target
from payops.localaws.services.pipes.transform import kept, parsed, render

GAPS: dict[str, str] = {
    "cfn-pipes-pipe": ("moto's CloudFormation lacks AWS::Pipes::Pipe: create it on moto's backend"),
    "pipes-sqs-to-sfn": (
        "moto's pipes never move messages: drain() polls SQS sources into targets"
    ),
    "pipes-filter-enrich-api": (
        "filter criteria, input templates, an Express enrichment and API destination targets "
        "are applied as Pipes documents them (moto: stored only)"
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
    # In-process, straight to moto's handler (core.direct_client), as Task states call it.
    from payops.localaws.core.direct_client import direct

    key = (service, region, _endpoint_url)
    if key not in _clients:
        client = new_client(service, region, _endpoint_url)
        _clients[key] = client if _endpoint_url else direct(client)
    return _clients[key]


_queue_urls: dict[tuple[str, str, str, str | None], str] = {}


def _queue_url(sqs: Any, queue_name: str, account: str, region: str) -> str:
    # A queue's URL is its endpoint, region, account and name: fixed once known.
    key = (account, region, queue_name, _endpoint_url)
    if key not in _queue_urls:
        _queue_urls[key] = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    return _queue_urls[key]


def set_endpoint_url(url: str | None) -> None:
    """Where drain() sends its SQS receives (None: in-process mock_aws); the rest of a batch's
    work reads moto's backends, which a ThreadedMotoServer in this process shares."""
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


# Batches whose REQUEST_RESPONSE execution still runs: execution ARN -> (pipe, queue URL,
# messages). The messages stay invisible meanwhile; the execution's end deletes them (success) or
# makes them visible again (failure), so the queue's redrive policy counts the attempt, as on AWS.
# An enrichment's batch also holds what to do with the execution's output (`then`).
Then = Callable[[Any], None] | None
_pending: dict[str, tuple[Any, str, list[dict[str, Any]], Then]] = {}
_IN_FLIGHT_VISIBILITY_S = 300  # longer than any local execution: never received twice at once


# Only the receive goes through the SQS API (its records carry the API's attribute formatting);
# starting, watching and settling a batch use moto's backends, as EventBridge's targets do: four
# API round trips per batch were an eighth of a replay's time.
def _sfn(account: str, region: str) -> Any:
    from moto.stepfunctions.responses import get_backend

    return get_backend(account, region)


def _start_execution(machine_arn: str, name: str, payload: str, account: str, region: str) -> str:
    return str(_sfn(account, region).start_execution(machine_arn, name, payload).execution_arn)


def _start(pipe: Any, payload: str, account: str, region: str) -> tuple[str, str]:
    params = (pipe.target_parameters or {}).get("StepFunctionStateMachineParameters", {})
    invocation = params.get("InvocationType", "FIRE_AND_FORGET")
    execution_arn = _start_execution(
        pipe.target, f"pipe-{uuid.uuid4().hex[:20]}", payload, account, region
    )
    RECORDER.record("pipe_invoked", pipe=pipe.name, target=pipe.target, invocation=invocation)
    return execution_arn, invocation


def _enrich(pipe: Any, records: list[dict[str, Any]], account: str, region: str) -> str:
    """Start the Express enrichment on the batch (each record through its input template)."""
    template = (pipe.enrichment_parameters or {}).get("InputTemplate")
    batch = [render(template, parsed(r), pipe) if template else parsed(r) for r in records]
    execution_arn = _start_execution(
        pipe.enrichment, f"pipe-enrich-{uuid.uuid4().hex[:20]}", json.dumps(batch), account, region
    )
    RECORDER.record("pipe_enriching", pipe=pipe.name, enrichment=pipe.enrichment)
    return execution_arn


def _to_target(pipe: Any) -> Callable[[Any], None]:
    """What happens to an enrichment's output: each element to the API destination; an empty
    response ("", {}, []) calls nothing, as Pipes documents."""
    if not api_target.is_api_destination(pipe.target):
        raise PipeError(f"pipe {pipe.name}: enrichment before {pipe.target} is not emulated")

    def then(output: Any) -> None:
        events = output if isinstance(output, list) else [output]
        for event in events:
            if event in ("", {}, None):
                continue
            api_target.call(pipe, event)

    return then


def _ended(execution_arn: str, account: str, region: str) -> tuple[str, Any]:
    """DescribeExecution's status (RUNNING until the worker has set one) and, once SUCCEEDED,
    its output as JSON data, read from the backend."""
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    execution = _sfn(account, region).describe_execution(execution_arn)
    if not hasattr(execution, "exec_status"):  # moto's non-executing Step Functions model
        return str(execution.status), None
    if execution.exec_status is None:
        return "RUNNING", None
    status = str(execution.exec_status.value)
    if status != "SUCCEEDED" or execution.output is None:
        return status, None
    output = execution.output
    return status, json.loads(output if isinstance(output, str) else to_json_str(output))


def _queue_name(queue_url: str) -> str:
    return queue_url.rsplit("/", 1)[1]


def _delete(queue_url: str, messages: list[dict[str, Any]], account: str, region: str) -> None:
    from moto.sqs.models import sqs_backends

    sqs_backends[account][region].delete_message_batch(
        _queue_name(queue_url),
        [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
    )


def _finish(account: str, region: str) -> int:
    """Settle the batches whose execution has ended; returns how many were settled."""
    finished = 0
    for execution_arn, (pipe, queue_url, messages, then) in list(_pending.items()):
        try:
            status, output = _ended(execution_arn, account, region)
        except Exception:  # its account was reset (a new mock_aws): nothing left to settle
            del _pending[execution_arn]
            continue
        if status == "RUNNING":
            continue
        del _pending[execution_arn]
        finished += 1
        error = f"pipe {pipe.name}: {'enrichment' if then else 'target'} execution {status}"
        if status == "SUCCEEDED":  # REQUEST_RESPONSE: the batch succeeds only if the execution does
            try:
                if then is not None:
                    then(output)
                _delete(queue_url, messages, account, region)
                continue
            except Exception as err:  # the target refused or could not be reached: retry
                error = f"pipe {pipe.name}: target failed: {err}"
        _fail(pipe, queue_url, messages, error, account, region)
    return finished


def _fail(
    pipe: Any,
    queue_url: str,
    messages: list[dict[str, Any]],
    error: str,
    account: str,
    region: str,
) -> None:
    """The batch goes back to the queue at once; its receive count moves it to the DLQ."""
    from moto.sqs.models import sqs_backends

    RECORDER.record("pipe_failed", pipe=pipe.name, error=error)
    sqs_backends[account][region].change_message_visibility_batch(
        _queue_name(queue_url),
        [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages)
        ],
    )


def _visible(queue_name: str, account: str, region: str) -> bool:
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[account][region].queues.get(queue_name)
    return queue is not None and any(m.visible for m in queue._messages)


def pump(account: str = ACCOUNT, region: str = REGION, max_batches: int = 1000) -> int:
    """One step of every running SQS-sourced pipe, without waiting for its target: settle the
    batches whose execution ended, start one for each visible batch. Returns the batches
    started or settled; `pending()` counts those whose execution still runs."""
    settled = _finish(account, region) if _pending else 0
    return settled + _start_batches(account, region, max_batches)


def _start_batches(account: str, region: str, max_batches: int) -> int:
    moved = 0
    for pipe in list(pipes_backends[account][region].pipes.values()):
        if pipe.desired_state == "STOPPED" or ":sqs:" not in pipe.source:
            continue
        if ":states:" not in pipe.target and not api_target.is_api_destination(pipe.target):
            raise PipeError(f"pipe {pipe.name}: target {pipe.target} is not emulated locally")
        queue_name = pipe.source.rsplit(":", 1)[1]
        if not _visible(queue_name, account, region):
            continue  # read from the backend: no API round trip per pipe per settle step
        sqs = _client("sqs", region)
        queue_url = _queue_url(sqs, queue_name, account, region)
        size = (pipe.source_parameters or {}).get("SqsQueueParameters", {}).get("BatchSize", 10)
        for _ in range(max_batches):  # bounded: a queue without a DLQ must not spin forever
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(size, 10),
                VisibilityTimeout=_IN_FLIGHT_VISIBILITY_S,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            moved += 1
            _send(pipe, queue_url, messages, account, region)
            if not _visible(queue_name, account, region):
                break  # drained: the backend says so without an empty receive
    return moved


def _send(
    pipe: Any, queue_url: str, messages: list[dict[str, Any]], account: str, region: str
) -> None:
    """One received batch: filtered, then enriched and/or sent to the target."""
    records = _records(messages, pipe.source, region)
    dropped = [m for m, r in zip(messages, records, strict=True) if not kept(pipe, r)]
    if dropped:  # Pipes deletes the SQS messages its filters drop
        RECORDER.record("pipe_filtered", pipe=pipe.name, dropped=len(dropped))
        _delete(queue_url, dropped, account, region)
    messages = [m for m in messages if m not in dropped]
    records = [r for r in records if kept(pipe, r)]
    if not messages:
        return
    if pipe.enrichment:
        enriching = _enrich(pipe, records, account, region)
        _pending[enriching] = (pipe, queue_url, messages, _to_target(pipe))
        return
    if api_target.is_api_destination(pipe.target):
        try:
            for record in records:
                api_target.call(pipe, parsed(record))
        except Exception as err:
            failure = f"pipe {pipe.name}: target failed: {err}"
            _fail(pipe, queue_url, messages, failure, account, region)
            return
        _delete(queue_url, messages, account, region)
        return
    execution_arn, invocation = _start(pipe, json.dumps(records), account, region)
    if invocation == "REQUEST_RESPONSE":
        _pending[execution_arn] = (pipe, queue_url, messages, None)
    else:
        _delete(queue_url, messages, account, region)


def pending() -> int:
    return len(_pending)


def drain(account: str = ACCOUNT, region: str = REGION, max_batches: int = 1000) -> int:
    """Move every visible message of every running SQS-sourced pipe, waiting for each
    REQUEST_RESPONSE target (and retrying failed batches) until nothing is left to move;
    returns the batches sent."""
    sent = 0
    deadline = time.monotonic() + 60
    for _ in range(max_batches):
        settled = _finish(account, region) if _pending else 0
        started = _start_batches(account, region, max_batches)
        sent += started
        if not started and not settled and not _pending:
            return sent
        if time.monotonic() > deadline:
            raise PipeError(f"pipes still have work after 60 s: {len(_pending)} batches pending")
        if _pending:
            time.sleep(0.005)
    return sent
