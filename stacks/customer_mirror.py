"""Customer mirror: app user id <-> Stripe customer, and every subscription's state.

Key customerId (`cus_...`) + item: item "customer" holds userId (from metadata.app_user_id), email
and customerDeleted; item "subscription#<sub id>" holds one subscription's id and status. A
customer with several subscriptions has several subscription items, so `Query customerId = cus_X`
reads the customer and all its subscriptions. Each item keeps the Stripe event `created` and a
lifecycle rank it came from, and every write is a conditional UpdateItem that only applies a newer
event for that item, so out-of-order delivery converges on the newest state per subscription. The
UserIdIndex GSI lets the app find its customers (Stripe allows several customers per email, and
several per user).

The re-sync workflow (subscription-schedule-status-changed: a schedule's status changed, it was
released or canceled) reads the subscription from the Stripe API and writes its item.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.shared import Shared
from stacks.stripe_api import STRIPE_API_VERSION, StripeApi
from stacks.tables import on_demand_table
from stacks.workflow import Workflow

USER_ID_INDEX = "UserIdIndex"
RESYNC_RULE = "subscription-schedule-status-changed"
WHY = (
    "one conditional UpdateItem per event, well under 5 min; at-least-once runs are harmless "
    "because the write only applies a newer event, and $1/M requests beats $25/M transitions"
)
RESYNC_WHY = (
    "Standard: the Stripe API read is retried for hours (beyond Express's 5 minutes); "
    "schedule changes are rare, so transitions cost little"
)


class CustomerMirror(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
        # sort key "customer" or "subscription#<sub id>". Adding the sort key replaces the table of
        # an earlier deployment (a mirror: it refills from events and re-syncs).
        self.table = on_demand_table(self, "Table", partition_key="customerId", sort_key="item")
        # Sparse: customers without an app user id stay out of the index.
        self.table.add_global_secondary_index(
            index_name=USER_ID_INDEX,
            partition_key=dynamodb.Attribute(name="userId", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.workflow = Workflow(
            self,
            "Mirror",
            asl="customer-mirror",
            kind="EXPRESS",
            why=WHY,
            substitutions={"CustomersTable": self.table.table_name},
        )
        settings = shared.settings
        if shared.alerts is None:
            raise ValueError("CustomerMirror needs shared.alerts (the staff alert topic)")
        stripe_api = StripeApi.of(self, api_key_secret_name=settings.stripe_api_key_secret_name)
        self.resync = Workflow(
            self,
            "Resync",
            asl="subscription-resync",
            kind="STANDARD",
            why=RESYNC_WHY,
            substitutions={
                "CustomersTable": self.table.table_name,
                "StripeConnectionArn": stripe_api.connection_arn,
                "StripeApiVersion": STRIPE_API_VERSION,
                "AlertTopicArn": shared.alerts.topic_arn,
                "StripeDashboardUrl": settings.stripe_dashboard_url,
            },
        )
        self.resync.grant_alerts(shared.alerts)
        stripe_api.grant_invoke(self.resync, self.resync.state_machine, methods=["GET"])
        # The table only (Table.grant would add index/*: the workflows never touch the index).
        for workflow in (self.workflow, self.resync):
            workflow.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["dynamodb:UpdateItem"], resources=[self.table.table_arn]
                )
            )
        shared.catalogue.add_target(
            "customer-changed", shared.targets.state_machine(self.workflow.state_machine)
        )
        shared.catalogue.add_target(
            RESYNC_RULE, shared.targets.state_machine(self.resync.state_machine)
        )
