"""Download links that stay useful and bounded: a per-grant download limit, re-issue by the
customer (from the expired link's page) and by staff (a function invoked with the AWS CLI).

Added to the fulfilment construct's grants table and download function from outside, so the
order workflow stays where it is. Grants are kept for GRANT_RETENTION_SECONDS after they expire
(DynamoDB TTL on `purgeAt`), so an expired link can still be re-issued; an index by order finds
an order's grants for staff.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.fulfilment import Fulfilment
from stacks.functions import python_function
from stacks.nag import acknowledge
from stacks.shared import Shared

GRANT_RETENTION_SECONDS = 30 * 24 * 3600  # the same constant is in functions/download_link
REISSUES_PER_DAY = 3  # customer re-issues per order in a rolling day


class DownloadLinks(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, shared: Shared, fulfilment: Fulfilment
    ) -> None:
        super().__init__(scope, construct_id)
        settings = shared.settings
        grants = fulfilment.grants
        cfn_grants: dynamodb.CfnTable = grants.node.default_child  # type: ignore[assignment]
        cfn_grants.time_to_live_specification = dynamodb.CfnTable.TimeToLiveSpecificationProperty(
            attribute_name="purgeAt", enabled=True
        )
        grants.add_global_secondary_index(
            index_name="byOrder",
            partition_key=dynamodb.Attribute(name="orderId", type=dynamodb.AttributeType.STRING),
        )
        # With an index, CDK's table grants also name "<table>/index/*" (its only index here).
        stack = Stack.of(self)
        table_id = stack.resolve(stack.get_logical_id(cfn_grants))
        acknowledge(
            scope,
            f"IAM5[Resource::<{table_id}.Arn>/index/*]",
            "CDK's table grants add the table's indexes; the grants table has one index "
            "(byOrder), holding the same grants.",
        )
        ttl_seconds = str(settings.download_link_ttl_hours * 3600)
        common = {
            "DOWNLOAD_LIMIT": str(settings.download_limit),
            "SENDER_EMAIL": settings.sender_email,
            "LINK_TTL_SECONDS": ttl_seconds,
            "ORDERS_TABLE": fulfilment.orders.table_name,
        }
        download = fulfilment.download_function
        for key, value in {**common, "REISSUES_PER_DAY": str(REISSUES_PER_DAY)}.items():
            download.add_environment(key, value)
        # Count downloads and write re-issued grants / the per-order re-issue counter.
        grants.grant(download, "dynamodb:UpdateItem", "dynamodb:PutItem")
        fulfilment.orders.grant(download, "dynamodb:GetItem")
        _grant_send_email(download, settings.sender_email)

        self.reissue_function = python_function(
            self,
            "Reissue",
            folder="download_link",
            handler="handler.reissue",
            description="Staff: email an order's buyer fresh download links",
            environment={
                **common,
                "GRANTS_TABLE": grants.table_name,
                "BUCKET_NAME": fulfilment.downloads.bucket_name,
                "DOWNLOAD_URL": fulfilment.download_url.url,
            },
        )
        grants.grant(self.reissue_function, "dynamodb:PutItem")
        self.reissue_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[f"{grants.table_arn}/index/byOrder"]
            )
        )
        fulfilment.orders.grant(self.reissue_function, "dynamodb:GetItem")
        _grant_send_email(self.reissue_function, settings.sender_email)
        CfnOutput(
            Stack.of(self),
            "ReissueDownloadFunctionName",
            value=self.reissue_function.function_name,
            description="Staff re-issue of an order's download links (see the README)",
        )


def _grant_send_email(function: lambda_.Function, sender: str) -> None:
    """ses:SendEmail from the sender address or its domain identity only."""
    stack = Stack.of(function)
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["ses:SendEmail"],
            resources=[
                stack.format_arn(service="ses", resource="identity", resource_name=identity)
                for identity in (sender, sender.split("@", 1)[1])
            ],
        )
    )
