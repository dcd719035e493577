"""CloudWatch Logs' CloudFormation bridges: a patch so that GetAtt Arn of moto's AWS::Logs::LogGroup
ends in ':*' as on AWS (IAM grants on it cover the streams), and AWS::Logs::LogStream (`LogStream`;
moto has no model), where the analytics export's Firehose logs delivery errors.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.patch import Patch
from payops.localaws.core.resources import BridgedResource


def _log_group_attribute(self: Any, attribute_name: str) -> Any:
    value = _LOG_GROUP_GET_CFN_ATTRIBUTE.original(self, attribute_name)
    # CloudFormation's LogGroup Arn ends in ":*" (IAM grants on it cover the streams).
    if attribute_name == "Arn" and not str(value).endswith(":*"):
        return f"{value}:*"
    return value


# --- analytics export (issue 16): Firehose logs delivery errors to a stream of its own ---
class LogStream(BridgedResource):
    TYPE = "AWS::Logs::LogStream"
    NAME_PROPERTY = "LogStreamName"
    NAME_LIMIT = 512

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.logs.models import logs_backends

        backend = logs_backends[account_id][region_name]
        group = properties["LogGroupName"]
        backend.create_log_stream(group, name)
        return cls(name, {}, lambda: _delete_log_stream(backend, group, name))


def _delete_log_stream(backend: Any, group: str, name: str) -> None:
    if group in backend.groups:  # the group's deletion takes its streams
        backend.delete_log_stream(group, name)


RESOURCES = (LogStream,)

GAPS: dict[str, str] = {
    "AWS::Logs::LogGroup": ("GetAtt Arn ends in ':*' as on AWS (moto's lacks it, so IAM differs)"),
    "AWS::Logs::LogStream": "the log stream (moto: no CloudFormation model)",
}


# The moto attributes this module replaces.
_LOG_GROUP_GET_CFN_ATTRIBUTE = Patch(
    "moto.logs.models:LogGroup", "get_cfn_attribute", _log_group_attribute
)
PATCHES = (_LOG_GROUP_GET_CFN_ATTRIBUTE,)
