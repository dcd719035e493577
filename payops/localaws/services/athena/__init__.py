"""Athena: the analytics workgroup and its named queries (stored; DuckDB runs them locally).

moto gaps bridged here (`SERVICE.gaps`):
- AWS::Athena::WorkGroup
- AWS::Athena::NamedQuery
"""

from __future__ import annotations

from payops.localaws.core.registry import Service
from payops.localaws.services.athena import checks, resources

SERVICE = Service(
    name="athena",
    gaps={**resources.GAPS},
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
)

__all__ = ["SERVICE"]
