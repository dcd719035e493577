"""Tests for the Stripe webhook receiver Lambda (functions/webhook_receiver/handler.py).

moto plays Secrets Manager, EventBridge and SQS: a rule on the custom bus forwards everything with
the receiver's source to a queue, so the queue shows exactly what reached the bus. Signatures are
real ones made by stripe-python's signing code, with secrets generated at test time.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import stripe
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kept_session import use_kept_session
from moto import mock_aws
from stripe_signing import make_signing_secret, sign

from payops.localaws.core.account import REGION

HANDLER_PATH = Path(__file__).resolve().parents[1] / "functions" / "webhook_receiver" / "handler.py"
BUS_NAME = "payops-stripe-webhooks"
SOURCE = "payops.stripe-webhook"
# The envelope keys EventBridge delivers to targets (moto adds "ingestion-time" on top).
ENVELOPE_KEYS = {"version", "id", "detail-type", "source", "account", "time", "region"}
ENVELOPE_KEYS |= {"resources", "detail"}


def _load(module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, HANDLER_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


receiver = _load("payops_webhook_receiver")


# --- fixtures -------------------------------------------------------------------------------


def stripe_event(created: int | None = None, **overrides: Any) -> dict[str, Any]:
    """A checkout.session.completed Event as the Stripe CLI prints it (test mode)."""
    created = int(time.time()) - 2 if created is None else created
    event: dict[str, Any] = {
        "id": "evt_1SQx4bJ2eZvKYlo2C8hGm3Tq",
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": created,
        "data": {
            "object": {
                "id": "cs_test_a1Zf9kQ2XbYp7LmN3oPq4RsT5uVw6XyZ7aBcDeFgHiJkLmNoPqRsTuV",
                "object": "checkout.session",
                "adaptive_pricing": {"enabled": True},
                "after_expiration": None,
                "allow_promotion_codes": None,
                "amount_subtotal": 3000,
                "amount_total": 3000,
                "automatic_tax": {"enabled": False, "liability": None, "status": None},
                "billing_address_collection": None,
                "cancel_url": None,
                "client_reference_id": None,
                "client_secret": None,
                "consent": None,
                "created": created - 40,
                "currency": "jpy",
                "customer": None,
                "customer_creation": "if_required",
                "customer_details": {
                    "address": {
                        "city": None,
                        "country": "JP",
                        "line1": None,
                        "line2": None,
                        "postal_code": None,
                        "state": None,
                    },
                    "email": "stripe@example.com",
                    "name": "Jenny Rosen",
                    "phone": None,
                    "tax_exempt": "none",
                    "tax_ids": [],
                },
                "customer_email": None,
                "expires_at": created + 86360,
                "invoice": None,
                "invoice_creation": {"enabled": False},
                "livemode": False,
                "locale": None,
                "metadata": {},
                "mode": "payment",
                "payment_intent": "pi_3SQx4aJ2eZvKYlo20hJk8LmN",
                "payment_link": None,
                "payment_method_collection": "if_required",
                "payment_method_types": ["card"],
                "payment_status": "paid",
                "status": "complete",
                "submit_type": None,
                "subscription": None,
                "success_url": "https://httpbin.org/post",
                "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
                "ui_mode": "hosted",
                "url": None,
            }
        },
        "livemode": False,
        "pending_webhooks": 2,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
    }
    event.update(overrides)
    return event


def payload_of(event: Any) -> str:
    # Stripe sends its Event JSON pretty-printed with two-space indents.
    return json.dumps(event, indent=2)


def url_event(
    body: str | None,
    signature: str | None = None,
    *,
    method: str = "POST",
    is_base64: bool = False,
) -> dict[str, Any]:
    """A Lambda function URL event (payload format 2.0) as Stripe's delivery produces it."""
    headers = {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "host": "abcdefghijklmnop.lambda-url.us-east-1.on.aws",
        "accept": "*/*; q=0.5, application/xml",
        "cache-control": "no-cache",
    }
    if signature is not None:
        headers["stripe-signature"] = signature
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnop",
            "domainName": "abcdefghijklmnop.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghijklmnop",
            "http": {
                "method": method,
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "3.18.12.63",
                "userAgent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
            "requestId": "6f1c0b5e-1b7e-4f1e-9a55-1b2f3c4d5e6f",
            "routeKey": "$default",
            "stage": "$default",
            "time": "24/Nov/2026:02:55:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


@dataclass
class LocalAws:
    secret: str
    secret_arn: str
    queue_url: str
    paid_queue_url: str
    sqs: Any
    secretsmanager: Any

    def messages(self, queue_url: str | None = None) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=queue_url or self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        return [json.loads(m["Body"]) for m in response.get("Messages", [])]

    def rotate(self, new_secret: str) -> None:
        self.secretsmanager.put_secret_value(SecretId=self.secret_arn, SecretString=new_secret)
        self.secret = new_secret


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "EVENT_SOURCE", "TOLERANCE_SECONDS", "MAX_BODY_BYTES"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        use_kept_session()  # the fixture's and the receiver's clients: models read once
        secretsmanager = boto3.client("secretsmanager", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        secret = make_signing_secret()
        secret_arn = secretsmanager.create_secret(
            Name="payops/stripe-webhook-signing-secret", SecretString=secret
        )["ARN"]
        events.create_event_bus(Name=BUS_NAME)
        queue_url, queue_arn = _queue(sqs, "bus-tap")
        paid_url, paid_arn = _queue(sqs, "paid-orders")
        rules = {
            "all-webhook-events": ({"source": [SOURCE]}, queue_arn),
            # A content filter like the project's paid-order rule: proves detail is an object.
            "paid-order": (
                {
                    "source": [SOURCE],
                    "detail-type": ["checkout.session.completed"],
                    "detail": {"data": {"object": {"payment_status": ["paid"]}}},
                },
                paid_arn,
            ),
        }
        for rule_name, (pattern, target_arn) in rules.items():
            events.put_rule(Name=rule_name, EventBusName=BUS_NAME, EventPattern=json.dumps(pattern))
            events.put_targets(
                Rule=rule_name, EventBusName=BUS_NAME, Targets=[{"Id": "q", "Arn": target_arn}]
            )
        monkeypatch.setenv("EVENT_BUS_NAME", BUS_NAME)
        monkeypatch.setenv("SIGNING_SECRET_ARN", secret_arn)
        receiver._reset_for_tests()
        try:
            yield LocalAws(secret, secret_arn, queue_url, paid_url, sqs, secretsmanager)
        finally:
            receiver._reset_for_tests()


def count_get_secret_value() -> list[int]:
    """Count the GetSecretValue calls the receiver's own client really makes."""
    calls = [0]

    def _count(**_: Any) -> None:
        calls[0] += 1

    receiver._client("secretsmanager").meta.events.register(
        "before-call.secrets-manager.GetSecretValue", _count
    )
    return calls


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = receiver.handler(event, None)
    assert response["headers"]["content-type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


def assert_rejected(aws: LocalAws, event: dict[str, Any], status: int) -> str:
    """The request gets `status` with one clear sentence, and nothing reaches the bus."""
    response = receiver.handler(event, None)
    assert response["statusCode"] == status
    assert response["headers"]["content-type"] == "application/json"
    body = json.loads(response["body"])
    assert list(body) == ["error"]
    assert isinstance(body["error"], str) and body["error"].endswith(".")
    assert aws.messages() == []
    return body["error"]


def signed(event: dict[str, Any] | None = None, **kwargs: Any) -> tuple[str, str]:
    """(payload, header) for an event signed with the secret passed as `secret=`."""
    payload = payload_of(event or stripe_event())
    return payload, sign(payload, **kwargs)


# --- the happy path and the envelope --------------------------------------------------------


def test_valid_event_is_forwarded_to_the_bus(aws: LocalAws, monkeypatch) -> None:
    event = stripe_event()
    payload, header = signed(event, secret=aws.secret)
    sent: list[dict[str, Any]] = []
    events_client = receiver._client("events")
    real_put_events = events_client.put_events

    def spy(**kwargs: Any) -> Any:
        sent.extend(kwargs["Entries"])
        return real_put_events(**kwargs)

    monkeypatch.setattr(events_client, "put_events", spy)

    assert call(url_event(payload, header)) == (200, {"received": True, "id": event["id"]})

    assert len(sent) == 1
    assert sent[0]["Detail"] == payload  # byte for byte what Stripe sent
    assert sent[0]["EventBusName"] == BUS_NAME
    assert sent[0]["Time"] == datetime.fromtimestamp(event["created"], tz=UTC)
    [message] = aws.messages()
    assert message["detail"] == event
    assert message["detail-type"] == "checkout.session.completed"


def test_envelope_on_the_bus_equals_the_partner_path(aws: LocalAws) -> None:
    event = stripe_event()
    payload, header = signed(event, secret=aws.secret)
    assert call(url_event(payload, header))[0] == 200

    [message] = aws.messages()
    message.pop("ingestion-time", None)  # moto-only field
    # the pinned moto's default target input drops "account", which real EventBridge delivers.
    assert set(message) | {"account"} == ENVELOPE_KEYS
    # What Stripe's EventBridge destination delivers for the same event in this account/region
    # (docs.stripe.com/event-destinations/eventbridge#event-structure): only id and source differ.
    partner = {
        "version": "0",
        "id": "not-compared",
        "detail-type": event["type"],
        "source": "aws.partner/stripe.com/ed_test_61Sabc",
        "account": "123456789012",
        "time": datetime.fromtimestamp(event["created"], tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": event,
    }
    for key in ENVELOPE_KEYS - {"id", "source", "account"}:
        assert message[key] == partner[key], key
    assert message["source"] == SOURCE
    # stripe-python's own unwrapping of an EventBridge envelope gives back the same Event.
    unwrapped = stripe.Webhook.construct_event_without_verification(json.dumps(message))
    assert unwrapped.id == event["id"]
    assert unwrapped.type == event["type"]
    assert unwrapped.data.object.customer_details.email == "stripe@example.com"
    # Content filters on detail work on this path too.
    assert [m["detail"]["id"] for m in aws.messages(aws.paid_queue_url)] == [event["id"]]


def test_event_source_is_configurable(aws: LocalAws, monkeypatch) -> None:
    monkeypatch.setenv("EVENT_SOURCE", "acme.stripe")
    payload, header = signed(secret=aws.secret)
    assert call(url_event(payload, header))[0] == 200
    assert aws.messages() == []  # the test rule only matches the default source


# --- signature verification -----------------------------------------------------------------


def test_forged_body_is_rejected(aws: LocalAws) -> None:
    payload, header = signed(secret=aws.secret)
    forged = payload.replace('"amount_total": 3000', '"amount_total": 3')
    assert forged != payload
    assert_rejected(aws, url_event(forged, header), 400)


def test_forged_signature_is_rejected(aws: LocalAws) -> None:
    payload = payload_of(stripe_event())
    header = f"t={int(time.time())},v1={'ab' * 32}"
    assert "match" in assert_rejected(aws, url_event(payload, header), 400)


def test_signature_made_with_another_secret_is_rejected(aws: LocalAws) -> None:
    payload, header = signed(secret=make_signing_secret())
    assert_rejected(aws, url_event(payload, header), 400)


def test_expired_timestamp_is_rejected(aws: LocalAws) -> None:
    payload, header = signed(secret=aws.secret, timestamp=int(time.time()) - 300 - 30)
    assert "tolerance" in assert_rejected(aws, url_event(payload, header), 400)


def test_timestamp_in_the_future_is_rejected(aws: LocalAws) -> None:
    payload, header = signed(secret=aws.secret, timestamp=int(time.time()) + 300 + 30)
    assert "tolerance" in assert_rejected(aws, url_event(payload, header), 400)


def test_small_clock_skew_either_way_is_accepted(aws: LocalAws) -> None:
    for skew in (-120, 120):
        payload, header = signed(secret=aws.secret, timestamp=int(time.time()) + skew)
        assert call(url_event(payload, header))[0] == 200
    assert len(aws.messages()) == 2


def test_tolerance_comes_from_the_environment(aws: LocalAws, monkeypatch) -> None:
    payload, header = signed(secret=aws.secret, timestamp=int(time.time()) - 120)
    monkeypatch.setenv("TOLERANCE_SECONDS", "60")
    assert_rejected(aws, url_event(payload, header), 400)
    monkeypatch.setenv("TOLERANCE_SECONDS", "600")
    assert call(url_event(payload, header))[0] == 200


@pytest.mark.parametrize("header", [None, ""])
def test_missing_signature_header_is_rejected(aws: LocalAws, header: str | None) -> None:
    payload = payload_of(stripe_event())
    assert "missing" in assert_rejected(aws, url_event(payload, header), 400)


@pytest.mark.parametrize(
    "make_header",
    [
        lambda p, s, t: "garbage",
        lambda p, s, t: f"t=yesterday,v1={'ab' * 32}",
        lambda p, s, t: sign(p, s, t).split(",", 1)[1],  # no t=
        lambda p, s, t: f"t={t}",  # no v1=
        lambda p, s, t: sign(p, s, t).replace("v1=", "v0="),  # only an unknown scheme
    ],
    ids=["garbage", "bad-timestamp", "no-timestamp", "no-signature", "unknown-scheme"],
)
def test_malformed_signature_header_is_rejected(aws: LocalAws, make_header) -> None:
    payload = payload_of(stripe_event())
    header = make_header(payload, aws.secret, int(time.time()))
    assert "malformed" in assert_rejected(aws, url_event(payload, header), 400)


@pytest.mark.parametrize("stored", ["old", "new"])
def test_rolled_secret_header_with_two_signatures_is_accepted(aws: LocalAws, stored: str) -> None:
    old, new = aws.secret, make_signing_secret()
    payload = payload_of(stripe_event())
    header = sign(payload, old, extra_secrets=[new])
    assert header.count("v1=") == 2
    if stored == "new":
        aws.rotate(new)
    assert call(url_event(payload, header))[0] == 200
    assert len(aws.messages()) == 1


# --- the signing secret cache ---------------------------------------------------------------


def test_secret_is_fetched_once_per_container(aws: LocalAws) -> None:
    calls = count_get_secret_value()
    for _ in range(3):
        payload, header = signed(secret=aws.secret)
        assert call(url_event(payload, header))[0] == 200
    assert len(aws.messages()) == 3
    forged = f"t={int(time.time())},v1={'ab' * 32}"
    assert_rejected(aws, url_event(payload_of(stripe_event()), forged), 400)
    assert calls[0] == 1
    receiver._reset_for_tests()  # a new container fetches again
    calls = count_get_secret_value()
    assert call(url_event(*signed(secret=aws.secret)))[0] == 200
    assert calls[0] == 1


def test_rotated_secret_is_refetched_once_the_cache_is_older_than_a_minute(
    aws: LocalAws, monkeypatch
) -> None:
    calls = count_get_secret_value()
    clock = [1000.0]
    monkeypatch.setattr(receiver, "_clock", lambda: clock[0])
    assert call(url_event(*signed(secret=aws.secret)))[0] == 200
    assert len(aws.messages()) == 1
    aws.rotate(make_signing_secret())

    clock[0] += 30  # cache still fresh: no refetch, the new signature does not verify
    assert_rejected(aws, url_event(*signed(secret=aws.secret)), 400)
    assert calls[0] == 1

    clock[0] += 31  # cache older than 60 s: refetched once, accepted
    assert call(url_event(*signed(secret=aws.secret)))[0] == 200
    assert calls[0] == 2
    assert len(aws.messages()) == 1

    # Forged requests right after cannot force more Secrets Manager calls.
    for _ in range(5):
        assert_rejected(aws, url_event(*signed(secret=make_signing_secret())), 400)
    assert calls[0] == 2
    clock[0] += 61
    for _ in range(5):
        assert_rejected(aws, url_event(*signed(secret=make_signing_secret())), 400)
    assert calls[0] == 3


def test_unreadable_secret_is_a_500_so_stripe_retries(aws: LocalAws, monkeypatch) -> None:
    monkeypatch.setenv("SIGNING_SECRET_ARN", aws.secret_arn.replace("secret:", "secret:nope-"))
    assert "secret" in assert_rejected(aws, url_event(*signed(secret=aws.secret)), 500)


# --- body handling --------------------------------------------------------------------------


def test_non_json_body_is_rejected(aws: LocalAws) -> None:
    payload = "event=checkout.session.completed&id=evt_123"
    assert "JSON" in assert_rejected(aws, url_event(payload, sign(payload, aws.secret)), 400)


@pytest.mark.parametrize(
    "document",
    [
        [stripe_event()],
        "evt_123",
        {"object": "checkout.session", "id": "cs_test_123", "type": "checkout.session.completed"},
        stripe_event(id="cs_test_123"),
        stripe_event(id=None),
        stripe_event(type=None),
        stripe_event(type=7),
        {**stripe_event(), "created": "yesterday"},
        {"object": "v2.core.event", "id": "evt_123", "type": "v1.billing.meter.no_meter_found"},
    ],
    ids=[
        "array",
        "string",
        "not-an-event",
        "id-not-evt",
        "no-id",
        "no-type",
        "type-not-string",
        "created-not-int",
        "thin-event",
    ],
)
def test_json_that_is_not_a_stripe_event_is_rejected(aws: LocalAws, document: Any) -> None:
    payload = payload_of(document)
    error = assert_rejected(aws, url_event(payload, sign(payload, aws.secret)), 400)
    assert "Stripe Event" in error


def test_non_utf8_body_is_rejected(aws: LocalAws) -> None:
    raw = b'{"object": "event", "id": "evt_1", "type": "x", "name": "\xff\xfe"}'
    body = base64.b64encode(raw).decode("ascii")
    header = f"t={int(time.time())},v1={'ab' * 32}"
    assert "UTF-8" in assert_rejected(aws, url_event(body, header, is_base64=True), 400)
    # A text body with a lone surrogate (only possible if the bytes were not UTF-8).
    assert "UTF-8" in assert_rejected(aws, url_event('{"a": "\ud800"}', header), 400)


def test_base64_body_is_decoded_before_verification(aws: LocalAws) -> None:
    event = stripe_event()
    payload, header = signed(event, secret=aws.secret)
    body = base64.b64encode(payload.encode("utf-8")).decode("ascii")
    assert call(url_event(body, header, is_base64=True)) == (
        200,
        {"received": True, "id": event["id"]},
    )
    assert [m["detail"] for m in aws.messages()] == [event]


def test_invalid_base64_body_is_rejected(aws: LocalAws) -> None:
    assert "base64" in assert_rejected(
        aws, url_event("{not base64}", "t=1,v1=ab", is_base64=True), 400
    )


def test_body_size_limit_is_inclusive_and_configurable(aws: LocalAws, monkeypatch) -> None:
    event = stripe_event(id="evt_1SQx4bJ2eZvKYlo2C8hGm3Tq\u00e9")  # multi-byte: counts bytes
    payload, header = signed(event, secret=aws.secret)
    size = len(payload.encode("utf-8"))
    monkeypatch.setenv("MAX_BODY_BYTES", str(size - 1))
    assert_rejected(aws, url_event(payload, header), 413)
    monkeypatch.setenv("MAX_BODY_BYTES", str(size))
    assert call(url_event(payload, header))[0] == 200


def test_oversized_body_is_rejected_with_the_default_limit(aws: LocalAws) -> None:
    event = stripe_event()
    event["data"]["object"]["metadata"] = {"padding": "x" * 1048576}
    payload, header = signed(event, secret=aws.secret)
    assert "1048576" in assert_rejected(aws, url_event(payload, header), 413)


def test_events_up_to_eventbridges_1_mib_entry_limit_are_forwarded(aws: LocalAws) -> None:
    """PutEvents takes entries up to 1 MiB (Source + DetailType + Detail + 14 for Time): the
    receiver forwards what fits and answers 413 (no retry can help) for what does not."""
    event = stripe_event()
    event["data"]["object"]["metadata"] = {"padding": ""}
    empty = len(signed(event, secret=aws.secret)[0].encode())
    room = (
        receiver.MAX_ENTRY_BYTES - empty - 14 - len(receiver.DEFAULT_EVENT_SOURCE + event["type"])
    )
    event["data"]["object"]["metadata"]["padding"] = "x" * room  # exactly 1 MiB as an entry
    payload, header = signed(event, secret=aws.secret)
    assert len(payload.encode()) > 262144
    assert call(url_event(payload, header))[0] == 200
    [delivered] = aws.messages()
    assert delivered["detail"]["id"] == event["id"]
    event["data"]["object"]["metadata"]["padding"] += "x"  # one byte over
    payload, header = signed(event, secret=aws.secret)
    assert "1048576" in assert_rejected(aws, url_event(payload, header), 413)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_only_post_is_allowed(aws: LocalAws, method: str) -> None:
    calls = count_get_secret_value()
    payload, header = signed(secret=aws.secret)
    event = url_event(payload, header, method=method)
    assert_rejected(aws, event, 405)
    assert receiver.handler(event, None)["headers"]["allow"] == "POST"
    assert calls[0] == 0


# --- forwarding failures --------------------------------------------------------------------


def test_failed_put_events_entry_is_a_500_and_nothing_is_claimed(aws: LocalAws, monkeypatch):
    def failing(**_: Any) -> dict[str, Any]:
        return {
            "FailedEntryCount": 1,
            "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}],
        }

    monkeypatch.setattr(receiver._client("events"), "put_events", failing)
    response = receiver.handler(url_event(*signed(secret=aws.secret)), None)
    assert response["statusCode"] == 500
    assert "received" not in json.loads(response["body"])
    assert aws.messages() == []


def test_put_events_error_is_a_500(aws: LocalAws, monkeypatch) -> None:
    def throttled(**_: Any) -> dict[str, Any]:
        error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
        raise ClientError(error, "PutEvents")

    monkeypatch.setattr(receiver._client("events"), "put_events", throttled)
    assert_rejected(aws, url_event(*signed(secret=aws.secret)), 500)


def test_missing_bus_is_a_500(aws: LocalAws, monkeypatch) -> None:
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    assert_rejected(aws, url_event(*signed(secret=aws.secret)), 500)


# --- configuration, logging, robustness ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EVENT_BUS_NAME", None),
        ("SIGNING_SECRET_ARN", None),
        ("TOLERANCE_SECONDS", "0"),
        ("TOLERANCE_SECONDS", "five"),
        ("MAX_BODY_BYTES", "-1"),
    ],
)
def test_bad_configuration_is_a_500_not_a_crash(aws: LocalAws, monkeypatch, name, value) -> None:
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)
    assert "misconfigured" in assert_rejected(aws, url_event(*signed(secret=aws.secret)), 500)


def test_import_reads_no_configuration_and_creates_no_clients(monkeypatch) -> None:
    for name in ("EVENT_BUS_NAME", "SIGNING_SECRET_ARN", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    fresh = _load("payops_webhook_receiver_fresh")
    try:
        assert fresh._clients == {}
        assert fresh._secret is None
    finally:
        del sys.modules["payops_webhook_receiver_fresh"]


def test_one_json_log_line_per_request_without_secrets(aws: LocalAws, capsys) -> None:
    class Context:
        aws_request_id = "req-1"

    event = stripe_event()
    payload, header = signed(event, secret=aws.secret)
    capsys.readouterr()
    receiver.handler(url_event(payload, header), Context())
    forged = header[:-1] + ("0" if header[-1] != "0" else "1")  # same shape, wrong signature
    receiver.handler(url_event(payload, forged), Context())
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    ok, bad = (json.loads(line) for line in lines)
    assert ok == {
        "message": "stripe_webhook",
        "request_id": "req-1",
        "event_id": event["id"],
        "event_type": event["type"],
        "outcome": "forwarded",
        "status": 200,
    }
    assert bad["outcome"] == "signature_mismatch" and bad["status"] == 400
    # The id the unverified body claims, marked unverified: the rejection can be matched with
    # Stripe's delivery log ("Webhook attempts" of that event).
    assert bad["event_id"] == event["id"] and bad["event_id_verified"] is False
    text = "\n".join(lines)
    for leak in (aws.secret, header.split("v1=")[1], "stripe@example.com", "cs_test_"):
        assert leak not in text


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.one_of(st.none(), st.text(max_size=200)),
    header=st.one_of(st.none(), st.text(max_size=80)),
    is_base64=st.booleans(),
)
def test_arbitrary_input_never_raises_and_never_reaches_the_bus(
    aws: LocalAws, body: str | None, header: str | None, is_base64: bool
) -> None:
    response = receiver.handler(url_event(body, header, is_base64=is_base64), None)
    assert response["statusCode"] in (400, 413)
    assert set(json.loads(response["body"])) == {"error"}
    assert aws.messages() == []
