"""Dunning: the customer is emailed when a payment fails, with the amount and where to pay."""

from __future__ import annotations

from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.idempotency import CLAIM_TTL_SECONDS, IdempotencyTable
from stacks.rule_catalogue import RuleCatalogue
from stacks.targets import RuleTargets
from stacks.workflow import Workflow

RULE = "customer-dunning"
WHY = (
    "Express: a claim, one email and a status update, within seconds even with retries; "
    "at-least-once is safe because the per-event claim allows one email per failed attempt"
)


class Dunning(Construct):
    """customer-dunning rule -> dunning workflow: claim -> SES email -> DONE (no Lambda).

    Stripe sends a new invoice.payment_failed event for every failed attempt, so the claim is
    per event: one email per attempt, however often that event is delivered. Stripe's own
    customer emails for failed payments (Dashboard > Settings > Billing) should stay off, or the
    customer hears twice.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        catalogue: RuleCatalogue,
        targets: RuleTargets,
        idempotency: IdempotencyTable,
        alerts: sns.ITopic,
        sender_email: str,
        dashboard_url: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.workflow = Workflow(
            self,
            "Workflow",
            asl="dunning",
            kind="EXPRESS",
            why=WHY,
            substitutions={
                "IdempotencyTable": idempotency.table.table_name,
                "ClaimTtlSeconds": str(CLAIM_TTL_SECONDS),
                "SenderEmail": sender_email,
                "AlertTopicArn": alerts.topic_arn,
                "StripeDashboardUrl": dashboard_url,
            },
        )
        self.state_machine = self.workflow.state_machine
        idempotency.grant_claims(self.state_machine.role)
        self.workflow.grant_send_email(sender_email)
        self.workflow.grant_alerts(alerts)
        catalogue.add_target(RULE, targets.state_machine(self.state_machine))
