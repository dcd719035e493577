"""Customer mirror: app user id <-> Stripe customer, latest subscription state.

One item per Stripe customer (pk customerId, `cus_...`): userId (from metadata.app_user_id),
email, customerDeleted, and the latest subscription (subscriptionId, subscriptionStatus). Each
group keeps the Stripe event `created` and a lifecycle rank it came from, and every write is a
conditional UpdateItem that only applies a newer event, so out-of-order delivery converges on the
newest state. The UserIdIndex GSI lets the app find its customers (Stripe allows several customers
per email, and several per user).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.shared import Shared
from stacks.workflow import Workflow

USER_ID_INDEX = "UserIdIndex"
WHY = (
    "one conditional UpdateItem per event, well under 5 min; at-least-once runs are harmless "
    "because the write only applies a newer event, and $1/M requests beats $25/M transitions"
)


class CustomerMirror(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="customerId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
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
        # The table only (Table.grant would add index/*: the workflow never touches the index).
        self.workflow.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[self.table.table_arn])
        )
        shared.catalogue.add_target(
            "customer-changed", shared.targets.state_machine(self.workflow.state_machine)
        )
