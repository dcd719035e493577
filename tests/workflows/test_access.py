"""Access state end to end: Stripe events -> the deployed stack -> DynamoDB, Cognito, the bus.

One deployment for the module (the local AWS with a Cognito user pool created first, as a user
creates theirs before `cdk deploy -c cognitoUserPoolId=<id>`). Each test has its own app user,
customer and subscriptions, so the tests do not depend on each other's order. "Access changed"
events are read from a queue behind a rule on the stack's app event bus (source payops.access),
as the live-status rule would receive them.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import PARTNER_SOURCE, load_fixture

from payops.envelope import LoadedEvent, wrap
from payops.localaws.core.recorder import RECORDER
from payops.localaws.runtime import EventTrace, LocalAws
from stacks.access import ACCESS_CHANGED, ACCESS_EVENT_SOURCE, COGNITO_ATTRIBUTES

CREATED = "events/customer.subscription.created.active.json"
PAST_DUE = "events/customer.subscription.updated.active-to-past-due.json"
PAID_AGAIN = "events/customer.subscription.updated.past-due-to-active.json"
CANCELLED = "events/customer.subscription.deleted.cancelled-at-once.json"
ENTITLEMENTS = "real/stripe-sync-engine__active_entitlement_summary_updated.json"
# The story's subscription renews on Aug 9 2024 (period start); its first period ends then.
FIRST_PERIOD_END = 1723165200
RENEWED_START, RENEWED_END = 1723165200, 1725843600
GRACE_DAYS = 7


def _pool_with_access_attributes(local: LocalAws) -> dict[str, str]:
    """What the README asks of the app's pool: the three custom attributes, mutable."""
    pool = local.client("cognito-idp").create_user_pool(
        PoolName="app-users",
        Schema=[
            {"Name": name.removeprefix("custom:"), "AttributeDataType": "String", "Mutable": True}
            for name in COGNITO_ATTRIBUTES
        ],
    )
    return {"cognitoUserPoolId": pool["UserPool"]["Id"]}


@dataclass
class Access:
    local: LocalAws
    queue_url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pool_id(self) -> str:
        return self.local.settings.cognito_user_pool_id

    def send(self, envelope: dict[str, Any]) -> EventTrace:
        trace = self.local.send(LoadedEvent("access test", envelope))
        assert trace.delivery == "accepted" and trace.failed == [], trace.failed
        return trace

    def access_states(self, trace: EventTrace) -> list[str]:
        (run,) = [e for e in trace.executions if e["state_machine"] == "access"]
        assert run["status"] == "SUCCEEDED"
        return run["states"]

    def item(self, pk: str, sk: str) -> dict[str, str]:
        table = self.local.deployed.resources_of("AWS::DynamoDB::Table")
        (name,) = [t for logical, t in table.items() if logical.startswith("AccessTable")]
        found = self.local.client("dynamodb").get_item(
            TableName=name, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        return {k: next(iter(v.values())) for k, v in found.get("Item", {}).items()}

    def projection(self, user: str) -> tuple[str, str, int]:
        item = self.item(f"user#{user}", "access")
        return item["plan"], item["access"], int(item["until"])

    def add_user(self, user: str) -> None:
        self.local.client("cognito-idp").admin_create_user(UserPoolId=self.pool_id, Username=user)

    def cognito(self, user: str) -> tuple[str, str, int]:
        found = self.local.client("cognito-idp").admin_get_user(
            UserPoolId=self.pool_id, Username=user
        )
        attributes = {a["Name"]: a["Value"] for a in found["UserAttributes"]}
        plan, access, until = (attributes.get(name) for name in COGNITO_ATTRIBUTES)
        return str(plan), str(access), int(str(until))

    def changes(self, user: str) -> list[tuple[str, str, int]]:
        """(plan, access, until) of every Access changed event for `user`, in arrival order."""
        sqs = self.local.client("sqs")
        while batch := sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", []):
            for message in batch:
                self.received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [
            (e["detail"]["plan"], e["detail"]["access"], e["detail"]["until"])
            for e in self.received
            if e["detail"]["appUserId"] == user
        ]


@pytest.fixture(scope="module")
def access() -> Iterator[Access]:
    with LocalAws(
        {"stripeEventSourceName": PARTNER_SOURCE}, prepare=_pool_with_access_attributes
    ) as local:
        sqs, events = local.client("sqs"), local.client("events")
        queue_url = sqs.create_queue(QueueName="access-changed-test")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="test-access-changed",
            EventBusName=local.deployed.outputs["AppEventBusName"],
            EventPattern=json.dumps(
                {"source": [ACCESS_EVENT_SOURCE], "detail-type": [ACCESS_CHANGED]}
            ),
        )
        events.put_targets(
            Rule="test-access-changed",
            EventBusName=local.deployed.outputs["AppEventBusName"],
            Targets=[{"Id": "queue", "Arn": queue_arn}],
        )
        yield Access(local, queue_url)


