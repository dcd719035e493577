"""CloudWatch's CloudFormation resource bridge: AWS::CloudWatch::Alarm, which moto skips, put on
moto's backend with its properties, metric-math `Metrics` included.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.resources import BridgedResource, as_bool


def _metric_queries(metrics: list[dict[str, Any]] | None) -> list[Any] | None:
    from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat

    if not metrics:
        return None
    queries = []
    for metric in metrics:
        stat = metric.get("MetricStat")
        metric_stat = None
        if stat:
            inner = stat.get("Metric", {})
            metric_stat = MetricStat(
                metric=Metric(
                    metric_name=inner.get("MetricName"),
                    namespace=inner.get("Namespace"),
                    dimensions=[
                        Dimension(name=d["Name"], value=d["Value"])
                        for d in inner.get("Dimensions", [])
                    ],
                ),
                period=stat.get("Period"),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=metric.get("Id"),
                label=metric.get("Label"),
                period=metric.get("Period"),
                return_data=metric.get("ReturnData"),
                expression=metric.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


class CloudWatchAlarm(BridgedResource):
    TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"
    ATTRIBUTES = ("Arn",)

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.cloudwatch.models import cloudwatch_backends

        backend = cloudwatch_backends[account_id][region_name]
        p = properties
        alarm = backend.put_metric_alarm(
            name=name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p["Period"]) if p.get("Period") is not None else None,
            threshold=float(p["Threshold"]) if p.get("Threshold") is not None else None,
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"),
            dimensions=p.get("Dimensions") or [],
            alarm_actions=p.get("AlarmActions") or [],
            metric_data_queries=_metric_queries(p.get("Metrics")),
            datapoints_to_alarm=(
                int(p["DatapointsToAlarm"]) if p.get("DatapointsToAlarm") is not None else None
            ),
            extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions") or [],
            insufficient_data_actions=p.get("InsufficientDataActions") or [],
            unit=p.get("Unit"),
            actions_enabled=as_bool(p.get("ActionsEnabled", True)),
            treat_missing_data=p.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=p.get("ThresholdMetricId"),
        )
        return cls(name, {"Arn": alarm.alarm_arn}, lambda: backend.delete_alarms([name]), alarm)


GAPS: dict[str, str] = {
    "AWS::CloudWatch::Alarm": ("metric and metric-math alarms (moto: skipped)"),
}

RESOURCES = (CloudWatchAlarm,)
