"""The Scheduler bridge (issue 16): AWS::Scheduler::Schedule through CloudFormation into moto's
scheduler backend, its deploy check, and `fire`, which starts the target as the schedule would."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from payops.localaws.core import registry
from payops.localaws.core.account import REGION
from payops.localaws.services.scheduler import fire

MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}


def template(machine_arn: str, state: str = "ENABLED") -> str:
    return json.dumps({
        "Resources": {
            "Schedule": {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "Name": "nightly",
                    "ScheduleExpression": "rate(1 hour)",
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "State": state,
                    "Target": {"Arn": machine_arn, "Input": "{\"scheduled\": true}",
                               "RoleArn": "arn:aws:iam::123456789012:role/scheduler"},
                },
            }
        },
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Schedule", "Arn"]}}},
    })  # fmt: skip


@pytest.fixture
def aws() -> Iterator[dict]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        registry.install()
        try:
            sfn = boto3.client("stepfunctions", region_name=REGION)
            machine = sfn.create_state_machine(
                name="target", definition=json.dumps(MACHINE),
                roleArn="arn:aws:iam::123456789012:role/sfn",
            )["stateMachineArn"]  # fmt: skip
            yield {"sfn": sfn, "machine": machine}
        finally:
            registry.uninstall()


def create_stack(body: str) -> dict:
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName="s", TemplateBody=body)
    return cfn.describe_stacks(StackName="s")["Stacks"][0]


def test_moto_has_no_cloudformation_model_for_schedules_of_its_own() -> None:
    from moto.core.common_models import CloudFormationModel

    from payops.localaws.services.scheduler.resources import Schedule

    others = [
        model for model in CloudFormationModel.__subclasses__()
        if model.cloudformation_type() == "AWS::Scheduler::Schedule" and model is not Schedule
    ]  # fmt: skip
    assert others == []  # if moto grows one, this bridge should go


def test_cloudformation_creates_the_schedule(aws: dict) -> None:
    stack = create_stack(template(aws["machine"]))
    schedule = boto3.client("scheduler", region_name=REGION).get_schedule(Name="nightly")
    assert schedule["ScheduleExpression"] == "rate(1 hour)"
    assert schedule["Target"]["Arn"] == aws["machine"]
    assert stack["Outputs"][0]["OutputValue"] == schedule["Arn"]


def test_fire_starts_the_target_with_the_schedules_input(aws: dict) -> None:
    create_stack(template(aws["machine"]))
    arn = fire("nightly")
    described = aws["sfn"].describe_execution(executionArn=arn)
    assert described["stateMachineArn"] == aws["machine"]
    assert json.loads(described["input"]) == {"scheduled": True}
    assert registry.provided("scheduler", "fire") is fire


def test_a_disabled_schedule_does_not_fire(aws: dict) -> None:
    create_stack(template(aws["machine"], state="DISABLED"))
    with pytest.raises(ValueError, match="DISABLED"):
        fire("nightly")