def retarget(
    envelope: dict[str, Any], *, user: str | None, customer: str, subscription: str
) -> dict[str, Any]:
    """The same Stripe event for another subscription (a fresh event id), owned by `user`."""
    copied = copy.deepcopy(envelope)
    stripe_event = copied["detail"]
    stripe_event["id"] = f"evt_{secrets.token_hex(12)}"
    obj = stripe_event["data"]["object"]
    obj.update(id=subscription, customer=customer)
    obj["metadata"] = {} if user is None else {"app_user_id": user}
    return copied


def ids(name: str) -> tuple[str, str, str]:
    tag = secrets.token_hex(4)
    return f"u_{name}_{tag}", f"cus_{name}{tag}", f"sub_{name}{tag}"


def test_done_means_full_grace_full_none_in_dynamodb_cognito_and_on_the_bus(access) -> None:
    user = "u_2048"  # metadata.app_user_id of the story's subscription
    access.add_user(user)
    story = [
        (CREATED, ("pro_monthly", "full", FIRST_PERIOD_END)),
        # The renewal was declined: Stripe retries; access continues for GRACE_DAYS.
        (PAST_DUE, ("pro_monthly", "grace", RENEWED_START + GRACE_DAYS * 86400)),
        (PAID_AGAIN, ("pro_monthly", "full", RENEWED_END)),
        (CANCELLED, ("pro_monthly", "none", 0)),
    ]
    for fixture, expected in story:
        access.send(load_fixture(fixture))
        assert access.projection(user) == expected, fixture
        assert access.cognito(user) == expected, fixture
    # Every change once, in order, with the contract's fields.
    assert access.changes(user) == [expected for _, expected in story]
    last = [e for e in access.received if e["detail"]["appUserId"] == user][-1]
    assert last["source"] == ACCESS_EVENT_SOURCE and last["detail-type"] == ACCESS_CHANGED
    assert last["detail"] == {
        "appUserId": user,
        "customer": "cus_QiofxBijSokUvR",
        "subscription": "sub_1P4PjYk2LmQbThXBRTyRTqZc",
        "plan": "pro_monthly",
        "access": "none",
        "until": 0,
        "features": [],
        "stripeEventId": load_fixture(CANCELLED)["detail"]["id"],
    }
    # The customer <-> app user map.
    assert access.item("customer#cus_QiofxBijSokUvR", "customer")["userId"] == user


def test_an_older_state_never_overwrites_a_newer_one(access) -> None:
    user, customer, subscription = ids("late")
    access.add_user(user)
    deleted = retarget(
        load_fixture(CANCELLED), user=user, customer=customer, subscription=subscription
    )
    updated = retarget(
        load_fixture(PAID_AGAIN), user=user, customer=customer, subscription=subscription
    )
    access.send(deleted)  # delivered first, though created last
    assert access.projection(user) == ("pro_monthly", "none", 0)
    # The late run read Stripe before the cancellation (a slow run): the API answered "active".
    fake = access.local.fake_stripe
    fake.subscriptions[subscription] = copy.deepcopy(updated["detail"]["data"]["object"])
    fake._subscription_as_of[subscription] = (2**40, 9)  # observe() keeps this stale answer
    trace = access.send(updated)
    assert access.access_states(trace)[-1] == "OlderStateIgnored"
    assert access.projection(user) == ("pro_monthly", "none", 0)
    assert access.cognito(user) == ("pro_monthly", "none", 0)
    assert access.changes(user) == [("pro_monthly", "none", 0)]


