"""runtime.reuse_syntheses: one synthesis per settings combination, deployed again afterwards."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from payops.localaws import syntheses as runtime
from payops.localaws.runtime import LocalAws
from payops.localaws.syntheses import SHARED_ASSEMBLIES_ENV


@pytest.fixture
def synths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """build_app replaced by a recorder: which contexts were synthesized, into where."""
    import payops.app_factory

    made: list[dict[str, Any]] = []

    def build_app(context: dict[str, Any], *, outdir: str, nag: bool) -> Any:
        made.append({"context": dict(context), "outdir": outdir})
        directory = Path(outdir) if outdir else tmp_path / f"assembly-{len(made)}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "manifest.json").write_text(json.dumps({"made": len(made)}))
        return SimpleNamespace(synth=lambda: SimpleNamespace(directory=str(directory))), None

    monkeypatch.setattr(payops.app_factory, "build_app", build_app)
    monkeypatch.setattr(runtime, "_ASSEMBLIES", {})
    monkeypatch.delenv(SHARED_ASSEMBLIES_ENV, raising=False)  # the session sets it
    return made


def test_the_same_settings_are_synthesized_once_when_reuse_is_on(
    synths: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(runtime._reuse, "on", True)
    first = LocalAws({"ingress": "partner"})._synth()
    again = LocalAws({"ingress": "partner"})
    assert again._synth() == first and again.synth_seconds == 0.0
    other = LocalAws({"ingress": "webhook"})._synth()
    # The same settings, however given: defaults named or left out, a setting as its string.
    assert LocalAws({})._synth() == first
    assert LocalAws({"ingress": "partner", "downloadLimit": "5"})._synth() == first
    flagged = LocalAws({"ingress": "partner", "@aws-cdk/core:newStyle": True})._synth()  # CDK's
    monkeypatch.setenv("PAYOPS_DOWNLOAD_LIMIT", "2")  # the environment is a setting too
    with_env = LocalAws({"ingress": "partner"})._synth()
    assert len({first, other, flagged, with_env}) == 4
    assert [s["context"] for s in synths] == [
        {"ingress": "partner"},
        {"ingress": "webhook"},
        {"ingress": "partner", "@aws-cdk/core:newStyle": True},
        {"ingress": "partner"},
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


def test_processes_sharing_a_directory_synthesize_each_settings_once(
    synths: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """pytest-xdist workers and the CLI processes tests start: one synthesis per settings."""
    monkeypatch.setitem(runtime._reuse, "on", False)  # a `payops replay` process: no reuse
    monkeypatch.setenv(SHARED_ASSEMBLIES_ENV, str(tmp_path / "shared"))
    first = LocalAws({"ingress": "partner"})._synth()
    monkeypatch.setattr(runtime, "_ASSEMBLIES", {})  # another process: nothing in memory
    again = LocalAws({"ingress": "partner"})
    assert again._synth() == first and again.synth_seconds == 0.0
    assert json.loads((Path(first) / "manifest.json").read_text()) == {"made": 1}
    assert Path(first).parent == tmp_path / "shared"
    LocalAws({"ingress": "webhook"})._synth()
    assert [s["context"] for s in synths] == [{"ingress": "partner"}, {"ingress": "webhook"}]
    # Nothing half-written is ever at an assembly's name: only renamed, finished ones.
    assert sorted(p.name.startswith("synth-") for p in (tmp_path / "shared").iterdir()) == [
        False,
        False,
    ]
