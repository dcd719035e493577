"""Reconciliation with Stripe (issue 16): events Stripe has that the bus never got.

An EventBridge Scheduler schedule (setting `reconciliationSchedule`, hourly by default, `off` for
none) starts the `reconciliation` workflow (statemachines/reconciliation.asl.json, no Lambda): it
lists the window's events (`GET /v1/events`, paginated, one page a second), and puts each payment
event the audit trail has no record of on the bus under `payops.reconciliation`, which every
deployed rule accepts. It records how many it found (metric `MissedEventsFound`, alarmed) and
advances its checkpoint (item `reconciliation#checkpoint` in the idempotency table) only after
the whole window succeeded.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from payops.settings import RECONCILIATION_SOURCE
from stacks.ingress import AlarmSpec, StripeIngress
from stacks.shared import Shared
from stacks.stripe_api import STRIPE_API_VERSION, StripeApi
from stacks.workflow import Workflow

WHY = (
    "Standard: a window can hold thousands of events, listed a page a second for many "
    "minutes (beyond Express's 5 minutes), and a run must not be cut off before it advances the "
    "checkpoint; it runs hourly, so transitions cost little"
)
CLAIM_PREFIX = "reconciliation#"  # the checkpoint and one claim per re-injected event


class Reconciliation(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: Shared,
        ingress: StripeIngress,
        audit_table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = shared.settings
        stack = Stack.of(self)
        stripe_api = StripeApi.of(self, api_key_secret_name=settings.stripe_api_key_secret_name)
        self.metric_namespace = f"{stack.stack_name}/Reconciliation"
        self.workflow = Workflow(
            self,
            "Workflow",
            asl="reconciliation",
            kind="STANDARD",
            why=WHY,
            substitutions={
                "IdempotencyTable": shared.idempotency.table.table_name,
                "AuditTable": audit_table.table_name,
                "EventBusName": shared.app_bus_name,
                "ReconciliationSource": RECONCILIATION_SOURCE,
                "StripeConnectionArn": stripe_api.connection_arn,
                "StripeApiVersion": STRIPE_API_VERSION,
                "MetricNamespace": self.metric_namespace,
            },
        )
        role = self.workflow.role
        stripe_api.grant_invoke(self, self.workflow.state_machine, methods=["GET"])
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
                resources=[shared.idempotency.table.table_arn],
                # Its own items only: the checkpoint and its per-event claims.
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{CLAIM_PREFIX}*"]}
                },
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[audit_table.table_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[shared.app_bus_arn],
                conditions={"StringEquals": {"events:source": RECONCILIATION_SOURCE}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],  # PutMetricData has no resource; the namespace condition scopes it
                conditions={"StringEquals": {"cloudwatch:namespace": self.metric_namespace}},
            )
        )
        self.schedule = self._schedule(settings.reconciliation_schedule)
        self.alarm_specs = [
            AlarmSpec(
                "ReconciliationFoundMissedEvents",
                "reconciliation-found-missed-events",
                cloudwatch.Metric(
                    namespace=self.metric_namespace,
                    metric_name="MissedEventsFound",
                    statistic="Sum",
                ),
                1,
                "The reconciliation re-injected Stripe events that never reached the bus (they "
                "are processed now). A few after an outage are expected; a steady number means "
                "the ingress loses events: check the event destination or the webhook receiver "
                "(README: Reconciliation with Stripe).",
            )
        ]

    def _schedule(self, expression: str) -> scheduler.CfnSchedule | None:
        if expression == "off":
            return None
        stack = Stack.of(self)
        machine = self.workflow.state_machine
        schedule_arn = stack.format_arn(
            service="scheduler",
            resource="schedule",
            resource_name=f"default/{stack.stack_name}-reconciliation",
        )
        role = iam.Role(
            self,
            "ScheduleRole",
            # Only this schedule, in this account, may use the role (the confused deputy).
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {"aws:SourceArn": schedule_arn},
                },
            ),
            description="Lets the reconciliation schedule start the reconciliation workflow",
        )
        machine.grant_start_execution(role)
        return scheduler.CfnSchedule(
            self,
            "Schedule",
            name=f"{stack.stack_name}-reconciliation",
            description="Compares Stripe's events with the audit trail and re-injects missed ones",
            schedule_expression=expression,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=machine.state_machine_arn,
                role_arn=role.role_arn,
                input="{}",
                # A missed start is caught up by the next one (the checkpoint stays).
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=5
                ),
            ),
        )