def test_a_duplicate_delivery_changes_nothing_and_announces_nothing(access) -> None:
    user, customer, subscription = ids("dup")
    access.add_user(user)
    created = retarget(
        load_fixture(CREATED), user=user, customer=customer, subscription=subscription
    )
    mark = RECORDER.mark()
    access.send(created)
    trace = access.send(created)  # the same event id again
    assert access.access_states(trace)[-1] == "AccessUnchanged"
    assert access.changes(user) == [("pro_monthly", "full", FIRST_PERIOD_END)]
    writes = [f for f in RECORDER.since(mark, "cognito_attributes") if f.data["user"] == user]
    assert len(writes) == 1


def test_two_subscriptions_the_best_one_counts(access) -> None:
    user, customer, first = ids("two")
    second = first + "b"
    access.add_user(user)
    lite = retarget(load_fixture(CREATED), user=user, customer=customer, subscription=second)
    for item in lite["detail"]["data"]["object"]["items"]["data"]:
        item["price"]["lookup_key"] = "lite_monthly"
    access.send(retarget(load_fixture(CREATED), user=user, customer=customer, subscription=first))
    access.send(lite)
    # Both full: the first by subscription id stays; nothing an app sees changed.
    assert access.projection(user) == ("pro_monthly", "full", FIRST_PERIOD_END)
    # The first runs into a declined renewal: the second still gives full access.
    access.send(retarget(load_fixture(PAST_DUE), user=user, customer=customer, subscription=first))
    assert access.item(f"user#{user}", f"subscription#{first}")["access"] == "grace"
    assert access.projection(user) == ("lite_monthly", "full", FIRST_PERIOD_END)
    # The second ends: the grace of the first is the best left.
    access.send(
        retarget(load_fixture(CANCELLED), user=user, customer=customer, subscription=second)
    )
    grace_until = RENEWED_START + GRACE_DAYS * 86400
    assert access.projection(user) == ("pro_monthly", "grace", grace_until)
    assert access.cognito(user) == ("pro_monthly", "grace", grace_until)
    assert access.changes(user) == [
        ("pro_monthly", "full", FIRST_PERIOD_END),
        ("lite_monthly", "full", FIRST_PERIOD_END),
        ("pro_monthly", "grace", grace_until),
    ]


def test_a_missing_cognito_user_is_a_staff_notice_not_a_failure(access) -> None:
    user, customer, subscription = ids("ghost")  # never created in the pool
    created = retarget(
        load_fixture(CREATED), user=user, customer=customer, subscription=subscription
    )
    trace = access.send(created)
    assert access.access_states(trace)[-1] == "CognitoUserMissing"
    (notice,) = [n for n in trace.notices if "has no user in the Cognito user pool" in n["message"]]
    assert notice["topic"] == "NotificationsPaymentProblems"
    assert user in notice["message"] and access.pool_id in notice["message"]
    # The projection and the live event stand.
    assert access.projection(user) == ("pro_monthly", "full", FIRST_PERIOD_END)
    assert access.changes(user) == [("pro_monthly", "full", FIRST_PERIOD_END)]


def test_entitlements_set_the_features_of_the_users_customer(access) -> None:
    user, customer, subscription = ids("features")
    access.add_user(user)
    access.send(
        retarget(load_fixture(CREATED), user=user, customer=customer, subscription=subscription)
    )
    summary = copy.deepcopy(load_fixture(ENTITLEMENTS))  # a real event, bare (not an envelope)
    summary["data"]["object"]["customer"] = customer
    envelope = wrap(summary, access.local.settings)
    access.send(envelope)
    assert json.loads(access.item(f"user#{user}", "access")["features"]) == ["journeys"]
    older = copy.deepcopy(summary)  # an earlier summary, delivered late: ignored
    older.update(id=f"evt_{secrets.token_hex(12)}", created=summary["created"] - 60)
    older["data"]["object"]["entitlements"]["data"] = []
    trace = access.send(wrap(older, access.local.settings))
    assert access.access_states(trace)[-1] == "OlderFeaturesIgnored"
    assert json.loads(access.item(f"user#{user}", "access")["features"]) == ["journeys"]
    access.changes(user)
    last = [e for e in access.received if e["detail"]["appUserId"] == user][-1]
    assert last["detail"]["features"] == ["journeys"]
    assert len(access.changes(user)) == 2  # the subscription, then the features


