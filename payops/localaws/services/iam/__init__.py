"""IAM: managed policies attached to roles.

moto gaps bridged here (`SERVICE.gaps`):
- AWS::IAM::Role
"""

from __future__ import annotations

from payops.localaws.core.registry import Service
from payops.localaws.services.iam import checks, resources
from payops.localaws.services.iam.resources import attachable_policy

SERVICE = Service(
    name="iam",
    gaps={**resources.GAPS},
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
)

__all__ = ["SERVICE", "attachable_policy"]
