"""CloudFormation: moto's stack engine: templates refused when a type cannot be created, failed
resources named, dynamic references, template Rules, change-set outputs; the resource bridges
themselves live with their services.

moto gaps bridged here (`SERVICE.gaps`):
- cfn.unsupported_types
- cfn.create_failed
- cfn.stack_resources
- cfn.change_set_outputs
- cfn.template_rules
- cfn.ssm_parameter_types
- cfn.dynamic_references
- cfn.cdk_metadata

Speed-ups (same behaviour, less work):
- cfn.json_templates
"""

from __future__ import annotations

from payops.localaws.core import registry
from payops.localaws.core.patch import Patches
from payops.localaws.core.registry import Service
from payops.localaws.services.cloudformation import checks, speedups, stack
from payops.localaws.services.cloudformation.stack import (
    NO_OP_TYPES,
    ResourceCreationFailed,
    check_template_rules,
    creatable,
    resolve_dynamic_references,
    uncreatable_resources,
)

PATCHES = Patches(
    "cloudformation",
    *stack.PATCHES,
    registry.resource_patches,
)
SPEEDUP_PATCHES = Patches("cloudformation", speedups.json_first_patches)

SERVICE = Service(
    name="cloudformation",
    gaps={**stack.GAPS},
    patches=PATCHES,
    checks=checks.CHECKS,
    provides=("uncreatable_resources", "resolve_dynamic_references"),
    speedups=speedups.SPEEDUPS,
    speedup_patches=SPEEDUP_PATCHES,
)
install, uninstall, is_installed = PATCHES.install, PATCHES.uninstall, PATCHES.is_installed

__all__ = [
    "NO_OP_TYPES",
    "PATCHES",
    "ResourceCreationFailed",
    "SERVICE",
    "check_template_rules",
    "creatable",
    "install",
    "is_installed",
    "resolve_dynamic_references",
    "uncreatable_resources",
    "uninstall",
]
