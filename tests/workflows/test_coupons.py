"""Coupon issuance: the ASL executed in moto against the fake Stripe API, and the template.

The workflow runs for real (`execute_state_machine`); the Step Functions bridge supplies the HTTP
Task (routed to FakeStripe, with the EventBridge connection's API key) and skips back-off sleeps,
counting them as simulated seconds.
"""

from __future__ import annotations

import copy
import json
import secrets
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from conftest import ROOT, Synthesized, load_fixture
from harness import Run, client, finish, fresh_aws, queued_json, sent_emails, start

from payops.asl import render
from payops.localaws.fakes.fake_stripe import FakeStripe, StripeCall
from payops.localaws.services import stepfunctions as sfb
from stacks.idempotency import CLAIM_TTL_SECONDS
from stacks.stripe_api import STRIPE_API_VERSION

REGION = "us-east-1"
ACCOUNT = "123456789012"
SENDER = "orders@shop.example.jp"
DASHBOARD = "https://dashboard.stripe.com/test"
PERCENT_OFF = 15
ORDER = "checkout.session.completed.jpy-36000.json"


@dataclass
class Local:
    machine_arn: str
    table: str
    alerts_queue: str
    stripe: FakeStripe
    api_key: str
    revoke_arn: str = ""

    client = staticmethod(client)
    finish = staticmethod(finish)
    emails = staticmethod(sent_emails)

    def start(self, envelope: dict[str, Any]) -> str:
        return start(self.machine_arn, envelope)

    def run(self, envelope: dict[str, Any]) -> Run:
        return self.finish(self.start(envelope))

    def alerts(self) -> list[dict[str, Any]]:
        return queued_json(self.alerts_queue)

    def claim(self, event_id: str) -> dict[str, Any] | None:
        return (
            self.client("dynamodb")
            .get_item(TableName=self.table, Key={"pk": {"S": f"coupon#{event_id}"}})
            .get("Item")
        )

    def calls(self, path: str) -> list[StripeCall]:
        return [c for c in self.stripe.calls if c.path == path]


@pytest.fixture
def local() -> Iterator[Local]:
    sfb.reset_simulated_time()
    with fresh_aws("coupons"), FakeStripe() as fake:
        sfb.set_http_routes({"https://api.stripe.com": fake.url})
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="claims",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.create_table(
            TableName="issued",
            KeySchema=[{"AttributeName": "paymentIntent", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "paymentIntent", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="payment-problems")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        # A throwaway test-mode key, generated here (what the user's secret would hold).
        api_key = "sk_test_" + secrets.token_hex(6)
        connection = boto3.client("events", region_name=REGION).create_connection(
            Name="stripe",
            AuthorizationType="API_KEY",
            AuthParameters={
                "ApiKeyAuthParameters": {
                    "ApiKeyName": "Authorization",
                    "ApiKeyValue": f"Bearer {api_key}",
                }
            },
        )["ConnectionArn"]
        definition = render(
            "coupon",
            {
                "IdempotencyTable": "claims",
                "ClaimTtlSeconds": str(CLAIM_TTL_SECONDS),
                "StripeConnectionArn": connection,
                "StripeApiVersion": STRIPE_API_VERSION,
                "CouponPercentOff": str(PERCENT_OFF),
                "SenderEmail": SENDER,
                "AlertTopicArn": topic,
                "StripeDashboardUrl": DASHBOARD,
                "IssuedCouponsTable": "issued",
            },
        )
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="coupon",
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/coupon",
            type="EXPRESS",
        )["stateMachineArn"]
        revoke = render(
            "coupon-revoke",
            {
                "IssuedCouponsTable": "issued",
                "StripeConnectionArn": connection,
                "StripeApiVersion": STRIPE_API_VERSION,
                "AlertTopicArn": topic,
                "StripeDashboardUrl": DASHBOARD,
            },
        )
        revoke_arn = sfn.create_state_machine(
            name="coupon-revoke",
            definition=revoke,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/coupon-revoke",
            type="EXPRESS",
        )["stateMachineArn"]
        yield Local(machine, "claims", queue, fake, api_key, revoke_arn)
    sfb.set_http_routes({})


def _order(**changes: Any) -> dict[str, Any]:
    envelope = copy.deepcopy(load_fixture(f"events/{ORDER}"))
    envelope["detail"]["data"]["object"].update(changes)
    return envelope


def _form(call: StripeCall) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(call.body, keep_blank_values=True))


