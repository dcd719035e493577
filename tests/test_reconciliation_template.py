"""issue 16 in the template: the reconciliation schedule, workflow grants, metric alarm, and the
thin events' rule."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import PARTNER_SOURCE, Synthesized

from payops.settings import HYDRATION_SOURCE, RECONCILIATION_SOURCE, Settings, SettingsError


def resources(synth: Synthesized, kind: str) -> dict[str, Any]:
    return synth.template.find_resources(kind)


def statements(synth: Synthesized, prefix: str) -> list[dict[str, Any]]:
    found = []
    for logical, policy in resources(synth, "AWS::IAM::Policy").items():
        if logical.startswith(prefix):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def test_an_hourly_schedule_starts_the_reconciliation(synthesized: Synthesized) -> None:
    [schedule] = resources(synthesized, "AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "rate(1 hour)" and props["State"] == "ENABLED"
    assert props["Target"]["Arn"]["Ref"].startswith("ReconciliationWorkflowStateMachine")
    assert props["Target"]["Input"] == "{}"
    role = resources(synthesized, "AWS::IAM::Role")[props["Target"]["RoleArn"]["Fn::GetAtt"][0]]
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert set(trust["Condition"]) == {"StringEquals", "ArnEquals"}  # account and this schedule


def test_schedule_setting_off_and_bad_values() -> None:
    from aws_cdk.assertions import Template

    from payops.app_factory import build_app

    context = {"reconciliationSchedule": "off", "stripeEventSourceName": PARTNER_SOURCE}
    _, stack = build_app(context, nag=False)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Scheduler::Schedule", 0)
    assert Settings.load({"reconciliationSchedule": "cron(0 * * * ? *)"}).reconciliation_schedule
    with pytest.raises(SettingsError, match="reconciliationSchedule"):
        Settings.load({"reconciliationSchedule": "hourly"})


def test_reconciliation_grants_are_scoped(synthesized: Synthesized) -> None:
    found = statements(synthesized, "ReconciliationWorkflowStateMachineRoleDefaultPolicy")
    by_action = {str(s["Action"]): s for s in found}
    put = by_action["events:PutEvents"]
    assert put["Condition"] == {"StringEquals": {"events:source": RECONCILIATION_SOURCE}}
    claims = by_action[str(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"])]
    assert claims["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["reconciliation#*"]}
    }
    metric = by_action["cloudwatch:PutMetricData"]
    assert metric["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "StripePayOps/Reconciliation"}
    }
    thin = statements(synthesized, "ThinEventsWorkflowStateMachineRoleDefaultPolicy")
    [thin_put] = [s for s in thin if s["Action"] == "events:PutEvents"]
    assert thin_put["Condition"] == {"StringEquals": {"events:source": HYDRATION_SOURCE}}


def test_missed_events_found_alarm_tells_staff(partner: Synthesized) -> None:
    alarms = [a["Properties"] for a in resources(partner, "AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("MetricName") == "MissedEventsFound"]  # fmt: skip
    [alarm] = alarms
    assert alarm["Namespace"] == "StripePayOps/Reconciliation" and alarm["Threshold"] == 1
    assert alarm["AlarmName"] == "StripePayOps-reconciliation-found-missed-events"
    assert alarm["AlarmActions"][0]["Ref"].startswith("NotificationsPaymentProblems")


@pytest.mark.parametrize("ingress", ["partner", "webhook"])
def test_thin_events_rule_takes_only_stripes_thin_payloads(
    ingress: str, partner: Synthesized, webhook: Synthesized
) -> None:
    synth = partner if ingress == "partner" else webhook
    [rule] = [r["Properties"] for k, r in resources(synth, "AWS::Events::Rule").items()
              if k.startswith("ThinEventsRule")]  # fmt: skip
    assert rule["EventPattern"]["detail"] == {"object": ["v2.core.event"]}
    # Never the stack's own sources: a hydrated event is not thin, and is not hydrated again.
    assert RECONCILIATION_SOURCE not in rule["EventPattern"]["source"]
    assert HYDRATION_SOURCE not in rule["EventPattern"]["source"]
    [target] = rule["Targets"]
    assert target["Arn"]["Ref"].startswith("ThinEventsWorkflowStateMachine")
    assert target["DeadLetterConfig"] and target["RetryPolicy"]
