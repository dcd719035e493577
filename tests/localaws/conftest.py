"""Fixtures shared by the service bridges' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from payops.localaws.core import registry


@pytest.fixture
def bridged() -> Iterator[None]:
    """An in-process moto with every service's bridges installed (undone afterwards)."""
    with mock_aws():
        registry.install()
        try:
            yield
        finally:
            registry.uninstall()