def test_happy_path_creates_one_coupon_and_code_and_emails_it(local: Local) -> None:
    envelope = _order()
    event_id = envelope["detail"]["id"]
    session = envelope["detail"]["data"]["object"]

    run = local.run(envelope)

    assert run.status == "SUCCEEDED", run.error
    assert run.states() == [
        "Claim", "HasBuyerEmail", "CreateCoupon", "HasCustomer", "PromotionCodeForCustomer",
        "CreatePromotionCode", "HasPaymentIntent", "RecordCouponOfPayment", "EmailCode", "MarkDone",
    ]  # fmt: skip
    (coupon,) = local.stripe.coupons.values()
    assert coupon["percent_off"] == PERCENT_OFF
    assert coupon["duration"] == "once"
    assert coupon["max_redemptions"] == 1
    assert coupon["metadata"] == {"order": session["id"], "stripe_event": event_id}
    (promotion,) = local.stripe.promotion_codes.values()
    assert promotion["promotion"]["coupon"] == coupon["id"]
    assert promotion["customer"] == session["customer"]
    assert promotion["max_redemptions"] == 1

    (coupon_call,) = local.calls("/v1/coupons")
    (promo_call,) = local.calls("/v1/promotion_codes")
    for call, key in ((coupon_call, f"coupon-{event_id}"), (promo_call, f"promo-{event_id}")):
        assert call.headers["idempotency-key"] == key
        assert call.headers["authorization"] == f"Bearer {local.api_key}"  # from the connection
        assert call.headers["stripe-version"] == STRIPE_API_VERSION
        assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    # URL-encoded as Stripe reads it: nested keys in brackets.
    assert "metadata%5Border%5D=" + session["id"] in coupon_call.body
    assert _form(coupon_call)["percent_off"] == str(PERCENT_OFF)
    assert _form(promo_call) == {
        "coupon": coupon["id"],
        "customer": session["customer"],
        "max_redemptions": "1",
        "metadata[order]": session["id"],
    }

    (email,) = local.emails()
    assert email.source == SENDER
    assert email.destinations["ToAddresses"] == [session["customer_details"]["email"]]
    assert promotion["code"] in email.body and f"{PERCENT_OFF}% off" in email.body
    claim = local.claim(event_id)
    assert claim is not None
    assert claim["status"] == {"S": "DONE"}
    assert claim["couponId"] == {"S": coupon["id"]}
    assert claim["expiresAt"] == {"N": str(envelope["detail"]["created"] + CLAIM_TTL_SECONDS)}
    assert local.alerts() == []


def test_duplicate_event_still_gives_one_coupon_and_one_email(local: Local) -> None:
    envelope = _order()

    first = local.run(envelope)
    second = local.run(envelope)

    assert first.status == second.status == "SUCCEEDED"
    assert second.states() == ["Claim", "AlreadyHandled"]
    assert len(local.stripe.coupons) == 1
    assert len(local.stripe.promotion_codes) == 1
    assert len(local.stripe.calls) == 2
    assert len(local.emails()) == 1


def test_guest_checkout_gets_a_code_without_a_customer(local: Local) -> None:
    run = local.run(_order(customer=None))

    assert run.status == "SUCCEEDED", run.error
    assert "PromotionCodeForGuest" in run.states()
    (promo_call,) = local.calls("/v1/promotion_codes")
    assert "customer" not in _form(promo_call)
    (promotion,) = local.stripe.promotion_codes.values()
    assert promotion["customer"] is None and promotion["max_redemptions"] == 1
    assert len(local.emails()) == 1


def test_order_without_buyer_email_creates_nothing(local: Local) -> None:
    envelope = _order(customer_details=None)

    run = local.run(envelope)

    assert run.status == "SUCCEEDED"
    assert run.states() == ["Claim", "HasBuyerEmail", "MarkNoEmail"]
    assert local.stripe.calls == [] and local.emails() == []
    claim = local.claim(envelope["detail"]["id"])
    assert claim is not None and claim["status"] == {"S": "SKIPPED_NO_EMAIL"}


def test_stripe_500_twice_then_200_succeeds_after_back_off(local: Local) -> None:
    local.stripe.fail_next(500, times=2)

    run = local.run(_order())

    assert run.status == "SUCCEEDED", run.error
    coupon_calls = local.calls("/v1/coupons")
    assert [c.status for c in coupon_calls] == [500, 500, 200]
    assert len({c.headers["idempotency-key"] for c in coupon_calls}) == 1
    assert len(local.stripe.coupons) == 1
    # Back-off IntervalSeconds 2, BackoffRate 2: 2 s + 4 s, skipped and counted.
    assert run.simulated_seconds == 6
    assert len(local.emails()) == 1


def test_stripe_429_retries_three_times_then_fails(local: Local) -> None:
    local.stripe.fail_next(429, times=4)
    envelope = _order()

    run = local.run(envelope)

    assert run.status == "FAILED"
    assert run.error == "CouponNotIssued"
    assert [c.status for c in local.calls("/v1/coupons")] == [429] * 4  # 1 + MaxAttempts 3
    assert run.simulated_seconds == 2 + 4 + 8
    assert local.claim(envelope["detail"]["id"]) is None


