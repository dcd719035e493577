"""Customer mirror: the ASL executed in moto against out-of-order events, and the template.

Each event runs the real `customer-mirror` state machine (`execute_state_machine`) against a
moto table shaped like the stack's (pk customerId, sparse GSI on userId).
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from conftest import Synthesized, load_fixture
from harness import create_customers_table, finish, fresh_aws, start, stripe_connection

from payops.asl import render
from payops.localaws.fakes.fake_stripe import FakeStripe
from payops.localaws.services import stepfunctions as sfb
from stacks.customer_mirror import USER_ID_INDEX
from stacks.stripe_api import STRIPE_API_VERSION

REGION = "us-east-1"
TABLE = "customers"
ROLE = "arn:aws:iam::123456789012:role/mirror"

CREATED_INCOMPLETE = "events/customer.subscription.created.incomplete.json"
UPDATED_ACTIVE = "events/customer.subscription.updated.incomplete-to-active.json"
DELETED = "events/customer.subscription.deleted.json"
CUSTOMER_CREATED = "events/customer.created.json"
SUBSCRIPTION_WITH_USER = "events/customer.subscription.created.active.json"


def subscription_story() -> list[dict[str, Any]]:
    """created (incomplete) -> updated (active) -> deleted, all of one subscription, in order.

    The fixtures hold no deletion of this subscription: the deleted event of another one is
    re-pointed at it (ids and customer), keeping its own later `created`.
    """
    created, updated = load_fixture(CREATED_INCOMPLETE), load_fixture(UPDATED_ACTIVE)
    deleted = load_fixture(DELETED)
    subscription = created["detail"]["data"]["object"]
    gone = deleted["detail"]["data"]["object"]
    gone.update(id=subscription["id"], customer=subscription["customer"], metadata={})
    story = [created, updated, deleted]
    times = [event["detail"]["created"] for event in story]
    assert times == sorted(times) and len(set(times)) == 3  # the story really is in order
    return story


@dataclass
class Mirror:
    machine: str
    ddb: Any
    sfn: Any
    resync_machine: str = ""
    stripe: Any = None

    def resync(self, envelope: dict[str, Any]) -> list[str]:
        """Run the re-sync workflow on a schedule event; return the states it went through."""
        run = finish(start(self.resync_machine, envelope))
        assert run.status == "SUCCEEDED", run.error
        return run.states()

    def apply(self, envelope: dict[str, Any]) -> str:
        """Run the workflow on one event; return its final status."""
        arn = self.sfn.start_execution(
            stateMachineArn=self.machine,
            name=f"e{time.monotonic_ns()}",
            input=json.dumps(envelope),
        )["executionArn"]
        deadline = time.monotonic() + 10
        while (run := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "execution did not finish"
            time.sleep(0.005)
        assert run["status"] == "SUCCEEDED", (run.get("error"), run.get("cause"))
        return run["status"]

    def item(self, customer_id: str, item: str = "customer") -> dict[str, Any]:
        key = {"customerId": {"S": customer_id}, "item": {"S": item}}
        return self.ddb.get_item(TableName=TABLE, Key=key).get("Item", {})

    def subscription(self, customer_id: str, subscription_id: str) -> dict[str, Any]:
        return self.item(customer_id, f"subscription#{subscription_id}")

    def customer_items(self, customer_id: str) -> list[str]:
        """What a Query on the customer returns: its item and one per subscription."""
        found = self.ddb.query(
            TableName=TABLE,
            KeyConditionExpression="customerId = :c",
            ExpressionAttributeValues={":c": {"S": customer_id}},
        )
        return [item["item"]["S"] for item in found["Items"]]

    def clear(self) -> None:
        for item in self.ddb.scan(TableName=TABLE)["Items"]:
            key = {"customerId": item["customerId"], "item": item["item"]}
            self.ddb.delete_item(TableName=TABLE, Key=key)

    def by_user(self, user_id: str) -> list[str]:
        found = self.ddb.query(
            TableName=TABLE,
            IndexName=USER_ID_INDEX,
            KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": user_id}},
        )
        return sorted(item["customerId"]["S"] for item in found["Items"])


@pytest.fixture(scope="module")
def mirror() -> Iterator[Mirror]:
    # Retry back-off is simulated, never slept (the Step Functions bridges)
    with fresh_aws("customer-mirror"), FakeStripe() as fake:
        sfb.set_http_routes({"https://api.stripe.com": fake.url})
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_customers_table(TABLE, user_index=USER_ID_INDEX)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="customer-mirror",
            definition=render("customer-mirror", {"CustomersTable": TABLE}),
            roleArn=ROLE,
            type="EXPRESS",
        )["stateMachineArn"]
        connection = stripe_connection()
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="alerts")["TopicArn"]
        resync = sfn.create_state_machine(
            name="subscription-resync",
            definition=render(
                "subscription-resync",
                {
                    "CustomersTable": TABLE,
                    "StripeConnectionArn": connection,
                    "StripeApiVersion": STRIPE_API_VERSION,
                    "AlertTopicArn": topic,
                    "StripeDashboardUrl": "https://dashboard.stripe.com/test",
                },
            ),
            roleArn=ROLE,
        )["stateMachineArn"]
        yield Mirror(machine, ddb, sfn, resync, fake)
    sfb.set_http_routes({})


@pytest.fixture
def table(mirror: Mirror) -> Mirror:
    mirror.clear()
    mirror.stripe.reset()
    return mirror


def subscription_state(item: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "subscriptionId",
        "subscriptionStatus",
        "subscriptionEventCreated",
        "subscriptionEventId",
    )
    return {key: item.get(key) for key in keys}


# ------------------------------------------------------------------------------ ordering


def test_every_arrival_order_ends_in_the_newest_subscription_state(table: Mirror) -> None:
    story = subscription_story()
    customer = story[0]["detail"]["data"]["object"]["customer"]
    subscription_id = story[0]["detail"]["data"]["object"]["id"]
    newest = story[-1]["detail"]
    finals = {}
    for order in itertools.permutations(range(len(story))):
        table.clear()
        for index in order:
            table.apply(story[index])
        finals[order] = subscription_state(table.subscription(customer, subscription_id))
    assert len(finals) == 6
    for order, final in finals.items():
        assert final == {
            "subscriptionId": {"S": newest["data"]["object"]["id"]},
            "subscriptionStatus": {"S": "canceled"},
            "subscriptionEventCreated": {"N": str(newest["created"])},
            "subscriptionEventId": {"S": newest["id"]},
        }, order


def test_an_older_event_after_a_newer_one_changes_nothing(table: Mirror) -> None:
    created, updated, _ = subscription_story()
    sub = created["detail"]["data"]["object"]
    table.apply(updated)
    before = table.subscription(sub["customer"], sub["id"])
    assert before["subscriptionStatus"] == {"S": "active"}
    table.apply(created)  # incomplete, older: arrives late
    assert table.subscription(sub["customer"], sub["id"]) == before


def test_same_second_created_and_updated_resolve_by_lifecycle_not_arrival(table: Mirror) -> None:
    created, updated, _ = subscription_story()
    updated = copy.deepcopy(updated)
    updated["detail"]["created"] = created["detail"]["created"]  # a card confirmed at once
    sub = created["detail"]["data"]["object"]
    for order in ((created, updated), (updated, created)):
        table.clear()
        for event in order:
            table.apply(event)
        assert table.subscription(sub["customer"], sub["id"])["subscriptionStatus"] == {
            "S": "active"
        }


def test_a_duplicate_delivery_keeps_the_first_write(table: Mirror) -> None:
    created, updated, _ = subscription_story()
    sub = created["detail"]["data"]["object"]
    table.apply(updated)
    first = table.subscription(sub["customer"], sub["id"])
    twin = copy.deepcopy(updated)  # same event, same created: a tie keeps the first arrival
    twin["detail"]["data"]["object"]["status"] = "past_due"
    table.apply(twin)
    assert table.subscription(sub["customer"], sub["id"]) == first


def two_subscription_story() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Subscription A: created -> updated -> deleted; B (same customer, started a little
    later, while A was still running): created -> updated. Each story in its own order."""
    a = subscription_story()
    b = copy.deepcopy(a[:2])
    for event in b:
        event["detail"]["id"] += "B"
        event["detail"]["created"] += 30  # B's events interleave with A's
        event["detail"]["data"]["object"]["id"] = "sub_1PSecondSubscript01"
    return a, b


