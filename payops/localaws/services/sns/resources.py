"""SNS's CloudFormation resource bridges: AWS::SNS::Subscription and AWS::SNS::TopicPolicy, which
moto skips (a subscription gets its RawMessageDelivery, filter, redrive and delivery policies;
deleting a topic policy puts back each topic's default one), and AWS::SNS::Topic, moto's model with
a generated FIFO topic name ending in .fifo.
"""

from __future__ import annotations

import json
from typing import Any

from payops.localaws.core.resources import BridgedResource, FifoNamed, as_bool, json_text


def _sns(account_id: str, region_name: str) -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[account_id][region_name]


class SnsSubscription(BridgedResource):
    TYPE = "AWS::SNS::Subscription"
    ATTRIBUTES = ("Arn",)
    _ATTRIBUTE_PROPERTIES = (
        "RawMessageDelivery",
        "FilterPolicyScope",
        "FilterPolicy",
        "RedrivePolicy",
        "DeliveryPolicy",
        "SubscriptionRoleArn",
    )

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        topic_arn = properties["TopicArn"]
        backend = _sns(account_id, region_name)
        if properties.get("Region") not in (None, region_name):
            backend = _sns(account_id, properties["Region"])
        subscription = backend.subscribe(
            topic_arn, properties.get("Endpoint"), properties["Protocol"]
        )
        arn = subscription.arn
        for key in cls._ATTRIBUTE_PROPERTIES:
            if key not in properties:
                continue
            value = properties[key]
            text = str(as_bool(value)).lower() if key == "RawMessageDelivery" else json_text(value)
            backend.set_subscription_attributes(arn, key, text)
        return cls(arn, {"Arn": arn}, lambda: backend.unsubscribe(arn), subscription)


class SnsTopicPolicy(BridgedResource):
    TYPE = "AWS::SNS::TopicPolicy"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _sns(account_id, region_name)
        topics = list(properties["Topics"])
        policy = json_text(properties["PolicyDocument"])
        for arn in topics:
            backend.set_topic_attribute(arn, "policy", policy)

        def delete() -> None:  # AWS puts back each topic's default policy
            for arn in topics:
                topic = backend.topics.get(arn)
                if topic is not None:
                    default = topic._create_default_topic_policy(
                        region_name, account_id, topic.name
                    )
                    backend.set_topic_attribute(arn, "policy", json.dumps(default))

        return cls(name, {"Id": name}, delete)


class SnsTopic(FifoNamed):
    TYPE = "AWS::SNS::Topic"
    FIFO_PROPERTY = "FifoTopic"
    LIMIT = 256


GAPS: dict[str, str] = {
    "AWS::SNS::Subscription": (
        "subscribe with RawMessageDelivery, FilterPolicy(Scope), RedrivePolicy, DeliveryPolicy "
        "(moto: skipped)"
    ),
    "AWS::SNS::TopicPolicy": ("sets each topic's Policy (moto: skipped)"),
    "AWS::SNS::Topic": ("a generated FIFO topic name ends in .fifo, as CloudFormation makes it"),
}

RESOURCES = (SnsSubscription, SnsTopicPolicy, SnsTopic)
