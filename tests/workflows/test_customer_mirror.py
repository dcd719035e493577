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
from moto import mock_aws

from payops.asl import render
from payops.localaws import stepfunctions_bridge as sfb
from stacks.customer_mirror import USER_ID_INDEX

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

    def item(self, customer_id: str) -> dict[str, Any]:
        found = self.ddb.get_item(TableName=TABLE, Key={"customerId": {"S": customer_id}})
        return found.get("Item", {})

    def clear(self) -> None:
        for item in self.ddb.scan(TableName=TABLE)["Items"]:
            self.ddb.delete_item(TableName=TABLE, Key={"customerId": item["customerId"]})

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
    was_installed = sfb.is_installed()
    sfb.install()  # Retry back-off is simulated, never slept
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "customerId", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "customerId", "AttributeType": "S"},
                {"AttributeName": "userId", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=[{
                "IndexName": USER_ID_INDEX,
                "KeySchema": [{"AttributeName": "userId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
        )  # fmt: skip
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="customer-mirror",
            definition=render("customer-mirror", {"CustomersTable": TABLE}),
            roleArn=ROLE,
            type="EXPRESS",
        )["stateMachineArn"]
        yield Mirror(machine, ddb, sfn)
    if not was_installed:
        sfb.uninstall()


@pytest.fixture
def table(mirror: Mirror) -> Mirror:
    mirror.clear()
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
    newest = story[-1]["detail"]
    finals = {}
    for order in itertools.permutations(range(len(story))):
        table.clear()
        for index in order:
            table.apply(story[index])
        finals[order] = subscription_state(table.item(customer))
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
    customer = created["detail"]["data"]["object"]["customer"]
    table.apply(updated)
    before = table.item(customer)
    assert before["subscriptionStatus"] == {"S": "active"}
    table.apply(created)  # incomplete, older: arrives late
    assert table.item(customer) == before


def test_same_second_created_and_updated_resolve_by_lifecycle_not_arrival(table: Mirror) -> None:
    created, updated, _ = subscription_story()
    updated = copy.deepcopy(updated)
    updated["detail"]["created"] = created["detail"]["created"]  # a card confirmed at once
    customer = created["detail"]["data"]["object"]["customer"]
    for order in ((created, updated), (updated, created)):
        table.clear()
        for event in order:
            table.apply(event)
        assert table.item(customer)["subscriptionStatus"] == {"S": "active"}


def test_a_duplicate_delivery_keeps_the_first_write(table: Mirror) -> None:
    created, updated, _ = subscription_story()
    customer = created["detail"]["data"]["object"]["customer"]
    table.apply(updated)
    first = table.item(customer)
    twin = copy.deepcopy(updated)  # same event, same created: a tie keeps the first arrival
    twin["detail"]["data"]["object"]["status"] = "past_due"
    table.apply(twin)
    assert table.item(customer) == first


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
        if value["Type"] == "AWS::StepFunctions::StateMachine" and key.startswith("Customers")
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
            "KeySchema": [{"AttributeName": "customerId", "KeyType": "HASH"}],
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
