"""A small Python Lambda from `functions/<folder>/`: boto3 only, its own log group and role."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.bundling import FUNCTIONS_DIR
from stacks.nag import acknowledge_synchronous_function


def python_function(
    scope: Construct,
    name: str,
    *,
    folder: str,
    handler: str,
    description: str,
    environment: dict[str, str],
) -> lambda_.Function:
    log_group = logs.LogGroup(
        scope,
        f"{name}Logs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.DESTROY,
    )
    # An explicit role instead of AWSLambdaBasicExecutionRole: logs go to this group only.
    role = iam.Role(scope, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    log_group.grant_write(role)
    # Every function built here is invoked synchronously (a workflow task, `aws lambda invoke`).
    function = lambda_.Function(
        scope,
        name,
        description=description,
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.ARM_64,
        handler=handler,
        # boto3 only (in the runtime): the folder is the whole package, no bundling needed.
        code=lambda_.Code.from_asset(
            str(FUNCTIONS_DIR / folder), exclude=["__pycache__", "*.pyc", "requirements.txt"]
        ),
        memory_size=256,
        timeout=Duration.seconds(10),
        log_group=log_group,
        role=role,
        environment=environment,
    )
    acknowledge_synchronous_function(function)
    return function
