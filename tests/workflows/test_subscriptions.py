"""Subscription provisioning and deprovisioning: the ASL executed in moto, and the template.

The workflows run for real (`execute_state_machine`) with the Step Functions bridge (HTTP Task
to the fake Stripe API, simulated Wait/Retry time) and the CloudFormation bridge (a resource that
fails to create leaves the stack CREATE_FAILED, as on AWS). The customer template is the bundled
provisioning/customer-stack.json, served from moto's S3 as the CDK asset would be.

FakeStripe has no GET /v1/invoices/{id}; `FakeStripe` below adds a minimal one (the
2024-06-20 shape the workflow pins: an invoice with its `payment_intent`).
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from conftest import ROOT, Synthesized, load_fixture
from harness import (
    Run,
    client,
    create_customers_table,
    finish,
    fresh_aws,
    queued_json,
    start,
    stripe_connection,
)

from payops.asl import render
from payops.localaws.fakes.fake_stripe import FakeStripe, StripeCall
from payops.localaws.services import cloudformation as cfb
from payops.localaws.services import stepfunctions as sfb
from payops.patterns import matches
from payops.rules import load_catalogue
from payops.settings import Settings
from stacks.idempotency import CLAIM_TTL_SECONDS
from stacks.stripe_api import STRIPE_API_VERSION
from stacks.subscriptions import STACK_PREFIX

# Injected CloudFormation errors without a modelled shape (Throttling, AccessDenied) warn in moto.
pytestmark = pytest.mark.filterwarnings("ignore:Exception.*does not match an error shape")
REGION = "us-east-1"
ACCOUNT = "123456789012"
DASHBOARD = "https://dashboard.stripe.com/test"
BUCKET = "payops-assets"
STARTED = "customer.subscription.created.active.json"
STARTED_LATER = "customer.subscription.updated.incomplete-to-active.json"
ENDED = "customer.subscription.deleted.json"
TEMPLATE = ROOT / "provisioning" / "customer-stack.json"
# A stack whose queue cannot be created (SQS refuses the name): CloudFormation ends CREATE_FAILED.
BROKEN_TEMPLATE = {
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "not valid!"}}}
}


_CATALOGUE = load_catalogue(Settings.load({}))
_RULE_TARGETS = {
    "subscription-started": "provision",
    "subscription-ended": "deprovision",
    "customer-changed": "mirror",
}


@dataclass
class Local:
    machines: dict[str, str]  # "provision" / "deprovision" / "broken" -> state machine ARN
    alerts_queue: str
    stripe: FakeStripe

    client = staticmethod(client)

    def run(self, machine: str, envelope: dict[str, Any], timeout: float = 15.0) -> Run:
        return finish(start(self.machines[machine], envelope), timeout)

    def stacks(self) -> dict[str, dict[str, Any]]:
        """Live stacks by name."""
        return {
            s["StackName"]: s for s in self.client("cloudformation").describe_stacks()["Stacks"]
        }

    def queues(self) -> list[str]:
        return self.client("sqs").list_queues().get("QueueUrls", [])

    def alerts(self) -> list[dict[str, Any]]:
        return queued_json(self.alerts_queue)

    def claim(self, workflow: str, event_id: str) -> dict[str, Any] | None:
        key = {"pk": {"S": f"{workflow}#{event_id}"}}
        return self.client("dynamodb").get_item(TableName="claims", Key=key).get("Item")

    def record(self, subscription_id: str) -> str | None:
        """The subscription's state record: provisioning / active / parked / failed / ending..."""
        key = {"pk": {"S": f"subscription#{subscription_id}"}}
        item = self.client("dynamodb").get_item(TableName="claims", Key=key).get("Item")
        return None if item is None else item["state"]["S"]

    def expire_claims(self, now: int) -> list[str]:
        """What DynamoDB's TTL has removed by `now`: items whose expiresAt has passed."""
        ddb = self.client("dynamodb")
        gone = []
        for item in ddb.scan(TableName="claims")["Items"]:
            if "expiresAt" in item and int(item["expiresAt"]["N"]) <= now:
                ddb.delete_item(TableName="claims", Key={"pk": item["pk"]})
                gone.append(item["pk"]["S"])
        return gone

    def live_stacks(self) -> dict[str, str]:
        return {name: s["StackStatus"] for name, s in self.stacks().items()}

    def mirrored(self, customer: str) -> dict[str, str]:
        """The customer mirror's subscription items: {sub id: status}."""
        found = self.client("dynamodb").query(
            TableName="customers",
            KeyConditionExpression="customerId = :c",
            ExpressionAttributeValues={":c": {"S": customer}},
        )["Items"]
        return {
            i["subscriptionId"]["S"]: i["subscriptionStatus"]["S"]
            for i in found
            if i["item"]["S"].startswith("subscription#")
        }

    def deliver(self, envelope: dict[str, Any]) -> list[Run]:
        """As the deployed stack would: Stripe knows the event's object, then every workflow
        whose rule matches runs (each to its end, before the next event)."""
        self.stripe.observe(envelope["detail"])
        started = [
            start(self.machines[machine], envelope)
            for rule in _CATALOGUE
            if (machine := _RULE_TARGETS.get(rule.name)) and matches(rule.pattern, envelope)
        ]  # the rule targets run side by side, as EventBridge starts them
        return [finish(arn) for arn in started]

    def reset(self) -> None:
        """Forget every stack, record, mirror item and Stripe object (between permutations)."""
        cfn, ddb = self.client("cloudformation"), self.client("dynamodb")
        for name in self.stacks():
            cfn.delete_stack(StackName=name)
        for table, keys in (("claims", ("pk",)), ("customers", ("customerId", "item"))):
            for item in ddb.scan(TableName=table)["Items"]:
                ddb.delete_item(TableName=table, Key={k: item[k] for k in keys})
        self.stripe.reset()

    def calls(self, method: str, path_prefix: str) -> list[StripeCall]:
        return [
            c for c in self.stripe.calls if c.method == method and c.path.startswith(path_prefix)
        ]


