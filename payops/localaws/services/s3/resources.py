"""S3's CloudFormation bridges: AWS::S3::BucketPolicy (moto skips it), AWS::S3::Bucket (moto's
model, plus the versioning, lifecycle, public access block, CORS and ownership controls it ignores),
and a patch to moto's bucket-policy evaluation (`FakeBucket.get_permission`): a statement applies
only when its Condition holds for an HTTPS request.
"""

from __future__ import annotations

import json
from typing import Any

from payops.localaws.core.conditions import condition_holds
from payops.localaws.core.patch import Patch
from payops.localaws.core.resources import (
    BridgedResource,
    ExtendsMoto,
    as_bool,
    json_text,
)


class S3BucketPolicy(BridgedResource):
    TYPE = "AWS::S3::BucketPolicy"

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        backend = s3_backends[account_id][get_partition(region_name)]
        bucket = properties["Bucket"]
        backend.put_bucket_policy(bucket, json_text(properties["PolicyDocument"]).encode())
        return cls(name, {}, lambda: backend.delete_bucket_policy(bucket))


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the shape of the S3 API (what moto's backend parses)."""
    api: dict[str, Any] = {"ID": rule.get("Id"), "Status": rule.get("Status", "Enabled")}
    api["Filter"] = {"Prefix": rule.get("Prefix") or ""}
    if rule.get("ExpirationInDays") is not None:
        api["Expiration"] = {"Days": str(rule["ExpirationInDays"])}
    elif rule.get("ExpirationDate") is not None:
        api["Expiration"] = {"Date": rule["ExpirationDate"]}
    elif rule.get("ExpiredObjectDeleteMarker") is not None:
        api["Expiration"] = {"ExpiredObjectDeleteMarker": str(rule["ExpiredObjectDeleteMarker"])}
    noncurrent = rule.get("NoncurrentVersionExpiration") or {}
    days = noncurrent.get("NoncurrentDays", rule.get("NoncurrentVersionExpirationInDays"))
    if days is not None:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": str(days)}
    if rule.get("AbortIncompleteMultipartUpload"):
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": str(days)}
    transitions = rule.get("Transitions") or ([rule["Transition"]] if "Transition" in rule else [])
    if transitions:
        api["Transition"] = [
            {"Days": t.get("TransitionInDays"), "Date": t.get("TransitionDate"),
             "StorageClass": t["StorageClass"]}
            for t in transitions
        ]  # fmt: skip
    nv_transitions = rule.get("NoncurrentVersionTransitions") or []
    if nv_transitions:
        api["NoncurrentVersionTransition"] = [
            {"NoncurrentDays": t["TransitionInDays"], "StorageClass": t["StorageClass"]}
            for t in nv_transitions
        ]
    return api


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {
        "AllowedMethod": rule["AllowedMethods"],
        "AllowedOrigin": rule["AllowedOrigins"],
    }
    if rule.get("AllowedHeaders"):
        api["AllowedHeader"] = rule["AllowedHeaders"]
    if rule.get("ExposedHeaders"):
        api["ExposeHeader"] = rule["ExposedHeaders"]
    if rule.get("MaxAge") is not None:
        api["MaxAgeSeconds"] = str(rule["MaxAge"])
    if rule.get("Id"):
        api["ID"] = rule["Id"]
    return api


class S3Bucket(ExtendsMoto):
    TYPE = "AWS::S3::Bucket"

    @classmethod
    def after_create(
        cls, model: Any, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        backend = s3_backends[account_id][get_partition(region_name)]
        name = model.name
        versioning = properties.get("VersioningConfiguration")
        if versioning:
            backend.put_bucket_versioning(name, versioning["Status"])
        lifecycle = (properties.get("LifecycleConfiguration") or {}).get("Rules")
        if lifecycle:
            backend.put_bucket_lifecycle(name, [_lifecycle_rule(rule) for rule in lifecycle])
        block = properties.get("PublicAccessBlockConfiguration")
        if block:
            backend.put_public_access_block(
                name, {key: str(as_bool(value)).lower() for key, value in block.items()}
            )
        cors = (properties.get("CorsConfiguration") or {}).get("CorsRules")
        if cors:
            backend.put_bucket_cors(name, [_cors_rule(rule) for rule in cors])
        ownership = properties.get("OwnershipControls")
        if ownership:
            backend.put_bucket_ownership_controls(name, ownership["Rules"][0]["ObjectOwnership"])


def _bucket_permission(self: Any, action: str, resource: str) -> Any:
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    text = self.policy.decode() if isinstance(self.policy, bytes) else self.policy
    statements = json.loads(text)["Statement"]
    permitted = False
    for statement in statements if isinstance(statements, list) else [statements]:
        # A statement whose Condition does not hold does not apply (moto: applies regardless).
        if statement.get("Condition") and not condition_holds(statement["Condition"]):
            continue
        bare = {key: value for key, value in statement.items() if key != "Condition"}
        result = IAMPolicyStatement(bare).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return result
        permitted = permitted or result == PermissionResult.PERMITTED
    return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL


GAPS: dict[str, str] = {
    "AWS::S3::BucketPolicy": ("puts the bucket policy (moto: skipped; cdk bootstrap has one)"),
    "s3.bucket_policy_conditions": (
        "bucket policy statements apply only when their Condition holds for an HTTPS request "
        "(moto applies a Deny whatever its Condition: enforceSSL buckets refuse every request)"
    ),
    "AWS::S3::Bucket": (
        "VersioningConfiguration, LifecycleConfiguration, PublicAccessBlockConfiguration, "
        "CorsConfiguration and OwnershipControls are applied (moto: only encryption and tags)"
    ),
}


# The moto attributes this module replaces.
_FAKE_BUCKET_GET_PERMISSION = Patch(
    "moto.s3.models:FakeBucket", "get_permission", _bucket_permission
)
PATCHES = (_FAKE_BUCKET_GET_PERMISSION,)

RESOURCES = (S3BucketPolicy, S3Bucket)
