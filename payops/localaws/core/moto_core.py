"""Speed-ups of moto's core, under every service's calls (found profiling long replays).

Not a service: what moto does for each request whatever the service. Listed with the services'
speed-ups (`payops local`), installed first and undone last by the one installer.

To find a request's handler method, moto listed every function of the response class with
`inspect.getmembers` (sorting a few hundred names) on every request. The list is now kept per
class, and made again when a class of its MRO gains or loses an attribute (a patch adding an
action), so it is always the list moto would make.

`backends[account]` took the global backend lock, copied the keys to a list and scanned every
service's BackendDict with a Python `__eq__` (the reset list) on every access, several times per
request. An account already there, of a BackendDict already in moto's reset list, is now answered
directly; anything else goes through moto's own code, and moto's reset empties both.

Speed-ups (same behaviour, less work):
- core.action_names
- core.backend_lookups
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.patch import Patch, Patches
from payops.localaws.core.registry import Service

SPEEDUPS: dict[str, str] = {
    "core.action_names": (
        "Every request listed its response class's functions with inspect.getmembers to find "
        "its handler; the list is kept per class (made again when the class changes)."
    ),
    "core.backend_lookups": (
        "Every backends[account] lookup took the global lock and scanned every service's "
        "BackendDict with a Python __eq__; a known account of a registered one is answered "
        "directly."
    ),
}


def _shape(clazz: type) -> tuple[int, ...]:
    """How many attributes each class of the MRO has: a function added or removed changes it."""
    return tuple(len(vars(base)) for base in clazz.__mro__)


def action_names_patches() -> list[Patch]:
    from moto.core import responses, utils

    original = utils.method_names_from_class
    kept: dict[type, tuple[tuple[int, ...], list[str]]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        shape = _shape(clazz)
        found = kept.get(clazz)
        if found is None or found[0] != shape:
            found = (shape, original(clazz))
            kept[clazz] = found
        return found[1]

    return [Patch(responses, "method_names_from_class", method_names_from_class)]


def backend_lookups_patches() -> list[Patch]:
    from moto.core.base_backend import BackendDict

    original_getitem = BackendDict.__getitem__
    original_reset = BackendDict.reset.__func__  # type: ignore[attr-defined]
    # Ids of the BackendDicts moto's own lookup put in its reset list (a set's add and clear
    # are atomic: no lock of ours).
    registered: set[int] = set()

    def getitem(self: Any, account_id: str) -> Any:
        if id(self) in registered:
            try:
                return dict.__getitem__(self, account_id)
            except KeyError:
                pass
        found = original_getitem(self, account_id)  # creates and registers, under moto's lock
        registered.add(id(self))
        return found

    def reset(cls: Any) -> None:
        registered.clear()
        original_reset(cls)

    return [
        Patch(BackendDict, "__getitem__", getitem),
        Patch(BackendDict, "reset", classmethod(reset)),
    ]


SERVICE = Service(
    name="moto_core",
    speedups=SPEEDUPS,
    speedup_patches=Patches("moto_core", action_names_patches, backend_lookups_patches),
)