@pytest.fixture
def local() -> Iterator[Local]:
    with fresh_aws("subscriptions", cfb), FakeStripe() as fake:
        sfb.set_http_routes({"https://api.stripe.com": fake.url})
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="claims",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        create_customers_table("customers")
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="payment-problems")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="customer-stack.json", Body=TEMPLATE.read_bytes())
        s3.put_object(Bucket=BUCKET, Key="broken.json", Body=json.dumps(BROKEN_TEMPLATE))
        connection = stripe_connection()
        common = {
            "IdempotencyTable": "claims",
            "ClaimTtlSeconds": str(CLAIM_TTL_SECONDS),
            "StackNamePrefix": STACK_PREFIX,
            "AlertTopicArn": topic,
            "StripeDashboardUrl": DASHBOARD,
        }
        stripe = {"StripeConnectionArn": connection, "StripeApiVersion": STRIPE_API_VERSION}
        # The asset URL shape CDK gives: https://s3.<region>.amazonaws.com/<bucket>/<key>
        url = f"https://s3.{REGION}.amazonaws.com/{BUCKET}"
        definitions = {
            "provision": render(
                "subscription-provision",
                {**common, **stripe, "CustomerTemplateUrl": f"{url}/customer-stack.json"},
            ),
            "broken": render(
                "subscription-provision",
                {**common, **stripe, "CustomerTemplateUrl": f"{url}/broken.json"},
            ),
            "deprovision": render("subscription-deprovision", {**common, **stripe}),
            "mirror": render("customer-mirror", {"CustomersTable": "customers"}),
        }
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machines = {
            name: sfn.create_state_machine(
                name=name,
                definition=definition,
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
                type="EXPRESS" if name == "mirror" else "STANDARD",
            )["stateMachineArn"]
            for name, definition in definitions.items()
        }
        yield Local(machines, queue, fake)
    sfb.set_http_routes({})


def _event(name: str, **detail_changes: Any) -> dict[str, Any]:
    envelope = copy.deepcopy(load_fixture(f"events/{name}"))
    envelope["detail"].update(detail_changes)
    return envelope


def _subscription(envelope: dict[str, Any]) -> dict[str, Any]:
    return envelope["detail"]["data"]["object"]


def _second(envelope: dict[str, Any], sub_id: str = "sub_1PSecondSubscript01") -> dict[str, Any]:
    """The same customer's second subscription (a resubscription), with its own event."""
    other = copy.deepcopy(envelope)
    other["detail"]["id"] = envelope["detail"]["id"] + "2nd"
    other["detail"]["created"] += 60
    other["detail"]["data"]["object"].update(id=sub_id, latest_invoice="in_1PSecondInvoice00001")
    return other


def _seed(local: Local, envelope: dict[str, Any], *, status: str = "active") -> str:
    """The subscription as Stripe knows it now, and its paid first invoice; returns the PI id."""
    sub = _subscription(envelope)
    local.stripe.add_subscription(customer=sub["customer"], status=status, id=sub["id"])
    local.stripe.subscriptions[sub["id"]]["latest_invoice"] = sub["latest_invoice"]
    intent = local.stripe.add_payment_intent(9800)
    local.stripe.add_invoice(sub["latest_invoice"], intent["id"])
    return intent["id"]


