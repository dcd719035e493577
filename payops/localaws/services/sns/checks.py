"""Deploy checks for SNS: topics (attributes, inline subscriptions), subscriptions and topic
policies, each read back through the API and compared with the template; GetAtt getters for a
topic's TopicArn and TopicName and a subscription's Arn.
"""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn, Getter


def check_topic(c: Check) -> None:
    sns = c.client("sns")
    attributes = sns.get_topic_attributes(TopicArn=c.physical_id)["Attributes"]
    c.same_if_set("TopicName", c.physical_id.rsplit(":", 1)[-1])
    c.same_if_set("FifoTopic", attributes.get("FifoTopic", "false"))
    c.same_if_set("ContentBasedDeduplication", attributes.get("ContentBasedDeduplication"))
    c.same_if_set("KmsMasterKeyId", attributes.get("KmsMasterKeyId"))
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=c.physical_id)["Subscriptions"]
    have = {(s["Protocol"], s["Endpoint"]) for s in subscriptions}
    for inline in c.props.get("Subscription", []):
        if (inline["Protocol"], inline["Endpoint"]) not in have:
            c.problem(f"inline subscription {inline['Protocol']}:{inline['Endpoint']}: missing")


def check_subscription(c: Check) -> None:
    attributes = c.client("sns").get_subscription_attributes(SubscriptionArn=c.physical_id)[
        "Attributes"
    ]
    for key in ("TopicArn", "Protocol", "Endpoint"):
        c.same(key, c.props.get(key), attributes.get(key))
    c.same_if_set("RawMessageDelivery", attributes.get("RawMessageDelivery", "false"), False)
    for key in ("FilterPolicy", "FilterPolicyScope", "RedrivePolicy", "DeliveryPolicy"):
        c.same_if_set(key, attributes.get(key))


def check_topic_policy(c: Check) -> None:
    for arn in c.props["Topics"]:
        policy = c.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy")
        c.same(f"Policy of {arn}", c.props["PolicyDocument"], policy)


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::SNS::Topic", "TopicArn"): lambda r, arn, _: r.clients("sns").get_topic_attributes(
        TopicArn=arn
    )["Attributes"]["TopicArn"],
    ("AWS::SNS::Topic", "TopicName"): lambda r, arn, _: arn.rsplit(":", 1)[-1],
    ("AWS::SNS::Subscription", "Arn"): lambda r, arn, _: arn,
}


CHECKS: dict[str, CheckFn] = {
    "AWS::SNS::Topic": check_topic,
    "AWS::SNS::Subscription": check_subscription,
    "AWS::SNS::TopicPolicy": check_topic_policy,
}
