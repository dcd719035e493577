"""Coupon issuance through the Stripe API, emailed to the buyer."""

from __future__ import annotations

from constructs import Construct

from stacks.idempotency import CLAIM_TTL_SECONDS
from stacks.shared import Shared
from stacks.stripe_api import STRIPE_API_VERSION, StripeApi
from stacks.workflow import Workflow

RULE = "coupon-qualifying-order"
WORKFLOW_WHY = (
    "Express: a few calls that end within a minute even with back-off; at-least-once is safe "
    "because the claim and Stripe Idempotency-Keys guard every side effect, and it costs "
    "$1 per million runs instead of $25 per million transitions"
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
            },
        )
        self.state_machine = self.workflow.state_machine
        role = self.state_machine.role
        shared.idempotency.grant_claims(role)
        self.workflow.grant_alerts(shared.alerts)
        self.workflow.grant_send_email(settings.sender_email)
        self.stripe_api.grant_invoke(self, self.state_machine, methods=["POST"])
        shared.catalogue.add_target(RULE, shared.targets.state_machine(self.state_machine))
