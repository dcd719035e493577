"""Secrets Manager: secret resources, generated secret strings.

moto gaps bridged here (`SERVICE.gaps`):
- AWS::SecretsManager::Secret
"""

from __future__ import annotations

from payops.localaws.core.registry import Service
from payops.localaws.services.secretsmanager import checks, resources
from payops.localaws.services.secretsmanager.resources import generate_secret_string

SERVICE = Service(
    name="secretsmanager",
    gaps={**resources.GAPS},
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
)

__all__ = ["SERVICE", "generate_secret_string"]
