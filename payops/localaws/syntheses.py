"""Synthesizing the app for the local AWS, once per settings where the code cannot change.

A synthesis (CDK through jsii and Node) is most of a `LocalAws` start. Two ways to reuse one:
- `reuse_syntheses()` (a test session): the same context and PAYOPS_* settings deploy the
  assembly this process synthesized before;
- `LOCALAWS_SHARED_ASSEMBLIES` (set by the test session for its pytest-xdist workers and the
  CLI processes its tests start): a directory of assemblies shared by processes running the
  same code. Each is synthesized into a temporary directory beside it and renamed into place,
  so no process reads half of one; a process that loses the race uses the winner's.
A `LocalAws` given an `outdir` always synthesizes into it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payops.localaws.core.shared_directory import SHARED_ASSEMBLIES_ENV, shared_directory

# Synthesized assemblies kept for the rest of the process, by settings, once asked for.
_ASSEMBLIES: dict[str, str] = {}
_KEPT: list[tempfile.TemporaryDirectory[str]] = []  # their directories live as long as we do
_reuse = {"on": False}


def reuse_syntheses(on: bool = True) -> None:
    """From now on, deploy the assembly synthesized for the same context and PAYOPS_* settings
    again instead of synthesizing anew. For a process whose app code does not change meanwhile,
    e.g. a test session."""
    _reuse["on"] = on


def _assembly_key(context: dict[str, Any]) -> str:
    """The same settings, the same assembly: the key holds what `Settings.load` makes of the
    context and the PAYOPS_* environment, defaults filled in (`{}` and `{"ingress": "partner"}`
    are one app), then any other context key (CDK's own) and the environment itself."""
    from payops.settings import SETTING_KEYS, Settings, SettingsError

    env = {k: v for k, v in os.environ.items() if k.startswith("PAYOPS_")}
    try:
        settings: Any = dataclasses.asdict(Settings.load(context, env))
    except SettingsError:  # the synthesis reports it
        settings = None
    other = {k: v for k, v in context.items() if settings is None or k not in SETTING_KEYS}
    return json.dumps([settings, other, env], sort_keys=True, default=str)


def _shared_assembly(key: str) -> Path | None:
    root = shared_directory()
    if root is None:
        return None
    return root / hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass
class Synthesis:
    directory: str  # the cloud assembly to deploy
    outdir: str | None  # where it was synthesized (None: reused, nothing synthesized)
    seconds: float  # 0 when reused
    owned: tempfile.TemporaryDirectory[str] | None  # the caller removes it when done


def synthesize(context: dict[str, Any], outdir: str | None) -> Synthesis:
    from payops.app_factory import build_app

    sharing = _reuse["on"] or bool(os.environ.get(SHARED_ASSEMBLIES_ENV))
    key = _assembly_key(context) if outdir is None and sharing else None
    if key is not None and key in _ASSEMBLIES:
        return Synthesis(_ASSEMBLIES[key], outdir, 0.0, None)
    shared = _shared_assembly(key) if key is not None else None
    if shared is not None and (shared / "manifest.json").is_file():  # another process's
        _ASSEMBLIES[key] = str(shared)  # type: ignore[index]
        return Synthesis(str(shared), outdir, 0.0, None)
    owned = None
    if shared is not None:
        shared.parent.mkdir(parents=True, exist_ok=True)
        outdir = tempfile.mkdtemp(prefix="synth-", dir=shared.parent)
    elif outdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="payops-local-")
        outdir = tmp.name
        if key is None:
            owned = tmp
        else:
            _KEPT.append(tmp)
    started = time.perf_counter()
    app, _ = build_app(context, outdir=outdir, nag=False)
    directory = app.synth().directory
    seconds = time.perf_counter() - started
    if shared is not None:
        try:
            os.rename(directory, shared)
        except OSError:  # another process put the same assembly there first: use it
            shutil.rmtree(directory, ignore_errors=True)
        directory = str(shared)
        outdir = None  # renamed away: a later start finds it by its key
    if key is not None:
        _ASSEMBLIES[key] = directory
    return Synthesis(directory, outdir, seconds, owned)
