"""Kinesis Data Firehose: the delivery stream resource and delivery to S3 as configured.

moto gaps bridged here (`SERVICE.gaps`):
- AWS::KinesisFirehose::DeliveryStream
- firehose.s3_delivery
"""

from __future__ import annotations

from payops.localaws.core.patch import Patches
from payops.localaws.core.registry import Service
from payops.localaws.services.firehose import checks, delivery, resources
from payops.localaws.services.firehose.delivery import DeliveryError, parse_jq, render_prefix

PATCHES = Patches("firehose", *delivery.PATCHES)

SERVICE = Service(
    name="firehose",
    gaps={**resources.GAPS, **delivery.GAPS},
    patches=PATCHES,
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
)
install, uninstall, is_installed = PATCHES.install, PATCHES.uninstall, PATCHES.is_installed

__all__ = [
    "PATCHES",
    "SERVICE",
    "DeliveryError",
    "install",
    "is_installed",
    "parse_jq",
    "render_prefix",
    "uninstall",
]
