"""The real-event corpus (tests/fixtures/real) and its reviewed expectations, shared by the tests.

`real_expected.json` maps each file to the rules that must match it and the workflows that must run
for it (every one SUCCEEDED, nothing dead-lettered), as reviewed from rules/*.json and the event. An
entry with `match_issue` / `replay_issue` is right for real data but not what main's code does yet:
the tests mark it xfail(strict=True) with that reason, so it flips to a failure once the fix lands
(then delete the issue text).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "fixtures" / "real"
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (ROOT / "tests" / "fixtures" / "real_expected.json").read_text(encoding="utf-8")
)
NAMES = sorted(path.name for path in REAL.glob("*.json"))
MODES = ("partner", "webhook")


def cases(issue_key: str | None) -> list[Any]:
    """(ingress, file) parameters; an entry with a known `issue_key` issue is a strict xfail."""
    params = []
    for ingress in MODES:
        for name in NAMES:
            issue = EXPECTED.get(name, {}).get(issue_key) if issue_key else None
            marks = [pytest.mark.xfail(strict=True, reason=issue)] if issue else []
            params.append(pytest.param(ingress, name, marks=marks, id=f"{ingress}:{name}"))
    return params
