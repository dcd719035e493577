"""Running one workflow's ASL in moto: start an execution, wait for it, read what it did."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import boto3

from payops.localaws.services import stepfunctions as sfb

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class Run:
    arn: str
    status: str
    error: str | None
    history: list[dict[str, Any]]

    def states(self) -> list[str]:
        """Names of the states entered, in order."""
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history
            if "stateEnteredEventDetails" in e
        ]

    @property
    def simulated_seconds(self) -> float:
        return sfb.simulated_seconds(self.arn)


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def start(machine_arn: str, envelope: dict[str, Any]) -> str:
    return client("stepfunctions").start_execution(
        stateMachineArn=machine_arn,
        name=f"run-{uuid.uuid4().hex[:12]}",
        input=json.dumps(envelope),
    )["executionArn"]


def finish(arn: str, timeout: float = 15.0) -> Run:
    sfn = client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"execution still running: {arn}"
        time.sleep(0.02)
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return Run(arn, described["status"], described.get("error"), history)


def sent_emails() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends[ACCOUNT][REGION].sent_messages)


def queued_json(queue_url: str) -> list[dict[str, Any]]:
    """Up to 10 JSON messages from a queue (e.g. the staff alerts subscribed to the topic)."""
    messages = client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def stripe_connection() -> str:
    """An EventBridge connection to the (fake) Stripe API with a throwaway test-mode key."""
    import secrets

    return client("events").create_connection(
        Name="stripe",
        AuthorizationType="API_KEY",
        AuthParameters={
            "ApiKeyAuthParameters": {
                "ApiKeyName": "Authorization",
                "ApiKeyValue": "Bearer sk_test_" + secrets.token_hex(6),
            }
        },
    )["ConnectionArn"]


def create_customers_table(name: str, *, user_index: str | None = None) -> None:
    """A table shaped like the stack's customer mirror: customerId + item, optional GSI."""
    attributes = [
        {"AttributeName": "customerId", "AttributeType": "S"},
        {"AttributeName": "item", "AttributeType": "S"},
    ]
    extra: dict[str, Any] = {}
    if user_index is not None:
        attributes.append({"AttributeName": "userId", "AttributeType": "S"})
        extra["GlobalSecondaryIndexes"] = [
            {
                "IndexName": user_index,
                "KeySchema": [{"AttributeName": "userId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    client("dynamodb").create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "customerId", "KeyType": "HASH"},
            {"AttributeName": "item", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
