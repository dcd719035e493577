"""Faults never lose an order (issue 10, item 3), proved with faults injected into the local AWS.

The fast path (Express) retries a fault for seconds, then hands the order to fulfilment-retry
(Standard), which re-runs it for about 7 hours (simulated time: back-off does not sleep) while
keeping the order's claim; only when that gives up is the order marked FAILED and staff alerted,
once. A duplicate arriving meanwhile finds the claim and ends quietly: the order is not lost,
because the slow path owns it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fulfilment_local import PAYMENT_LINK, Local, envelope, local_aws, now, session_of
from harness import Run
from moto.core.exceptions import JsonRESTError
from ses_faults import SesFault

from stacks.fulfilment import RETRY_LEASE_SECONDS

FAST_ATTEMPTS = 5  # the fast path's first try and its 4 retries (asserted below from the ASL)
SLOW_RUNS = 13  # fulfilment-retry: the first run and its 12 retries
HOUR = 3600


@pytest.fixture
def local() -> Iterator[Local]:
    yield from local_aws()


@pytest.fixture
def ses(monkeypatch: pytest.MonkeyPatch) -> SesFault:
    return SesFault(monkeypatch)


def _handed_over(run: Run) -> None:
    """The fast path kept its claim for the slow path and started it; it did not fail."""
    assert run.status == "SUCCEEDED", run.history[-1]
    assert run.states()[-3:] == ["ExtendLease", "StartRetry", "HandedToRetry"], run.states()


def _lease_kept_until(run: Run) -> int:
    """The leaseUntil the fast run's ExtendLease wrote (read from its history, not the table,
    which the slow path's own attempts update meanwhile)."""
    scheduled = [
        e["taskScheduledEventDetails"]
        for e in run.history
        if e["type"] == "TaskScheduled"
        and e["taskScheduledEventDetails"]["resource"] == "updateItem"
    ]
    (extend,) = [json.loads(s["parameters"]) for s in scheduled if "RETRYING" in s["parameters"]]
    return int(extend["ExpressionAttributeValues"][":until"]["N"])


def test_fast_path_retries_are_what_this_test_counts_on() -> None:
    from payops.asl import asl_path

    states = json.loads(asl_path("fulfilment").read_text())["States"]
    (ses_retry,) = states["EmailDownloadLinks"]["Retry"]
    (stripe_retry,) = states["GetSession"]["Retry"]
    assert 1 + ses_retry["MaxAttempts"] == 1 + stripe_retry["MaxAttempts"] == FAST_ATTEMPTS
    retry = json.loads(asl_path("fulfilment-retry").read_text())["States"]
    assert 1 + retry["Deliver"]["Retry"][0]["MaxAttempts"] == SLOW_RUNS


def test_ses_throttled_past_the_fast_path_is_delivered_by_the_slow_path(
    local: Local, ses: SesFault
) -> None:
    local.verify_sender()
    event = envelope(PAYMENT_LINK)
    order_id = session_of(event)["id"]
    ses.fail_next(FAST_ATTEMPTS + 3)  # the whole fast path, then 3 sends of the slow path

    run = local.run(event)

    _handed_over(run)
    (retry,) = local.retry_runs()
    assert retry.status == "SUCCEEDED", retry.history[-1]
    assert retry.states() == ["Pause", "Deliver", "Delivered"]
    assert retry.simulated_seconds >= 60  # waited, not spun
    assert ses.refused == FAST_ATTEMPTS + 3
    assert len(local.emails()) == 1
    assert local.order(order_id)["status"] == {"S": "FULFILLED"}  # type: ignore[index]
    assert local.alerts() == []  # retried, then processed: nobody needs to act