def test_two_subscriptions_of_one_customer_each_end_in_their_own_newest_state(
    table: Mirror,
) -> None:
    """Every arrival order of A's update and deletion and B's creation and update (24): A ends
    canceled, B active, whatever came first (an update of B is never dropped as 'older' than
    an event of A, nor the other way round)."""
    a, b = two_subscription_story()
    events = a[1:] + b
    customer = a[0]["detail"]["data"]["object"]["customer"]
    finals = set()
    for order in itertools.permutations(range(len(events))):
        table.clear()
        for index in order:
            table.apply(events[index])
        state_a = table.subscription(customer, a[0]["detail"]["data"]["object"]["id"])
        state_b = table.subscription(customer, "sub_1PSecondSubscript01")
        finals.add((state_a["subscriptionStatus"]["S"], state_b["subscriptionStatus"]["S"]))
        subscriptions = [i for i in table.customer_items(customer) if i != "customer"]
        assert sorted(subscriptions) == sorted(
            ["subscription#" + a[0]["detail"]["data"]["object"]["id"],
             "subscription#sub_1PSecondSubscript01"]
        ), order  # fmt: skip
    assert finals == {("canceled", "active")}


# ------------------------------------------------------------------------------ re-sync

SCHEDULE_RELEASED = "events/subscription_schedule.released.json"
SCHEDULE_UPDATED_RELEASED = "events/subscription_schedule.updated.released.json"
SCHEDULE_STARTED = "events/subscription_schedule.updated.not_started-to-active.json"


