"""The thin stack that wires the capabilities together."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_events as events
from constructs import Construct

from payops.rules import load_catalogue
from payops.settings import Settings
from stacks.access import ACCESS_EVENT_SOURCE, Access
from stacks.analytics import AnalyticsExport
from stacks.backstop import WorkflowBackstop
from stacks.coupons import Coupons
from stacks.customer_mirror import CustomerMirror
from stacks.downloads import DownloadLinks
from stacks.dunning import Dunning
from stacks.fulfilment import Fulfilment
from stacks.idempotency import IdempotencyTable
from stacks.ingress import StripeIngress
from stacks.live_status import RULES as LIVE_STATUS_RULES
from stacks.live_status import LiveStatus
from stacks.notifications import Notifications
from stacks.operations import Operations
from stacks.outbound import Outbound
from stacks.reconciliation import Reconciliation
from stacks.rule_catalogue import RuleCatalogue
from stacks.shared import Shared
from stacks.subscriptions import Subscriptions
from stacks.targets import RuleTargets
from stacks.thin_events import ThinEvents
from stacks.workflow import Workflow


class PayOpsStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        self.ingress = StripeIngress(self, "Ingress", settings=settings)
        # The stack's own events (Access changed, Order fulfilled) go on a bus of its own.
        self.app_bus = events.EventBus(
            self, "AppEvents", event_bus_name=f"{self.stack_name}-app-events"
        )
        self.catalogue = RuleCatalogue(
            self,
            "Rules",
            rules=load_catalogue(settings),
            bus_name=self.ingress.bus_name,
            app_bus_name=self.app_bus.event_bus_name,
        )
        shared = Shared(
            settings=settings,
            bus_name=self.ingress.bus_name,
            bus_arn=self.ingress.bus_arn,
            app_bus_name=self.app_bus.event_bus_name,
            app_bus_arn=self.app_bus.event_bus_arn,
            catalogue=self.catalogue,
            targets=RuleTargets(self, "RuleTargets"),
            idempotency=IdempotencyTable(self, "Idempotency"),
        )
        self.notifications = Notifications(self, "Notifications", shared=shared)
        shared.alerts = self.notifications.payment_problems
        self.fulfilment = Fulfilment(self, "Fulfilment", shared=shared)
        self.downloads = DownloadLinks(
            self, "DownloadLinks", shared=shared, fulfilment=self.fulfilment
        )
        self.coupons = Coupons(self, "Coupons", shared=shared)
        self.subscriptions = Subscriptions(self, "Subscriptions", shared=shared)
        self.customers = CustomerMirror(self, "Customers", shared=shared)
        self.dunning = Dunning(
            self,
            "Dunning",
            catalogue=self.catalogue,
            targets=shared.targets,
            idempotency=shared.idempotency,
            alerts=self.notifications.payment_problems,
            sender_email=settings.sender_email,
            dashboard_url=settings.stripe_dashboard_url,
        )
        # -- access state and Cognito sync (issue 15) --
        self.access = Access(self, "Access", shared=shared)
        CfnOutput(
            self,
            "AppEventBusName",
            value=self.app_bus.event_bus_name,
            description=f"The stack's own events ({ACCESS_EVENT_SOURCE}, payops.fulfilment)",
        )
        # -- end access state --
        # --- Live status (issue 15): on when a Cognito user pool is set ---
        if settings.cognito_user_pool_id:
            self.live_status = LiveStatus(
                self,
                "LiveStatus",
                catalogue=self.catalogue,
                targets=shared.targets,
                user_pool_id=settings.cognito_user_pool_id,
            )
        else:
            self.catalogue.drop_if_unused(
                LIVE_STATUS_RULES, "live status is off (no cognitoUserPoolId)"
            )
        # --- end live status ---
        # issue 16: reconciliation with Stripe (and thin event hydration).
        self.reconciliation = Reconciliation(
            self,
            "Reconciliation",
            shared=shared,
            ingress=self.ingress,
            audit_table=self.notifications.audit_table,
        )
        self.thin_events = ThinEvents(self, "ThinEvents", shared=shared, ingress=self.ingress)
        # Chat posts and tickets (issue 14): nothing unless chatProvider / ticketProvider is set.
        self.outbound = Outbound(
            self,
            "Outbound",
            settings=settings,
            queues=self.notifications.queues,
            format_function=self.notifications.format_function,
            idempotency=shared.idempotency,
        )
        # Analytics export (issue 16): every Stripe event to S3, a Glue table, Athena queries
        # (before Operations, which alarms on every rule of the stack).
        self.analytics = (
            AnalyticsExport(
                self,
                "Analytics",
                settings=settings,
                bus_name=self.ingress.bus_name,
                app_bus_name=self.app_bus.event_bus_name,
                dead_letters=shared.targets.dead_letters,
            )
            if settings.analytics_export
            else None
        )

        self.backstop = WorkflowBackstop(
            self,
            "Backstop",
            workflows=[c for c in self.node.find_all() if isinstance(c, Workflow)],
            alerts=self.notifications.payment_problems,
            targets=shared.targets,
        )
        self.operations = Operations(self, "Operations", shared=shared)
        self.catalogue.check_every_rule_acts()
        CfnOutput(self, "EventBusName", value=self.ingress.bus_name)
        if self.ingress.receiver_url is not None:
            CfnOutput(
                self,
                "WebhookUrl",
                value=self.ingress.receiver_url.url,
                description="Give this URL to Stripe as the webhook endpoint",
            )
