"""The service registry: what each `services/<svc>/` bridges, and the one installer.

Each service folder's `__init__` defines `SERVICE = Service(...)`: its moto gaps, its patches,
its CloudFormation resource bridges, its deploy checks and attribute getters, its speed-ups and
what it lends other services (`provides`). Adding a service is one new folder and one line in
`SERVICE_NAMES`. Services never import each other: they ask the registry (`provided(...)`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from payops.localaws.core.patch import Patch, Patches

# Installed in this order, undone in the reverse one.
SERVICE_NAMES = (
    "cloudformation",
    "events",
    "lambda_",
    "stepfunctions",
    "pipes",
    "sqs",
    "sns",
    "dynamodb",
    "iam",
    "s3",
    "logs",
    "secretsmanager",
    "ses",
    "kms",
    "cloudwatch",
    "ssm",
    "ecr",
    "firehose",  # analytics export (issue 16)
    "glue",  # analytics export (issue 16)
    "athena",  # analytics export (issue 16)
    "cognito_idp",
    "appsync",  # issue 15: live status
    "scheduler",
)


@dataclass(frozen=True)
class Service:
    """What one AWS service contributes to the local AWS."""

    name: str
    gaps: dict[str, str] = field(default_factory=dict)  # bridge name -> the moto gap it closes
    patches: Patches | None = None
    resources: tuple[type, ...] = ()  # CloudFormation resource bridges (their TYPE)
    resource_patches: tuple[Patch, ...] = ()  # moto's own models, fixed for CloudFormation
    checks: dict[str, Callable[..., None]] = field(default_factory=dict)  # type -> deploy check
    attributes: dict[tuple[str, str], Callable[..., Any]] = field(default_factory=dict)
    speedups: dict[str, str] = field(default_factory=dict)  # name -> the cost it removes
    speedup_patches: Patches | None = None  # same behaviour, less work: installed after bridges
    provides: tuple[str, ...] = ()  # names of the service package that other services may call


_lock = threading.RLock()


# moto's own core (request dispatch, backend lookups): speed-ups only, installed first.
CORE = "payops.localaws.core.moto_core"


def services() -> list[Service]:
    """moto's core, then every service folder, in installation order."""
    found = [import_module(f"payops.localaws.services.{name}").SERVICE for name in SERVICE_NAMES]
    return [import_module(CORE).SERVICE, *found]


def _sets(with_speedups: bool = True) -> list[Patches]:
    found = [s.patches for s in services() if s.patches is not None]
    if with_speedups:
        found += [s.speedup_patches for s in services() if s.speedup_patches is not None]
    return found


def _install(sets: list[Patches]) -> None:
    with _lock:
        done: list[Patches] = []
        try:
            for patches in sets:
                patches.install()
                done.append(patches)
        except Exception:
            for patches in reversed(done):
                patches.uninstall()
            raise


def install() -> None:
    """Install every service's bridges and speed-ups, or none: a failure is raised, never warned."""
    _install(_sets())


def uninstall() -> None:
    with _lock:
        for patches in reversed(_sets()):
            patches.uninstall()


def is_installed() -> bool:
    return all(patches.is_installed() for patches in _sets())


class _Speedups:
    """All services' speed-ups as one set (tests compare moto's cost with and without them)."""

    @property
    def SPEEDUPS(self) -> dict[str, str]:  # noqa: N802 - the table's name
        return speedups()

    def _sets(self) -> list[Patches]:
        return [s.speedup_patches for s in services() if s.speedup_patches is not None]

    def install(self) -> None:
        _install(self._sets())

    def uninstall(self) -> None:
        with _lock:
            for patches in reversed(self._sets()):
                patches.uninstall()

    def is_installed(self) -> bool:
        return all(patches.is_installed() for patches in self._sets())


SPEEDUPS = _Speedups()


def gaps() -> dict[str, str]:
    """Every bridge name -> the moto gap it closes, service by service."""
    return {name: text for service in services() for name, text in service.gaps.items()}


def speedups() -> dict[str, str]:
    return {name: text for service in services() for name, text in service.speedups.items()}


def resource_bridges() -> dict[str, type]:
    return {
        cls.cloudformation_type(): cls  # type: ignore[attr-defined]
        for service in services()
        for cls in service.resources
    }


def resource_patches() -> list[Patch]:
    """Every service's patches of moto's CloudFormation models (installed with cloudformation)."""
    return [patch for service in services() for patch in service.resource_patches]


def checks() -> dict[str, Callable[..., None]]:
    return {kind: check for service in services() for kind, check in service.checks.items()}


def attributes() -> dict[tuple[str, str], Callable[..., Any]]:
    return {key: get for service in services() for key, get in service.attributes.items()}


def provided(service: str, name: str) -> Callable[..., Any]:
    """What `service` lends the others (e.g. lambda_'s invoke_function_arn for events)."""
    package = import_module(f"payops.localaws.services.{service}")
    if name not in package.SERVICE.provides:
        raise LookupError(f"payops.localaws.services.{service} provides no {name!r}")
    return getattr(package, name)  # looked up per call: a test may replace it
