"""Lambda: function code runs in-process (no Docker), with its own environment and credentials.

moto gaps bridged here (`SERVICE.gaps`):
- lambda.in_process_invoke
- lambda.execution_role
- AWS::Lambda::Url
- AWS::Lambda::Function
"""

from __future__ import annotations

from payops.localaws.core.patch import Patches
from payops.localaws.core.registry import Service
from payops.localaws.services.lambda_ import checks, invoke, resources
from payops.localaws.services.lambda_.invoke import (
    InvokeResult,
    function_name_of,
    invoke_function,
    invoke_function_arn,
    register_code_dir,
    set_endpoint_url,
    unregister_code_dirs,
)

PATCHES = Patches(
    "lambda_",
    *invoke.PATCHES,
)

SERVICE = Service(
    name="lambda_",
    gaps={**invoke.GAPS, **resources.GAPS},
    patches=PATCHES,
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
    provides=("invoke_function_arn", "register_code_dir", "set_endpoint_url"),
)
install, uninstall, is_installed = PATCHES.install, PATCHES.uninstall, PATCHES.is_installed

__all__ = [
    "InvokeResult",
    "PATCHES",
    "SERVICE",
    "function_name_of",
    "install",
    "invoke_function",
    "invoke_function_arn",
    "is_installed",
    "register_code_dir",
    "set_endpoint_url",
    "uninstall",
    "unregister_code_dirs",
]