def test_a_released_schedule_resyncs_its_subscription_from_stripe(table: Mirror) -> None:
    event = load_fixture(SCHEDULE_RELEASED)
    schedule = event["detail"]["data"]["object"]
    sub_id, customer = schedule["released_subscription"], schedule["customer"]
    table.stripe.add_subscription(customer=customer, status="past_due", id=sub_id)

    states = table.resync(event)

    assert states[-1] == "Resynced"
    item = table.subscription(customer, sub_id)
    assert item["subscriptionStatus"] == {"S": "past_due"}  # as Stripe says now
    assert item["subscriptionEventRank"] == {"N": "3"}
    (call,) = [c for c in table.stripe.calls if c.method == "GET"]
    assert call.path == f"/v1/subscriptions/{sub_id}"


def test_a_resync_never_overwrites_a_newer_subscription_event(table: Mirror) -> None:
    event = load_fixture(SCHEDULE_RELEASED)
    schedule = event["detail"]["data"]["object"]
    sub_id, customer = schedule["released_subscription"], schedule["customer"]
    table.stripe.add_subscription(customer=customer, status="active", id=sub_id)
    newer = copy.deepcopy(load_fixture(DELETED))
    newer["detail"]["created"] = event["detail"]["created"] + 60
    newer["detail"]["data"]["object"].update(id=sub_id, customer=customer)
    table.apply(newer)

    assert table.resync(event)[-1] == "NewerAlreadyMirrored"
    assert table.subscription(customer, sub_id)["subscriptionStatus"] == {"S": "canceled"}


def test_a_schedule_without_a_subscription_resyncs_nothing(table: Mirror) -> None:
    event = load_fixture(SCHEDULE_STARTED)
    event["detail"]["data"]["object"].update(subscription=None, released_subscription=None)
    assert table.resync(event) == ["WhichSubscription", "NoSubscription"]
    assert table.stripe.calls == []


def test_a_status_change_of_a_running_schedule_resyncs_its_subscription(table: Mirror) -> None:
    event = load_fixture(SCHEDULE_STARTED)
    schedule = event["detail"]["data"]["object"]
    assert isinstance(schedule["subscription"], str)
    table.stripe.add_subscription(
        customer=schedule["customer"], status="trialing", id=schedule["subscription"]
    )
    assert table.resync(event)[-1] == "Resynced"
    item = table.subscription(schedule["customer"], schedule["subscription"])
    assert item["subscriptionStatus"] == {"S": "trialing"}


# ------------------------------------------------------------------------------ customers


def test_customer_created_sets_user_id_and_email(table: Mirror) -> None:
    event = load_fixture(CUSTOMER_CREATED)
    customer = event["detail"]["data"]["object"]
    table.apply(event)
    item = table.item(customer["id"])
    assert item["userId"] == {"S": customer["metadata"]["app_user_id"]}
    assert item["email"] == {"S": customer["email"]}
    assert item["customerDeleted"] == {"BOOL": False}
    assert item["customerEventId"] == {"S": event["detail"]["id"]}


def test_an_older_customer_event_does_not_undo_a_newer_one(table: Mirror) -> None:
    created = load_fixture(CUSTOMER_CREATED)
    updated = copy.deepcopy(created)
    updated["detail-type"] = updated["detail"]["type"] = "customer.updated"
    updated["detail"]["id"] = "evt_customerUpdatedLater"
    updated["detail"]["created"] += 3600
    updated["detail"]["data"]["object"]["email"] = "daichi.new@example.jp"
    customer = created["detail"]["data"]["object"]["id"]
    table.apply(updated)
    table.apply(created)  # late
    assert table.item(customer)["email"] == {"S": "daichi.new@example.jp"}


def test_a_customer_without_email_or_user_id_stays_out_of_the_index(table: Mirror) -> None:
    event = load_fixture(CUSTOMER_CREATED)
    customer = event["detail"]["data"]["object"]
    customer.update(email=None, metadata={})
    table.apply(event)
    item = table.item(customer["id"])
    assert item["email"] == {"NULL": True} and "userId" not in item
    assert table.by_user("u_2048") == []


