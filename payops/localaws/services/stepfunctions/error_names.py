"""Error names: States.* and States.Http.* names where moto expects custom ones
(sfn.states_error_names).
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.patch import Patch
from payops.localaws.services.stepfunctions import program_store

_HTTP_ERROR_PREFIX = "States.Http."


error_name_factory: Any = None  # set by _install_error_names


def error_names_patches() -> list[Patch]:
    found: list[Patch] = []
    global error_name_factory
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        iteration_worker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail
    from moto.stepfunctions.parser.asl.parse import preprocessor

    @program_store.shared_by_name
    class HttpErrorName(ErrorName):
        """States.Http.* names: reserved-prefix names the HTTP Task itself raises on AWS."""

    def error_name_for(error_name: str | None) -> Any:
        # Stands in for CustomErrorName(...) where moto rebuilds or parses a name: reserved
        # States.* names become what they are instead of a ValueError.
        if error_name is not None and error_name.startswith(_HTTP_ERROR_PREFIX):
            return HttpErrorName(error_name=error_name)
        if error_name is not None and error_name.startswith("States."):
            try:
                return StatesErrorName.from_name(error_name)
            except ValueError:
                pass
        return CustomErrorName(error_name=error_name)

    error_name_factory = error_name_for
    # ErrorEquals parsing, Fail states, and Parallel/Map re-raising a branch's error.
    for module in (preprocessor, state_fail, branches_decl, iteration_worker):
        found.append(Patch(module, "CustomErrorName", error_name_for))
    return found
