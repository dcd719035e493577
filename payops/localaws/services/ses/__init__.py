"""SES: email identities and configuration sets.

moto gaps bridged here (`SERVICE.gaps`):
- AWS::SES::EmailIdentity
- AWS::SES::ConfigurationSet
"""

from __future__ import annotations

from payops.localaws.core.registry import Service
from payops.localaws.services.ses import checks, resources

SERVICE = Service(
    name="ses",
    gaps={**resources.GAPS},
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
)

__all__ = ["SERVICE"]
