"""services/cloudwatch/checks.py: each alarm is compared with its own entry of one listing per
check run (one DescribeAlarms, not one per alarm)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from payops.localaws.core.account import ACCOUNT, REGION
from payops.localaws.core.checking import Resolver, Unresolvable
from payops.localaws.core.clients import Clients
from payops.localaws.deploy import iter_problems
from payops.localaws.deploy.verify import physical_ids_of


def _alarm(threshold: int, queue: str) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Statistic": "Maximum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Dimensions": [{"Name": "QueueName", "Value": queue}],
        },
    }


TEMPLATE = {
    "Resources": {
        "First": _alarm(1, "a"),
        "Second": _alarm(5, "b"),
        "Third": _alarm(9, "c"),
    },
}


def _check_run(clients: Clients) -> tuple[list[str], int]:
    """The problems of one check run, and how many DescribeAlarms it sent."""
    calls: list[str] = []
    event = "before-parameter-build.cloudwatch.DescribeAlarms"  # sent directly or through HTTP
    events = clients("cloudwatch").meta.events  # the local AWS's client, kept per process

    def count(**_: Any) -> None:
        calls.append(event)

    events.register(event, count)
    try:
        ids = physical_ids_of(clients, "S")
        return list(iter_problems(TEMPLATE, "S", clients, ids)), len(calls)
    finally:
        events.unregister(event, count)


def test_each_alarm_is_checked_against_its_own_entry_of_one_listing_per_run(bridged: None) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="S", TemplateBody=json.dumps(TEMPLATE)
    )
    clients = Clients(None, REGION)
    assert _check_run(clients) == ([], 1)

    ids = physical_ids_of(clients, "S")
    (second,) = cloudwatch.describe_alarms(AlarmNames=[ids["Second"]])["MetricAlarms"]
    changed = {k: second[k] for k in ("AlarmName", "MetricName", "Namespace", "Statistic",
                                      "Period", "EvaluationPeriods", "ComparisonOperator",
                                      "Dimensions")}  # fmt: skip
    stack = clients("cloudformation").describe_stacks(StackName="S")["Stacks"][0]
    resolver = Resolver(TEMPLATE, ids, clients, ACCOUNT, stack)
    assert resolver.attribute("Second", "Arn") == second["AlarmArn"]  # GetAtt: the same listing
    cloudwatch.put_metric_alarm(**changed, Threshold=7)
    cloudwatch.delete_alarms(AlarmNames=[ids["Third"]])

    with pytest.raises(Unresolvable, match="missing"):  # a GetAtt of a deleted alarm
        Resolver(TEMPLATE, ids, clients, ACCOUNT, stack).attribute("Third", "Arn")
    problems, describes = _check_run(clients)  # a new run reads the alarms again
    assert describes == 1
    assert problems == [
        "Second AWS::CloudWatch::Alarm: Threshold: expected '5', found '7'",
        f"Third AWS::CloudWatch::Alarm: alarm {ids['Third']}: missing",
    ], problems
