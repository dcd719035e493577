"""SES faults injected into moto (shared by the workflow and hardening fault tests)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from moto.core.exceptions import JsonRESTError


class TooManyRequests(JsonRESTError):
    code = 429

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Maximum sending rate exceeded.")


class SesFault:
    """SES (v2 SendEmail) refuses the next `times` sends with TooManyRequestsException; the
    first send can be held until `release` is set (a run that is slow, then fails)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.sesv2.models import SESV2Backend

        self.pending = 0
        self.refused = 0
        self.hold: threading.Event | None = None
        self.held = threading.Event()
        original = SESV2Backend.send_email

        def send_email(backend: Any, *args: Any, **kwargs: Any) -> Any:
            if self.hold is not None:
                hold, self.hold = self.hold, None
                self.held.set()
                assert hold.wait(30), "the held send was never released"
            if self.pending > 0:
                self.pending -= 1
                self.refused += 1
                raise TooManyRequests()
            return original(backend, *args, **kwargs)

        monkeypatch.setattr(SESV2Backend, "send_email", send_email)

    def fail_next(self, times: int) -> None:
        self.pending = times
