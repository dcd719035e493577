"""Step Functions speed-up `sfn.output_paths`: a state's OutputPath hands its result over once.

For an OutputPath of a JSONPath (`$` unless a state names another), moto's interpreter copies
the state's output twice: the path's sampler (`StringJsonPath`) pushes a deep copy of what the
path selects, and `OutputPath` pops it and calls `States.reset`, which deep-copies it again
before keeping it as the next state's data. The sampler's copy is fresh, and popping it leaves
nothing else holding it, so it is kept as it is: the same value, one whole-data copy fewer per
state (every state has an OutputPath). Other samplers (none: `{}`, a context path, JSONata),
and a path that selects nothing (moto's own failure event), go through moto's code unchanged.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.patch import Patch

SPEEDUPS: dict[str, str] = {
    "sfn.output_paths": (
        "Each state's OutputPath deep-copied the state's output twice (the path's own copy, "
        "then States.reset's copy of that fresh copy); the path's copy is kept as the next "
        "state's data."
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
