"""Deploy checks for SQS: each queue's name and attributes (timeouts, FIFO, encryption, redrive...)
and each queue policy read back and compared with the template; GetAtt getters for Arn, QueueName
and QueueUrl.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payops.localaws.core.checking import Check, CheckFn, Getter, Resolver


def _queue_attribute(name: str) -> Callable[[Resolver, str, str], Any]:
    def get(r: Resolver, url: str, logical_id: str) -> Any:
        attributes = r.clients("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=[name])
        return attributes["Attributes"][name]

    return get


_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds", "FifoQueue", "ContentBasedDeduplication",
    "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled",
    "DeduplicationScope", "FifoThroughputLimit", "RedrivePolicy", "RedriveAllowPolicy",
)  # fmt: skip


def check_queue(c: Check) -> None:
    attributes = c.client("sqs").get_queue_attributes(
        QueueUrl=c.physical_id, AttributeNames=["All"]
    )["Attributes"]
    c.same_if_set("QueueName", c.physical_id.rsplit("/", 1)[-1])
    for key in _QUEUE_ATTRIBUTES:
        c.same_if_set(key, attributes.get(key))


def check_queue_policy(c: Check) -> None:
    for url in c.props["Queues"]:
        attributes = c.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
        policy = attributes.get("Attributes", {}).get("Policy")
        c.same(f"Policy of {url}", c.props["PolicyDocument"], policy)


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::SQS::Queue", "Arn"): _queue_attribute("QueueArn"),
    ("AWS::SQS::Queue", "QueueName"): lambda r, url, _: url.rsplit("/", 1)[-1],
    ("AWS::SQS::Queue", "QueueUrl"): lambda r, url, _: url,
}


CHECKS: dict[str, CheckFn] = {
    "AWS::SQS::Queue": check_queue,
    "AWS::SQS::QueuePolicy": check_queue_policy,
}
