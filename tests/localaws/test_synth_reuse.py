"""runtime.reuse_syntheses: one synthesis per settings combination, deployed again afterwards."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from payops.localaws import runtime
from payops.localaws.runtime import LocalAws


@pytest.fixture
def synths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """build_app replaced by a recorder: which contexts were synthesized, into where."""
    import payops.app_factory

    made: list[dict[str, Any]] = []

    def build_app(context: dict[str, Any], *, outdir: str, nag: bool) -> Any:
        made.append({"context": dict(context), "outdir": outdir})
        directory = str(tmp_path / f"assembly-{len(made)}")
        return SimpleNamespace(synth=lambda: SimpleNamespace(directory=directory)), None

    monkeypatch.setattr(payops.app_factory, "build_app", build_app)
    monkeypatch.setattr(runtime, "_ASSEMBLIES", {})
    return made


def test_the_same_settings_are_synthesized_once_when_reuse_is_on(
    synths: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(runtime._reuse, "on", True)
    first = LocalAws({"ingress": "partner"})._synth()
    again = LocalAws({"ingress": "partner"})
    assert again._synth() == first and again.synth_seconds == 0.0
    other = LocalAws({"ingress": "webhook"})._synth()
    monkeypatch.setenv("PAYOPS_DOWNLOAD_LIMIT", "2")  # the environment is a setting too
    with_env = LocalAws({"ingress": "partner"})._synth()
    assert len({first, other, with_env}) == 3
    assert [s["context"] for s in synths] == [{"ingress": "partner"}, {"ingress": "webhook"}] + [
        {"ingress": "partner"}
    ]


def test_without_reuse_or_with_an_outdir_every_start_synthesizes(
    synths: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(runtime._reuse, "on", False)
    LocalAws({"ingress": "partner"})._synth()
    LocalAws({"ingress": "partner"})._synth()
    monkeypatch.setitem(runtime._reuse, "on", True)
    LocalAws({"ingress": "partner"}, outdir=str(tmp_path / "mine"))._synth()
    LocalAws({"ingress": "partner"}, outdir=str(tmp_path / "mine"))._synth()
    assert len(synths) == 4
    assert [s["outdir"] for s in synths[2:]] == [str(tmp_path / "mine")] * 2
