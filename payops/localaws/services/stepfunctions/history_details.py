"""Step Functions speed-ups: a state's history entries and size check from one serialization.

For each state moto's interpreter serialized the state's data three times (its StateEntered
entry, the 256 KiB size check of its output, its StateExited entry) and deep-copied it first each
time (`States.get_input()`), only to read it. Now:
- `sfn.history_details`: the entries are serialized from the data itself, not from a copy;
- `sfn.size_quota`: the output is serialized once, compactly, as the StateExited entry has it.
  That text decides the size check: the check's own form (`json.dumps` with its default `", "`
  and `": "`) is at most one byte longer per comma and colon, so a text whose length plus its
  commas and colons is under the limit is within it, and only near the limit is moto's own check
  run (with its copy). The same text is the StateExited entry's output, and the next state's
  StateEntered input when that state starts on the same data object: the interpreter replaces a
  state's data with a new object and never changes one in place.
"""

from __future__ import annotations

import datetime
import threading
from typing import Any

from payops.localaws.core.patch import Patch

SPEEDUPS: dict[str, str] = {
    "sfn.history_details": (
        "Each StateEntered and StateExited history entry deep-copied the state's whole data "
        "(a Stripe event) only to serialize it; it is serialized from the data as it is."
    ),
    "sfn.size_quota": (
        "Each state's output was deep-copied and serialized for the 256 KiB check, then "
        "serialized again for StateExited and again as the next state's StateEntered; now one "
        "compact serialization serves all three (moto's own check runs near the limit)."
    ),
}

# The last state output this thread serialized: (environment, data object, compact JSON text).
_last = threading.local()


def history_details_patches() -> list[Patch]:
    from moto.stepfunctions.parser.api import (
        HistoryEventExecutionDataDetails,
        StateEnteredEventDetails,
        StateExitedEventDetails,
    )
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    def _data(env: Any) -> str:
        # What States.get_input() deep-copies, serialized as moto serializes the copy.
        data = env.states._states_data["input"]
        kept = getattr(_last, "output", None)
        if kept is not None and kept[0] is env and kept[1] is data:
            return kept[2]
        return to_json_str(data, separators=(",", ":"))

    def entered(self: Any, env: Any) -> Any:
        return StateEnteredEventDetails(
            name=self.name,
            input=_data(env),
            inputDetails=HistoryEventExecutionDataDetails(truncated=False),
        )

    def exited(self: Any, env: Any) -> Any:
        # Line for line the pinned moto's, but for the serialization above.
        event_details = StateExitedEventDetails(
            name=self.name,
            output=_data(env),
            outputDetails=HistoryEventExecutionDataDetails(truncated=False),
        )
        assigned_variables = env.variable_store.get_assigned_variables()
        env.variable_store.reset_tracing()
        if assigned_variables:
            event_details["assignedVariables"] = assigned_variables  # type: ignore[typeddict-unknown-key]
            event_details["assignedVariablesDetails"] = {"truncated": False}  # type: ignore[typeddict-unknown-key]
        return event_details

    return [
        Patch(CommonStateField, "_get_state_entered_event_details", entered),
        Patch(CommonStateField, "_get_state_exited_event_details", exited),
    ]


def size_quota_patches() -> list[Patch]:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramRunning
    from moto.stepfunctions.parser.asl.eval.states import StateData
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
    from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError
    from moto.stepfunctions.parser.quotas import MAX_STATE_SIZE_UTF8_BYTES

    def _check_output_size(self: Any, env: Any) -> None:
        """moto's `self._verify_size_quota(env=env, value=env.states.get_input())`, from one
        compact serialization (ASCII: json.dumps escapes the rest) kept for the entries."""
        data = env.states._states_data["input"]
        text = to_json_str(data, separators=(",", ":"))
        if len(text) + text.count(",") + text.count(":") >= MAX_STATE_SIZE_UTF8_BYTES:
            self._verify_size_quota(env=env, value=env.states.get_input())  # exact; raises
        _last.output = (env, data, text)

    def _eval_body(self: Any, env: Any) -> None:
        # CommonStateField._eval_body of the pinned moto, line for line but for the size check.
        env.event_manager.add_event(
            context=env.event_history_context,
            event_type=self.state_entered_event_type,
            event_details=EventDetails(
                stateEnteredEventDetails=self._get_state_entered_event_details(env=env)
            ),
        )
        env.states.context_object.context_object_data["State"] = StateData(
            EnteredTime=datetime.datetime.now(tz=datetime.UTC).isoformat(),
            Name=self.name,
        )

        self._eval_state_input(env=env)

        try:
            self._eval_state(env)
        except NoSuchJsonPathError as no_such_json_path_error:
            data_json_str = to_json_str(no_such_json_path_error.data)
            cause = (
                f"The JSONPath '{no_such_json_path_error.json_path}' specified for the field "
                f"'{env.next_field_name}' could not be found in the input '{data_json_str}'"
            )
            raise FailureEventException(  # noqa: B904 - moto's own raise, as it is
                failure_event=FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            error=StatesErrorNameType.StatesRuntime.to_name(),
                            cause=cause,
                        )
                    ),
                )
            )

        if not isinstance(env.program_state(), ProgramRunning):
            return

        self._eval_state_output(env=env)

        _check_output_size(self, env)

        self._set_next(env)

        if self.state_exited_event_type is not None:
            env.event_manager.add_event(
                context=env.event_history_context,
                event_type=self.state_exited_event_type,
                event_details=EventDetails(
                    stateExitedEventDetails=self._get_state_exited_event_details(env=env),
                ),
            )

    return [Patch(CommonStateField, "_eval_body", _eval_body)]
