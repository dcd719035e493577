"""Stripe webhook receiver (Lambda function URL, payload format 2.0).

For Stripe accounts without the native Amazon EventBridge destination: verify the
`Stripe-Signature` header, then put the Stripe Event on a custom bus in the same envelope as the
partner path (detail-type = Stripe event type, detail = the Event object exactly as received), so
every rule works on both paths. Bad requests get a 4xx and never reach the bus; AWS failures get a
500 so that Stripe retries the delivery.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Module-level imports are deliberate: they are the unavoidable part of the cold start (~0.25 s
# here) and Lambda runs them in the init phase. Clients, config and the secret stay lazy.
import boto3
import stripe
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

DEFAULT_EVENT_SOURCE = "payops.stripe-webhook"
DEFAULT_TOLERANCE_SECONDS = 300
# EventBridge's PutEvents entry limit (1 MiB since 2026-01-29): a bigger body could never be put.
MAX_ENTRY_BYTES = 1024 * 1024
DEFAULT_MAX_BODY_BYTES = MAX_ENTRY_BYTES
# A rotated secret is picked up by at most one refetch per this many seconds per container, which
# also caps the Secrets Manager calls a flood of forged requests can cause.
SECRET_REFETCH_AFTER_SECONDS = 60.0
MAX_TIMESTAMP = 2**33  # year 2242: far past any real Stripe timestamp, far below float overflow
_HEX64 = re.compile(r"[0-9a-f]{64}")
# A Stripe Event body starts with its id; read from the first bytes only, so that every rejection
# (even of an oversized or forged body) is logged with the id it claims, never with the body.
_CLAIMED_ID = re.compile(rb'^\s*\{\s*"id"\s*:\s*"(evt_[A-Za-z0-9_]{1,255})"')

_JSON_HEADERS = {"content-type": "application/json"}
_BOTO_CONFIG = BotoConfig(
    connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}
)

# Per-container state, created on first use (see _reset_for_tests).
_clients: dict[str, Any] = {}
_secret: str | None = None
_secret_fetched_at = 0.0
# Monotonic clock for the secret cache age; a seam so tests can age the cache.
_clock = time.monotonic


class _Reject(Exception):
    """A request that ends with an error response (4xx or 500)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason  # short machine-readable code for the log line
        self.message = message  # one sentence for the caller


@dataclass(frozen=True)
class Settings:
    event_bus_name: str
    signing_secret_arn: str
    event_source: str
    tolerance_seconds: int
    max_body_bytes: int


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        # 0 would silently disable stripe-python's replay check, so it is a config error too.
        raise _Reject(500, f"config_invalid:{name}", "The webhook receiver is misconfigured.")
    return value


def load_settings() -> Settings:
    """Read the configuration from the environment (on each request: it is cheap)."""
    required = {}
    for name in ("EVENT_BUS_NAME", "SIGNING_SECRET_ARN"):
        required[name] = os.environ.get(name, "").strip()
        if not required[name]:
            raise _Reject(500, f"config_missing:{name}", "The webhook receiver is misconfigured.")
    return Settings(
        event_bus_name=required["EVENT_BUS_NAME"],
        signing_secret_arn=required["SIGNING_SECRET_ARN"],
        event_source=os.environ.get("EVENT_SOURCE", "").strip() or DEFAULT_EVENT_SOURCE,
        tolerance_seconds=_positive_int("TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS),
        max_body_bytes=_positive_int("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
    )


def _client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = boto3.client(service, config=_BOTO_CONFIG)
    return _clients[service]


def _fetch_secret(secret_arn: str) -> str:
    global _secret, _secret_fetched_at
    try:
        response = _client("secretsmanager").get_secret_value(SecretId=secret_arn)
    except (BotoCoreError, ClientError) as exc:
        raise _Reject(
            500, f"secret_unavailable:{type(exc).__name__}", "The signing secret is unavailable."
        ) from None
    value = (response.get("SecretString") or "").strip()
    if not value:
        raise _Reject(500, "secret_empty", "The signing secret is unavailable.")
    _secret, _secret_fetched_at = value, _clock()
    return value


def _signing_secret(secret_arn: str) -> str:
    """The signing secret, fetched once per container."""
    return _secret if _secret is not None else _fetch_secret(secret_arn)


def _reset_for_tests() -> None:
    """Forget the cached clients and secret, as a new container would."""
    global _secret, _secret_fetched_at
    _clients.clear()
    _secret, _secret_fetched_at = None, 0.0


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict:
    return {
        "statusCode": status,
        "headers": {**_JSON_HEADERS, **(headers or {})},
        "body": json.dumps(body),
    }


def _metrics(status: int) -> dict[str, Any]:
    """CloudWatch embedded metrics for the request's log line (METRICS_NAMESPACE set by the
    stack): Lambda's log pipeline turns them into the metrics the 4xx/5xx rate alarms read."""
    namespace = os.environ.get("METRICS_NAMESPACE", "").strip()
    if not namespace:
        return {}
    names = ("Requests", "Rejected4xx", "Failed5xx")
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [[]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in names],
                }
            ],
        },
        "Requests": 1,
        "Rejected4xx": int(400 <= status < 500),
        "Failed5xx": int(status >= 500),
    }


