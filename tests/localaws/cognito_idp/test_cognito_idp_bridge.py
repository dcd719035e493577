"""The Cognito bridges: each gap shown on the plain pinned moto, then the bridged behaviour.

A small state machine calls aws-sdk:cognitoidentityprovider:adminUpdateUserAttributes, as the
access workflow does, and catches CognitoIdentityProvider.UserNotFoundException.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from executions import ended
from moto import mock_aws

from payops.localaws.core.account import ACCOUNT, REGION
from payops.localaws.core.recorder import RECORDER
from payops.localaws.services import cognito_idp
from payops.localaws.services import stepfunctions as sfb

ROLE = f"arn:aws:iam::{ACCOUNT}:role/local-sfn"
UPDATE = "arn:aws:states:::aws-sdk:cognitoidentityprovider:adminUpdateUserAttributes"
DEFINITION = {
    "StartAt": "Update",
    "States": {
        "Update": {
            "Type": "Task",
            "Resource": UPDATE,
            "Parameters": {
                "UserPoolId.$": "$.pool",
                "Username.$": "$.user",
                "UserAttributes": [{"Name": "custom:access", "Value": "grace"}],
            },
            "Catch": [
                {
                    "ErrorEquals": ["CognitoIdentityProvider.UserNotFoundException"],
                    "Next": "UserMissing",
                }
            ],
            "End": True,
        },
        "UserMissing": {"Type": "Succeed"},
    },
}


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    installed = sfb.is_installed(), cognito_idp.PATCHES.is_installed()
    sfb.install()
    cognito_idp.PATCHES.install()
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            idp = boto3.client("cognito-idp", region_name=REGION)
            pool = idp.create_user_pool(
                PoolName="app",
                Schema=[
                    {"Name": "access", "AttributeDataType": "String", "Mutable": True},
                    {"Name": "tier", "AttributeDataType": "String", "Mutable": False},
                ],
            )["UserPool"]["Id"]
            idp.admin_create_user(UserPoolId=pool, Username="u_1")
            sfn = boto3.client("stepfunctions", region_name=REGION)
            machine = sfn.create_state_machine(
                name="cognito", definition=json.dumps(DEFINITION), roleArn=ROLE
            )["stateMachineArn"]
            yield {"idp": idp, "pool": pool, "sfn": sfn, "machine": machine}
    finally:
        if not installed[1]:
            cognito_idp.PATCHES.uninstall()
        if not installed[0]:
            sfb.uninstall()


def run(aws: dict[str, Any], user: str) -> dict[str, Any]:
    sfn = aws["sfn"]
    arn = sfn.start_execution(
        stateMachineArn=aws["machine"],
        name=f"run-{uuid.uuid4().hex[:8]}",
        input=json.dumps({"pool": aws["pool"], "user": user}),
    )["executionArn"]
    described = ended(sfn, arn, within_s=10)
    history = sfn.get_execution_history(executionArn=arn)["events"]
    states = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    return {**described, "states": states}


def access_of(aws: dict[str, Any], user: str) -> str | None:
    found = aws["idp"].admin_get_user(UserPoolId=aws["pool"], Username=user)
    return {a["Name"]: a["Value"] for a in found["UserAttributes"]}.get("custom:access")


def test_gap_moto_cannot_run_the_cognito_sdk_integration(aws) -> None:
    with cognito_idp.PATCHES.lifted("StateTaskServiceAwsSdk._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES"):
        result = run(aws, "u_1")
    assert result["status"] == "FAILED"
    assert access_of(aws, "u_1") is None


def test_bridged_the_task_writes_the_attribute_and_records_it(aws) -> None:
    mark = RECORDER.mark()
    result = run(aws, "u_1")
    assert result["status"] == "SUCCEEDED" and result["states"] == ["Update"]
    assert access_of(aws, "u_1") == "grace"
    (fact,) = RECORDER.since(mark, "cognito_attributes")
    assert fact.data == {
        "pool": aws["pool"],
        "user": "u_1",
        "attributes": {"custom:access": "grace"},
    }


def test_bridged_a_missing_user_is_cognitos_error_name(aws) -> None:
    result = run(aws, "u_nobody")
    assert result["status"] == "SUCCEEDED" and result["states"] == ["Update", "UserMissing"]


def test_gap_moto_stores_attributes_the_schema_lacks(aws) -> None:
    idp = aws["idp"]
    with cognito_idp.PATCHES.lifted("CognitoIdpBackend.admin_update_user_attributes"):
        idp.admin_update_user_attributes(
            UserPoolId=aws["pool"], Username="u_1",
            UserAttributes=[{"Name": "custom:plan", "Value": "pro"}],
        )  # fmt: skip
    for name in ("custom:plan", "custom:tier"):  # undefined; immutable
        with pytest.raises(ClientError) as refused:
            idp.admin_update_user_attributes(
                UserPoolId=aws["pool"], Username="u_1",
                UserAttributes=[{"Name": name, "Value": "pro"}],
            )  # fmt: skip
        assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
        assert name in refused.value.response["Error"]["Message"]
