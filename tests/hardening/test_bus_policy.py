"""Webhook mode: only the receiver's role may put events on the Stripe bus (issue 12).

Anyone else who could `events:PutEvents` on the custom bus could forge Stripe events: a forged
paid order would mint a real coupon, a forged `customer.subscription.deleted` would delete a
customer's stack. The deployed bus policy denies PutEvents to every IAM principal but the
receiver's execution role; the local AWS evaluates it
(payops/localaws/services/events/bus_policy.py) and signs
the receiver's calls with a session of that role, as Lambda does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from local_events import coupons_for, executions_of, loaded, put_entry, stripe_event

from payops.localaws.runtime import LocalAws
from payops.localaws.services import events

CONTEXT = {"ingress": "webhook", "stripeEventSourceName": "aws.partner/stripe.com/ed_test_bus"}


@pytest.fixture(scope="module")
def local() -> Iterator[LocalAws]:
    local = LocalAws(CONTEXT).start()
    try:
        yield local
    finally:
        local.stop()


def _forged_order() -> dict[str, Any]:
    return stripe_event("05-large-order-paid")  # qualifies for a coupon and fulfilment


def _iam_user_client(local: LocalAws) -> Any:
    iam = local.client("iam")
    iam.create_user(UserName="intruder")
    key = iam.create_access_key(UserName="intruder")["AccessKey"]
    return boto3.client(
        "events",
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )


def test_the_receiver_puts_a_signed_event(local: LocalAws) -> None:
    event = _forged_order()
    trace = local.send(loaded(local, event))
    assert trace.delivery == "accepted", trace.delivery
    assert "coupon-qualifying-order" in trace.rules
    assert len(coupons_for(local, event)) == 1


@pytest.mark.parametrize("who", ["account credentials", "an IAM user"])
def test_a_forged_put_from_another_principal_is_refused(local: LocalAws, who: str) -> None:
    event = _forged_order()
    events = local.client("events") if who == "account credentials" else _iam_user_client(local)
    result = events.put_events(Entries=[put_entry(local, event)])
    local.settle()
    assert result["FailedEntryCount"] == 1
    [entry] = result["Entries"]
    assert entry["ErrorCode"] == "AccessDeniedException", entry
    assert "explicit deny in a resource-based policy" in entry["ErrorMessage"]
    assert coupons_for(local, event) == []  # nothing ran: no coupon minted
    assert executions_of(local, "fulfilment", event["id"]) == []


def test_without_the_bridge_moto_lets_the_forgery_through(local: LocalAws) -> None:
    """The gap the bridge closes: moto stores the policy and never evaluates it."""
    event = _forged_order()
    with events.PATCHES.lifted("EventsHandler.put_events"):
        result = local.client("events").put_events(Entries=[put_entry(local, event)])
    local.settle()
    assert result["FailedEntryCount"] == 0
    assert len(coupons_for(local, event)) == 1  # the forgery minted a real coupon


def test_the_deployed_bus_carries_the_policy(local: LocalAws) -> None:
    described = local.client("events").describe_event_bus(Name=local.bus_name)
    [statement] = json.loads(described["Policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "events:PutEvents"
    role = statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert role.startswith("arn:aws:iam::") and ":role/" in role
