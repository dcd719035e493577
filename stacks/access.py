"""Access state: what each app user may use, from their Stripe subscriptions (DynamoDB, Cognito).

One table (pk, sk), one workflow (statemachines/access.asl.json) on the `access-changed` rule:

- pk `customer#<cus id>`, sk `customer`: the customer <-> app user map (`userId`, from
  `metadata.app_user_id` on the customer, else on the subscription) and the customer's Stripe
  Entitlements (`features`, lookup keys, with the summary event's `created`).
- pk `user#<user id>`, sk `subscription#<sub id>`: one subscription's `plan`, `access`, `until`,
  ordered by (event created, time of the Stripe API read).
- pk `user#<user id>`, sk `access`: the user's projection, the best of their subscriptions
  (full > grace > none), with `features`; written only by a higher `revision` than it holds.

When `cognitoUserPoolId` is set the projection is also written to the Cognito user (name = the app
user id) as custom:plan, custom:access and custom:access_until, and only then does the template
grant cognito-idp:AdminUpdateUserAttributes, on that pool alone. Every actual change of a user's
projection puts one event on the stack's app event bus (`<stack>-app-events`, `Shared.app_bus_arn`):
source ACCESS_EVENT_SOURCE, detail-type ACCESS_CHANGED (the live-status contract; README "Access
state and Cognito"). Not on the Stripe bus: PutEvents cannot target a partner event bus (botocore
names the parameter's shape NonPartnerEventBusNameOrArn), the webhook bus refuses every putter
but the receiver, and Stripe's bus and archive stay Stripe's events only.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.shared import Shared
from stacks.stripe_api import STRIPE_API_VERSION, StripeApi
from stacks.tables import on_demand_table
from stacks.workflow import Workflow

RULE = "access-changed"
ACCESS_EVENT_SOURCE = "payops.access"
ACCESS_CHANGED = "Access changed"
COGNITO_ATTRIBUTES = ("custom:plan", "custom:access", "custom:access_until")
WHY = (
    "Standard: the Stripe API read is retried for about 3 hours (beyond Express's 5 minutes), and "
    "the Cognito write and the Access changed event must happen once per change"
)


class Access(Construct):
    """access-changed rule -> access workflow -> DynamoDB projection (+ Cognito) + bus event."""

    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        settings = shared.settings
        if shared.alerts is None:
            raise ValueError("Access needs shared.alerts (the staff alert topic)")
        stack = Stack.of(self)
        # A projection: it refills from Stripe's events (or a replay of the archive).
        self.table = on_demand_table(self, "Table", partition_key="pk", sort_key="sk")
        stripe_api = StripeApi.of(self, api_key_secret_name=settings.stripe_api_key_secret_name)
        pool_id = settings.cognito_user_pool_id
        self.workflow = Workflow(
            self,
            "Projection",
            asl="access",
            kind="STANDARD",
            why=WHY,
            substitutions={
                "AccessTable": self.table.table_name,
                "StripeConnectionArn": stripe_api.connection_arn,
                "StripeApiVersion": STRIPE_API_VERSION,
                "AccessGraceSeconds": str(settings.access_grace_days * 24 * 3600),
                # CDK drops an empty substitution: "none" stands in where no pool is set.
                "CognitoSync": "on" if pool_id else "off",
                "CognitoUserPoolId": pool_id or "none",
                "EventBusArn": shared.app_bus_arn,
                "AlertTopicArn": shared.alerts.topic_arn,
                "StripeDashboardUrl": settings.stripe_dashboard_url,
            },
        )
        role = self.workflow.role
        # The table only (Table.grant would add index/*; the table has no index).
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                resources=[self.table.table_arn],
            )
        )
        self.workflow.grant_alerts(shared.alerts)
        stripe_api.grant_invoke(self.workflow, self.workflow.state_machine, methods=["GET"])
        # Only its own events on its own bus.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[shared.app_bus_arn],
                conditions={"StringEquals": {"events:source": ACCESS_EVENT_SOURCE}},
            )
        )
        if pool_id:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["cognito-idp:AdminUpdateUserAttributes"],
                    resources=[
                        stack.format_arn(
                            service="cognito-idp", resource="userpool", resource_name=pool_id
                        )
                    ],
                )
            )
        shared.catalogue.add_target(RULE, shared.targets.state_machine(self.workflow.state_machine))