def test_stripe_400_fails_at_once_alerts_staff_and_releases_the_claim(local: Local) -> None:
    local.stripe.fail_next(400)
    envelope = _order()
    event_id = envelope["detail"]["id"]

    run = local.run(envelope)

    assert run.status == "FAILED"
    assert run.error == "CouponNotIssued"
    assert run.states()[-3:] == ["ReleaseClaim", "AlertStaff", "CouponNotIssued"]
    assert len(local.calls("/v1/coupons")) == 1  # no retry on a 4xx other than 429
    assert run.simulated_seconds == 0
    assert local.stripe.coupons == {} and local.emails() == []
    (alert,) = local.alerts()
    assert alert["Subject"] == "Coupon not issued"
    assert envelope["detail"]["data"]["object"]["id"] in alert["Message"]
    assert f"{DASHBOARD}/events/{event_id}" in alert["Message"]
    assert "States.Http.StatusCode.400" in alert["Message"]
    assert local.claim(event_id) is None

    # The released claim lets a redelivery (or an archive replay) issue the coupon.
    retried = local.run(envelope)
    assert retried.status == "SUCCEEDED", retried.error
    assert len(local.stripe.coupons) == 1 and len(local.emails()) == 1


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


def test_connection_takes_the_key_from_secrets_manager_only(partner: Synthesized) -> None:
    (connection,) = _resources(partner, "AWS::Events::Connection").values()
    props = connection["Properties"]
    assert props["AuthorizationType"] == "API_KEY"
    api_key = props["AuthParameters"]["ApiKeyAuthParameters"]
    assert api_key == {
        "ApiKeyName": "Authorization",
        "ApiKeyValue": "Bearer {{resolve:secretsmanager:payops/stripe-api-key:SecretString:::}}",
    }
    text = json.dumps(partner.json)
    assert "sk_live_" not in text and "sk_test_" not in text and "rk_live_" not in text


def test_coupon_workflow_is_express_and_targets_the_qualifying_order_rule(
    partner: Synthesized,
) -> None:
    machines = {
        k: v for k, v in _resources(partner, "AWS::StepFunctions::StateMachine").items()
        if k.startswith("Coupons")
    }  # fmt: skip
    ((machine_id, machine),) = [(k, v) for k, v in machines.items() if "Revoke" not in k]
    assert machine["Properties"]["StateMachineType"] == "EXPRESS"
    rule = next(
        r for r in _resources(partner, "AWS::Events::Rule").values()
        if r["Properties"]["Name"].endswith("-coupon-qualifying-order")
    )  # fmt: skip
    assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [{"Ref": machine_id}]


def test_coupon_role_may_call_only_stripe_with_its_connection(partner: Synthesized) -> None:
    statements = _statements(partner, "CouponsStripeApiPolicy")
    by_action = {json.dumps(s["Action"]): s for s in statements}
    invoke = by_action['"states:InvokeHTTPEndpoint"']
    assert invoke["Resource"]["Ref"].startswith("CouponsWorkflowStateMachine")
    assert invoke["Condition"] == {
        "StringEquals": {"states:HTTPMethod": ["POST"]},
        "StringLike": {"states:HTTPEndpoint": "https://api.stripe.com/*"},
    }
    credentials = by_action['"events:RetrieveConnectionCredentials"']
    assert credentials["Resource"] == {"Fn::GetAtt": [_connection_id(partner), "Arn"]}
    secret = by_action['["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]']
    assert secret["Resource"]["Fn::Join"][1][-3:] == [
        ":secret:events!connection/",
        {"Ref": _connection_id(partner)},
        "/*",
    ]
    assert len(statements) == 3
    default = _statements(partner, "CouponsWorkflowStateMachineRoleDefaultPolicy")
    send = next(s for s in default if s["Action"] == "ses:SendEmail")
    assert all("identity/" in json.dumps(r) for r in send["Resource"])
    for statement in default:
        if statement["Resource"] == "*":  # logs delivery and X-Ray only
            assert all(a.startswith(("logs:", "xray:")) for a in statement["Action"])


# ------------------------------------------------------------------------------ withdrawal
FULL_REFUND = "charge.refunded.full-jpy-36000.json"  # the refund of ORDER's payment intent


def _issued(local: Local, payment_intent: str) -> dict[str, Any] | None:
    return (
        local.client("dynamodb")
        .get_item(TableName="issued", Key={"paymentIntent": {"S": payment_intent}})
        .get("Item")
    )


def _revoke(local: Local, envelope: dict[str, Any]) -> Run:
    return local.finish(start(local.revoke_arn, envelope))


