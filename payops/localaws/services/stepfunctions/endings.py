"""Execution endings as a signal: who waits for executions to finish is woken when one ends.

The local AWS settles after each event by waiting until no execution runs. Sleep-polling for
that cost up to a poll interval per round after every ending; `wait_for_an_ending` returns as
soon as an execution ends (status_events.py, which sees every ending, calls `ended`).
"""

from __future__ import annotations

import threading

_endings = threading.Condition()
_count = 0


def ended() -> None:
    """One more execution has ended (its status is set): wake whoever waits."""
    global _count
    with _endings:
        _count += 1
        _endings.notify_all()


def endings() -> int:
    """How many executions have ended so far (pass it to `wait_for_an_ending`)."""
    return _count


def wait_for_an_ending(seen: int, timeout: float) -> bool:
    """Wait until more than `seen` executions have ended, at most `timeout` s (True if so)."""
    with _endings:
        return _endings.wait_for(lambda: _count > seen, timeout)
