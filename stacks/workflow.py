"""A Step Functions state machine from `statemachines/<name>.asl.json`, logged and traced."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from payops.asl import render


class Workflow(Construct):
    """`kind` is "STANDARD" or "EXPRESS"; `why` says why that type (it lands in the description).

    Placeholders are filled with CDK tokens, which render as Fn::Join: the inline form that both
    CloudFormation and the local AWS (moto) take, unlike DefinitionBody.from_file's S3 asset.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        asl: str,
        kind: str,
        why: str,
        substitutions: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            # Named after the ASL file, so traces and the console say which workflow ran.
            state_machine_name=f"{Stack.of(self).stack_name}-{asl}",
            comment=f"{asl} ({kind.lower()}: {why})",
            definition_body=sfn.DefinitionBody.from_string(render(asl, substitutions)),
            state_machine_type=sfn.StateMachineType[kind],
            tracing_enabled=True,
            # ERROR level: failures are kept without logging customer payloads on success.
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ERROR, include_execution_data=False
            ),
        )
        self.role = self.state_machine.role
