"""Coupon issuance through the Stripe API, emailed to the buyer."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from stacks.idempotency import CLAIM_TTL_SECONDS
from stacks.shared import Shared
from stacks.stripe_api import STRIPE_API_VERSION, StripeApi
from stacks.workflow import Workflow

RULE = "coupon-qualifying-order"
REVOKE_RULE = "order-refunded-in-full"
WORKFLOW_WHY = (
    "Express: a few calls that end within a minute even with back-off; at-least-once is safe "
    "because the claim and Stripe Idempotency-Keys guard every side effect, and it costs "
    "$1 per million runs instead of $25 per million transitions"
)


REVOKE_WHY = (
    "Express: a lookup and two idempotent Stripe calls, within a minute even with back-off; "
    "a repeated run finds the coupon withdrawn and stops"
)


class Coupons(Construct):
    """After a qualifying order: claim -> coupon -> promotion code -> email -> DONE.

    Stripe 429/5xx are retried with back-off under the same Idempotency-Key; any other 4xx fails
    at once. On failure the claim is released, staff are alerted and the execution fails.
    """

    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
        settings = shared.settings
        if shared.alerts is None:
            raise ValueError("Coupons needs shared.alerts (the staff alert topic)")
        self.stripe_api = StripeApi.of(
            self, api_key_secret_name=settings.stripe_api_key_secret_name
        )
        # payment intent -> the coupon its order earned; no TTL: a refund may come months later.
        self.issued = dynamodb.Table(
            self,
            "Issued",
            partition_key=dynamodb.Attribute(
                name="paymentIntent", type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.workflow = Workflow(
            self,
            "Workflow",
            asl="coupon",
            kind="EXPRESS",
            why=WORKFLOW_WHY,
            substitutions={
                "IdempotencyTable": shared.idempotency.table.table_name,
                "ClaimTtlSeconds": str(CLAIM_TTL_SECONDS),
                "StripeConnectionArn": self.stripe_api.connection_arn,
                "StripeApiVersion": STRIPE_API_VERSION,
                "CouponPercentOff": str(settings.coupon_percent_off),
                "SenderEmail": settings.sender_email,
                "AlertTopicArn": shared.alerts.topic_arn,
                "StripeDashboardUrl": settings.stripe_dashboard_url,
                "IssuedCouponsTable": self.issued.table_name,
            },
        )
        self.state_machine = self.workflow.state_machine
        self.issued.grant(self.state_machine.role, "dynamodb:PutItem")
        role = self.state_machine.role
        shared.idempotency.grant_claims(role)
        self.workflow.grant_alerts(shared.alerts)
        self.workflow.grant_send_email(settings.sender_email)
        self.stripe_api.grant_invoke(self, self.state_machine, methods=["POST"])
        shared.catalogue.add_target(RULE, shared.targets.state_machine(self.state_machine))
        self._revoke_on_full_refund()

    def _revoke_on_full_refund(self) -> None:
        """A full refund withdraws the coupon its order earned (coupon-revoke workflow)."""
        settings, shared = self.shared.settings, self.shared
        self.revoke = Workflow(
            self,
            "Revoke",
            asl="coupon-revoke",
            kind="EXPRESS",
            why=REVOKE_WHY,
            substitutions={
                "IssuedCouponsTable": self.issued.table_name,
                "StripeConnectionArn": self.stripe_api.connection_arn,
                "StripeApiVersion": STRIPE_API_VERSION,
                "AlertTopicArn": shared.alerts.topic_arn,  # type: ignore[union-attr]
                "StripeDashboardUrl": settings.stripe_dashboard_url,
            },
        )
        machine = self.revoke.state_machine
        self.issued.grant(machine.role, "dynamodb:GetItem", "dynamodb:UpdateItem")
        self.revoke.grant_alerts(shared.alerts)  # type: ignore[arg-type]
        self.stripe_api.grant_invoke(self.revoke, machine, methods=["POST", "DELETE"])
        shared.catalogue.add_target(REVOKE_RULE, shared.targets.state_machine(machine))