def claimed_event_id(event: dict[str, Any]) -> str | None:
    """The `evt_...` id the body claims (unverified), from its first bytes; None if none."""
    body = event.get("body")
    if not isinstance(body, str):
        return None
    head = body[:4096]
    try:
        raw = (
            base64.b64decode(head[: len(head) // 4 * 4])
            if event.get("isBase64Encoded")
            else (head.encode("utf-8", "replace"))
        )
    except (binascii.Error, ValueError):
        return None
    match = _CLAIMED_ID.match(raw)
    return match.group(1).decode() if match else None


def _log(**fields: Any) -> None:
    # One JSON line on stdout per request; callers pass only ids, codes and statuses.
    fields.update(_metrics(int(fields.get("status") or 0)))
    sys.stdout.write(json.dumps(fields, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _header(event: dict[str, Any], name: str) -> str | None:
    # Function URLs lower-case header names; match case-insensitively anyway.
    for key, value in (event.get("headers") or {}).items():
        if isinstance(key, str) and key.lower() == name:
            return value if isinstance(value, str) else None
    return None


def _read_body(event: dict[str, Any], max_bytes: int) -> str:
    """The request body as text, exactly as Stripe sent it."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise _Reject(400, "body_invalid", "The request body is missing or unreadable.")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _Reject(400, "body_base64", "The request body is not valid base64.") from None
    else:
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: the body was not UTF-8
            raise _Reject(400, "body_not_utf8", "The request body is not UTF-8 text.") from None
    if len(raw) > max_bytes:
        raise _Reject(413, "body_too_large", f"The request body exceeds {max_bytes} bytes.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Reject(400, "body_not_utf8", "The request body is not UTF-8 text.") from None


def _verify(payload: str, header: str | None, settings: Settings) -> None:
    """Check the Stripe-Signature header with stripe-python, plus the future side of the window."""
    if not header:
        raise _Reject(400, "signature_missing", "The Stripe-Signature header is missing.")
    scheme = stripe.WebhookSignature.EXPECTED_SCHEME
    try:
        # stripe's own header parser (pinned stripe==16.1.0), so the timestamp checked here is the
        # one its HMAC check authenticates.
        timestamp, signatures = stripe.WebhookSignature._get_timestamp_and_signatures(
            header, scheme
        )
    except Exception:
        timestamp, signatures = None, []
    # A v1 signature is 64 hex digits and t a plausible epoch second: anything else is forged or
    # broken, and must not reach the HMAC comparison (it raises TypeError on non-ASCII text) or
    # the tolerance arithmetic (OverflowError on a 400-digit t).
    if (
        timestamp is None
        or not signatures
        or not 0 < timestamp < MAX_TIMESTAMP
        or not all(_HEX64.fullmatch(signature) for signature in signatures)
    ):
        raise _Reject(400, "signature_malformed", "The Stripe-Signature header is malformed.")
    # stripe-python rejects only timestamps that are too old; a far-future one would stay
    # replayable for as long as it is in the future. Checked before the HMAC so that a stale or
    # future delivery never triggers the secret refetch below.
    tolerance = settings.tolerance_seconds
    if abs(time.time() - timestamp) > tolerance:
        raise _Reject(
            400, "signature_timestamp", "The Stripe-Signature timestamp is outside the tolerance."
        )

    secret = _signing_secret(settings.signing_secret_arn)
    try:
        # Accepts the header if any of its v1 signatures matches (two while a secret is rolled).
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
        return
    except stripe.SignatureVerificationError:
        pass
    # The user may have rotated the signing secret in Secrets Manager since this container cached
    # it. Refetch once, but only if the cache is older than SECRET_REFETCH_AFTER_SECONDS, so forged
    # requests cannot turn into a Secrets Manager call each.
    if _clock() - _secret_fetched_at > SECRET_REFETCH_AFTER_SECONDS:
        fresh = _fetch_secret(settings.signing_secret_arn)
        if fresh != secret:
            try:
                stripe.WebhookSignature.verify_header(payload, header, fresh, tolerance)
                return
            except stripe.SignatureVerificationError:
                pass
    raise _Reject(
        400, "signature_mismatch", "No signature in the Stripe-Signature header matches the body."
    )


def _parse_stripe_event(payload: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except ValueError:
        raise _Reject(400, "body_not_json", "The request body is not valid JSON.") from None
    if not (
        isinstance(data, dict)
        and data.get("object") == "event"
        and isinstance(data.get("id"), str)
        and data["id"].startswith("evt_")
        and isinstance(data.get("type"), str)
        and data["type"]
        and isinstance(data.get("created"), int)
        and not isinstance(data["created"], bool)
    ):
        raise _Reject(400, "not_stripe_event", "The request body is not a Stripe Event object.")
    return data


def _put_on_bus(payload: str, stripe_event: dict[str, Any], settings: Settings) -> None:
    entry = {
        "EventBusName": settings.event_bus_name,
        "Source": settings.event_source,
        "DetailType": stripe_event["type"],
        "Detail": payload,  # the Event object exactly as received, as on the partner path
        "Time": datetime.fromtimestamp(stripe_event["created"], tz=UTC),
        "Resources": [],
    }
    size = 14 + sum(len(entry[k].encode("utf-8")) for k in ("Source", "DetailType", "Detail"))
    if size > MAX_ENTRY_BYTES:  # PutEvents would refuse it: no retry can help, so a 4xx
        raise _Reject(
            413, "entry_too_large", f"The event exceeds EventBridge's {MAX_ENTRY_BYTES} bytes."
        )
    try:
        result = _client("events").put_events(Entries=[entry])
    except (BotoCoreError, ClientError) as exc:
        raise _Reject(
            500, f"put_events_error:{type(exc).__name__}", "The event could not be forwarded."
        ) from None
    if result.get("FailedEntryCount", 1) != 0:
        failed = (result.get("Entries") or [{}])[0]
        code = failed.get("ErrorCode", "unknown")
        raise _Reject(500, f"put_events_failed:{code}", "The event could not be forwarded.")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point for the function URL."""
    log: dict[str, Any] = {
        "message": "stripe_webhook",
        "request_id": getattr(context, "aws_request_id", None),
        "event_id": None,
        "event_type": None,
    }
    try:
        method = ((event.get("requestContext") or {}).get("http") or {}).get("method")
        if method != "POST":
            raise _Reject(405, "method_not_allowed", "Only POST requests are accepted.")
        settings = load_settings()
        payload = _read_body(event, settings.max_body_bytes)
        _verify(payload, _header(event, "stripe-signature"), settings)
        stripe_event = _parse_stripe_event(payload)
        log.update(event_id=stripe_event["id"], event_type=stripe_event["type"])
        _put_on_bus(payload, stripe_event, settings)
    except _Reject as rejection:
        if log["event_id"] is None:  # not verified yet: the id the body claims, marked as such
            log.update(event_id=claimed_event_id(event), event_id_verified=False)
        log.update(outcome=rejection.reason, status=rejection.status)
        _log(**log)
        extra = {"allow": "POST"} if rejection.status == 405 else None
        return _response(rejection.status, {"error": rejection.message}, extra)
    except Exception as exc:  # never let a bug turn into an unlogged Lambda error
        if log["event_id"] is None:
            log.update(event_id=claimed_event_id(event), event_id_verified=False)
        log.update(outcome=f"internal_error:{type(exc).__name__}", status=500)
        _log(**log)
        return _response(500, {"error": "The webhook receiver failed unexpectedly."})
    log.update(outcome="forwarded", status=200)
    _log(**log)
    return _response(200, {"received": True, "id": stripe_event["id"]})