def test_subscription_metadata_fills_a_missing_user_id_only(table: Mirror) -> None:
    subscription_event = load_fixture(SUBSCRIPTION_WITH_USER)
    subscription = subscription_event["detail"]["data"]["object"]
    table.apply(subscription_event)
    assert table.item(subscription["customer"])["userId"] == {"S": "u_2048"}

    table.clear()
    customer_event = load_fixture(CUSTOMER_CREATED)
    customer_event["detail"]["data"]["object"]["metadata"]["app_user_id"] = "u_from_customer"
    table.apply(customer_event)
    table.apply(subscription_event)
    assert table.item(subscription["customer"])["userId"] == {"S": "u_from_customer"}


def test_lookup_by_user_id_finds_every_customer_of_that_user(table: Mirror) -> None:
    first = load_fixture(CUSTOMER_CREATED)
    second = copy.deepcopy(first)  # Stripe allows a second customer for the same person
    second["detail"]["id"] = "evt_secondCustomerCreated"
    second["detail"]["data"]["object"]["id"] = "cus_SecondCustomer01"
    other = copy.deepcopy(first)
    other["detail"]["id"] = "evt_otherCustomerCreated"
    other["detail"]["data"]["object"].update(
        id="cus_OtherCustomer001", metadata={"app_user_id": "u_9"}
    )
    for event in (first, second, other):
        table.apply(event)
    assert table.by_user("u_2048") == sorted(
        ["cus_SecondCustomer01", first["detail"]["data"]["object"]["id"]]
    )
    assert table.by_user("u_9") == ["cus_OtherCustomer001"]


def test_other_customer_events_are_ignored(table: Mirror) -> None:
    event = load_fixture(CUSTOMER_CREATED)
    event["detail-type"] = event["detail"]["type"] = "customer.tax_id.created"
    table.apply(event)
    assert table.ddb.scan(TableName=TABLE)["Count"] == 0


# ------------------------------------------------------------------------------ template


def test_mirror_is_an_express_workflow_on_the_customer_changed_rule(partner: Synthesized) -> None:
    resources = partner.json["Resources"]
    machines = {
        key: value
        for key, value in resources.items()
        if value["Type"] == "AWS::StepFunctions::StateMachine" and key.startswith("CustomersMirror")
    }
    ((machine_id, machine),) = machines.items()
    assert machine["Properties"]["StateMachineType"] == "EXPRESS"
    (rule,) = [
        r for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"]["Name"].endswith("-customer-changed")
    ]  # fmt: skip
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": machine_id} and "Arn" in target["DeadLetterConfig"]


def test_customers_table_has_the_user_id_index_and_least_privilege(partner: Synthesized) -> None:
    partner.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "customerId", "KeyType": "HASH"},
                {"AttributeName": "item", "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": [{
                "IndexName": USER_ID_INDEX,
                "KeySchema": [{"AttributeName": "userId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
        },
    )  # fmt: skip
    policies = [
        p for key, p in partner.json["Resources"].items()
        if p["Type"] == "AWS::IAM::Policy" and key.startswith("CustomersMirror")
    ]  # fmt: skip
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (ddb,) = [s for s in statements if "dynamodb" in json.dumps(s["Action"])]
    assert ddb["Action"] == "dynamodb:UpdateItem"
    assert ddb["Resource"] == {"Fn::GetAtt": [ddb["Resource"]["Fn::GetAtt"][0], "Arn"]}
    assert ddb["Resource"]["Fn::GetAtt"][0].startswith("CustomersTable")


def test_resync_is_a_standard_workflow_on_the_schedule_rule_reading_stripe_only(
    partner: Synthesized,
) -> None:
    resources = partner.json["Resources"]
    ((machine_id, machine),) = [
        (k, v) for k, v in resources.items()
        if v["Type"] == "AWS::StepFunctions::StateMachine" and k.startswith("CustomersResync")
    ]  # fmt: skip
    assert machine["Properties"].get("StateMachineType", "STANDARD") == "STANDARD"
    (rule,) = [
        r for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"]["Name"].endswith("-subscription-schedule-status-changed")
    ]  # fmt: skip
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": machine_id} and "Arn" in target["DeadLetterConfig"]
    statements = [
        s for k, p in resources.items()
        if p["Type"] == "AWS::IAM::Policy" and k.startswith("CustomersResync")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]  # fmt: skip
    (invoke,) = [s for s in statements if s["Action"] == "states:InvokeHTTPEndpoint"]
    assert invoke["Condition"]["StringEquals"] == {"states:HTTPMethod": ["GET"]}
    (ddb,) = [s for s in statements if "dynamodb" in json.dumps(s["Action"])]
    assert ddb["Action"] == "dynamodb:UpdateItem"
