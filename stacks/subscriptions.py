"""Subscriptions: provision per-subscription resources on start, remove them on end.

One CloudFormation stack per subscription, named STACK_PREFIX + <cus id> + <sub id>, launched
from the `customerTemplateUrl` setting or, when that is empty, from the bundled
provisioning/customer-stack.json (uploaded as a CDK asset). The stacks are created with the
workflow's own credentials, so the workflow roles may act on those stacks and on what the
template creates (TEMPLATE_CREATE_ACTIONS / TEMPLATE_DELETE_ACTIONS on TEMPLATE_SERVICE resources
named STACK_PREFIX*), and nothing else: with your own template, change those constants to match.

Stack names allow only letters, digits and hyphens, so subscription sub_Y of customer cus_X gets
stack payops-customer-cus-X-sub-Y (the workflows derive it; the bundled template names its queue
after it). A stack per subscription rather than per customer: ending one subscription can never
remove what another live subscription of the same customer uses, and a resubscription during
cancel_at_period_end gets its own stack instead of waiting on (or racing) the old one's deletion.

Each subscription has a state record in the idempotency table (pk "subscription#<sub id>", no
TTL): provisioning -> active | parked | failed, and -> ending -> ended, moved only by conditional
writes of the two workflows (see the README's guarantees).
"""

from __future__ import annotations

import re
from pathlib import Path

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.idempotency import CLAIM_TTL_SECONDS
from stacks.nag import acknowledge
from stacks.shared import Shared
from stacks.stripe_api import STRIPE_API_VERSION, StripeApi
from stacks.workflow import Workflow

STARTED_RULE = "subscription-started"
ENDED_RULE = "subscription-ended"
STACK_PREFIX = "payops-customer-"
BUNDLED_TEMPLATE = Path(__file__).resolve().parent.parent / "provisioning" / "customer-stack.json"

# What CloudFormation calls, with the caller's credentials, to create / delete the bundled
# template's AWS::SQS::Queue (its registry handlers), including the aws:cloudformation:* tags.
TEMPLATE_SERVICE = "sqs"
TEMPLATE_CREATE_ACTIONS = (
    "sqs:CreateQueue",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:SetQueueAttributes",
    "sqs:ListQueueTags",
    "sqs:TagQueue",
    "sqs:UntagQueue",
    "sqs:DeleteQueue",  # a failed creation rolls back
)
TEMPLATE_DELETE_ACTIONS = (
    "sqs:DeleteQueue",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ListQueueTags",
)

WHY = (
    "Standard: stack creation is waited on (10 s polls, up to 30 min) and CloudFormation "
    "throttling is retried for about 6 hours, far beyond Express's 5 minutes, and a refund must "
    "run exactly once"
)
# How cdk-nag spells an ARN built with Stack.format_arn in a finding id.
_NAG_ARN = "arn:<AWS::Partition>"
_NAG_SCOPE = "<AWS::Region>:<AWS::AccountId>"
_S3_URL = re.compile(
    r"^https://(?:(?P<vbucket>[^./]+)\.s3[.-][^/]*amazonaws\.com/(?P<vkey>.+)"
    r"|s3[.-][^/]*amazonaws\.com/(?P<pbucket>[^/]+)/(?P<pkey>.+))$"
)