def _stack_name(envelope: dict[str, Any]) -> str:
    """cus_X, sub_Y -> payops-customer-cus-X-sub-Y: letters, digits and hyphens only."""
    sub = _subscription(envelope)
    name = STACK_PREFIX + f"{sub['customer']}-{sub['id']}".replace("_", "-")
    assert re.fullmatch(r"[A-Za-z][-A-Za-z0-9]{0,127}", name)  # moto does not check this
    return name


# ------------------------------------------------------------------------------ provisioning

HAPPY_PATH = [
    "Entry", "Claim", "Subject", "FetchSubscription", "StillLive", "NameStack", "BeginOrResume",
    "BeginProvisioning", "CreateStack", "WaitForStack", "DescribeStack", "StackReady",
    "RecheckLiveness", "LiveNow", "Activate", "MarkDone", "Provisioned",
]  # fmt: skip


def _claim_outcome(local: Local, workflow: str, envelope: dict[str, Any]) -> str | None:
    claim = local.claim(workflow, envelope["detail"]["id"])
    return None if claim is None or "outcome" not in claim else claim["outcome"]["S"]


def test_provisioning_creates_the_subscriptions_own_stack_and_waits_until_complete(
    local: Local,
) -> None:
    envelope = _event(STARTED)
    _seed(local, envelope)
    sub = _subscription(envelope)

    run = local.run("provision", envelope)

    assert run.status == "SUCCEEDED", run.error
    assert run.states() == HAPPY_PATH
    assert run.simulated_seconds == 10  # one Wait, skipped
    stack = local.stacks()[_stack_name(envelope)]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "CustomerId": sub["customer"],
        "SubscriptionId": sub["id"],
    }
    assert [q.rsplit("/", 1)[1] for q in local.queues() if STACK_PREFIX in q] == [
        _stack_name(envelope)
    ]
    checks = local.calls("GET", "/v1/subscriptions/")
    assert [c.path for c in checks] == [f"/v1/subscriptions/{sub['id']}"] * 2  # before, after
    assert checks[0].headers["stripe-version"] == STRIPE_API_VERSION
    assert local.record(sub["id"]) == "active"
    assert _claim_outcome(local, "subscription-provision", envelope) == "PROVISIONED"
    assert local.stripe.refunds == {} and local.alerts() == []


def test_the_claim_outlives_stripes_three_day_retry_window(local: Local) -> None:
    """Stripe's last retry of an event comes up to 3 days after it was created: the claim must
    still be there then, so the redelivery stops at the claim itself."""
    envelope = _event(STARTED)
    _seed(local, envelope)
    assert local.run("provision", envelope).status == "SUCCEEDED"
    claim = local.claim("subscription-provision", envelope["detail"]["id"])
    assert claim is not None
    assert int(claim["expiresAt"]["N"]) - envelope["detail"]["created"] > 3 * 24 * 3600

    local.expire_claims(now=envelope["detail"]["created"] + 3 * 24 * 3600)
    last_retry = local.run("provision", envelope)

    assert last_retry.states() == ["Entry", "Claim", "AlreadyHandled"]


def test_a_duplicate_or_second_start_event_of_one_subscription_provisions_once(
    local: Local,
) -> None:
    envelope = _event(STARTED)
    _seed(local, envelope)

    first = local.run("provision", envelope)
    duplicate = local.run("provision", envelope)
    # The same subscription announced again by another event (updated incomplete -> active).
    again = local.run("provision", _event(STARTED, id="evt_1OtherStartEvent"))

    assert first.status == duplicate.status == again.status == "SUCCEEDED"
    assert duplicate.states() == ["Entry", "Claim", "AlreadyHandled"]
    assert again.states()[-4:] == [
        "BeginProvisioning", "ReadRecordFresh", "MarkNothingToDo", "NothingToDo",
    ]  # fmt: skip
    assert local.claim("subscription-provision", "evt_1OtherStartEvent")["outcome"] == {
        "S": "ALREADY_active"
    }
    assert list(local.stacks()) == [_stack_name(envelope)]


def test_a_start_delivered_after_the_subscription_ended_provisions_nothing(local: Local) -> None:
    envelope = _event(STARTED)
    _seed(local, envelope, status="canceled")

    run = local.run("provision", envelope)

    assert run.status == "SUCCEEDED"
    assert run.states()[-3:] == ["StillLive", "MarkNotLive", "NotLive"]
    assert local.stacks() == {}
    assert _claim_outcome(local, "subscription-provision", envelope) == "NOT_LIVE"


def _ended_of(started: dict[str, Any]) -> dict[str, Any]:
    """customer.subscription.deleted of the subscription `started` announced."""
    ended = _event(ENDED)
    sub = _subscription(started)
    _subscription(ended).update(id=sub["id"], customer=sub["customer"])
    return ended


