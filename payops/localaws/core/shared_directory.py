"""The directory shared by the processes of one test session or `payops replay --workers` run.

Those processes run the same code, so what one of them made (a synthesized assembly, a parsed
Step Functions program) is what another would make. The variable is set by the test session
(tests/conftest.py) and by the replay workers' parent; unset, nothing is shared.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED_ASSEMBLIES_ENV = "LOCALAWS_SHARED_ASSEMBLIES"


def shared_directory() -> Path | None:
    root = os.environ.get(SHARED_ASSEMBLIES_ENV)
    return Path(root) if root else None
