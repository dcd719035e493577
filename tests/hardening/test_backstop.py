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
from stacks.backstop import handled_errors, unnamed_failures


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
    message = alerts[0]["message"]
    assert f"ended FAILED with error {done['error']} " in message, message
    assert "null" not in message and done["name"] in message


def _status_change(local: LocalAws, asl: str, status: str, **fields: str | None) -> list[dict]:
    """Deliver Step Functions' status event for a run of `asl` (Standard) to the default
    bus's rules, as the local AWS does when a run ends (status_events.py: PutEvents refuses an
    `aws.` source from a caller), and return the alerts it caused."""
    from moto.events.models import events_backends

    from payops.localaws.core.account import ACCOUNT, REGION

    machine = machine_arn(local, asl)
    name = f"t-{uuid.uuid4().hex[:12]}"
    detail = {
        "executionArn": machine.replace(":stateMachine:", ":execution:") + f":{name}",
        "stateMachineArn": machine, "name": name, "status": status, "input": "{}",
        "output": None, **fields,
    }  # fmt: skip
    event = {"version": "0", "id": str(uuid.uuid4()), "source": "aws.states",
             "detail-type": "Step Functions Execution Status Change", "account": ACCOUNT,
             "region": REGION, "resources": [detail["executionArn"]], "detail": detail}  # fmt: skip
    mark = RECORDER.mark()
    for rule in list(events_backends[ACCOUNT][REGION].event_buses["default"].rules.values()):
        rule.send_to_targets(dict(event))
    local.settle()
    return [dict(a, name=name) for a in _alerts_since(local, mark)]


@pytest.mark.parametrize(
    ("status", "fields"),
    [
        ("ABORTED", {}),  # no error field at all
        ("TIMED_OUT", {"error": None, "cause": None}),
        # A Fail state without an Error name (reconciliation's NotReinjected): error is null.
        ("FAILED", {"error": None, "cause": unnamed_failures("reconciliation")[0]}),
    ],
)
def test_a_run_whose_event_names_no_error_gets_a_message_without_null(
    local: LocalAws, status: str, fields: dict
) -> None:
    (alert,) = _status_change(local, "reconciliation", status, **fields)
    message = alert["message"]
    assert f"Workflow run {alert['name']} ended {status} " in message, message
    assert "no error name given" in message and "null" not in message, message


def test_a_failure_the_workflow_alerted_itself_gets_no_second_message(local: LocalAws) -> None:
    (handled,) = handled_errors("fulfilment-retry")
    assert _status_change(local, "fulfilment-retry", "FAILED", error=handled, cause="x") == []
    (alert,) = _status_change(local, "fulfilment-retry", "FAILED", error="States.Runtime")
    assert "ended FAILED with error States.Runtime " in alert["message"]


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
