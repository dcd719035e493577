"""S3: bucket configuration and bucket policies whose Conditions are evaluated.

moto gaps bridged here (`SERVICE.gaps`):
- AWS::S3::BucketPolicy
- s3.bucket_policy_conditions
- AWS::S3::Bucket
"""

from __future__ import annotations

from payops.localaws.core.registry import Service
from payops.localaws.services.s3 import checks, resources

SERVICE = Service(
    name="s3",
    gaps={**resources.GAPS},
    resource_patches=(*resources.PATCHES,),
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
)

__all__ = ["SERVICE"]
