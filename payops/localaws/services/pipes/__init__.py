"""EventBridge Pipes: the AWS::Pipes::Pipe resource and an SQS pipe runner (`drain`): filter
criteria, an Express enrichment, input templates, Step Functions and API destination targets.

moto gaps bridged here (`SERVICE.gaps`):
- cfn-pipes-pipe
- pipes-sqs-to-sfn
- pipes-filter-enrich-api
"""

from __future__ import annotations

from payops.localaws.core.patch import Patches
from payops.localaws.core.registry import Service
from payops.localaws.services.pipes import bridge, checks
from payops.localaws.services.pipes.bridge import (
    CfnPipe,
    PipeError,
    drain,
    pending,
    pump,
    set_endpoint_url,
)

PATCHES = Patches(
    "pipes",
    bridge.refreshed_model_cache,
)

SERVICE = Service(
    name="pipes",
    gaps={**bridge.GAPS},
    patches=PATCHES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
    provides=("drain", "pump", "pending"),
)
install, uninstall, is_installed = PATCHES.install, PATCHES.uninstall, PATCHES.is_installed

__all__ = [
    "pending",
    "pump",
    "CfnPipe",
    "PATCHES",
    "PipeError",
    "SERVICE",
    "drain",
    "install",
    "is_installed",
    "set_endpoint_url",
    "uninstall",
]
