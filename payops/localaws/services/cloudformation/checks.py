"""Deploy checks for CloudFormation's own types: AWS::CDK::Metadata creates nothing, so there is
nothing to read back.
"""

from __future__ import annotations

from payops.localaws.core.checking import CheckFn

CHECKS: dict[str, CheckFn] = {
    "AWS::CDK::Metadata": lambda c: None,
}
