"""Step Functions speed-up: a state's history entries written without copying its data first.

For its StateEntered and StateExited history events, moto's interpreter asked for the state's
input (`States.get_input()`, a deep copy of the whole Stripe event) only to serialize it. The
entries are now serialized from the data itself: the same JSON text, one copy fewer per entry,
two per state.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.patch import Patch

SPEEDUPS: dict[str, str] = {
    "sfn.history_details": (
        "Each StateEntered and StateExited history entry deep-copied the state's whole data "
        "(a Stripe event) only to serialize it; it is serialized from the data as it is."
    ),
}


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
        return to_json_str(env.states._states_data["input"], separators=(",", ":"))

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
