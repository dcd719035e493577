"""Duplicate storms (issue 6, item 3): the same event 50 times at once acts once.

Stripe delivers at least once and retries for days; EventBridge and Step Functions Express are
at-least-once too. Here threads put the same paid large order 50 times and the same
subscription start 50 times on the bus at once, shuffled among other orders, and the real side
effects are counted where they land: SES's sent messages, the fake Stripe's coupons, and
CloudFormation's customer stacks.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from local_events import (
    CARD_ORDER,
    COUPON_SUBJECT,
    FULFILMENT_SUBJECT,
    LARGE_ORDER,
    SUBSCRIPTION_STARTED,
    buyer,
    coupons_for,
    customer_stacks,
    module_local,
    put_entry,
    states_of,
    stripe_event,
    subjects_to,
)

from payops.localaws.runtime import LocalAws

DUPLICATES = 50
OTHER_ORDERS = 4
THREADS = 20


@pytest.fixture(scope="module")
def local() -> Iterator[LocalAws]:
    yield from module_local()


def put_all_at_once(local: LocalAws, entries: list[dict[str, Any]]) -> list[int]:
    """THREADS threads, released together, each delivering its share one entry at a time, as
    Stripe's event destination does (the partner's delivery: PutEvents refuses its bus)."""
    from payops.localaws.core.account import ACCOUNT, REGION
    from payops.localaws.services.events import deliver_partner_event

    start = threading.Barrier(THREADS)
    failed: list[int] = []

    def worker(share: list[dict[str, Any]]) -> None:
        start.wait()
        for entry in share:
            failed.append(0 if deliver_partner_event(entry, ACCOUNT, REGION) == "accepted" else 1)

    threads = [threading.Thread(target=worker, args=(entries[i::THREADS],)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failed


@pytest.fixture(scope="module")
def storm(local: LocalAws) -> dict[str, Any]:
    """One storm for the module's tests: 2 x 50 duplicates and other orders, interleaved."""
    order = stripe_event(LARGE_ORDER)
    subscription = stripe_event(SUBSCRIPTION_STARTED)
    others = [stripe_event(CARD_ORDER) for _ in range(OTHER_ORDERS)]
    for event in (order, subscription, *others):
        local.fake_stripe.observe(event)  # Stripe knows the subscription it announces
    entries = [put_entry(local, order)] * DUPLICATES + [put_entry(local, subscription)] * DUPLICATES
    entries += [put_entry(local, other) for other in others]
    random.Random(6).shuffle(entries)
    started = time.perf_counter()
    failed = put_all_at_once(local, entries)
    local.settle()
    return {
        "order": order,
        "subscription": subscription,
        "others": others,
        "failed": failed,
        "seconds": time.perf_counter() - started,
    }


def test_every_duplicate_was_accepted_and_delivered(storm: dict[str, Any]) -> None:
    assert len(storm["failed"]) == 2 * DUPLICATES + OTHER_ORDERS
    assert set(storm["failed"]) == {0}


def test_fifty_deliveries_of_a_paid_order_send_one_download_email(storm: dict[str, Any]) -> None:
    subjects = subjects_to(buyer(storm["order"]))
    assert len([s for s in subjects if s.startswith(FULFILMENT_SUBJECT)]) == 1, subjects


def test_fifty_deliveries_of_a_large_order_issue_one_coupon(
    local: LocalAws, storm: dict[str, Any]
) -> None:
    order = storm["order"]
    assert len(coupons_for(local, order)) == 1
    assert subjects_to(buyer(order)).count(COUPON_SUBJECT) == 1
    posts = [
        c
        for c in local.fake_stripe.calls
        if c.method == "POST" and c.path == "/v1/coupons"
        and c.params.get("metadata", {}).get("stripe_event") == order["id"]
    ]  # fmt: skip
    assert len(posts) == 1  # the claim stopped the other 49 before they reached Stripe


def test_fifty_deliveries_of_a_subscription_start_provision_one_stack(
    local: LocalAws, storm: dict[str, Any]
) -> None:
    stacks = customer_stacks(local, storm["subscription"])
    assert [s["StackStatus"] for s in stacks] == ["CREATE_COMPLETE"]