# Real subscription events of three API versions (2020-03-02, 2026-04-22.dahlia, and a null
# api_version without price or plan), as published: the shop's app_user_id added. The period
# is on the subscription before 2025-03-31.basil and on its items since.
REAL_VERSIONS = {
    "stripe-sync-engine__subscription_created.json": ("prod_Ip4vqwv3EJ7Mi0", "full", 1625740918),
    "zulip__customer_subscription_created_with_collection_method.json": (
        "prod_UZ1DpExTQfai36", "full", 1782463833,
    ),
    "stripe-ruby-mock__customer.subscription.trial_will_end.json": ("unknown", "full", 1383759023),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REAL_VERSIONS))
def test_real_subscription_events_of_several_api_versions(access, name: str) -> None:
    user, customer, subscription = ids("real")
    access.add_user(user)
    stripe_event = load_fixture(f"real/{name}")
    envelope = retarget(
        wrap(stripe_event, access.local.settings),
        user=user,
        customer=customer,
        subscription=subscription,
    )
    access.send(envelope)
    assert access.projection(user) == REAL_VERSIONS[name]
    assert access.cognito(user) == REAL_VERSIONS[name]


def test_a_run_that_read_older_inputs_never_overwrites_the_projection(access) -> None:
    """A projection written by a run holding a higher revision (one that read newer inputs) is
    kept: here the stored revision is raised as if such a run had just written."""
    user, customer, subscription = ids("stale")
    access.add_user(user)
    access.send(
        retarget(load_fixture(CREATED), user=user, customer=customer, subscription=subscription)
    )
    table = access.local.deployed.resources_of("AWS::DynamoDB::Table")
    (name,) = [t for logical, t in table.items() if logical.startswith("AccessTable")]
    access.local.client("dynamodb").update_item(
        TableName=name,
        Key={"pk": {"S": f"user#{user}"}, "sk": {"S": "access"}},
        UpdateExpression="SET projectedRevision = :newer",
        ExpressionAttributeValues={":newer": {"N": "1000"}},
    )
    trace = access.send(
        retarget(load_fixture(CANCELLED), user=user, customer=customer, subscription=subscription)
    )
    assert access.access_states(trace)[-1] == "NewerProjectionKept"
    assert access.projection(user) == ("pro_monthly", "full", FIRST_PERIOD_END)
    assert access.changes(user) == [("pro_monthly", "full", FIRST_PERIOD_END)]


def test_accessgracedays_is_the_grace_in_the_deployed_definition() -> None:
    from payops.app_factory import build_app

    _, stack = build_app({"accessGraceDays": "3"}, nag=False)
    machine = stack.access.workflow.state_machine.node.default_child
    assert machine.definition_substitutions["AccessGraceSeconds"] == str(3 * 86400)
    assert machine.definition_substitutions["CognitoSync"] == "off"


def test_an_app_reads_access_from_the_id_token_claims(access) -> None:
    """The README's recipe: sign in, decode the ID token, read custom:access and its until."""
    import base64

    user, customer, subscription = ids("token")
    idp = access.local.client("cognito-idp")
    idp.admin_create_user(UserPoolId=access.pool_id, Username=user, MessageAction="SUPPRESS")
    password = "Pw1!" + secrets.token_hex(8)
    idp.admin_set_user_password(
        UserPoolId=access.pool_id, Username=user, Password=password, Permanent=True
    )
    client_id = idp.create_user_pool_client(
        UserPoolId=access.pool_id,
        ClientName="app",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    access.send(
        retarget(load_fixture(PAST_DUE), user=user, customer=customer, subscription=subscription)
    )
    tokens = idp.admin_initiate_auth(
        UserPoolId=access.pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": password},
    )["AuthenticationResult"]
    payload = tokens["IdToken"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["custom:plan"] == "pro_monthly"
    assert claims["custom:access"] == "grace"
    assert int(claims["custom:access_until"]) == RENEWED_START + GRACE_DAYS * 86400
