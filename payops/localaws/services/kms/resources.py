"""KMS's CloudFormation resource bridge: AWS::KMS::Key in place of moto's model, which keeps the
KeyPolicy object and ignores KeyUsage/KeySpec: the policy is stored as JSON text, KeyUsage, KeySpec,
MultiRegion, EnableKeyRotation and Enabled honoured, GetAtt KeyId given, and delete schedules
deletion after PendingWindowInDays.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.resources import BridgedResource, as_bool, json_text


class KmsKey(BridgedResource):
    TYPE = "AWS::KMS::Key"
    ATTRIBUTES = ("Arn", "KeyId")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.kms.models import kms_backends

        backend = kms_backends[account_id][region_name]
        policy = properties.get("KeyPolicy")
        key = backend.create_key(
            policy=None if policy is None else json_text(policy),
            key_usage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=properties.get("Description") or "",
            tags=properties.get("Tags") or [],
            multi_region=as_bool(properties.get("MultiRegion", False)),
        )
        key.key_rotation_status = as_bool(properties.get("EnableKeyRotation", False))
        key.enabled = as_bool(properties.get("Enabled", True))
        if not key.enabled:
            key.key_state = "Disabled"
        delete_after = int(properties.get("PendingWindowInDays", 30))
        return cls(
            key.id,
            {"Arn": key.arn, "KeyId": key.id},
            lambda: backend.schedule_key_deletion(key.id, delete_after),
            key,
        )


GAPS: dict[str, str] = {
    "AWS::KMS::Key": (
        "KeyPolicy is stored as JSON, KeyUsage/KeySpec/MultiRegion honoured, GetAtt KeyId (moto "
        "stores the policy object: DescribeKey then fails with a TypeError)"
    ),
}

RESOURCES = (KmsKey,)
