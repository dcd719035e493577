"""Bridges for Cognito user pools as the access workflow uses them.

- Step Functions names the service of an AWS SDK integration after the AWS SDK
  (`aws-sdk:cognitoidentityprovider:adminUpdateUserAttributes`, errors
  `CognitoIdentityProvider.UserNotFoundException`); moto's interpreter hands that name to boto3,
  which knows the service as `cognito-idp`, so the task cannot even build its client.
- AdminUpdateUserAttributes: Cognito refuses an attribute the pool's schema lacks or declares
  immutable (InvalidParameterException); moto stores anything. The README tells users to add the
  custom attributes (mutable) to their pool: this makes the local AWS hold them to it.

Every successful AdminUpdateUserAttributes is recorded as a "cognito_attributes" fact (pool,
user, attributes), for traces and tests.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.patch import Patch
from payops.localaws.core.recorder import recording

SDK_SERVICE = "cognitoidentityprovider"  # as Step Functions' aws-sdk integrations spell it
BOTO_SERVICE = "cognito-idp"

GAPS: dict[str, str] = {
    "cognito.sfn_sdk_service_name": (
        "aws-sdk:cognitoidentityprovider:* tasks fail: moto's Step Functions asks boto3 for a "
        "'cognitoidentityprovider' client (boto3 says cognito-idp), and names its errors "
        "cognitoidentityprovider.* instead of CognitoIdentityProvider.*."
    ),
    "cognito.attribute_schema": (
        "AdminUpdateUserAttributes accepts attributes the pool's schema does not define, or "
        "defines as immutable; Cognito answers InvalidParameterException."
    ),
}


def sdk_service_name_patches() -> list[Patch]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (  # noqa: E501
        StateTaskServiceAwsSdk,
    )

    # The table moto's interpreter consults for integration names that boto3 spells otherwise;
    # the Step Functions bridge reads it for error names too.
    overrides = dict(StateTaskServiceAwsSdk._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES)
    overrides[SDK_SERVICE] = BOTO_SERVICE
    return [Patch(StateTaskServiceAwsSdk, "_SERVICE_NAME_SFN_TO_BOTO_OVERRIDES", overrides)]


def _describe(user_pool_id: str, username: str, attributes: list[dict[str, str]]) -> dict:
    return {
        "pool": user_pool_id,
        "user": username,
        "attributes": {a["Name"]: a.get("Value") for a in attributes},
    }


def attribute_patches() -> list[Patch]:
    from moto.cognitoidp.exceptions import InvalidParameterException
    from moto.cognitoidp.models import CognitoIdpBackend

    original = vars(CognitoIdpBackend)["admin_update_user_attributes"]

    def admin_update_user_attributes(
        self: Any, user_pool_id: str, username: str, attributes: list[dict[str, str]]
    ) -> None:
        pool = self.describe_user_pool(user_pool_id)  # ResourceNotFoundException as Cognito
        self.admin_get_user(user_pool_id, username)  # UserNotFoundException first, as Cognito
        for attribute in attributes:
            name = attribute["Name"]
            known = pool.schema_attributes.get(name)
            if known is None:
                raise InvalidParameterException(f"Attribute does not exist in the schema: {name}")
            if name.startswith("custom:") and not known.mutable:
                raise InvalidParameterException(f"Cannot modify an immutable attribute: {name}")
        original(self, user_pool_id, username, attributes)

    return [
        Patch(
            CognitoIdpBackend,
            "admin_update_user_attributes",
            recording("cognito_attributes", admin_update_user_attributes, _describe),
        )
    ]