def test_a_full_refund_withdraws_the_coupon_the_order_earned(local: Local) -> None:
    order = _order()
    assert local.run(order).status == "SUCCEEDED"
    intent = order["detail"]["data"]["object"]["payment_intent"]
    issued = _issued(local, intent)
    assert issued and issued["status"] == {"S": "ISSUED"}
    coupon, promo = issued["couponId"]["S"], issued["promotionCodeId"]["S"]
    assert local.stripe.promotion_codes[promo]["active"] is True

    refund = load_fixture(f"events/{FULL_REFUND}")
    assert refund["detail"]["data"]["object"]["payment_intent"] == intent
    run = _revoke(local, refund)

    assert run.status == "SUCCEEDED" and run.states()[-1] == "CouponWithdrawn"
    assert local.stripe.promotion_codes[promo]["active"] is False
    assert coupon not in local.stripe.coupons  # deleted
    (deactivate,) = local.calls(f"/v1/promotion_codes/{promo}")
    assert _form(deactivate)["active"] == "false"
    assert deactivate.headers["idempotency-key"] == f"revoke-promo-{refund['detail']['id']}"
    assert _issued(local, intent)["status"] == {"S": "REVOKED"}  # type: ignore[index]

    # Redelivered: nothing more is called.
    calls = len(local.stripe.calls)
    again = _revoke(local, refund)
    assert again.states()[-1] == "AlreadyWithdrawn" and len(local.stripe.calls) == calls


def test_a_refund_of_an_order_without_a_coupon_calls_nothing(local: Local) -> None:
    run = _revoke(local, load_fixture("events/charge.refunded.json"))
    assert run.status == "SUCCEEDED" and run.states()[-1] == "NoCouponIssued"
    assert local.stripe.calls == []
    guest = load_fixture(f"events/{FULL_REFUND}")
    guest["detail"]["data"]["object"]["payment_intent"] = None  # a charge without an intent
    assert _revoke(local, guest).states()[-1] == "NoCouponIssued"


def test_a_coupon_already_deleted_in_the_dashboard_is_still_withdrawn(local: Local) -> None:
    order = _order()
    assert local.run(order).status == "SUCCEEDED"
    intent = order["detail"]["data"]["object"]["payment_intent"]
    local.stripe.coupons.pop(_issued(local, intent)["couponId"]["S"])  # type: ignore[index]
    run = _revoke(local, load_fixture(f"events/{FULL_REFUND}"))
    assert run.status == "SUCCEEDED" and run.states()[-1] == "CouponWithdrawn"  # 404 is fine


def test_stripe_failing_to_withdraw_alerts_staff(local: Local) -> None:
    order = _order()
    assert local.run(order).status == "SUCCEEDED"
    local.stripe.fail_next(500, times=4)  # more than the 3 retries
    run = _revoke(local, load_fixture(f"events/{FULL_REFUND}"))
    assert run.status == "FAILED" and run.error == "CouponNotWithdrawn"
    (alert,) = local.alerts()
    assert "could not be withdrawn" in alert["Message"] and "StatusCode.500" in alert["Message"]
    intent = order["detail"]["data"]["object"]["payment_intent"]
    assert _issued(local, intent)["status"] == {"S": "ISSUED"}  # type: ignore[index]


def test_coupon_workflows_have_a_timeout_and_the_revoke_rule_starts_withdrawal(
    partner: Synthesized,
) -> None:
    machines = {
        k: v for k, v in _resources(partner, "AWS::StepFunctions::StateMachine").items()
        if k.startswith("Coupons")
    }  # fmt: skip
    assert len(machines) == 2
    for asl in ("coupon", "coupon-revoke"):  # Express allows 5 minutes; a run needs < 1
        definition = json.loads((ROOT / "statemachines" / f"{asl}.asl.json").read_text())
        assert definition["TimeoutSeconds"] == 120, asl
        assert '"TimeoutSeconds": 120' in machines_text(machines), asl
    (revoke_id,) = [k for k in machines if k.startswith("CouponsRevoke")]
    rule = next(
        r for r in _resources(partner, "AWS::Events::Rule").values()
        if r["Properties"]["Name"].endswith("-order-refunded-in-full")
    )  # fmt: skip
    assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [{"Ref": revoke_id}]
    statements = _statements(partner, "CouponsRevokeStripeApiPolicy")
    invoke = next(s for s in statements if s["Action"] == "states:InvokeHTTPEndpoint")
    assert invoke["Condition"]["StringEquals"] == {"states:HTTPMethod": ["DELETE", "POST"]}


def machines_text(machines: dict[str, Any]) -> str:
    """The synthesized definitions as text (plain strings with DefinitionSubstitutions)."""
    return "".join(m["Properties"]["DefinitionString"] for m in machines.values())


def _connection_id(synth: Synthesized) -> str:
    (logical_id,) = _resources(synth, "AWS::Events::Connection")
    return logical_id
