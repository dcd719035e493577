"""Thin events (issue 16): hydrated into the snapshot shape, without Lambda.

Stripe recommends thin payloads for new event destinations: an `object: "v2.core.event"` with
ids (`related_object`, for a v1 resource also `snapshot_event`) instead of the object. The rules
filter on the object, so a rule of its own (not a rules/ file: it routes a payload style, not a
business event) sends every thin event to the `thin-event` Express workflow, which fetches the
full event through the stack's Stripe connection and puts it back on the bus in the snapshot
shape under `payops.thin-events`, which every deployed rule accepts.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from payops.rules import DOCUMENTED_SOURCE
from payops.settings import HYDRATION_SOURCE, WEBHOOK_SOURCE
from stacks.ingress import StripeIngress
from stacks.shared import Shared
from stacks.stripe_api import STRIPE_API_VERSION, StripeApi
from stacks.workflow import Workflow

WHY = (
    "Express: two or three Stripe reads and one PutEvents per thin event, seconds; at-least-once "
    "runs put the same snapshot twice, which the workflows' claims absorb, for $1/M requests"
)
# The thin payload's own marker (Stripe: "object": "v2.core.event"); snapshot events say "event".
THIN_OBJECT = "v2.core.event"


def thin_pattern(ingress: str) -> dict[str, object]:
    """Every thin event from Stripe on this ingress path (never the stack's own sources)."""
    source = DOCUMENTED_SOURCE if ingress == "partner" else [WEBHOOK_SOURCE]
    return {"source": source, "detail": {"object": [THIN_OBJECT]}}


class ThinEvents(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, shared: Shared, ingress: StripeIngress
    ) -> None:
        super().__init__(scope, construct_id)
        settings = shared.settings
        if shared.alerts is None:
            raise ValueError("ThinEvents needs shared.alerts (the staff alert topic)")
        stripe_api = StripeApi.of(self, api_key_secret_name=settings.stripe_api_key_secret_name)
        self.workflow = Workflow(
            self,
            "Workflow",
            asl="thin-event",
            kind="EXPRESS",
            why=WHY,
            substitutions={
                "StripeConnectionArn": stripe_api.connection_arn,
                "StripeApiVersion": STRIPE_API_VERSION,
                "EventBusName": shared.app_bus_name,
                "HydrationSource": HYDRATION_SOURCE,
                "AlertTopicArn": shared.alerts.topic_arn,
                "StripeDashboardUrl": settings.stripe_dashboard_url,
            },
        )
        self.workflow.grant_alerts(shared.alerts)
        stripe_api.grant_invoke(self, self.workflow.state_machine, methods=["GET"])
        self.workflow.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[shared.app_bus_arn],
                conditions={"StringEquals": {"events:source": HYDRATION_SOURCE}},
            )
        )
        self.rule = events.CfnRule(
            self,
            "Rule",
            name=f"{Stack.of(self).stack_name}-thin-events",
            description="Thin Stripe events, to be fetched back into their snapshot shape",
            event_bus_name=shared.bus_name,
            event_pattern=thin_pattern(settings.ingress),
            state="ENABLED",
            targets=[shared.targets.state_machine(self.workflow.state_machine)],
        )
