"""DynamoDB: atomic conditional writes (idempotency depends on them), TTL and PITR on tables.

moto gaps bridged here (`SERVICE.gaps`):
- dynamodb.atomic_conditional_writes
- dynamodb.expression_errors
- AWS::DynamoDB::Table

Speed-ups (same behaviour, less work):
- dynamodb.query_partition
- dynamodb.update_expressions
- dynamodb.condition_lexing
- dynamodb.update_copies
- dynamodb.update_checks
- dynamodb.validator_maps
"""

from __future__ import annotations

from payops.localaws.core.patch import Patches
from payops.localaws.core.registry import Service
from payops.localaws.services.dynamodb import (
    checks,
    conditional_writes,
    expression_errors,
    resources,
    speedups,
)

PATCHES = Patches(
    "dynamodb",
    conditional_writes.write_patches,
    expression_errors.expression_error_patches,
)
SPEEDUP_PATCHES = Patches(
    "dynamodb",
    speedups.query_partition_patches,
    speedups.update_expressions_patches,
    speedups.condition_lexing_patches,
    speedups.update_copies_patches,
    speedups.update_checks_patches,
    speedups.validator_maps_patches,
)

SERVICE = Service(
    name="dynamodb",
    gaps={**conditional_writes.GAPS, **expression_errors.GAPS, **resources.GAPS},
    patches=PATCHES,
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
    speedups=speedups.SPEEDUPS,
    speedup_patches=SPEEDUP_PATCHES,
)
install, uninstall, is_installed = PATCHES.install, PATCHES.uninstall, PATCHES.is_installed

__all__ = ["PATCHES", "SERVICE", "install", "is_installed", "uninstall"]
