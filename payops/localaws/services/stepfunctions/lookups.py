"""Execution lookups by name and ARN instead of a scan of every execution the machine ever ran.

moto keeps a state machine's executions in a list and scans it on every StartExecution (is the
name taken?) and every DescribeExecution / GetExecutionHistory. Over a long replay the audit
workflow alone runs thousands of executions, so each start and each describe grew with the
replay (the last 500 of 5,000 events took 1.45x the first 500). The list stays a list (in start
order, as the local AWS's settle reads it); it also keeps a dict per name and per ARN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from payops.localaws.core.patch import Patch

SPEEDUPS: dict[str, str] = {
    "sfn.execution_index": (
        "StartExecution scanned every execution of the machine for its name, and "
        "DescribeExecution / GetExecutionHistory for the ARN: O(executions so far) per call, so a "
        "replay slowed as it went; now a dict per name and per ARN beside moto's list."
    ),
}


class IndexedExecutions(list):  # type: ignore[type-arg]
    """moto's list of a machine's executions, in start order, also indexed by name and ARN.

    The first execution of a name is the one moto's scan finds (a second one with that name is
    refused). Anything but `append` (moto only appends) re-indexes the whole list.
    """

    def __init__(self, executions: Iterable[Any] = ()) -> None:
        super().__init__(executions)
        self._reindex()

    def _reindex(self) -> None:
        self.by_name: dict[str, Any] = {}
        self.by_arn: dict[str, Any] = {}
        for execution in self:
            self._index(execution)

    def _index(self, execution: Any) -> None:
        self.by_name.setdefault(execution.name, execution)
        self.by_arn.setdefault(execution.execution_arn, execution)

    def append(self, execution: Any) -> None:
        super().append(execution)
        self._index(execution)


def _reindexing(name: str) -> Any:
    method = getattr(list, name)

    def mutate(self: IndexedExecutions, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        self._reindex()
        return result

    return mutate


for _name in (
    "extend",
    "insert",
    "remove",
    "pop",
    "clear",
    "sort",
    "reverse",
    "__setitem__",
    "__delitem__",
    "__iadd__",
):
    setattr(IndexedExecutions, _name, _reindexing(_name))


def execution_index_patches() -> list[Patch]:
    from moto.stepfunctions import models
    from moto.stepfunctions.exceptions import ExecutionAlreadyExists, ExecutionDoesNotExist

    original_init = models.StateMachineInstance.__init__
    original_describe = models.StepFunctionBackend.describe_execution

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.executions = IndexedExecutions(self.executions)

    def _handle_name_input_idempotency(self: Any, name: str, execution_input: str) -> Any:
        executions = self.executions
        if not isinstance(executions, IndexedExecutions):  # made before the patch: moto's scan
            executions = IndexedExecutions(executions)
        execution = executions.by_name.get(name)
        if execution is None:
            return None
        # moto's rule, as it is: the same name and input while running is the same execution.
        if execution_input == execution.execution_input and execution.status == "RUNNING":
            return execution
        raise ExecutionAlreadyExists("Execution Already Exists: '" + execution.execution_arn + "'")

    def describe_execution(self: Any, execution_arn: str) -> Any:
        self._validate_execution_arn(execution_arn)
        state_machine = self._get_state_machine_for_execution(execution_arn)
        executions = state_machine.executions
        if not isinstance(executions, IndexedExecutions):
            return original_describe(self, execution_arn)
        execution = executions.by_arn.get(execution_arn)
        if execution is None:
            raise ExecutionDoesNotExist("Execution Does Not Exist: '" + execution_arn + "'")
        return execution

    return [
        Patch(models.StateMachineInstance, "__init__", __init__),
        Patch(
            models.StateMachine, "_handle_name_input_idempotency", _handle_name_input_idempotency
        ),
        Patch(models.StepFunctionBackend, "describe_execution", describe_execution),
    ]


def history_events(execution: Any) -> list[dict[str, Any]]:
    """An execution's history entries as moto keeps them, for a reader that only reads them.

    moto's `to_history_output()` deep-copies every entry (each state's input and output: whole
    Stripe events) for each caller; the local AWS's per-event trace reads state names and the
    last error of every execution the event started. The list is copied (moto appends to it
    while an execution runs), its entries are not: they must not be changed."""
    if not hasattr(execution, "exec_worker"):  # not moto's executing model: its own output
        return list(execution.to_history_output()["events"])
    env = execution.exec_worker.env if execution.exec_worker is not None else None
    if env is None:  # not started yet
        return []
    manager = env.event_manager
    with manager._mutex:
        return list(manager._history_event_list)
