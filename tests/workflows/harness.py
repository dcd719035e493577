"""Running one workflow's ASL in moto: start an execution, wait for it, read what it did."""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from kept_session import use_kept_session
from moto import mock_aws

from payops.localaws.core.clients import new_client
from payops.localaws.core.registry import SPEEDUPS
from payops.localaws.services import stepfunctions as sfb

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class Run:
    arn: str
    status: str
    error: str | None

    @functools.cached_property
    def history(self) -> list[dict[str, Any]]:
        """The ended execution's events (fixed once it ended), read when first asked for: moto
        serializes a history slowly, and many runs are only checked for their status."""
        sfn = client("stepfunctions")
        return sfn.get_execution_history(executionArn=self.arn, maxResults=1000)["events"]

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


class Installable(Protocol):
    """A service's bridges (its `PATCHES`, or the package that re-exports them) or speed-ups."""

    def install(self) -> None: ...
    def uninstall(self) -> None: ...
    def is_installed(self) -> bool: ...


@contextmanager
def installed(*sets: Installable) -> Iterator[None]:
    """`sets` installed for the block; each one that was not installed before is undone after."""
    with ExitStack() as undo:
        for patches in sets:
            if not patches.is_installed():
                patches.install()
                undo.callback(patches.uninstall)
        yield


@contextmanager
def fresh_aws(seed: str, *bridges: Installable) -> Iterator[None]:
    """A fresh moto that runs Step Functions executions, with the Step Functions bridges (plus
    `bridges`) and every speed-up installed, as the local AWS runs them (runtime.py).

    moto's random source (ids in ARNs, physical names) is seeded with `seed` once the mock has
    started, as moto documents for deterministic ids: a fixture that builds the same resources
    in each fresh mock then renders the same definitions (an EventBridge connection ARN holds a
    uuid), so their parsed programs are reused (sfn.parsed_definitions) instead of parsed again
    per test (0.1-0.3 s each). Ids still differ within one mock: the sequence goes on. Reseeded
    from the OS afterwards; never reseed inside a mock that already holds resources."""
    from moto.moto_api._internal import mock_random

    with (
        installed(sfb, *bridges, SPEEDUPS),
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
    ):
        mock_random.seed(seed)
        use_kept_session()
        try:
            yield
        finally:
            mock_random.seed()


_CLIENTS: dict[str, Any] = {}  # thread-safe, reused by every mock


def client(service: str) -> Any:
    """A boto3 client for moto, kept for the process: moto's stub is one of botocore's built-in
    handlers, so a client reaches whichever mock is active."""
    if service not in _CLIENTS:
        _CLIENTS[service] = new_client(service, REGION)
    return _CLIENTS[service]


def start(machine_arn: str, envelope: dict[str, Any]) -> str:
    return client("stepfunctions").start_execution(
        stateMachineArn=machine_arn,
        name=f"run-{uuid.uuid4().hex[:12]}",
        input=json.dumps(envelope),
    )["executionArn"]


def finish(arn: str, timeout: float = 15.0) -> Run:
    """The execution once it has ended. Woken by any execution's ending (the bridge's status
    events signal each one), not by a poll interval; the bounded wait keeps it correct without."""
    sfn = client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        seen = sfb.endings()
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return Run(arn, described["status"], described.get("error"))
        left = deadline - time.monotonic()
        assert left > 0, f"execution still running: {arn}"
        sfb.wait_for_an_ending(seen, min(left, 0.1))


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
