"""TODO docstring."""

from __future__ import annotations

from typing import Any

from payops.localaws.core.patch import Patch


def _log_group_attribute(self: Any, attribute_name: str) -> Any:
    value = _LOG_GROUP_GET_CFN_ATTRIBUTE.original(self, attribute_name)
    # CloudFormation's LogGroup Arn ends in ":*" (IAM grants on it cover the streams).
    if attribute_name == "Arn" and not str(value).endswith(":*"):
        return f"{value}:*"
    return value


GAPS: dict[str, str] = {
    "AWS::Logs::LogGroup": ("GetAtt Arn ends in ':*' as on AWS (moto's lacks it, so IAM differs)"),
}


# The moto attributes this module replaces.
_LOG_GROUP_GET_CFN_ATTRIBUTE = Patch(
    "moto.logs.models:LogGroup", "get_cfn_attribute", _log_group_attribute
)
PATCHES = (_LOG_GROUP_GET_CFN_ATTRIBUTE,)
