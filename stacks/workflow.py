"""A Step Functions state machine from `statemachines/<name>.asl.json`, logged and traced."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from payops.asl import checked
from stacks.nag import acknowledge


class Workflow(Construct):
    """`kind` is "STANDARD" or "EXPRESS"; `why` says why that type (it lands in the description).

    The ASL file goes into the template unchanged, as a plain DefinitionString, and its
    `${Placeholders}` as DefinitionSubstitutions: CloudFormation fills them, cfn-lint (E3601)
    validates the definition, and the local AWS applies the substitutions as CloudFormation does
    (unlike DefinitionBody.from_file's S3 asset, which moto ignores).
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
        self.asl = asl
        self.kind = kind
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
            definition_body=sfn.DefinitionBody.from_string(checked(asl, substitutions)),
            definition_substitutions=dict(substitutions),
            state_machine_type=sfn.StateMachineType[kind],
            tracing_enabled=True,
            # ERROR level: failures are kept without logging customer payloads on success.
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ERROR, include_execution_data=False
            ),
        )
        self.role = self.state_machine.role
        self.why = why  # kept in code: CDK drops `comment` for string definitions
        acknowledge(
            self,
            "IAM5[Resource::*]",
            "Only CloudWatch Logs delivery and X-Ray actions, which support no resource-level "
            "permissions; every data-plane action of the workflow is scoped to its resource.",
        )
        acknowledge(
            self,
            "SF1",
            "Executions log at ERROR level without payloads: customer emails stay out of logs, "
            "and every failure still reaches the log group.",
        )

    def grant_send_email(self, sender: str) -> None:
        """sesv2:SendEmail from `sender`: SES authorises the address, or its verified domain.

        In the SES sandbox SES also checks the recipient's identity; production access has no
        such check, so recipients are not granted here.
        """
        stack = Stack.of(self)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail"],
                resources=[
                    stack.format_arn(service="ses", resource="identity", resource_name=identity)
                    for identity in (sender, sender.split("@", 1)[1])
                ],
            )
        )

    def grant_alerts(self, topic: sns.ITopic) -> None:
        """Let the workflow alert staff on the (KMS-encrypted) payment problems topic."""
        topic.grant_publish(self.role)
        acknowledge(
            self,
            "IAM5[Action::kms:GenerateDataKey*]",
            "CDK's grant to publish to the KMS-encrypted staff alerts topic, on that key only.",
        )
