"""DynamoDB's CloudFormation resource bridge: AWS::DynamoDB::Table is moto's model, plus the
TimeToLiveSpecification and PointInTimeRecoverySpecification that moto ignores.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.resources import ExtendsMoto, as_bool


class DynamoDBTable(ExtendsMoto):
    TYPE = "AWS::DynamoDB::Table"

    @classmethod
    def after_create(
        cls, model: Any, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[account_id][region_name]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            backend.update_time_to_live(
                model.name,
                {"AttributeName": ttl.get("AttributeName"), "Enabled": as_bool(ttl.get("Enabled"))},
            )
        pitr = properties.get("PointInTimeRecoverySpecification")
        if pitr:
            enabled = as_bool(pitr.get("PointInTimeRecoveryEnabled"))
            backend.update_continuous_backups(model.name, {"PointInTimeRecoveryEnabled": enabled})


GAPS: dict[str, str] = {
    "AWS::DynamoDB::Table": (
        "TimeToLiveSpecification and PointInTimeRecoverySpecification are applied (moto: ignored)"
    ),
}

RESOURCES = (DynamoDBTable,)
