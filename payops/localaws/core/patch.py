"""The one way the local AWS changes moto: a `Patch` keeps the original, applies and undoes.

A service's bridges are one `Patches` set, built lazily (moto's modules are imported only when
the set is installed), installed as a whole or not at all, and undone in reverse order, so a
test can show moto's own behaviour next to the bridged one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from importlib import import_module
from typing import Any

from payops.localaws.core.moto_pin import require_pinned_moto

_ABSENT = object()


def _resolve(path: str) -> Any:
    """ "package.module:Class.Inner" -> that object; "package.module" -> the module."""
    module_name, _, qualname = path.partition(":")
    found: Any = import_module(module_name)
    for part in filter(None, qualname.split(".")):
        found = getattr(found, part)
    return found


class Patch:
    """Replace `owner.attribute` with `replacement`; `undo()` puts back exactly what was there.

    `owner` is an object or "module:Qualname", imported only when the patch is applied (so a
    module can declare its patches without importing moto). `key` ("Qualname.attribute" unless
    given) names it in its set. An attribute the owner only inherited (or lacked) is deleted again
    on undo, not shadowed. `original` is what to call for moto's own behaviour.
    """

    def __init__(
        self, owner: Any, attribute: str, replacement: Any, key: str | None = None
    ) -> None:
        self._owner = owner
        self.attribute = attribute
        self.replacement = replacement
        if key is None:
            if isinstance(owner, str):
                module_name, _, qualname = owner.partition(":")
                holder = qualname or module_name.rsplit(".", 1)[-1]
            else:
                holder = getattr(owner, "__name__", type(owner).__name__)
            key = f"{holder}.{attribute}"
        self.key = key
        self._saved: Any = _ABSENT
        self._inherited: Any = None  # what an inherited attribute resolved to, for calling
        self.applied = False

    @property
    def original(self) -> Any:
        """What the owner held before (the descriptor itself: a classmethod, a property)."""
        if not self.applied:
            raise RuntimeError(f"patch {self.key} is not applied: it holds no original")
        return self._inherited if self._saved is _ABSENT else self._saved

    @property
    def owner(self) -> Any:
        if isinstance(self._owner, str):
            self._owner = _resolve(self._owner)
        return self._owner

    def apply(self) -> None:
        if self.applied:
            raise RuntimeError(f"patch {self.key} is already applied")
        self._saved = vars(self.owner).get(self.attribute, _ABSENT)
        if self._saved is _ABSENT:
            self._inherited = getattr(self.owner, self.attribute, None)
        setattr(self.owner, self.attribute, self.replacement)
        self.applied = True

    def undo(self) -> None:
        if not self.applied:
            return
        if self._saved is _ABSENT:
            delattr(self.owner, self.attribute)
        else:
            setattr(self.owner, self.attribute, self._saved)
        self._saved = _ABSENT
        self.applied = False


PatchSource = Patch | Callable[[], Iterable[Patch]]


@contextlib.contextmanager
def restored(patches: Any) -> Iterator[None]:
    """Whatever the body installs, uninstalls or lifts, `patches` are installed afterwards only
    if they were before (tests). Anything with install(), uninstall() and is_installed(): a
    `Patches` set, `registry.SPEEDUPS`, the `registry` module itself."""
    was_installed = patches.is_installed()
    try:
        yield
    finally:
        (patches.install if was_installed else patches.uninstall)()


class Patches:
    """One service's patches, applied all or none at install, undone in reverse order.

    Each source is a `Patch` or a function that builds some when the set is installed (for
    patches made from what moto holds at that moment). `install()` is idempotent and raises on
    a moto other than the pinned one or on any patch that cannot be applied, after undoing the
    ones already applied: moto is never left half-patched.
    """

    def __init__(self, service: str, *sources: PatchSource) -> None:
        self.service = service
        self._sources = sources
        self._lock = threading.RLock()
        self._applied: list[Patch] = []
        self._installed = False

    def install(self) -> None:
        require_pinned_moto(self.service)
        with self._lock:
            if self._installed:
                return
            try:
                for source in self._sources:
                    for patch in [source] if isinstance(source, Patch) else source():
                        patch.apply()
                        self._applied.append(patch)
            except Exception:
                self._undo()
                raise
            self._installed = True

    def uninstall(self) -> None:
        with self._lock:
            self._undo()

    def _undo(self) -> None:
        while self._applied:
            self._applied.pop().undo()
        self._installed = False

    def is_installed(self) -> bool:
        return self._installed

    def keys(self) -> list[str]:
        return [patch.key for patch in self._applied]

    @contextlib.contextmanager
    def lifted(self, key: str) -> Iterator[None]:
        """Moto's own code back for one patch, for the duration (tests show a gap with it)."""
        with self._lock:
            patch = next((p for p in self._applied if p.key == key), None)
            if patch is None:
                raise KeyError(f"{self.service}: no applied patch {key!r}")
            patch.undo()
            try:
                yield
            finally:
                patch.apply()