def test_deleted_before_created_leaves_nothing_running_even_if_stripe_looked_live(
    local: Local,
) -> None:
    """deleted delivered before created; then even a Stripe read that still said active (a
    stale read) cannot make the late start provision: the state record says ended."""
    started = _event(STARTED)
    ended = _ended_of(started)
    sub_id = _subscription(started)["id"]
    _seed(local, started, status="canceled")

    removed = local.run("deprovision", ended)
    assert removed.states()[-1] == "NothingToRemove"
    assert local.record(sub_id) == "ended"

    local.stripe.subscriptions[sub_id]["status"] = "active"  # stale
    late = local.run("provision", started)

    assert late.states()[-2:] == ["MarkNothingToDo", "NothingToDo"]
    assert _claim_outcome(local, "subscription-provision", started) == "ALREADY_ended"
    assert local.stacks() == {}


def test_a_deleted_event_for_a_subscription_stripe_says_is_live_removes_nothing(
    local: Local,
) -> None:
    started = _event(STARTED)
    _seed(local, started)
    assert local.run("provision", started).status == "SUCCEEDED"

    run = local.run("deprovision", _ended_of(started))  # Stripe: still active

    assert run.states()[-2:] == ["MarkStillLive", "StillLiveAtStripe"]
    assert local.live_stacks() == {_stack_name(started): "CREATE_COMPLETE"}
    assert local.record(_subscription(started)["id"]) == "active"


# ------------------------------------------------------------------------------ faults


def _cloudformation_error(code: str, message: str) -> Exception:
    from moto.cloudformation.exceptions import CloudFormationError

    error = type(code, (CloudFormationError,), {"code": code})
    return error(message)


def _fail_calls(
    monkeypatch: pytest.MonkeyPatch, method: str, error: Exception, times: int
) -> list[str]:
    """The next `times` calls of CloudFormation's `method` raise `error`; returns the calls."""
    from moto.cloudformation.models import CloudFormationBackend

    original = getattr(CloudFormationBackend, method)
    calls: list[str] = []

    def failing(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        if len(calls) <= times:
            raise error
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CloudFormationBackend, method, failing)
    return calls


THROTTLED = ("Throttling", "Rate exceeded")


