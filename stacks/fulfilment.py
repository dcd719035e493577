"""Order fulfilment: record the order, expiring download grant, email the link."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.bundling import FUNCTIONS_DIR
from stacks.idempotency import CLAIM_TTL_SECONDS
from stacks.nag import acknowledge
from stacks.shared import Shared
from stacks.workflow import Workflow

# Rules whose events start fulfilment; awaiting-payment (unpaid) deliberately is not one.
FULFILMENT_RULES = ("paid-order", "free-order")
PRESIGNED_URL_TTL_SECONDS = 300
WORKFLOW_WHY = (
    "orders are money: exactly-once steps and a 90-day execution history per order for support "
    "and audits, at about 10 transitions ($0.00025) per order; no step needs Express throughput"
)


class Fulfilment(Construct):
    """Paid and free orders -> Orders row, expiring download grant, SES email with the link.

    Product `metadata.product_id` on the checkout session maps to `products/<product_id>` in the
    downloads bucket; the emailed link points at a small function URL that checks the grant and
    redirects to a presigned S3 URL valid for 5 minutes.
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

        self.download_function = self._function(
            "Download",
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
        self.clock_function = self._function(
            "Clock",
            handler="handler.clock",
            description="Epoch seconds for the fulfilment workflow (JSONPath has no clock)",
            environment={},
        )

        self.workflow = Workflow(
            self,
            "Workflow",
            asl="fulfilment",
            kind="STANDARD",
            why=WORKFLOW_WHY,
            substitutions={
                "ClaimsTable": shared.idempotency.table.table_name,
                "ClaimTtlSeconds": str(CLAIM_TTL_SECONDS),
                "OrdersTable": self.orders.table_name,
                "GrantsTable": self.grants.table_name,
                "ClockFunctionArn": self.clock_function.function_arn,
                "LinkTtlSeconds": str(settings.download_link_ttl_hours * 3600),
                "LinkTtlHours": str(settings.download_link_ttl_hours),
                "SenderEmail": settings.sender_email,
                "DownloadUrl": self.download_url.url,
                "AlertTopicArn": shared.alerts.topic_arn,
                "StripeDashboardUrl": settings.stripe_dashboard_url,
            },
        )
        self.state_machine = self.workflow.state_machine
        self._grant_workflow(self.workflow.role)
        for rule in FULFILMENT_RULES:
            shared.catalogue.add_target(rule, shared.targets.state_machine(self.state_machine))

    def _function(
        self, name: str, *, handler: str, description: str, environment: dict[str, str]
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # An explicit role instead of AWSLambdaBasicExecutionRole: logs go to this group only.
        role = iam.Role(
            self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        log_group.grant_write(role)
        return lambda_.Function(
            self,
            name,
            description=description,
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            # boto3 only (in the runtime): the folder is the whole package, no bundling needed.
            code=lambda_.Code.from_asset(
                str(FUNCTIONS_DIR / "download_link"),
                exclude=["__pycache__", "*.pyc", "requirements.txt"],
            ),
            memory_size=256,
            timeout=Duration.seconds(10),
            log_group=log_group,
            role=role,
            environment=environment,
        )

    def _grant_workflow(self, role: iam.IRole) -> None:
        self.shared.idempotency.grant_claims(role)
        self.orders.grant(role, "dynamodb:PutItem", "dynamodb:UpdateItem")
        self.grants.grant(role, "dynamodb:PutItem")
        # The unqualified ARN only (the ASL calls it so), not grant_invoke's "<arn>:*".
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.clock_function.function_arn]
            )
        )
        self.workflow.grant_send_email(self.shared.settings.sender_email)
        self.workflow.grant_alerts(self.shared.alerts)  # type: ignore[arg-type]
