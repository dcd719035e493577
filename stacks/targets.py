"""Rule targets that lose nothing: a dead-letter queue, retries and a least-privilege role."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

# EventBridge retries a failing target for up to 24 h / 185 attempts before dead-lettering.
RETRY_POLICY = events.CfnRule.RetryPolicyProperty(
    maximum_event_age_in_seconds=24 * 3600, maximum_retry_attempts=185
)


def from_this_stacks_rules(scope: Construct) -> dict[str, dict[str, object]]:
    """IAM conditions for a grant to events.amazonaws.com: only this stack's rules (named
    "<stack>-...", on the Stripe bus or the default bus), in this account. Without them any
    rule of any account could use the grant (the confused deputy)."""
    stack = Stack.of(scope)
    rule_arns = [
        stack.format_arn(
            service="events", resource="rule", resource_name=f"{path}{stack.stack_name}-*"
        )
        for path in ("", "*/")
    ]
    return {
        "ArnLike": {"aws:SourceArn": rule_arns},
        "StringEquals": {"aws:SourceAccount": stack.account},
    }


def rule_role(scope: Construct, construct_id: str, description: str) -> iam.Role:
    """A role only this stack's rules may assume (the confused deputy, as on the DLQ)."""
    return iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal(
            "events.amazonaws.com", conditions=from_this_stacks_rules(scope)
        ),
        description=description,
    )


def encrypted_queue(scope: Construct, construct_id: str, **kwargs) -> sqs.Queue:
    """An SQS queue with SSE and TLS-only access, kept 14 days (the longest SQS allows)."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
        removal_policy=RemovalPolicy.DESTROY,
        **kwargs,
    )


class RuleTargets(Construct):
    """Builds target properties for RuleCatalogue.add_target, sharing one DLQ and one role."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = encrypted_queue(self, "DeadLetters")
        from stacks.nag import acknowledge

        acknowledge(
            self.dead_letters,
            "SQS3",
            "This queue is itself the dead-letter queue of the rule targets.",
        )
        self.dead_letters.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.dead_letters.queue_arn],
                conditions=from_this_stacks_rules(self),
            )
        )
        self.role = rule_role(
            self, "InvokeRole", "Lets the Stripe event rules start the payment workflows"
        )
        self._count = 0

    def _next_id(self) -> str:
        self._count += 1
        return f"Target{self._count}"

    def state_machine(
        self,
        machine: sfn.IStateMachine,
        *,
        input_path: str | None = None,
        input_transformer: events.CfnRule.InputTransformerProperty | None = None,
    ) -> events.CfnRule.TargetProperty:
        machine.grant_start_execution(self.role)
        return events.CfnRule.TargetProperty(
            id=self._next_id(),
            arn=machine.state_machine_arn,
            role_arn=self.role.role_arn,
            input_path=input_path,
            input_transformer=input_transformer,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                arn=self.dead_letters.queue_arn
            ),
            retry_policy=RETRY_POLICY,
        )

    def topic(
        self, topic: sns.ITopic, *, template: str, paths: dict[str, str]
    ) -> events.CfnRule.TargetProperty:
        """An SNS target whose message is shaped by an input transformer (no Lambda)."""
        return events.CfnRule.TargetProperty(
            id=self._next_id(),
            arn=topic.topic_arn,
            input_transformer=events.CfnRule.InputTransformerProperty(
                input_paths_map=paths, input_template=template
            ),
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                arn=self.dead_letters.queue_arn
            ),
            retry_policy=RETRY_POLICY,
        )

    # --- AppSync targets (issue 15, live status) ---
    def appsync_mutation(
        self,
        endpoint_arn: str,
        role: iam.IRole,
        operation: str,
        input_transformer: events.CfnRule.InputTransformerProperty,
    ) -> events.CfnRule.TargetProperty:
        """An AppSync target: EventBridge runs `operation` (a mutation) with the transformer's
        output as its variables, signed with `role` (IAM), with this DLQ and retries."""
        return events.CfnRule.TargetProperty(
            id=self._next_id(),
            arn=endpoint_arn,
            role_arn=role.role_arn,
            app_sync_parameters=events.CfnRule.AppSyncParametersProperty(
                graph_ql_operation=operation
            ),
            input_transformer=input_transformer,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                arn=self.dead_letters.queue_arn
            ),
            retry_policy=RETRY_POLICY,
        )
