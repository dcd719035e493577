"""SQS: queue resources and policies; sends and receives that do not count the whole queue.

moto gaps bridged here (`SERVICE.gaps`):
- AWS::SQS::QueuePolicy
- AWS::SQS::Queue

Speed-ups (same behaviour, less work):
- sqs.send_message_attributes
- sqs.receive_retention
"""

from __future__ import annotations

from payops.localaws.core.patch import Patches
from payops.localaws.core.registry import Service
from payops.localaws.services.sqs import checks, resources, speedups

SPEEDUP_PATCHES = Patches(
    "sqs",
    speedups.sqs_send_message_patches,
    speedups.sqs_receive_retention_patches,
)

SERVICE = Service(
    name="sqs",
    gaps={**resources.GAPS},
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
    speedups=speedups.SPEEDUPS,
    speedup_patches=SPEEDUP_PATCHES,
)

__all__ = ["SERVICE", "SPEEDUP_PATCHES"]
