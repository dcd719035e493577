"""core/patch.py: the one way the local AWS changes moto (apply, undo, all or none, lift)."""

from __future__ import annotations

from typing import Any

import pytest

from payops.localaws.core import registry
from payops.localaws.core.patch import Patch, Patches
from payops.localaws.core.registry import Service


class Base:
    def inherited(self) -> str:
        return "base"


class Owner(Base):
    def own(self) -> str:
        return "moto"


def test_a_patch_keeps_the_original_and_undo_puts_it_back() -> None:
    original = Owner.__dict__["own"]
    patch = Patch(Owner, "own", lambda self: "bridged")
    patch.apply()
    assert Owner().own() == "bridged" and patch.original is original
    patch.undo()
    assert Owner.__dict__["own"] is original and Owner().own() == "moto"


def test_an_inherited_attribute_is_removed_again_not_shadowed() -> None:
    patch = Patch(Owner, "inherited", lambda self: "bridged")
    patch.apply()
    assert Owner().inherited() == "bridged"
    assert patch.original(Owner()) == "base"  # callable: what the class resolved to before
    patch.undo()
    assert "inherited" not in vars(Owner) and Owner().inherited() == "base"


def test_an_owner_named_by_path_is_imported_only_when_applied() -> None:
    patch = Patch("json:JSONDecoder", "decode", lambda self, s: "bridged")
    assert patch.key == "JSONDecoder.decode" and not patch.applied
    patch.apply()
    try:
        import json

        assert json.loads("{}") == "bridged"
    finally:
        patch.undo()
    assert json.loads("{}") == {}


def test_a_set_is_installed_all_or_none_and_says_why() -> None:
    good = Patch(Owner, "own", lambda self: "bridged")

    def broken() -> list[Patch]:
        raise AttributeError("moto moved it")

    patches = Patches("example", good, broken)
    with pytest.raises(AttributeError, match="moto moved it"):
        patches.install()
    assert not patches.is_installed() and Owner().own() == "moto"  # the first one was undone


def test_install_is_idempotent_and_lifted_shows_moto_for_a_while() -> None:
    patches = Patches("example", Patch(Owner, "own", lambda self: "bridged"))
    patches.install()
    patches.install()
    try:
        with patches.lifted("Owner.own"):
            assert Owner().own() == "moto"
        assert Owner().own() == "bridged"
    finally:
        patches.uninstall()
    assert Owner().own() == "moto" and not patches.is_installed()


def test_a_set_refuses_another_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto

    monkeypatch.setattr(moto, "__version__", "0.0.1")
    patches = Patches("example", Patch(Owner, "own", lambda self: "bridged"))
    with pytest.raises(RuntimeError, match="pinned to moto"):
        patches.install()
    assert Owner().own() == "moto"


def test_the_installer_raises_and_leaves_no_service_half_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = Patches("first", Patch(Owner, "own", lambda self: "bridged"))

    def broken() -> list[Any]:
        raise RuntimeError("cannot patch")

    services = [Service("first", patches=first), Service("second", patches=Patches("b", broken))]
    monkeypatch.setattr(registry, "services", lambda: services)
    with pytest.raises(RuntimeError, match="cannot patch"):
        registry.install()
    assert not first.is_installed() and Owner().own() == "moto"
