"""CloudWatch: metric and metric-math alarms.

moto gaps bridged here (`SERVICE.gaps`):
- AWS::CloudWatch::Alarm
"""

from __future__ import annotations

from payops.localaws.core.registry import Service
from payops.localaws.services.cloudwatch import checks, resources

SERVICE = Service(
    name="cloudwatch",
    gaps={**resources.GAPS},
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
)

__all__ = ["SERVICE"]
