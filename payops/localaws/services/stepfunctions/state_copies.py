"""Step Functions speed-ups `sfn.output_paths`, `sfn.input_paths` and `sfn.execution_outputs`:
a state's OutputPath and InputPath hand their data over with one copy each, and an execution
that succeeded keeps its last state's data as its output without another.

For an OutputPath of a JSONPath (`$` unless a state names another), moto's interpreter copies
the state's output twice: the path's sampler (`StringJsonPath`) pushes a deep copy of what the
path selects, and `OutputPath` pops it and calls `States.reset`, which deep-copies it again
before keeping it as the next state's data. The sampler's copy is fresh, and popping it leaves
nothing else holding it, so it is kept as it is: the same value, one whole-data copy fewer per
state (every state has an OutputPath). Other samplers (none: `{}`, a context path, JSONata),
and a path that selects nothing (moto's own failure event), go through moto's code unchanged.

For an InputPath of a JSONPath (`$` unless a state names another), moto pushes a deep copy of the
state's whole input (`States.get_input()`), then the path's sampler pushes a deep copy of what it
selects from that copy: the state reads the selection, and the whole copy stays beneath it until
the program clears the stack after the state. Nothing reads it: a whole suite run with it
replaced by an object that raises on any use passed, and a test keeps such an object there while
Map, Parallel, Task and Pass states run. Now the sampler selects from the input
itself (it only reads it, and copies what it selects), and what stays beneath the selection is
None, not the input, so that nothing could ever change the input through the stack. A Task
state's thread also deep-copied the whole stack, that copy included. A path that selects
nothing goes through moto's code (its failure wording).

When an execution succeeds, moto keeps `States.get_input()`, a deep copy of the last state's
data, as the execution's output. The program is over, so nothing changes that data again, and
every reader of an execution's output serializes it (DescribeExecution, StartSyncExecution, the
status-change event, the pipes); the data itself is kept. Every other ending goes through moto.
"""

from __future__ import annotations

import datetime
from typing import Any

from payops.localaws.core.patch import Patch

SPEEDUPS: dict[str, str] = {
    "sfn.output_paths": (
        "Each state's OutputPath deep-copied the state's output twice (the path's own copy, "
        "then States.reset's copy of that fresh copy); the path's copy is kept as the next "
        "state's data."
    ),
    "sfn.input_paths": (
        "Each state's InputPath deep-copied the state's whole input, then selected from that copy "
        "and copied the selection; the copy was left unread on the stack (and copied again for "
        "each Task's thread); the selection is copied from the input itself."
    ),
    "sfn.execution_outputs": (
        "A succeeded execution's output was a deep copy of its last state's data, which nothing "
        "changes once the program is over and every reader serializes; the data is kept."
    ),
}


def output_paths_patches() -> list[Patch]:
    from moto.stepfunctions.parser.asl.component.common.path.output_path import OutputPath
    from moto.stepfunctions.parser.asl.component.common.string.string_expression import (
        StringJsonPath,
    )
    from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError

    original = OutputPath._eval_body

    def _eval_body(self: Any, env: Any) -> None:
        sampler = self.string_sampler
        if type(sampler) is not StringJsonPath:  # exactly: StringContextPath reads the context
            original(self, env)
            return
        try:
            sampler.eval(env=env)
        except NoSuchJsonPathError:
            original(self, env)  # the sampler pushed nothing: moto words the failure
            return
        output_value = env.stack.pop()
        # States.reset(output_value) without its deep copy: StringJsonPath._eval_body pushed its
        # own deep copy of the selection, and the pop above removed the one reference to it.
        data = env.states._states_data
        data["input"] = output_value
        data["result"] = None
        data["errorOutput"] = None

    return [Patch(OutputPath, "_eval_body", _eval_body)]


# What stays beneath an InputPath's selection (tests put an object there that fails on any use).
_UNREAD: Any = None


def input_paths_patches() -> list[Patch]:
    from moto.stepfunctions.parser.asl.component.common.path.input_path import InputPath
    from moto.stepfunctions.parser.asl.component.common.string.string_expression import (
        StringJsonPath,
    )
    from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError

    original = InputPath._eval_body

    def _eval_body(self: Any, env: Any) -> None:
        sampler = self.string_sampler
        if type(sampler) is not StringJsonPath:  # none ({}), a context path, JSONata: moto's
            original(self, env)
            return
        stack = env.stack
        # moto pushes env.states.get_input(), a deep copy; the sampler only reads what is on top
        # and pushes a deep copy of what it selects, so it may read the input itself.
        stack.append(env.states._states_data["input"])
        try:
            sampler.eval(env=env)
        except NoSuchJsonPathError:
            stack.pop()
            original(self, env)  # the sampler pushed nothing: moto words the failure
            return
        stack[-2] = _UNREAD  # moto's unread copy of the whole input; never the input itself

    return [Patch(InputPath, "_eval_body", _eval_body)]


def execution_outputs_patches() -> list[Patch]:
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original = BaseExecutionWorkerCommunication._reflect_execution_status

    def _reflect_execution_status(self: Any) -> None:
        execution = self.execution
        env = execution.exec_worker.env
        if not isinstance(env.program_state(), ProgramEnded):
            original(self)
            return
        # The pinned moto's lines for a program that ended, but for get_input()'s deep copy.
        execution.stop_date = datetime.datetime.now(tz=datetime.UTC)
        execution.exec_status = ExecutionStatus.SUCCEEDED
        execution.output = env.states._states_data["input"]

    return [
        Patch(
            BaseExecutionWorkerCommunication, "_reflect_execution_status", _reflect_execution_status
        )
    ]