class Subscriptions(Construct):
    """subscription-started -> provisioning workflow; subscription-ended -> deprovisioning."""

    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
        settings = shared.settings
        if shared.alerts is None:
            raise ValueError("Subscriptions needs shared.alerts (the staff alert topic)")
        stack = Stack.of(self)
        self.stripe_api = StripeApi.of(
            self, api_key_secret_name=settings.stripe_api_key_secret_name
        )

        template_url, template_object_arn = self._template(settings.customer_template_url)
        common = {
            "IdempotencyTable": shared.idempotency.table.table_name,
            "ClaimTtlSeconds": str(CLAIM_TTL_SECONDS),
            "StackNamePrefix": STACK_PREFIX,
            "AlertTopicArn": shared.alerts.topic_arn,
            "StripeDashboardUrl": settings.stripe_dashboard_url,
        }
        self.provision = Workflow(
            self,
            "Provision",
            asl="subscription-provision",
            kind="STANDARD",
            why=WHY,
            substitutions={
                **common,
                "StripeConnectionArn": self.stripe_api.connection_arn,
                "StripeApiVersion": STRIPE_API_VERSION,
                "CustomerTemplateUrl": template_url,
            },
        )
        self.deprovision = Workflow(
            self,
            "Deprovision",
            asl="subscription-deprovision",
            kind="STANDARD",
            why="Standard: stack deletion is waited on and retried for hours, beyond Express's 5 "
            "minutes",
            substitutions={
                **common,
                "StripeConnectionArn": self.stripe_api.connection_arn,
                "StripeApiVersion": STRIPE_API_VERSION,
            },
        )

        stacks_arn = stack.format_arn(
            service="cloudformation", resource="stack", resource_name=f"{STACK_PREFIX}*/*"
        )
        template_resources_arn = stack.format_arn(
            service=TEMPLATE_SERVICE,
            resource=f"{STACK_PREFIX}*",
            arn_format=ArnFormat.NO_RESOURCE_NAME,
        )
        for workflow, stack_actions, template_actions in (
            (
                self.provision,
                ("cloudformation:CreateStack", "cloudformation:DescribeStacks",
                 "cloudformation:DeleteStack"),
                TEMPLATE_CREATE_ACTIONS,
            ),
            (
                self.deprovision,
                ("cloudformation:DescribeStacks", "cloudformation:DeleteStack"),
                TEMPLATE_DELETE_ACTIONS,
            ),
        ):  # fmt: skip
            role = workflow.state_machine.role
            shared.idempotency.grant_claims(role)
            # The state records are read back (strongly consistent) when a transition is refused.
            shared.idempotency.table.grant(role, "dynamodb:GetItem")
            workflow.grant_alerts(shared.alerts)
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=list(stack_actions), resources=[stacks_arn])
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=list(template_actions), resources=[template_resources_arn]
                )
            )
            acknowledge(
                workflow,
                f"IAM5[Resource::{_NAG_ARN}:cloudformation:{_NAG_SCOPE}:stack/{STACK_PREFIX}*/*]",
                f"Customer stacks are created on demand: only those named {STACK_PREFIX}<cus id>.",
            )
            acknowledge(
                workflow,
                f"IAM5[Resource::{_NAG_ARN}:{TEMPLATE_SERVICE}:{_NAG_SCOPE}:{STACK_PREFIX}*]",
                f"The customer template's resources: only {TEMPLATE_SERVICE} resources named "
                f"{STACK_PREFIX}<cus id>, created and deleted through the customer stacks.",
            )
        if template_object_arn is not None:
            # CloudFormation reads TemplateURL with the caller's credentials.
            self.provision.state_machine.role.add_to_principal_policy(
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[template_object_arn])
            )
        self.stripe_api.grant_invoke(
            self.provision, self.provision.state_machine, methods=["GET", "POST", "DELETE"]
        )
        self.stripe_api.grant_invoke(
            self.deprovision, self.deprovision.state_machine, methods=["GET"]
        )

        targets = shared.targets
        shared.catalogue.add_target(
            STARTED_RULE, targets.state_machine(self.provision.state_machine)
        )
        shared.catalogue.add_target(
            ENDED_RULE, targets.state_machine(self.deprovision.state_machine)
        )

    def _template(self, configured_url: str) -> tuple[str, str | None]:
        """(TemplateURL, the S3 object ARN to grant s3:GetObject on, if it is an S3 URL)."""
        if not configured_url:
            asset = s3_assets.Asset(self, "CustomerTemplate", path=str(BUNDLED_TEMPLATE))
            return asset.http_url, asset.bucket.arn_for_objects(asset.s3_object_key)
        match = _S3_URL.match(configured_url)
        if match is None:
            return configured_url, None
        bucket = match.group("vbucket") or match.group("pbucket")
        key = match.group("vkey") or match.group("pkey")
        return configured_url, f"arn:{Stack.of(self).partition}:s3:::{bucket}/{key}"
