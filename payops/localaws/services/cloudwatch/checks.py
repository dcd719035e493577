"""Deploy checks for CloudWatch: each alarm read back with DescribeAlarms and compared with the
template (metric, statistic, threshold, actions..., and each metric-math query's Id and Expression);
GetAtt Arn.
"""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn, Getter

_ALARM_KEYS = (
    "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Period", "EvaluationPeriods",
    "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData", "Unit",
    "AlarmDescription", "AlarmActions", "OKActions", "InsufficientDataActions", "Dimensions",
    "ActionsEnabled", "EvaluateLowSampleCountPercentile", "ThresholdMetricId",
)  # fmt: skip


def check_alarm(c: Check) -> None:
    alarms = c.client("cloudwatch").describe_alarms(AlarmNames=[c.physical_id])["MetricAlarms"]
    if not alarms:
        c.problem(f"alarm {c.physical_id}: missing")
        return
    alarm = alarms[0]
    c.same_if_set("AlarmName", alarm["AlarmName"])
    for key in _ALARM_KEYS:
        c.same_if_set(key, alarm.get(key))
    if "Metrics" in c.raw:
        expected = [(m["Id"], m.get("Expression")) for m in c.props["Metrics"]]
        c.same(
            "Metrics", expected, [(m["Id"], m.get("Expression")) for m in alarm.get("Metrics", [])]
        )


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::CloudWatch::Alarm", "Arn"): lambda r, name, _: r.clients("cloudwatch").describe_alarms(
        AlarmNames=[name]
    )["MetricAlarms"][0]["AlarmArn"],
}


CHECKS: dict[str, CheckFn] = {
    "AWS::CloudWatch::Alarm": check_alarm,
}
