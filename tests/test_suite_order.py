"""The parallel run's file order (tests/conftest.py) names files that exist."""

from __future__ import annotations

from conftest import LONGEST_FILES, ROOT


def test_every_file_run_first_exists() -> None:
    assert [path for path in LONGEST_FILES if not (ROOT / path).is_file()] == []
    assert len(set(LONGEST_FILES)) == len(LONGEST_FILES)