def test_duplicate_during_a_run_that_later_fails_does_not_lose_the_order(
    local: Local, ses: SesFault
) -> None:
    """Run A claims the order and is slow at SES; a duplicate arrives meanwhile and ends
    AlreadyHandled; then A's sends fail past its retries. The slow path delivers, once."""
    local.verify_sender()
    event = envelope(PAYMENT_LINK)
    gate = threading.Event()
    ses.hold = gate
    ses.fail_next(FAST_ATTEMPTS + 1)

    first = local.start(event)
    assert ses.held.wait(15), "run A never reached SES"
    duplicate = local.run(json.loads(json.dumps(event)))
    assert duplicate.states()[-1] == "AlreadyHandled"  # A still owns the claim
    gate.set()  # A's sends now fail past its retries

    _handed_over(local.finish(first))
    (retry,) = local.retry_runs()
    assert retry.status == "SUCCEEDED", retry.history[-1]
    assert len(local.emails()) == 1
    assert local.order(session_of(event)["id"])["status"] == {"S": "FULFILLED"}  # type: ignore[index]
    # Later deliveries find the fulfilled order.
    assert local.run(json.loads(json.dumps(event))).states()[-1] == "AlreadyHandled"
    assert len(local.emails()) == 1
    assert local.alerts() == []


@pytest.mark.parametrize("status", [503, 429])
def test_stripe_errors_past_the_fast_path_are_delivered_by_the_slow_path(
    local: Local, status: int
) -> None:
    local.verify_sender()
    event = envelope(PAYMENT_LINK)
    local.stripe.fail_next(status, times=FAST_ATTEMPTS + 2)

    _handed_over(local.run(event))
    (retry,) = local.retry_runs()

    assert retry.status == "SUCCEEDED", retry.history[-1]
    assert len(local.emails()) == 1
    failed = [c for c in local.stripe.calls if c.injected]
    assert [c.status for c in failed] == [status] * (FAST_ATTEMPTS + 2)
    assert local.alerts() == []


def test_lambda_throttled_past_the_fast_path_is_delivered_by_the_slow_path(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock Lambda is throttled (TooManyRequestsException) for longer than the fast path
    retries it: nothing is claimed yet, the slow path claims and delivers."""
    from moto.awslambda.models import LambdaBackend

    local.verify_sender()
    refusals = {"left": FAST_ATTEMPTS + 2}
    original = LambdaBackend.invoke

    def invoke(backend: Any, *args: Any, **kwargs: Any) -> Any:
        if refusals["left"] > 0:
            refusals["left"] -= 1
            raise JsonRESTError("TooManyRequestsException", "Rate exceeded")
        return original(backend, *args, **kwargs)

    monkeypatch.setattr(LambdaBackend, "invoke", invoke)
    event = envelope(PAYMENT_LINK)

    run = local.run(event)

    assert run.status == "SUCCEEDED" and run.states()[-2:] == ["StartRetry", "HandedToRetry"]
    assert "ExtendLease" not in run.states()  # nothing was claimed
    (retry,) = local.retry_runs()
    assert retry.status == "SUCCEEDED", retry.history[-1]
    assert refusals["left"] == 0
    assert len(local.emails()) == 1


def test_fault_outlasting_the_slow_path_marks_failed_alerts_once_and_the_next_delivery_fulfils(
    local: Local, ses: SesFault
) -> None:
    local.verify_sender()
    event = envelope(PAYMENT_LINK)
    order_id = session_of(event)["id"]
    ses.fail_next(FAST_ATTEMPTS * (1 + SLOW_RUNS))  # every send of every attempt

    fast = local.run(event)
    _handed_over(fast)
    assert _lease_kept_until(fast) >= now() + RETRY_LEASE_SECONDS - 60  # the claim kept for hours

    (retry,) = local.retry_runs(timeout=120)
    assert retry.status == "FAILED" and retry.error == "FulfilmentFailed"
    assert retry.states()[-3:] == ["MarkOrderFailed", "AlertStaff", "FulfilmentFailed"]
    assert retry.simulated_seconds >= 6 * HOUR  # the longest retry window of the money path
    assert ses.refused == FAST_ATTEMPTS * (1 + SLOW_RUNS)
    assert local.emails() == []
    assert local.order(order_id)["status"] == {"S": "FAILED"}  # type: ignore[index]
    (alert,) = local.alerts()  # once, for the order; not once per attempt
    assert alert["Subject"] == "Order fulfilment failed"
    assert order_id in alert["Message"] and "null" not in alert["Message"]

    # SES works again: Stripe's next delivery (or an archive replay) fulfils the order, once.
    assert local.run(json.loads(json.dumps(event))).states()[-1] == "Fulfilled"
    assert local.run(json.loads(json.dumps(event))).states()[-1] == "AlreadyHandled"
    assert len(local.emails()) == 1
