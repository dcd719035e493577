"""ECR: repositories (deploy checks only: moto creates them).

No moto gap bridged here: moto creates these resources; the deploy checks read them back.
"""

from __future__ import annotations

from payops.localaws.core.registry import Service
from payops.localaws.services.ecr import checks

SERVICE = Service(
    name="ecr",
    checks=checks.CHECKS,
)

__all__ = ["SERVICE"]
