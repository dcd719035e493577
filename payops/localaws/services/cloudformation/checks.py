"""TODO docstring."""

from __future__ import annotations

from payops.localaws.core.checking import CheckFn

CHECKS: dict[str, CheckFn] = {
    "AWS::CDK::Metadata": lambda c: None,
}
