"""IAM's CloudFormation resource bridge: AWS::IAM::Role is moto's model, plus the ManagedPolicyArns
moto ignores, attached; `attachable_policy` loads an AWS managed policy from moto's bundled data on
first use (moto's IAM knows none by default).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from payops.localaws.core.resources import ExtendsMoto


@functools.cache
def _aws_managed_policies() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return dict(json.loads(aws_managed_policies_data))


def attachable_policy(backend: Any, arn: str) -> None:
    """Make an AWS managed policy known to moto's IAM on first use (moto loads none by default)."""
    from moto.iam.models import AWSManagedPolicy

    if arn in backend.managed_policies:
        return
    match = re.fullmatch(r"arn:aws[\w-]*:iam::aws:policy(/(?:[^/]+/)*)([^/]+)", arn)
    data = _aws_managed_policies().get(match.group(2)) if match else None
    if match and data and data.get("Path") == match.group(1):
        policy = AWSManagedPolicy.from_data(
            match.group(2), backend.account_id, backend.region_name, data
        )
        backend.managed_policies[policy.arn] = policy


class IamRole(ExtendsMoto):
    TYPE = "AWS::IAM::Role"

    @classmethod
    def after_create(
        cls, model: Any, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        from moto.iam.models import iam_backends
        from moto.utilities.utils import get_partition

        backend = iam_backends[account_id][get_partition(region_name)]
        for arn in properties.get("ManagedPolicyArns") or []:
            attachable_policy(backend, arn)
            backend.attach_role_policy(arn, model.name)


GAPS: dict[str, str] = {
    "AWS::IAM::Role": (
        "ManagedPolicyArns are attached, AWS managed ones loaded on demand (moto ignores them)"
    ),
}

RESOURCES = (IamRole,)