def test_describe_stacks_throttled_for_minutes_is_waited_out_without_a_refund(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = _event(STARTED)
    _seed(local, envelope)
    calls = _fail_calls(monkeypatch, "describe_stacks", _cloudformation_error(*THROTTLED), 8)

    run = local.run("provision", envelope)

    assert run.status == "SUCCEEDED", run.error
    assert run.states()[-1] == "Provisioned"
    assert run.states().count("BackoffWait") == 8 and len(calls) == 9
    # 10 s poll + 10, 20, 40, ... capped at 900 s: over an hour of throttling, waited out.
    assert run.simulated_seconds == 10 + 10 + 20 + 40 + 80 + 160 + 320 + 640 + 900
    assert local.record(_subscription(envelope)["id"]) == "active"
    assert local.stripe.refunds == {} and local.calls("DELETE", "/v1/subscriptions/") == []
    assert local.alerts() == []


def test_throttling_that_never_ends_parks_after_hours_never_refunds(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = _event(STARTED)
    _seed(local, envelope)
    _fail_calls(monkeypatch, "create_stack", _cloudformation_error(*THROTTLED), 10_000)

    run = local.run("provision", envelope, timeout=60)

    assert run.status == "SUCCEEDED" and run.states()[-1] == "Parked"
    assert run.states().count("BackoffWait") == 30
    assert run.simulated_seconds > 5 * 3600
    assert local.stripe.refunds == {} and local.calls("DELETE", "/v1/subscriptions/") == []
    (alert,) = local.alerts()
    assert "parked" in alert["Subject"] and "Rate exceeded" in alert["Message"]


@pytest.mark.parametrize(
    ("method", "code", "message"),
    [
        (
            "create_stack",
            "LimitExceededException",
            "Cannot exceed quota for StacksPerAccount: 2000",
        ),
        ("create_stack", "ValidationError", "TemplateURL must be a supported URL."),
        ("create_stack", "ValidationError", "Template format error: JSON not well-formed."),
        (
            "create_stack",
            "AccessDenied",
            "User: arn:aws:sts::123456789012:assumed-role/provision/x is not authorized to "
            "perform: cloudformation:CreateStack",
        ),
        ("describe_stacks", "AccessDenied", "not authorized to perform: DescribeStacks"),
    ],
)
def test_account_wide_errors_park_alert_once_and_staff_can_resume(
    local: Local, monkeypatch: pytest.MonkeyPatch, method: str, code: str, message: str
) -> None:
    envelope = _event(STARTED)
    sub = _subscription(envelope)
    _seed(local, envelope)
    calls = _fail_calls(monkeypatch, method, _cloudformation_error(code, message), 1)

    run = local.run("provision", envelope)
    # The same subscription announced again meanwhile: no second alert.
    again = local.run("provision", _event(STARTED, id="evt_1AnotherStartEvent"))

    assert run.status == "SUCCEEDED" and run.states()[-3:] == [
        "AlertParked",
        "MarkParked",
        "Parked",
    ]
    assert "BackoffWait" not in run.states()  # no point retrying for hours
    assert again.states()[-1] == "NothingToDo"
    assert local.record(sub["id"]) == "parked"
    assert local.stripe.refunds == {} and local.calls("DELETE", "/v1/subscriptions/") == []
    (alert,) = local.alerts()
    assert alert["Subject"] == "ACTION NEEDED: subscription provisioning parked (no refund)"
    assert message in alert["Message"] and sub["id"] in alert["Message"]
    assert f'--input with the JSON {{"resume":"{sub["id"]}"}}' in alert["Message"]
    assert local.machines["provision"] in alert["Message"]
    assert len(calls) == 1

    # Staff fixed the cause and resume it with the command from the alert.
    resumed = local.run("provision", {"resume": sub["id"]})

    assert resumed.status == "SUCCEEDED" and resumed.states()[-1] == "Provisioned"
    assert "ResumeProvisioning" in resumed.states()
    assert local.live_stacks() == {_stack_name(envelope): "CREATE_COMPLETE"}
    assert local.record(sub["id"]) == "active"
    assert local.run("provision", {"resume": sub["id"]}).states()[-1] == "NothingToDo"


def test_a_stack_that_itself_fails_is_discarded_then_refunded_and_canceled(
    local: Local,
) -> None:
    envelope = _event(STARTED)
    event_id = envelope["detail"]["id"]
    sub = _subscription(envelope)
    intent = _seed(local, envelope)

    run = local.run("broken", envelope)

    assert run.status == "SUCCEEDED" and run.states()[-1] == "RefundedAndCanceled"
    states = run.states()
    assert states[states.index("StackReady") :] == [
        "StackReady", "StackFailed", "MarkFailed", "DiscardFailedStack", "ConfirmBeforeRefund",
        "HasInvoice", "GetInvoice", "WasPaid", "Refund", "NeedsCancelling", "CancelSubscription",
        "MarkRefunded", "AlertRefunded", "RefundedAndCanceled",
    ]  # fmt: skip
    assert local.stacks() == {}  # the failed stack no longer blocks the name
    (refund,) = local.stripe.refunds.values()
    assert refund["payment_intent"] == intent and refund["amount"] == 9800
    (refund_call,) = local.calls("POST", "/v1/refunds")
    assert refund_call.headers["idempotency-key"] == f"refund-provisioning-{sub['id']}"
    assert refund_call.params["metadata"] == {
        "reason": "provisioning_failed", "subscription": sub["id"], "stripe_event": event_id,
    }  # fmt: skip
    assert local.stripe.subscriptions[sub["id"]]["status"] == "canceled"
    (alert,) = local.alerts()
    assert "refunded and the subscription canceled" in alert["Message"]
    assert "CREATE_FAILED" in alert["Message"] and sub["customer"] in alert["Message"]
    assert local.record(sub["id"]) == "failed"

    # A redelivery, or the same subscription's next start event, never refunds again.
    assert local.run("broken", envelope).states()[-1] == "AlreadyHandled"
    other = local.run("broken", _event(STARTED, id="evt_1YetAnotherStart"))
    assert other.states()[-1] == "NotLive"  # Stripe: canceled
    local.stripe.subscriptions[sub["id"]]["status"] = "active"  # even if a read were stale
    stale = local.run("broken", _event(STARTED, id="evt_1StaleStart"))
    assert stale.states()[-1] == "NothingToDo"  # the record says failed
    assert len(local.stripe.refunds) == 1


def test_refund_failing_too_asks_staff_to_finish_by_hand(local: Local) -> None:
    envelope = _event(STARTED)
    sub = _subscription(envelope)
    local.stripe.add_subscription(customer=sub["customer"], id=sub["id"])
    local.stripe.subscriptions[sub["id"]]["latest_invoice"] = sub["latest_invoice"]
    local.stripe.add_invoice(sub["latest_invoice"], "pi_unknownToStripe")  # refund -> 400

    run = local.run("broken", envelope)

    assert run.status == "SUCCEEDED" and run.states()[-1] == "CompensationIncomplete"
    assert len(local.calls("POST", "/v1/refunds")) == 1  # a 400 is not retried
    (alert,) = local.alerts()
    assert alert["Subject"].startswith("ACTION NEEDED")
    assert "No such payment_intent" in alert["Message"]
    assert _claim_outcome(local, "subscription-provision", envelope) == "FAILED_NEEDS_ATTENTION"


# ------------------------------------------------------------------------------ ended meanwhile


def test_cancelled_while_the_stack_was_being_created_is_torn_down(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The customer cancels during CreateStack and the deleted event is late: the liveness
    re-check after the stack is up finds it ended, and the run removes its own stack."""
    from moto.cloudformation.models import CloudFormationBackend

    envelope = _event(STARTED)
    sub = _subscription(envelope)
    _seed(local, envelope)
    create = CloudFormationBackend.create_stack

    def create_then_cancel(self: Any, *args: Any, **kwargs: Any) -> Any:
        created = create(self, *args, **kwargs)
        local.stripe.subscriptions[sub["id"]]["status"] = "canceled"
        return created

    monkeypatch.setattr(CloudFormationBackend, "create_stack", create_then_cancel)

    run = local.run("provision", envelope)

    assert run.status == "SUCCEEDED" and run.states()[-1] == "EndedWhileProvisioning"
    assert "StartEnding" in run.states() and "Activate" not in run.states()
    assert local.stacks() == {} and not [q for q in local.queues() if STACK_PREFIX in q]
    assert local.record(sub["id"]) == "ended"
    assert local.stripe.refunds == {}
    # The deleted event, late: nothing left to do.
    late = local.run("deprovision", _ended_of(envelope))
    assert late.status == "SUCCEEDED" and late.states()[-1] == "NothingToRemove"


def test_a_deleted_event_during_provisioning_hands_the_removal_to_that_run(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deprovision never deletes under a running provision: it marks the record ending, and
    the provisioning run removes the stack it just made."""
    from moto.cloudformation.models import CloudFormationBackend

    envelope = _event(STARTED)
    sub = _subscription(envelope)
    _seed(local, envelope)
    ended = _ended_of(envelope)
    create = CloudFormationBackend.create_stack
    handed: list[Run] = []

    def create_while_deleted(self: Any, *args: Any, **kwargs: Any) -> Any:
        created = create(self, *args, **kwargs)
        # The customer cancels now; its deleted event runs while this run still provisions.
        local.stripe.subscriptions[sub["id"]]["status"] = "canceled"
        handed.append(local.run("deprovision", ended))
        local.stripe.subscriptions[sub["id"]]["status"] = "active"  # a stale read later on
        return created

    monkeypatch.setattr(CloudFormationBackend, "create_stack", create_while_deleted)

    run = local.run("provision", envelope)

    (deprovision,) = handed
    assert deprovision.states()[-3:] == ["HandOver", "MarkHandedOver", "HandedToProvisioning"]
    assert run.status == "SUCCEEDED" and run.states()[-1] == "EndedWhileProvisioning"
    assert "Activate" in run.states() and "Teardown" in run.states()  # refused, then removed
    assert local.stacks() == {} and local.record(sub["id"]) == "ended"


# ------------------------------------------------------------------------------ permutations

SUB_B = "sub_1PResubscribed0001"
# Each order costs ~1-2.5 s of workflow runs. By default the 24 orders of A's created / updated /
# deleted and B's created; SUBSCRIPTION_TEST_ALL_ORDERS=1 adds B's update: all 120 orders (~5 min).
ALL_ORDERS = os.environ.get("SUBSCRIPTION_TEST_ALL_ORDERS") == "1"


def _lifecycles() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Real-shaped events of one customer. A: created (active) -> updated (cancel at period
    end) -> deleted. B, the resubscription while A runs out: created (active) -> updated."""
    a = [_event(STARTED), _event("customer.subscription.updated.cancel-at-period-end.json"),
         _event(ENDED)]  # fmt: skip
    assert len({_subscription(e)["id"] for e in a}) == 1
    b = [_event(STARTED), _event("customer.subscription.updated.quantity-only.json")]
    for event, created in zip(b, (1722000000, 1722500000), strict=True):
        event["detail"]["id"] += "B"
        event["detail"]["created"] = created  # between A's cancel request and A's end
        _subscription(event)["id"] = SUB_B
    times = [e["detail"]["created"] for e in a] + [e["detail"]["created"] for e in b]
    assert times[0] < times[1] < times[3] < times[4] < times[2]
    return a, b


def test_every_delivery_order_of_two_subscriptions_keeps_the_live_ones_stack(
    local: Local,
) -> None:
    """Every delivery order of A's created/updated/deleted and B's created (and updated, with
    SUBSCRIPTION_TEST_ALL_ORDERS=1): in the end A has no stack and is canceled in the mirror,
    B has its stack and is active, and no order refunds or alerts anything."""
    a, b = _lifecycles()
    events = a + (b if ALL_ORDERS else b[:1])
    customer = _subscription(a[0])["customer"]
    stack_b = _stack_name(b[0])
    outcomes: dict[tuple[int, ...], tuple[Any, ...]] = {}
    for order in itertools.permutations(range(len(events))):
        local.reset()
        for index in order:
            for run in local.deliver(copy.deepcopy(events[index])):
                assert run.status == "SUCCEEDED", (order, run.states(), run.error)
        outcomes[order] = (
            local.live_stacks(),
            local.mirrored(customer),
            local.record(_subscription(a[0])["id"]),
            local.record(SUB_B),
            len(local.stripe.refunds),
            len(local.alerts()),
        )
    assert len(outcomes) == (120 if ALL_ORDERS else 24)
    wrong = {
        order: outcome
        for order, outcome in outcomes.items()
        if outcome[:2] != ({stack_b: "CREATE_COMPLETE"}, {_subscription(a[0])["id"]: "canceled",
                                                          SUB_B: "active"})
        or outcome[3] != "active" or outcome[2] not in {"ended", None} or outcome[4:] != (0, 0)
    }  # fmt: skip
    assert not wrong, wrong


# ------------------------------------------------------------------------------ deprovisioning


def test_deprovisioning_deletes_the_stack_and_waits_until_gone(local: Local) -> None:
    started = _event(STARTED)
    _seed(local, started)
    assert local.run("provision", started).status == "SUCCEEDED"
    stack_id = local.stacks()[_stack_name(started)]["StackId"]
    ended = _ended_of(started)
    local.stripe.subscriptions[_subscription(started)["id"]]["status"] = "canceled"

    run = local.run("deprovision", ended)

    assert run.status == "SUCCEEDED", run.error
    assert run.states() == [
        "Claim", "Subject", "FetchSubscription", "StillLive", "NameStack", "BeginEnding",
        "FindStack", "DeleteStack", "WaitForDeletion", "DescribeDeletion", "Deleted",
        "MarkEnded", "MarkRemoved", "Removed",
    ]  # fmt: skip
    assert local.stacks() == {}
    (gone,) = local.client("cloudformation").describe_stacks(StackName=stack_id)["Stacks"]
    assert gone["StackStatus"] == "DELETE_COMPLETE"
    assert not [q for q in local.queues() if STACK_PREFIX in q]
    assert local.record(_subscription(started)["id"]) == "ended"
    assert _claim_outcome(local, "subscription-deprovision", ended) == "STACK_DELETED"
    assert local.run("deprovision", ended).states() == ["Claim", "AlreadyHandled"]


def test_ending_one_subscription_keeps_the_customers_other_one(local: Local) -> None:
    """The common case: the customer resubscribes while the old subscription runs out
    (cancel_at_period_end), then the old one ends."""
    old = _event(STARTED)
    new = _second(old)
    _seed(local, old)
    _seed(local, new)
    assert local.run("provision", old).status == "SUCCEEDED"
    assert local.run("provision", new).status == "SUCCEEDED"
    assert local.live_stacks() == {  # a stack each
        _stack_name(old): "CREATE_COMPLETE",
        _stack_name(new): "CREATE_COMPLETE",
    }
    ended = _ended_of(old)
    local.stripe.subscriptions[_subscription(old)["id"]]["status"] = "canceled"

    run = local.run("deprovision", ended)

    assert run.status == "SUCCEEDED" and run.states()[-1] == "Removed"
    assert local.live_stacks() == {_stack_name(new): "CREATE_COMPLETE"}
    assert local.record(_subscription(new)["id"]) == "active"

    # An archive replay a month later, all claims long expired: nothing changes.
    local.expire_claims(now=ended["detail"]["created"] + 30 * 24 * 3600)
    for envelope, machine in ((old, "provision"), (ended, "deprovision"), (new, "provision")):
        replayed = local.run(machine, envelope)
        assert replayed.status == "SUCCEEDED" and replayed.states()[-1] in {
            "NotLive", "NothingToDo", "NothingToRemove"
        }, replayed.states()  # fmt: skip
    assert local.live_stacks() == {_stack_name(new): "CREATE_COMPLETE"}


def test_deprovisioning_without_a_stack_has_nothing_to_remove(local: Local) -> None:
    ended = _event(ENDED)
    _seed(local, ended, status="canceled")

    run = local.run("deprovision", ended)

    assert run.status == "SUCCEEDED", run.error
    assert run.states()[-3:] == ["MarkEndedNoStack", "MarkNothingToRemove", "NothingToRemove"]
    assert _claim_outcome(local, "subscription-deprovision", ended) == "NO_STACK"
    assert local.record(_subscription(ended)["id"]) == "ended"
    assert local.alerts() == []


# ------------------------------------------------------------------------------ template


def _resources(synth: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.json["Resources"].items() if v["Type"] == kind}


def _statements(synth: Synthesized, policy_prefix: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, policy in _resources(synth, "AWS::IAM::Policy").items()
        if logical_id.startswith(policy_prefix)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _arn_tail(resource: Any) -> str:
    """The literal end of an ARN built with Fn::Join (after the account id)."""
    parts = resource["Fn::Join"][1]
    return "".join(p for p in parts[parts.index({"Ref": "AWS::AccountId"}) + 1 :])


@pytest.mark.parametrize(
    ("workflow", "stack_actions", "template_actions"),
    [
        ("Provision", {"CreateStack", "DescribeStacks", "DeleteStack"}, {"CreateQueue"}),
        ("Deprovision", {"DescribeStacks", "DeleteStack"}, {"DeleteQueue"}),
    ],
)
def test_workflow_roles_are_scoped_to_customer_stacks(
    partner: Synthesized, workflow: str, stack_actions: set[str], template_actions: set[str]
) -> None:
    statements = _statements(partner, f"Subscriptions{workflow}StateMachineRoleDefaultPolicy")
    cfn = [s for s in statements if str(s["Action"]).count("cloudformation:")]
    (stacks,) = cfn
    assert {a.split(":")[1] for a in stacks["Action"]} == stack_actions
    assert _arn_tail(stacks["Resource"]) == f":stack/{STACK_PREFIX}*/*"
    (queues,) = [s for s in statements if "sqs:" in str(s["Action"])]
    assert template_actions <= {a.split(":")[1] for a in queues["Action"]}
    assert _arn_tail(queues["Resource"]) == f":{STACK_PREFIX}*"
    for statement in statements:
        if statement["Resource"] == "*":  # logs delivery and X-Ray only
            assert all(a.startswith(("logs:", "xray:")) for a in statement["Action"])


def test_provisioning_reads_the_bundled_template_asset_only(partner: Synthesized) -> None:
    statements = _statements(partner, "SubscriptionsProvisionStateMachineRoleDefaultPolicy")
    (read,) = [s for s in statements if s["Action"] == "s3:GetObject"]
    key = read["Resource"]["Fn::Join"][1][-1]
    assert re.fullmatch(r"/[0-9a-f]{64}\.json", key)
    machine = next(
        v for k, v in _resources(partner, "AWS::StepFunctions::StateMachine").items()
        if k.startswith("SubscriptionsProvision")
    )  # fmt: skip
    props = machine["Properties"]
    definition = json.dumps([props["DefinitionString"], props["DefinitionSubstitutions"]])
    assert key.lstrip("/") in definition  # the TemplateURL is the asset's URL


def test_provisioning_calls_stripe_with_get_post_delete_deprovisioning_reads_only(
    partner: Synthesized,
) -> None:
    statements = _statements(partner, "SubscriptionsProvisionStripeApiPolicy")
    (invoke,) = [s for s in statements if s["Action"] == "states:InvokeHTTPEndpoint"]
    assert invoke["Condition"] == {
        "StringEquals": {"states:HTTPMethod": ["DELETE", "GET", "POST"]},
        "StringLike": {"states:HTTPEndpoint": "https://api.stripe.com/*"},
    }
    assert invoke["Resource"]["Ref"].startswith("SubscriptionsProvisionStateMachine")
    deprovision = _statements(partner, "SubscriptionsDeprovisionStripeApiPolicy")
    (read_only,) = [s for s in deprovision if s["Action"] == "states:InvokeHTTPEndpoint"]
    assert read_only["Condition"]["StringEquals"] == {"states:HTTPMethod": ["GET"]}


def test_subscription_workflows_are_standard_and_wired_to_their_rules(
    partner: Synthesized,
) -> None:
    machines = {
        k: v for k, v in _resources(partner, "AWS::StepFunctions::StateMachine").items()
        if k.startswith("Subscriptions")
    }  # fmt: skip
    assert len(machines) == 2
    for machine in machines.values():
        assert machine["Properties"].get("StateMachineType", "STANDARD") == "STANDARD"
    rules = {
        r["Properties"]["Name"].split("-", 1)[1]: r["Properties"]
        for r in _resources(partner, "AWS::Events::Rule").values()
    }
    for rule, prefix in (
        ("subscription-started", "SubscriptionsProvision"),
        ("subscription-ended", "SubscriptionsDeprovision"),
    ):
        targets = [t["Arn"]["Ref"] for t in rules[rule]["Targets"]]
        assert any(t.startswith(prefix) for t in targets), (rule, targets)
