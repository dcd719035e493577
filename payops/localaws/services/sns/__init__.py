"""SNS: topic, subscription and topic-policy resources; publishes recorded for traces.

moto gaps bridged here (`SERVICE.gaps`):
- AWS::SNS::Subscription
- AWS::SNS::TopicPolicy
- AWS::SNS::Topic
"""

from __future__ import annotations

from payops.localaws.core.patch import Patches
from payops.localaws.core.registry import Service
from payops.localaws.services.sns import checks, publish_record, resources

PATCHES = Patches(
    "sns",
    publish_record.publish_patches,
)

SERVICE = Service(
    name="sns",
    gaps={**resources.GAPS},
    patches=PATCHES,
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
)
install, uninstall, is_installed = PATCHES.install, PATCHES.uninstall, PATCHES.is_installed

__all__ = ["PATCHES", "SERVICE", "install", "is_installed", "uninstall"]
