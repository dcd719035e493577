"""The baseline for the webhook receiver benchmark: the same contract with plain `hmac`.

What a hand-written receiver does without the `stripe` library: parse `Stripe-Signature`
(`t=...,v1=...`), check the timestamp window, compare HMAC-SHA256(secret, "t.body") with each v1
in constant time, parse the JSON, put it on the bus, answer. Not for production: it exists to show
what the library costs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from typing import Any

import boto3

TOLERANCE_SECONDS = 300
_clients: dict[str, Any] = {}
_secret: str | None = None


def _client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = boto3.client(service)
    return _clients[service]


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def _verified(body: str, header: str, secret: str) -> bool:
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures or abs(time.time() - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _secret
    if ((event.get("requestContext") or {}).get("http") or {}).get("method") != "POST":
        return _response(405, {"error": "Only POST requests are accepted."})
    body = event.get("body") or ""
    header = (event.get("headers") or {}).get("stripe-signature") or ""
    if _secret is None:
        secret_arn = os.environ["SIGNING_SECRET_ARN"]
        _secret = _client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    if not _verified(body, header, _secret):
        return _response(400, {"error": "Bad signature."})
    try:
        stripe_event = json.loads(body)
    except ValueError:
        return _response(400, {"error": "Not JSON."})
    _client("events").put_events(
        Entries=[
            {
                "EventBusName": os.environ["EVENT_BUS_NAME"],
                "Source": "payops.stripe-webhook",
                "DetailType": stripe_event["type"],
                "Detail": body,
            }
        ]
    )
    sys.stdout.write(json.dumps({"event_id": stripe_event["id"], "status": 200}) + "\n")
    return _response(200, {"received": True, "id": stripe_event["id"]})
