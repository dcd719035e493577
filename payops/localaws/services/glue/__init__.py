"""Glue Data Catalog: the database and table the Athena queries read.

moto gaps bridged here (`SERVICE.gaps`):
- AWS::Glue::Database
- AWS::Glue::Table
"""

from __future__ import annotations

from payops.localaws.core.registry import Service
from payops.localaws.services.glue import checks, resources

SERVICE = Service(
    name="glue",
    gaps={**resources.GAPS},
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
)

__all__ = ["SERVICE"]
