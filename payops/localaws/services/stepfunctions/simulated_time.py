"""Simulated time for Wait states and Retry intervals, which moto really sleeps: the sleep is
skipped, added up per execution (`simulated_seconds`) and recorded as `sleep_skipped`; a Wait until
a timestamp counts from the execution's simulated now, in UTC.
"""

from __future__ import annotations

import datetime
import threading
from typing import Any

from payops.localaws.core.patch import Patch
from payops.localaws.core.recorder import RECORDER


class _SimulatedClock:
    """Seconds of Wait/Retry time skipped, per execution ARN (a sum, not wall-clock: waits in
    parallel branches add up)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_execution: dict[str, float] = {}

    def advance(self, execution_arn: str, seconds: float) -> None:
        with self._lock:
            self._by_execution[execution_arn] = self._by_execution.get(execution_arn, 0.0) + seconds

    def seconds(self, execution_arn: str | None = None) -> float:
        with self._lock:
            if execution_arn is None:
                return sum(self._by_execution.values())
            return self._by_execution.get(execution_arn, 0.0)

    def reset(self) -> None:
        with self._lock:
            self._by_execution.clear()


_CLOCK = _SimulatedClock()


def simulated_seconds(execution_arn: str | None = None) -> float:
    """Simulated seconds skipped by one execution, or by all executions when None."""
    return _CLOCK.seconds(execution_arn)


def reset_simulated_time() -> None:
    _CLOCK.reset()


def execution_arn_of(env: Any) -> str:
    return env.states.context_object.context_object_data["Execution"]["Id"]


def _state_name(env: Any) -> str | None:
    state = env.states.context_object.context_object_data.get("State") or {}
    return state.get("Name")


def _skip(env: Any, seconds: float, reason: str) -> None:
    if seconds <= 0:
        return
    arn = execution_arn_of(env)
    _CLOCK.advance(arn, float(seconds))
    RECORDER.record(
        "sleep_skipped",
        execution_arn=arn,
        seconds=float(seconds),
        reason=reason,
        state=_state_name(env),
    )


def simulated_time_patches() -> list[Patch]:
    found: list[Patch] = []
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import (
        MaxAttemptsOutcome,
    )
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import (
        RetrierOutcome,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (
        timestamp,
        wait_function,
    )

    def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        _skip(env, wait_seconds, "wait")

    def _get_wait_seconds(self: Any, env: Any) -> int:
        # moto subtracts naive local time; compare in UTC against the execution's simulated now.
        self.string.eval(env=env)
        timestamp_str: str = env.stack.pop()
        target = self._from_timestamp_string(timestamp=timestamp_str)
        if target is None:
            raise timestamp.FailureEventException(self._create_failure_event(env, timestamp_str))
        now = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
            seconds=_CLOCK.seconds(execution_arn_of(env))
        )
        return max(0, int((target.replace(tzinfo=datetime.UTC) - now).total_seconds()))

    def _retrier_eval_body(self: Any, env: Any) -> None:
        # Same steps as moto's RetrierDecl._eval_body, minus time.sleep.
        self.error_equals.eval(env)
        if not env.stack.pop():
            env.stack.append(RetrierOutcome.Skipped)
            return
        self.max_attempts.eval(env=env)
        if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
            env.stack.append(RetrierOutcome.Failed)
            return
        self.interval_seconds.eval(env=env)
        self.backoff_rate.eval(env=env)
        self.max_delay_seconds.eval(env=env)
        self.jitter_strategy.eval(env=env)
        _skip(env, env.stack.pop(), "retry")
        env.stack.append(RetrierOutcome.Executed)

    found.append(Patch(wait_function.WaitFunction, "_wait_interval", _wait_interval))
    found.append(Patch(timestamp.Timestamp, "_get_wait_seconds", _get_wait_seconds))
    found.append(Patch(retrier_decl.RetrierDecl, "_eval_body", _retrier_eval_body))
    return found
