"""`payops reconcile`: the reconciliation workflow in the local AWS, against the fake Stripe API.

A manual run ({"since", "until"}) judges that window and leaves the checkpoint alone; `fire()`
starts the deployed schedule's own run ({}), which judges the checkpoint's window and advances it.
Either way the run and everything the re-injected events started are traced like a replayed
event, and the ids it re-injected are read from the run's history.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from payops.localaws.core.recorder import RECORDER
from payops.localaws.runtime import EventTrace, LocalAws

WORKFLOW = "reconciliation"


class ReconcileError(ValueError):
    pass


@dataclass
class Reconciled:
    status: str
    reinjected: list[str] = field(default_factory=list)
    found: int | None = None
    pages: int | None = None
    trace: EventTrace | None = None


def parse_since(value: str) -> int:
    """Epoch seconds, or an ISO date / date-time (UTC unless it says otherwise)."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ReconcileError(
            f"--since {value!r}: expected epoch seconds or an ISO date (2026-11-24T09:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def machine_arn(local: LocalAws) -> str:
    machines = local.client("stepfunctions").list_state_machines()["stateMachines"]
    for machine in machines:
        if machine["name"] == f"{local.stack_prefix}{WORKFLOW}":
            return machine["stateMachineArn"]
    raise ReconcileError("the reconciliation workflow is not deployed")


def reconcile(local: LocalAws, since: int, until: int | None = None) -> Reconciled:
    """A manual run over [since, until] (until: now)."""
    until = int(time.time()) if until is None else until
    if until < since:
        raise ReconcileError(f"--since is after the end of the window ({since} > {until})")

    def start() -> str:
        return local.client("stepfunctions").start_execution(
            stateMachineArn=machine_arn(local),
            name=f"manual-{int(time.time() * 1000)}",
            input=json.dumps({"since": since, "until": until}),
        )["executionArn"]

    return _traced(local, start)


def fire(local: LocalAws) -> Reconciled:
    """What the schedule does at its next time (the deployed schedule's target and input)."""
    from payops.localaws.core import registry

    name = f"{local.stack_prefix}{WORKFLOW}"
    return _traced(local, lambda: registry.provided("scheduler", "fire")(name))


def _traced(local: LocalAws, start: Any) -> Reconciled:
    mark = RECORDER.mark()
    before = local._snapshot()
    started = time.perf_counter()
    arn = start()
    local.settle()
    sfn = local.client("stepfunctions")
    described = sfn.describe_execution(executionArn=arn)
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    reinjected: list[str] = []
    for event in history:
        exited = event.get("stateExitedEventDetails") or {}
        if exited.get("name") == "CountPage":
            reinjected += json.loads(exited["output"])["progress"]["reinjected"]
    output = json.loads(described.get("output") or "{}")
    trace = EventTrace(
        label="reconciliation", event_id=arn.rsplit(":", 1)[-1], event_type=WORKFLOW,
        delivery="accepted",
    )  # fmt: skip
    local._fill(trace, mark, before)
    trace.wall_seconds = time.perf_counter() - started
    return Reconciled(
        status=described["status"],
        reinjected=reinjected,
        found=output.get("found"),
        pages=output.get("pages"),
        trace=trace,
    )