def test_fifty_deliveries_of_a_large_paid_order_send_each_staff_notice_once(
    storm: dict[str, Any],
) -> None:
    from payops.localaws.core.recorder import RECORDER

    session = storm["order"]["data"]["object"]["id"]
    sent = [
        f.data["topic"]
        for f in RECORDER.facts("sns_published")
        if session in str(f.data.get("message")) and "PaymentActivity" not in f.data["topic"]
    ]
    kinds = sorted("large" if "LargeOrders" in t else "paid" if "Orders" in t else t for t in sent)
    assert kinds == ["large", "paid"], sent


def test_interleaved_orders_are_each_fulfilled_once(storm: dict[str, Any]) -> None:
    for other in storm["others"]:
        subjects = subjects_to(buyer(other))
        assert len(subjects) == 1 and subjects[0].startswith(FULFILMENT_SUBJECT)


def test_every_duplicate_ran_and_all_but_one_ended_already_handled(
    local: LocalAws, storm: dict[str, Any]
) -> None:
    """The duplicates were not lost or merged upstream: each one ran its workflow, and the
    idempotency claim -- not luck -- stopped all but one."""
    sfn = local.client("stepfunctions")
    ends: dict[str, Counter[str]] = {}
    for asl_name, event in (
        ("fulfilment", storm["order"]),
        ("coupon", storm["order"]),
        ("notice", storm["order"]),
        ("subscription-provision", storm["subscription"]),
    ):
        machine = next(
            m["stateMachineArn"]
            for m in sfn.list_state_machines()["stateMachines"]
            if m["name"].endswith(f"-{asl_name}")
        )
        ends[asl_name] = Counter()
        for execution in sfn.list_executions(stateMachineArn=machine, maxResults=1000)[
            "executions"
        ]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if event["id"] not in described["input"]:
                continue
            last = states_of(local, execution["executionArn"])[-1]
            ends[asl_name][(described["status"], last)] += 1
    assert ends["fulfilment"] == {
        ("SUCCEEDED", "Fulfilled"): 1,
        ("SUCCEEDED", "AlreadyHandled"): 49,
    }
    assert ends["coupon"] == {("SUCCEEDED", "MarkDone"): 1, ("SUCCEEDED", "AlreadyHandled"): 49}
    # Two notices (paid order, large order), 50 runs each: one claim per (notice, event id).
    assert ends["notice"] == {("SUCCEEDED", "Sent"): 2, ("SUCCEEDED", "AlreadySent"): 98}
    assert ends["subscription-provision"] == {
        ("SUCCEEDED", "Provisioned"): 1,
        ("SUCCEEDED", "AlreadyHandled"): 49,
    }


def test_audit_trail_holds_one_record_per_event(local: LocalAws, storm: dict[str, Any]) -> None:
    dynamodb = local.client("dynamodb")
    (table,) = [t for t in dynamodb.list_tables()["TableNames"] if "AuditTable" in t]
    ids = [e["id"] for e in (storm["order"], storm["subscription"], *storm["others"])]
    items = dynamodb.scan(TableName=table)["Items"]
    assert Counter(i["pk"]["S"] for i in items if i["pk"]["S"] in ids) == dict.fromkeys(ids, 1)


# -- the local AWS itself: conditional writes are atomic ------------------------------------------


def test_concurrent_conditional_puts_admit_exactly_one(
    local: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB evaluates a condition and writes atomically; the pinned moto does not
    (services/dynamodb/conditional_writes.py bridges it). A pause between moto's read and its
    write makes the race certain."""

    from moto.dynamodb.models import table as moto_table

    evaluate = moto_table.get_filter_expression

    def slow_condition(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.002)  # another thread runs here, between the read and the write
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(moto_table, "get_filter_expression", slow_condition)
    dynamodb = local.client("dynamodb")
    (table,) = [t for t in dynamodb.list_tables()["TableNames"] if "Idempotency" in t]
    winners: list[int] = []
    start = threading.Barrier(10)

    def claim(n: int) -> None:
        start.wait()
        try:
            dynamodb.put_item(
                TableName=table,
                Item={"pk": {"S": "storm#evt_race"}, "by": {"N": str(n)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            winners.append(n)
        except dynamodb.exceptions.ConditionalCheckFailedException:
            pass

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "storm#evt_race"}})["Item"]
    assert item["by"] == {"N": str(winners[0])}
