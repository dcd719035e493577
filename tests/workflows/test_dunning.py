"""Dunning: the customer is emailed once per failed payment attempt (ASL executed in moto)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from conftest import Synthesized, load_fixture
from harness import Run, client, finish, fresh_aws, queued_json, sent_emails, start

from payops.asl import render
from payops.localaws.services import stepfunctions as sfb
from stacks.idempotency import CLAIM_TTL_SECONDS

REGION = "us-east-1"
ACCOUNT = "123456789012"
SENDER = "billing@shop.example.jp"
DASHBOARD = "https://dashboard.stripe.com/test"
INVOICE_JPY = "invoice.payment_failed.json"  # ¥9,800, Stripe retries
INVOICE_USD = "invoice.payment_failed.usd-final-attempt.json"  # $20.50, last attempt
INVOICE_NO_EMAIL = "invoice.payment_failed.no-customer-email.json"
SESSION = "checkout.session.async_payment_failed.json"  # konbini ¥3,980, never paid
SUBJECT = "お支払いが完了しませんでした / Your payment did not go through"


@dataclass
class Local:
    machine_arn: str
    alerts_queue: str

    def run(self, envelope: dict[str, Any]) -> Run:
        return finish(start(self.machine_arn, envelope))

    def claim(self, event_id: str) -> dict[str, Any] | None:
        key = {"pk": {"S": f"dunning#{event_id}"}}
        return client("dynamodb").get_item(TableName="claims", Key=key).get("Item")


@pytest.fixture
def local() -> Iterator[Local]:
    sfb.reset_simulated_time()
    with fresh_aws("dunning"):
        client("dynamodb").create_table(
            TableName="claims",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sns, sqs = client("sns"), client("sqs")
        topic = sns.create_topic(Name="payment-problems")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        definition = render(
            "dunning",
            {
                "IdempotencyTable": "claims",
                "ClaimTtlSeconds": str(CLAIM_TTL_SECONDS),
                "SenderEmail": SENDER,
                "AlertTopicArn": topic,
                "StripeDashboardUrl": DASHBOARD,
            },
        )
        machine = client("stepfunctions").create_state_machine(
            name="dunning",
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/dunning",
            type="EXPRESS",
        )["stateMachineArn"]
        yield Local(machine, queue)


def _event(name: str, **changes: Any) -> dict[str, Any]:
    envelope = copy.deepcopy(load_fixture(f"events/{name}"))
    envelope["detail"]["data"]["object"].update(changes)
    return envelope


def _emails() -> list[tuple[list[str], str, str]]:
    return [(m.destinations["ToAddresses"], m.subject, m.body) for m in sent_emails()]


def test_failed_invoice_emails_the_customer_once_however_often_delivered(local: Local) -> None:
    envelope = _event(INVOICE_JPY)
    invoice = envelope["detail"]["data"]["object"]
    runs = [local.run(envelope) for _ in range(3)]  # at-least-once: redeliveries
    assert [r.status for r in runs] == ["SUCCEEDED"] * 3
    assert runs[0].states()[-2:] == ["MarkDone", "Emailed"]
    assert [r.states()[-1] for r in runs[1:]] == ["AlreadyHandled"] * 2
    ((to, subject, body),) = _emails()
    assert to == ["haruto.shimizu@example.jp"] and subject == SUBJECT
    assert "¥9800 のお支払いが完了しませんでした（in_1PTPjYk2LmQ07vrF39sRpOdY）" in body
    assert "We could not collect your payment of ¥9800 (in_1PTPjYk2LmQ07vrF39sRpOdY)." in body
    assert "Stripe will retry the payment automatically" in body
    assert f"Pay here: {invoice['hosted_invoice_url']}" in body
    assert f"お支払いはこちらから: {invoice['hosted_invoice_url']}" in body
    assert "null" not in body.lower() and "\\" not in body  # real line breaks, no escapes
    assert body.splitlines()[3:5] == [
        "",
        "We could not collect your payment of ¥9800 (in_1PTPjYk2LmQ07vrF39sRpOdY).",
    ]
    assert local.claim(envelope["detail"]["id"])["status"] == {"S": "DONE"}


def test_each_failed_attempt_is_its_own_email(local: Local) -> None:
    first = _event(INVOICE_JPY)
    second = _event(INVOICE_JPY, attempt_count=2, next_payment_attempt=1723860000)
    second["detail"]["id"] = "evt_1PkPjYk2LmQSecondAttempt9"  # Stripe: a new event per attempt
    for envelope in (first, second, first, second):
        assert local.run(envelope).status == "SUCCEEDED"
    assert len(_emails()) == 2


def test_usd_last_attempt_shows_dollars_and_cents_and_no_retry(local: Local) -> None:
    envelope = _event(INVOICE_USD)
    assert local.run(envelope).status == "SUCCEEDED"
    ((to, _, body),) = _emails()
    assert to == ["olivia.brown@example.com"]
    assert "We could not collect your payment of USD 20.50 (in_1PTPjYk2LmQUsdFinal0Pb2)." in body
    assert "No further automatic attempt will be made" in body
    assert "Stripe will retry" not in body
    assert "null" not in body.lower()


@pytest.mark.parametrize(
    ("currency", "amount", "shown"),
    [
        ("usd", 5, "USD 0.05"),
        ("usd", 100, "USD 1.00"),
        ("usd", 999999, "USD 9999.99"),
        ("usd", 1000000, "USD 10000.00"),
        ("usd", 9999999, "USD 99999.99"),
        ("eur", 1207, "€12.07"),
        ("gbp", 1, "0.01 gbp"),
        ("jpy", 0, "¥0"),
        ("jpy", 1234567, "¥1234567"),
        ("krw", 15000, "15000 krw"),
        ("usd", 10000000, "10000000 (usd, smallest currency unit)"),
        ("kwd", 1500, "1500 (kwd, smallest currency unit)"),
    ],
)
def test_amount_per_currency_class(local: Local, currency: str, amount: int, shown: str) -> None:
    envelope = _event(INVOICE_USD, currency=currency, amount_remaining=amount)
    run = local.run(envelope)
    assert run.status == "SUCCEEDED", run.error
    ((_, _, body),) = _emails()
    assert f"your payment of {shown} (" in body


def test_no_customer_email_sends_nothing_and_claims_nothing(local: Local) -> None:
    envelope = _event(INVOICE_NO_EMAIL)
    run = local.run(envelope)
    assert run.status == "SUCCEEDED"
    assert run.states() == ["HasCustomerEmail", "NoCustomerEmail"]
    assert _emails() == [] and local.claim(envelope["detail"]["id"]) is None
    session = _event(SESSION, customer_details=None)
    assert local.run(session).states() == ["HasCustomerEmail", "NoCustomerEmail"]
    assert _emails() == []


def test_async_payment_failed_session_asks_to_order_again(local: Local) -> None:
    envelope = _event(SESSION)
    assert local.run(envelope).status == "SUCCEEDED"
    assert local.run(envelope).states()[-1] == "AlreadyHandled"
    ((to, _, body),) = _emails()
    assert to == ["yuki.takahashi@example.jp"]
    assert "¥3980 のお支払いが完了しませんでした" in body
    assert "Please place your order again." in body
    assert "null" not in body.lower() and "http" not in body


def test_ses_failure_releases_the_claim_alerts_staff_and_fails(local: Local) -> None:
    client("ses").delete_identity(Identity=SENDER)  # SES refuses an unverified sender
    envelope = _event(INVOICE_JPY)
    run = local.run(envelope)
    assert run.status == "FAILED" and run.states()[-1] == "DunningEmailNotSent"
    assert local.claim(envelope["detail"]["id"]) is None  # a redelivery may try again
    (alert,) = queued_json(local.alerts_queue)
    assert alert["Subject"] == "Dunning email not sent"
    assert "¥9800 (in_1PTPjYk2LmQ07vrF39sRpOdY)" in alert["Message"]


def test_older_api_version_without_amount_remaining_shows_amount_due(local: Local) -> None:
    envelope = _event(INVOICE_USD, amount_due=30000)
    del envelope["detail"]["data"]["object"]["amount_remaining"]
    assert local.run(envelope).states()[:2] == ["HasCustomerEmail", "InvoiceFactsOlderApi"]
    ((_, _, body),) = _emails()
    assert "your payment of USD 300.00 (" in body


# ------------------------------------------------------------------------------ template


def test_rule_starts_the_dunning_workflow_whose_role_can_only_claim_email_and_alert(
    partner: Synthesized,
) -> None:
    resources = partner.json["Resources"]
    (rule,) = [
        v
        for k, v in resources.items()
        if k.startswith("RulesRuleCustomerDunning") and "Recovered" not in k
    ]
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"]["Ref"].startswith("DunningWorkflowStateMachine")
    assert "DeadLetterConfig" in target and "RetryPolicy" in target
    (policy,) = [
        v for k, v in resources.items() if k.startswith("DunningWorkflowStateMachineRoleDefault")
    ]
    actions = {}
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        ):
            actions[action] = json.dumps(statement["Resource"])
    data_plane = {a: r for a, r in actions.items() if not a.startswith(("logs:", "xray:"))}
    assert set(data_plane) == {
        "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "ses:SendEmail",
        "sns:Publish", "kms:Decrypt", "kms:GenerateDataKey*",
    }  # fmt: skip
    assert "IdempotencyTable" in data_plane["dynamodb:PutItem"]
    assert ":identity/" in data_plane["ses:SendEmail"] and "*" not in data_plane["ses:SendEmail"]
    assert "NotificationsPaymentProblems" in data_plane["sns:Publish"]
    assert "NotificationsTopicKey" in data_plane["kms:Decrypt"]
