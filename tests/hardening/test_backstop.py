"""The backstop: a Standard run that fails where no Catch sees it still reaches staff (issue 12).

A failure outside the workflow's error handling (`States.Runtime`, which `States.ALL` does not
catch, a timeout, or as here an error of a state without a Catch for it: the input lacks
`detail.created`, and the claim's put fails) ends the run FAILED without its own alert. Step
Functions' "Execution Status Change" event (sent by the local AWS as AWS sends it,
payops/localaws/services/stepfunctions/status_events.py) matches the stack's backstop rule, which
publishes one
message to the staff alerts topic.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from local_events import alerts_topic_arn, loaded, machine_arn, module_local, stripe_event

from payops.localaws.core.recorder import RECORDER
from payops.localaws.runtime import LocalAws
from payops.localaws.services import stepfunctions
from stacks.backstop import handled_errors


@pytest.fixture(scope="module")
def local() -> Iterator[LocalAws]:
    yield from module_local()


def _run(local: LocalAws, asl_name: str, payload: dict) -> dict:
    sfn = local.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=machine_arn(local, asl_name), name=f"t-{uuid.uuid4().hex[:12]}",
        input=json.dumps(payload),
    )["executionArn"]  # fmt: skip
    for _ in range(200):
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{arn} still running")


def _alerts_since(local: LocalAws, mark: int) -> list[dict]:
    topic = alerts_topic_arn(local).rsplit(":", 1)[-1]
    return [f.data for f in RECORDER.since(mark, "sns_published") if f.data.get("topic") == topic]


def test_a_failure_no_catch_sees_alerts_staff_once(local: LocalAws) -> None:
    mark = RECORDER.mark()
    done = _run(local, "subscription-deprovision", {"detail": {"id": f"evt_{uuid.uuid4().hex}"}})
    local.settle()
    assert done["status"] == "FAILED" and done["error"] not in handled_errors(
        "subscription-deprovision"
    )
    alerts = _alerts_since(local, mark)
    assert len(alerts) == 1, alerts


def test_a_successful_run_sends_no_backstop_alert(local: LocalAws) -> None:
    mark = RECORDER.mark()
    trace = local.send(loaded(local, stripe_event("01-card-order-paid")))
    assert any(e["status"] == "SUCCEEDED" for e in trace.executions), trace.executions
    assert _alerts_since(local, mark) == []


def test_without_status_events_the_runtime_error_is_silent(local: LocalAws) -> None:
    """The gap: moto sends no status events, so nothing would reach staff."""
    with stepfunctions.PATCHES.lifted("BaseExecutionWorkerCommunication.terminated"):
        mark = RECORDER.mark()
        done = _run(
            local, "subscription-deprovision", {"detail": {"id": f"evt_{uuid.uuid4().hex}"}}
        )
        local.settle()
    assert done["status"] == "FAILED"
    assert _alerts_since(local, mark) == []
