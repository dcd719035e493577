"""What happened inside the local AWS, in order, for traces and test assertions.

Bridges append facts here as they act (an event matched a rule, a target was invoked, an HTTP call
was made, a message was dead-lettered ...). The recorder is process-wide because moto's backends
are process-wide; `reset()` starts a fresh record.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fact:
    kind: str  # e.g. "rule_matched", "target_invoked", "http_call", "dlq", "sleep_skipped"
    data: dict[str, Any]
    at: float = field(default_factory=time.time)


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._facts: list[Fact] = []

    def record(self, kind: str, /, **data: Any) -> None:
        with self._lock:
            self._facts.append(Fact(kind, data))

    def facts(self, kind: str | None = None) -> list[Fact]:
        with self._lock:
            return [f for f in self._facts if kind is None or f.kind == kind]

    def mark(self) -> int:
        """A position to read facts from later (see `since`)."""
        with self._lock:
            return len(self._facts)

    def since(self, mark: int, kind: str | None = None) -> list[Fact]:
        with self._lock:
            return [f for f in self._facts[mark:] if kind is None or f.kind == kind]

    def reset(self) -> None:
        with self._lock:
            self._facts.clear()


RECORDER = Recorder()


def recording(
    kind: str,
    original: Callable[..., Any],
    describe: Callable[..., dict],
    lock: Any = None,
) -> Any:
    """`original` (a moto method) that records a `kind` fact after each call that succeeded."""

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if lock is None:
            result = original(self, *args, **kwargs)  # raises on a failed condition: not recorded
        else:
            with lock:  # check-and-write as one step, as DynamoDB does
                result = original(self, *args, **kwargs)
        RECORDER.record(kind, **describe(*args, **kwargs))
        return result

    wrapper.__payops_original__ = original  # type: ignore[attr-defined]
    return wrapper
