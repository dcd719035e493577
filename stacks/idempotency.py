"""The idempotency table: one item per (workflow, Stripe event id), so duplicates act once."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

# Stripe retries a delivery for up to 3 days after the event was created; a claim must outlive
# that. Workflows set expiresAt = detail.created + CLAIM_TTL_SECONDS (4 days).
CLAIM_TTL_SECONDS = 4 * 24 * 3600


class IdempotencyTable(Construct):
    """pk = "<workflow>#<evt id>"; status IN_PROGRESS then DONE; expiresAt is the TTL attribute.

    A workflow claims with a conditional put (attribute_not_exists(pk)); a duplicate delivery fails
    the condition and ends quietly. A failed run deletes its claim so a retry may act.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expiresAt",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )

    def grant_claims(self, grantee: iam.IGrantable) -> None:
        """Claim, complete and release: put/update/delete on this table only."""
        self.table.grant(grantee, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
