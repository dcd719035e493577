"""Both fulfilment workflows in moto, against the fake Stripe API: the fixture the fulfilment
tests share.

The fast path (Express) and the slow path (Standard, fulfilment-retry) run for real
(`execute_state_machine`); the Step Functions bridge supplies the HTTP Task (to FakeStripe),
startExecution(.sync:2) and simulated back-off; the Lambda bridge runs the clock in-process. The
shop's data is examples/stripe-data (products, prices, a Payment Link, the files).
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from conftest import ROOT, load_fixture
from harness import (
    Run,
    client,
    finish,
    fresh_aws,
    queued_json,
    sent_emails,
    start,
    stripe_connection,
)

from payops.asl import render
from payops.localaws.fakes.fake_stripe import FakeStripe, StripeCall
from payops.localaws.services import lambda_ as lambda_bridge
from payops.localaws.services import stepfunctions as sfb
from stacks.fulfilment import LEASE_SECONDS, RETRY_LEASE_SECONDS
from stacks.stripe_api import STRIPE_API_VERSION

REGION = "us-east-1"
ACCOUNT = "123456789012"
SENDER = "orders@shop.example.jp"
DOWNLOAD_URL = "https://download.example.test/"
DASHBOARD = "https://dashboard.stripe.com/test"
TTL_HOURS = 72
CLOCK = "fulfilment-clock"
FUNCTION_DIR = ROOT / "functions" / "download_link"
STRIPE_DATA = ROOT / "examples" / "stripe-data"
RETRY_NAME = "fulfilment-retry"
RETRY_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{RETRY_NAME}"

CARD_PAID = "checkout.session.completed.card-paid.json"  # metadata.product_id override
PAYMENT_LINK = "checkout.session.completed.payment-link.json"  # metadata {}, plink_
KONBINI_UNPAID = "checkout.session.completed.konbini-unpaid.json"
KONBINI_PAID_LATER = "checkout.session.async_payment_succeeded.json"
FREE = "checkout.session.completed.no_payment_required.json"
SUBSCRIPTION = "checkout.session.completed.subscription-mode.json"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PAGE_SIZE = 2  # the stack asks for Stripe's maximum, 100; small here, to page quickly
PRODUCTS = ("ebook-aws-patterns", "ebook-stripe-eventbridge", "prod_QsWrkBonusVid1")


@dataclass
class Local:
    machine_arn: str
    retry_arn: str
    orders: str
    grants: str
    bucket: str
    alerts_queue: str
    stripe: FakeStripe

    client = staticmethod(client)
    finish = staticmethod(finish)
    emails = staticmethod(sent_emails)

    def start(self, envelope: dict[str, Any]) -> str:
        self.stripe.observe(envelope["detail"])  # Stripe knows what its events describe
        return start(self.machine_arn, envelope)

    def run(self, envelope: dict[str, Any]) -> Run:
        return self.finish(self.start(envelope))

    def alerts(self) -> list[dict[str, Any]]:
        return queued_json(self.alerts_queue)

    def order(self, order_id: str) -> dict[str, Any] | None:
        key = {"orderId": {"S": order_id}}
        return self.client("dynamodb").get_item(TableName=self.orders, Key=key).get("Item")

    def grant_rows(self) -> list[dict[str, Any]]:
        return self.client("dynamodb").scan(TableName=self.grants)["Items"]

    def verify_sender(self) -> None:
        self.client("ses").verify_email_identity(EmailAddress=SENDER)

    def calls(self, fragment: str) -> list[StripeCall]:
        return [c for c in self.stripe.calls if fragment in c.path]

    def retry_runs(self, timeout: float = 30.0) -> list[Run]:
        """Every fulfilment-retry execution, each waited for until it ends."""
        listed = self.client("stepfunctions").list_executions(stateMachineArn=self.retry_arn)
        return [self.finish(e["executionArn"], timeout) for e in listed["executions"]]


def _table(name: str, key: str) -> str:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def local_aws() -> Iterator[Local]:
    """Body of the `local` fixture."""
    sfb.reset_simulated_time()
    with fresh_aws("fulfilment", lambda_bridge), FakeStripe() as fake:
        fake.load_stripe_data(STRIPE_DATA)
        sfb.set_http_routes({"https://api.stripe.com": fake.url})
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(
            RoleName="local", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
        )["Role"]["Arn"]
        clock = boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=CLOCK,
            Runtime="python3.14",
            Role=role,
            Handler="handler.clock",
            Code={"ZipFile": b"registered below"},
        )["FunctionArn"]
        lambda_bridge.register_code_dir(CLOCK, str(FUNCTION_DIR))
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="payment-problems")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="downloads")
        for product in PRODUCTS:
            s3.put_object(Bucket="downloads", Key=f"products/{product}", Body=product.encode())
        connection = stripe_connection()
        fast = render(
            "fulfilment",
            {
                "OrdersTable": _table("orders", "orderId"),
                "GrantsTable": _table("grants", "token"),
                "DownloadsBucket": "downloads",
                "ClockFunctionArn": clock,
                "LeaseSeconds": str(LEASE_SECONDS),
                "RetryLeaseSeconds": str(RETRY_LEASE_SECONDS),
                "LinkTtlSeconds": str(TTL_HOURS * 3600),
                "LinkTtlHours": str(TTL_HOURS),
                "SenderEmail": SENDER,
                "DownloadUrl": DOWNLOAD_URL,
                "AlertTopicArn": topic,
                "StripeDashboardUrl": DASHBOARD,
                "StripeConnectionArn": connection,
                "StripeApiVersion": STRIPE_API_VERSION,
                "RetryWorkflowArn": RETRY_ARN,
                "LineItemsPageSize": str(PAGE_SIZE),
                "EventBusName": "default",  # "Order fulfilled" (live status): no rule here
            },
        )
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="fulfilment", definition=fast, roleArn=role, type="EXPRESS"
        )["stateMachineArn"]
        slow = render(
            RETRY_NAME,
            {
                "FulfilmentWorkflowArn": machine,
                "OrdersTable": "orders",
                "AlertTopicArn": topic,
                "StripeDashboardUrl": DASHBOARD,
            },
        )
        retry = sfn.create_state_machine(
            name=RETRY_NAME, definition=slow, roleArn=role, type="STANDARD"
        )["stateMachineArn"]
        assert retry == RETRY_ARN
        yield Local(machine, retry, "orders", "grants", "downloads", queue, fake)
    sfb.set_http_routes({})
    lambda_bridge.unregister_code_dirs()


def envelope(name: str, **session_changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_fixture(f"events/{name}"))
    event["detail"]["data"]["object"].update(session_changes)
    return event


def session_of(event: dict[str, Any]) -> dict[str, Any]:
    return event["detail"]["data"]["object"]


def link_tokens(email_body: str) -> list[str]:
    return re.findall(re.escape(DOWNLOAD_URL) + rf"\?token=({UUID_RE})", email_body)


def now() -> int:
    return int(time.time())
