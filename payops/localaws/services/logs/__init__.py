"""CloudWatch Logs: log group ARNs as CloudFormation gives them.

moto gaps bridged here (`SERVICE.gaps`):
- AWS::Logs::LogGroup
- AWS::Logs::LogStream
"""

from __future__ import annotations

from payops.localaws.core.registry import Service
from payops.localaws.services.logs import checks, resources

SERVICE = Service(
    name="logs",
    gaps={**resources.GAPS},
    resource_patches=(*resources.PATCHES,),
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
)

__all__ = ["SERVICE"]
