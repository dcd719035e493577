from __future__ import annotations

from collections.abc import Iterator

import pytest
from appsync_live import Live, start_live


@pytest.fixture(scope="session")
def live() -> Iterator[Live]:
    """One deploy with live status on, shared by this folder's modules."""
    running = start_live()
    yield running
    running.realtime.stop()
    running.aws.stop()
