"""The local AWS: moto 5.2.5 plus the project's bridges for the gaps measured in moto.

Every bridge is listed (`bridges()`), installed explicitly, and has tests in tests/localaws/.
"""

from __future__ import annotations

from importlib import import_module

BRIDGE_MODULES = (
    "events_bridge",
    "lambda_bridge",
    "stepfunctions_bridge",
    "status_events",
    "cloudformation_bridge",
    "pipes_bridge",
    "observe",
    "speedups",  # not gaps: speed only (speedups.SPEEDUPS)
)


def install_bridges() -> None:
    for name in BRIDGE_MODULES:
        import_module(f"payops.localaws.{name}").install()


def bridges() -> dict[str, str]:
    """bridge name -> the moto gap it closes."""
    listed: dict[str, str] = {}
    for name in BRIDGE_MODULES:
        listed.update(getattr(import_module(f"payops.localaws.{name}"), "BRIDGES", {}))
    return listed
