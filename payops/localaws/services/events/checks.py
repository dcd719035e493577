"""Deploy checks for EventBridge: buses (name, partner event source, policy), rules (pattern,
schedule, state, every target and no other), archives, connections (authorized, credentials in a
secret with no unresolved {{resolve:...}}) and API destinations, read back and compared with the
template; GetAtt getters for their Arns, a bus's Name and a connection's SecretArn.
"""

from __future__ import annotations

import json

from payops.localaws.core import registry
from payops.localaws.core.checking import Check, CheckFn, Getter, Resolver


def _rule_arn(r: Resolver, name: str, logical_id: str) -> str:
    bus = r.value(r.resources[logical_id].get("Properties", {}).get("EventBusName", "default"))
    return str(r.clients("events").describe_rule(Name=name, EventBusName=bus)["Arn"])


def check_event_bus(c: Check) -> None:
    bus = c.client("events").describe_event_bus(Name=c.physical_id)
    c.same_if_set("Name", bus["Name"])
    if "EventSourceName" in c.raw:
        sources = c.client("events").describe_event_source(Name=c.props["EventSourceName"])
        c.same("EventSourceName", c.props["EventSourceName"], sources["Name"])
    if "Policy" in c.raw:  # the resource policy PutEvents is evaluated against
        policy = c.props["Policy"]
        expected = json.loads(policy) if isinstance(policy, str) else policy
        c.same(
            "Policy", expected["Statement"], json.loads(bus.get("Policy") or "{}").get("Statement")
        )


_TARGET_KEYS = (
    "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "DeadLetterConfig",
    "RetryPolicy", "SqsParameters", "HttpParameters", "EcsParameters", "KinesisParameters",
)  # fmt: skip


def check_rule(c: Check) -> None:
    events = c.client("events")
    bus = c.props.get("EventBusName", "default")
    rule = events.describe_rule(Name=c.physical_id, EventBusName=bus)
    c.same_if_set("Name", rule["Name"])
    c.same_if_set("EventPattern", rule.get("EventPattern"))
    c.same_if_set("ScheduleExpression", rule.get("ScheduleExpression"))
    c.same_if_set("Description", rule.get("Description"))
    c.same_if_set("RoleArn", rule.get("RoleArn"))
    c.same_if_set("State", rule.get("State"), "ENABLED")
    actual = {
        t["Id"]: t
        for t in events.list_targets_by_rule(Rule=c.physical_id, EventBusName=bus)["Targets"]
    }
    expected = {t["Id"]: t for t in c.props.get("Targets", [])}
    for target_id, target in expected.items():
        found = actual.get(target_id)
        if found is None:
            c.problem(f"target {target_id}: missing")
            continue
        for key in _TARGET_KEYS:
            if key in target or key in found:
                c.same(f"target {target_id} {key}", target.get(key), found.get(key))
    for target_id in sorted(set(actual) - set(expected)):
        c.problem(f"target {target_id}: not in the template")


def check_archive(c: Check) -> None:
    archive = c.client("events").describe_archive(ArchiveName=c.physical_id)
    c.same("SourceArn", c.props["SourceArn"], archive["EventSourceArn"])
    c.same_if_set("EventPattern", archive.get("EventPattern"))
    c.same_if_set("RetentionDays", archive.get("RetentionDays"))
    c.same("State", "ENABLED", archive.get("State"))


def check_connection(c: Check) -> None:
    connection = c.client("events").describe_connection(Name=c.physical_id)
    c.same("AuthorizationType", c.props["AuthorizationType"], connection["AuthorizationType"])
    c.same("ConnectionState", "AUTHORIZED", connection.get("ConnectionState"))
    if not connection.get("SecretArn"):
        c.problem("no SecretArn (the connection keeps its credentials in a secret)")
    auth = c.props.get("AuthParameters") or {}
    actual = connection.get("AuthParameters") or {}
    for group, key in (
        ("ApiKeyAuthParameters", "ApiKeyName"),
        ("BasicAuthParameters", "Username"),
        ("OAuthParameters", "AuthorizationEndpoint"),
        ("OAuthParameters", "HttpMethod"),
    ):
        if key in auth.get(group, {}):
            c.same(
                f"AuthParameters.{group}.{key}", auth[group][key], actual.get(group, {}).get(key)
            )
    if connection.get("SecretArn"):
        stored = c.client("secretsmanager").get_secret_value(SecretId=connection["SecretArn"])
        if "{{resolve:" in str(stored.get("SecretString")):
            c.problem("its credentials hold an unresolved {{resolve:...}} dynamic reference")


def check_api_destination(c: Check) -> None:
    destination = c.client("events").describe_api_destination(Name=c.physical_id)
    for key in ("ConnectionArn", "InvocationEndpoint", "HttpMethod"):
        expected = c.props[key]
        if isinstance(expected, str) and "{{resolve:" in expected:
            # A Teams Workflows URL comes from the user's secret, as CloudFormation resolves it.
            expected = registry.provided("cloudformation", "resolve_dynamic_references")(expected)
        c.same(key, expected, destination.get(key))
    c.same_if_set("InvocationRateLimitPerSecond", destination.get("InvocationRateLimitPerSecond"))


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::Events::EventBus", "Arn"): lambda r, name, _: r.clients("events").describe_event_bus(
        Name=name
    )["Arn"],
    ("AWS::Events::EventBus", "Name"): lambda r, name, _: r.clients("events").describe_event_bus(
        Name=name
    )["Name"],
    ("AWS::Events::Rule", "Arn"): _rule_arn,
    ("AWS::Events::Archive", "Arn"): lambda r, name, _: r.clients("events").describe_archive(
        ArchiveName=name
    )["ArchiveArn"],
    ("AWS::Events::Connection", "Arn"): lambda r, name, _: r.clients("events").describe_connection(
        Name=name
    )["ConnectionArn"],
    ("AWS::Events::Connection", "SecretArn"): lambda r, name, _: r.clients(
        "events"
    ).describe_connection(Name=name)["SecretArn"],
    ("AWS::Events::ApiDestination", "Arn"): lambda r, name, _: r.clients(
        "events"
    ).describe_api_destination(Name=name)["ApiDestinationArn"],
}


CHECKS: dict[str, CheckFn] = {
    "AWS::Events::EventBus": check_event_bus,
    "AWS::Events::Rule": check_rule,
    "AWS::Events::Archive": check_archive,
    "AWS::Events::Connection": check_connection,
    "AWS::Events::ApiDestination": check_api_destination,
}
