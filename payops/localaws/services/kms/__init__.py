"""KMS: key resources with their policies.

moto gaps bridged here (`SERVICE.gaps`):
- AWS::KMS::Key
"""

from __future__ import annotations

from payops.localaws.core.registry import Service
from payops.localaws.services.kms import checks, resources

SERVICE = Service(
    name="kms",
    gaps={**resources.GAPS},
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
)

__all__ = ["SERVICE"]
