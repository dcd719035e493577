"""Step Functions "Execution Status Change" events on the default bus (the pinned moto sends none).

AWS sends one event per status change of a Standard execution to the account's default bus
(source `aws.states`); Express executions send none. The stack's workflow backstop rule
(stacks/backstop.py) listens for FAILED, TIMED_OUT and ABORTED runs there. `install()` wraps
moto's `BaseExecutionWorkerCommunication.terminated` (where an execution's final status is set)
and delivers the event to the default bus's rules, as EventBridge would deliver it. RUNNING is
not sent: nothing here listens for it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from payops.localaws.core.patch import Patch
from payops.localaws.services.stepfunctions import endings

GAPS: dict[str, str] = {
    "sfn.status_change_events": (
        "a Standard execution that ends sends a Step Functions Execution Status Change event to "
        "the default bus (moto sends none)"
    ),
}


def _millis(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else None


def status_event(execution: Any) -> dict[str, Any]:
    """The event AWS sends for `execution`'s final status."""
    status = str(getattr(execution.exec_status, "value", execution.exec_status))
    data = execution.input_data
    detail: dict[str, Any] = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "status": status,
        "startDate": _millis(execution.start_date),
        "stopDate": _millis(execution.stop_date),
        # As JSON text, as AWS sends them (moto keeps SDK results with datetimes in them).
        "input": data if isinstance(data, str) or data is None else json.dumps(data, default=str),
        "output": None if execution.output is None else json.dumps(execution.output, default=str),
    }
    if status == "FAILED":
        detail["error"] = execution.error
        detail["cause"] = execution.cause
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": execution.account_id,
        "time": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": execution.region_name,
        "resources": [execution.exec_arn],
        "detail": detail,
    }


def _send(execution: Any) -> None:
    from moto.events.models import events_backends

    if str(getattr(execution.sm_type, "value", execution.sm_type)) != "STANDARD":
        return
    backend = events_backends[execution.account_id][execution.region_name]
    bus = backend.event_buses.get("default")
    if bus is None:
        return
    event = status_event(execution)
    for rule in list(bus.rules.values()):
        rule.send_to_targets(dict(event))  # the events bridge matches and delivers


def _terminated(self: Any) -> None:
    _BASE_EXECUTION_WORKER_COMMUNICATION_TERMINATED.original(self)
    try:
        _send(self.execution)
    finally:
        endings.ended()  # after the event: what it started is already running


# The moto attributes this module replaces.
_BASE_EXECUTION_WORKER_COMMUNICATION_TERMINATED = Patch(
    "moto.stepfunctions.parser.backend.execution:BaseExecutionWorkerCommunication",
    "terminated",
    _terminated,
)
PATCHES = (_BASE_EXECUTION_WORKER_COMMUNICATION_TERMINATED,)
