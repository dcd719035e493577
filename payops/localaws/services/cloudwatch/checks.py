"""Deploy checks for CloudWatch: each alarm read back with DescribeAlarms and compared with the
template (metric, statistic, threshold, actions..., and each metric-math query's Id and Expression);
GetAtt Arn. The alarms are listed once per check run (`Resolver.listed`), not described one by one.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.checking import Check, CheckFn, Getter, Resolver, Unresolvable
from payops.localaws.core.clients import Clients

_ALARM_KEYS = (
    "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Period", "EvaluationPeriods",
    "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData", "Unit",
    "AlarmDescription", "AlarmActions", "OKActions", "InsufficientDataActions", "Dimensions",
    "ActionsEnabled", "EvaluateLowSampleCountPercentile", "ThresholdMetricId",
)  # fmt: skip


def _metric_alarms(clients: Clients) -> dict[str, dict[str, Any]]:
    # Page by page through the check's own client (a paginator would go through botocore's
    # whole HTTP pipeline instead of straight to moto: core/direct_client.py).
    cloudwatch = clients("cloudwatch")
    alarms: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"AlarmTypes": ["MetricAlarm"]}
    while True:
        page = cloudwatch.describe_alarms(**kwargs)
        alarms.update((alarm["AlarmName"], alarm) for alarm in page["MetricAlarms"])
        if not page.get("NextToken"):
            return alarms
        kwargs["NextToken"] = page["NextToken"]


def metric_alarm(r: Resolver, name: str) -> dict[str, Any] | None:
    return r.listed("cloudwatch:metric-alarms", _metric_alarms).get(name)


def _alarm_arn(r: Resolver, name: str) -> str:
    alarm = metric_alarm(r, name)
    if alarm is None:
        raise Unresolvable(f"alarm {name}: missing")
    return str(alarm["AlarmArn"])


def check_alarm(c: Check) -> None:
    alarm = metric_alarm(c.r, c.physical_id)
    if alarm is None:
        c.problem(f"alarm {c.physical_id}: missing")
        return
    c.same_if_set("AlarmName", alarm["AlarmName"])
    for key in _ALARM_KEYS:
        c.same_if_set(key, alarm.get(key))
    if "Metrics" in c.raw:
        expected = [(m["Id"], m.get("Expression")) for m in c.props["Metrics"]]
        c.same(
            "Metrics", expected, [(m["Id"], m.get("Expression")) for m in alarm.get("Metrics", [])]
        )


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::CloudWatch::Alarm", "Arn"): lambda r, name, _: _alarm_arn(r, name),
}


CHECKS: dict[str, CheckFn] = {
    "AWS::CloudWatch::Alarm": check_alarm,
}
