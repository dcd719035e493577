"""AWS::Scheduler::Schedule into moto's scheduler backend (which has no CloudFormation model)."""

from __future__ import annotations

from typing import Any

from payops.localaws.core.resources import BridgedResource


class Schedule(BridgedResource):
    TYPE = "AWS::Scheduler::Schedule"
    NAME_PROPERTY = "Name"
    NAME_LIMIT = 64
    ATTRIBUTES = ("Arn",)

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.scheduler.models import scheduler_backends

        backend = scheduler_backends[account_id][region_name]
        p = properties
        group = p.get("GroupName") or "default"
        schedule = backend.create_schedule(
            description=p.get("Description", ""),
            end_date=p.get("EndDate"),
            flexible_time_window=p["FlexibleTimeWindow"],
            group_name=group,
            kms_key_arn=p.get("KmsKeyArn"),
            name=name,
            schedule_expression=p["ScheduleExpression"],
            schedule_expression_timezone=p.get("ScheduleExpressionTimezone"),
            start_date=p.get("StartDate"),
            state=p.get("State", "ENABLED"),
            target=p["Target"],
            action_after_completion=None,
        )
        return cls(
            name,
            {"Arn": schedule.arn},
            lambda: backend.delete_schedule(group, name),
            schedule,
        )


GAPS: dict[str, str] = {
    "AWS::Scheduler::Schedule": "schedules (moto: no CloudFormation model; created in its backend)",
}

RESOURCES = (Schedule,)
