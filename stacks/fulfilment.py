"""Order fulfilment: what a Checkout Session bought, from Stripe, as expiring download links.

Two workflows. `fulfilment` (Express, the fast path every paid order takes): claim the session in
the Orders table, confirm it with `GET /v1/checkout/sessions/{id}`, read all pages of its line
items, and email one link per product that has a file; transient faults are retried for seconds.
`fulfilment-retry` (Standard, only after a fault outlasted those seconds): re-runs the fast path as
the claim's owner for about 7 hours, then marks the order FAILED and alerts staff once.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.functions import python_function
from stacks.nag import acknowledge
from stacks.shared import Shared
from stacks.stripe_api import STRIPE_API_VERSION, StripeApi
from stacks.workflow import Workflow

# Rules whose events start fulfilment; awaiting-payment (unpaid) deliberately is not one.
FULFILMENT_RULES = ("paid-order", "free-order")
PRESIGNED_URL_TTL_SECONDS = 300
# A fast-path run owns its claim this long: more than its TimeoutSeconds (240), so a claim is
# never taken from a live run, and a run that died is taken over by the next delivery.
LEASE_SECONDS = 600
# The slow path's window: its Retry (12 attempts, 1 min doubling to 1 h) ~7 h plus the runs
# themselves; TimeoutSeconds of fulfilment-retry is 9 h, the claim is kept 10 h.
RETRY_LEASE_SECONDS = 10 * 3600
RETRY_ASL = "fulfilment-retry"
LINE_ITEMS_PAGE_SIZE = 100  # Stripe's maximum `limit`: fewest calls per order
WORKFLOW_WHY = (
    "Express: every paid order runs it, in seconds; $1 per million runs instead of $25 per "
    "million transitions. At-least-once is safe: the Orders row is a claim per Checkout Session"
)
RETRY_WHY = (
    "Standard: hours of waiting between attempts, which Express (5 min) cannot hold; it runs "
    "only for orders whose fast path met a fault, so its transitions cost nothing per order"
)


class Fulfilment(Construct):
    """Paid and free orders -> Orders row, expiring download grant, SES email with the link.

    Each line item's product maps to `products/<product metadata download_key>`, else
    `products/<product id>`, in the downloads bucket (`metadata.product_id` on the session
    overrides the line items); the emailed link points at a small function URL that checks the
    grant and redirects to a presigned S3 URL valid for 5 minutes.
    """

    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
        settings = shared.settings
        if shared.alerts is None:
            raise ValueError("Fulfilment needs shared.alerts (create Notifications first)")

        self.downloads = s3.Bucket(
            self,
            "Downloads",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=False,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # No auto_delete_objects: its custom resource (a Node.js Lambda) cannot run in the
            # local AWS, and `cdk destroy` stopping at a non-empty bucket beats silently
            # deleting the shop's products.
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.downloads,
            "S1",
            "Every download is authorised by a grant in DynamoDB and logged by the download "
            "function; S3 server access logs would need a second bucket and add nothing.",
        )
        self.orders = dynamodb.Table(
            self,
            "Orders",
            partition_key=dynamodb.Attribute(name="orderId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.grants = dynamodb.Table(
            self,
            "Grants",
            partition_key=dynamodb.Attribute(name="token", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expiresAt",
            # A lost grant is not re-issued by a replay (the claim makes it AlreadyHandled):
            # point-in-time recovery is the way back, as for Orders.
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )

        self.download_function = python_function(
            self,
            "Download",
            folder="download_link",
            handler="handler.handler",
            description="Checks a download grant and redirects to a presigned S3 URL",
            environment={
                "GRANTS_TABLE": self.grants.table_name,
                "BUCKET_NAME": self.downloads.bucket_name,
                "URL_TTL_SECONDS": str(PRESIGNED_URL_TTL_SECONDS),
            },
        )
        self.grants.grant(self.download_function, "dynamodb:GetItem")
        self.download_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[self.downloads.arn_for_objects("products/*")]
            )
        )
        bucket_id = Stack.of(self).resolve(
            Stack.of(self).get_logical_id(self.downloads.node.default_child)  # type: ignore[arg-type]
        )
        acknowledge(
            self.download_function.role,  # type: ignore[arg-type]
            f"IAM5[Resource::<{bucket_id}.Arn>/products/*]",
            "The download function reads products/* only: any product may be granted, and "
            "which one is decided per request by the grant in DynamoDB.",
        )
        # Customers open the link from an email: no SigV4 possible. The grant token (a random
        # UUID, checked before anything else) is the credential; the link expires.
        self.download_url = self.download_function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE
        )
        # A public URL: a flood of anonymous requests is throttled at its own reservation
        # instead of starving fulfilment's (and the account's) Lambda concurrency.
        self.download_function.node.default_child.reserved_concurrent_executions = (  # type: ignore[union-attr]
            settings.download_reserved_concurrency
        )
        self.clock_function = python_function(
            self,
            "Clock",
            folder="download_link",
            handler="handler.clock",
            description="Epoch seconds for the fulfilment workflow (JSONPath has no clock)",
            environment={},
        )

        self.stripe_api = StripeApi.of(
            self, api_key_secret_name=settings.stripe_api_key_secret_name
        )
        stack = Stack.of(self)
        # By name, not by reference: each workflow starts the other, and references both ways
        # would be a dependency cycle.
        retry_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=f"{stack.stack_name}-{RETRY_ASL}",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.workflow = Workflow(
            self,
            "Workflow",
            asl="fulfilment",
            kind="EXPRESS",
            why=WORKFLOW_WHY,
            substitutions={
                "OrdersTable": self.orders.table_name,
                "GrantsTable": self.grants.table_name,
                "DownloadsBucket": self.downloads.bucket_name,
                "ClockFunctionArn": self.clock_function.function_arn,
                "LeaseSeconds": str(LEASE_SECONDS),
                "RetryLeaseSeconds": str(RETRY_LEASE_SECONDS),
                "LinkTtlSeconds": str(settings.download_link_ttl_hours * 3600),
                "LinkTtlHours": str(settings.download_link_ttl_hours),
                "SenderEmail": settings.sender_email,
                "DownloadUrl": self.download_url.url,
                "AlertTopicArn": shared.alerts.topic_arn,
                "StripeDashboardUrl": settings.stripe_dashboard_url,
                "StripeConnectionArn": self.stripe_api.connection_arn,
                "StripeApiVersion": STRIPE_API_VERSION,
                "RetryWorkflowArn": retry_arn,
                "LineItemsPageSize": str(LINE_ITEMS_PAGE_SIZE),
                "EventBusName": shared.app_bus_name,  # "Order fulfilled" (live status)
            },
        )
        self.state_machine = self.workflow.state_machine
        self.retry = Workflow(
            self,
            "Retry",
            asl=RETRY_ASL,
            kind="STANDARD",
            why=RETRY_WHY,
            substitutions={
                "FulfilmentWorkflowArn": self.state_machine.state_machine_arn,
                "OrdersTable": self.orders.table_name,
                "AlertTopicArn": shared.alerts.topic_arn,
                "StripeDashboardUrl": settings.stripe_dashboard_url,
            },
        )
        self._grant_workflow(self.workflow.role, retry_arn)
        # Its own "Order fulfilled" event, with this source only (rules/order-fulfilled.json).
        self.workflow.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[shared.app_bus_arn],
                conditions={"StringEquals": {"events:source": "payops.fulfilment"}},
            )
        )
        self._grant_retry(self.retry)
        for rule in FULFILMENT_RULES:
            shared.catalogue.add_target(rule, shared.targets.state_machine(self.state_machine))

    def _grant_workflow(self, role: iam.IRole, retry_arn: str) -> None:
        self.orders.grant(role, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
        self.grants.grant(role, "dynamodb:PutItem")
        # The unqualified ARN only (the ASL calls it so), not grant_invoke's "<arn>:*".
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.clock_function.function_arn]
            )
        )
        # Is there a file for a product? Listing under products/ only.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.downloads.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["products/*"]}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[retry_arn])
        )
        self.stripe_api.grant_invoke(self, self.state_machine, methods=["GET"])
        self.workflow.grant_send_email(self.shared.settings.sender_email)
        self.workflow.grant_alerts(self.shared.alerts)  # type: ignore[arg-type]

    def _grant_retry(self, retry: Workflow) -> None:
        """startExecution.sync:2 of the Express fast path, as the Step Functions guide lists it:
        start it, read and stop its executions, and the managed rule that reports completion."""
        stack = Stack.of(self)
        fast_name = f"{stack.stack_name}-fulfilment"
        role = retry.role
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[self.state_machine.state_machine_arn]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[
                    stack.format_arn(
                        service="states",
                        resource=kind,
                        resource_name=f"{fast_name}:*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                    for kind in ("execution", "express")
                ],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    stack.format_arn(
                        service="events",
                        resource="rule",
                        resource_name="StepFunctionsGetEventsForStepFunctionsExecutionRule",
                    )
                ],
            )
        )
        acknowledge(
            retry,
            f"IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
            f"execution:{fast_name}:*]",
            "Executions of the fast-path workflow only: their names are generated per run.",
        )
        acknowledge(
            retry,
            f"IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
            f"express:{fast_name}:*]",
            "Express executions of the fast-path workflow only: their names are generated.",
        )
        self.orders.grant(role, "dynamodb:UpdateItem")
        retry.grant_alerts(self.shared.alerts)  # type: ignore[arg-type]
