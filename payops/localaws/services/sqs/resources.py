"""SQS's CloudFormation resource bridges: AWS::SQS::QueuePolicy, which moto skips (the policy is set
on each queue, cleared on delete), and AWS::SQS::Queue, moto's model with a generated FIFO queue
name ending in .fifo.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.resources import BridgedResource, FifoNamed, json_text


def _sqs(account_id: str, region_name: str) -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[account_id][region_name]


class SqsQueuePolicy(BridgedResource):
    TYPE = "AWS::SQS::QueuePolicy"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _sqs(account_id, region_name)
        queues = [str(url).rstrip("/").rsplit("/", 1)[-1] for url in properties["Queues"]]
        policy = json_text(properties["PolicyDocument"])
        for queue in queues:
            backend.set_queue_attributes(queue, {"Policy": policy})

        def delete() -> None:
            for queue in queues:
                if queue in backend.queues:
                    backend.set_queue_attributes(queue, {"Policy": ""})

        return cls(name, {"Id": name}, delete)


class SqsQueue(FifoNamed):
    TYPE = "AWS::SQS::Queue"
    FIFO_PROPERTY = "FifoQueue"


GAPS: dict[str, str] = {
    "AWS::SQS::QueuePolicy": ("sets each queue's Policy (moto: skipped)"),
    "AWS::SQS::Queue": ("a generated FIFO queue name ends in .fifo, as CloudFormation makes it"),
}

RESOURCES = (SqsQueuePolicy, SqsQueue)
