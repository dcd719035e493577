"""Coupon issuance through the Stripe API, emailed to the buyer."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.idempotency import CLAIM_TTL_SECONDS
from stacks.nag import acknowledge
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
        shared.alerts.grant_publish(role)
        grant_send_email(role, settings.sender_email)
        self.stripe_api.grant_invoke(self, self.state_machine, methods=["POST"])
        acknowledge_workflow(self.workflow)
        shared.catalogue.add_target(RULE, shared.targets.state_machine(self.state_machine))


def grant_send_email(role: iam.IRole, sender: str) -> None:
    """sesv2:SendEmail from `sender`: SES authorises the address, or its verified domain.

    In the SES sandbox SES also checks the recipient's identity; production access has no such
    check, so the recipients are not granted here.
    """
    stack = Stack.of(role)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["ses:SendEmail"],
            resources=[
                stack.format_arn(service="ses", resource="identity", resource_name=identity)
                for identity in (sender, sender.split("@", 1)[1])
            ],
        )
    )


def acknowledge_workflow(workflow: Workflow) -> None:
    """The cdk-nag findings every Stripe-calling workflow shares, with the reason each is fine."""
    acknowledge(
        workflow,
        "IAM5[Resource::*]",
        "Only CloudWatch Logs delivery and X-Ray actions, which support no resource-level "
        "permissions; every data-plane action of the workflow is scoped to its resource.",
    )
    acknowledge(
        workflow,
        "IAM5[Action::kms:GenerateDataKey*]",
        "CDK's grant to publish to the KMS-encrypted staff alerts topic, on that key only.",
    )
    acknowledge(
        workflow,
        "SF1",
        "Executions log at ERROR level without payloads: customer emails stay out of logs, "
        "and every failure still reaches the log group and the staff alert topic.",
    )
