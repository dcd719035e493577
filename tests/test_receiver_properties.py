"""Property tests: the webhook receiver under random and adversarial requests (issue 6, item 1).

One moto setup, with the local AWS's bridges and speed-ups, serves the whole module (Secrets
Manager secret, custom bus, a rule forwarding the receiver's source to a queue). Two independent
observers show what reached the bus: a botocore hook counting the receiver's real PutEvents
calls, and the queue, drained after every accepted request.

Properties:
- every bad request gets a 4xx (never 2xx, never 500) with a JSON {"error": ...} body, makes no
  PutEvents call, and leaves the queue empty;
- every valid request (random Stripe-shaped events, signed with the real secret, header parts in
  any order, extra v1 signatures from other secrets, unknown schemes) gets a 200 and reaches the
  bus exactly once, with detail-type = type and detail = the event;
- no request makes the handler raise, and each writes exactly one log line with fixed keys.

Two inputs make the handler answer 500 today (see test_known_500s_for_bad_input); the strategies
below leave them out explicitly and say where.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from stripe_signing import sign

from payops.localaws.core import registry
from payops.localaws.core.account import REGION
from payops.localaws.core.patch import restored

HANDLER_PATH = Path(__file__).resolve().parents[1] / "functions" / "webhook_receiver" / "handler.py"
BUS_NAME = "payops-properties-bus"
SOURCE = "payops.stripe-webhook"
TOLERANCE = 300
DEFAULT_LIMIT = 1048576
MIN_TOTAL_CASES = 2000
LOG_KEYS = {"message", "request_id", "event_id", "event_type", "outcome", "status"}

HEX = "0123456789abcdef"
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# Printable ASCII without "," (the part separator). Non-ASCII signature values are left out on
# purpose: they make the handler answer 500 (test_known_500s_for_bad_input).
ASCII_VALUE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != ",")

# Cases run per test, keyed by test name (PYTEST_CURRENT_TEST), for test_enough_cases_ran.
CASES: Counter[str] = Counter()

PROPERTY_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


def _load() -> ModuleType:
    # A private copy of the handler module: its client and secret caches belong to this module.
    name = "payops_webhook_receiver_properties"
    spec = importlib.util.spec_from_file_location(name, HANDLER_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


receiver = _load()


# --- one local AWS for the module -------------------------------------------------------------


@dataclass
class LocalAws:
    secret: str
    queue_url: str
    sqs: Any
    put_events_calls: list[int] = field(default_factory=lambda: [0])

    def drain(self) -> list[dict[str, Any]]:
        """The messages on the tap queue (one receive: tests drain after every accepted request,
        so more than ten waiting is already a failure), deleted as read."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        messages = response.get("Messages", [])
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(message["Body"]) for message in messages]


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    # moto as the local AWS runs it (its bridges and speed-ups): moto's own PutEvents parsed
    # its eight default input paths anew for every delivery, 40% of this file's time.
    with restored(registry), pytest.MonkeyPatch.context() as mp, mock_aws():
        registry.install()
        for name in ("EVENT_SOURCE", "TOLERANCE_SECONDS", "MAX_BODY_BYTES", "AWS_PROFILE"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_REGION", REGION)
        secretsmanager = boto3.client("secretsmanager", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        # Random per run (never written anywhere); "whsec_" + 32 url-safe characters.
        secret = "whsec_" + base64.urlsafe_b64encode(os.urandom(24)).decode("ascii")
        secret_arn = secretsmanager.create_secret(Name="payops/props", SecretString=secret)["ARN"]
        events.create_event_bus(Name=BUS_NAME)
        queue_url = sqs.create_queue(QueueName="props-bus-tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="tap", EventBusName=BUS_NAME, EventPattern=json.dumps({"source": [SOURCE]})
        )
        events.put_targets(
            Rule="tap", EventBusName=BUS_NAME, Targets=[{"Id": "q", "Arn": queue_arn}]
        )
        mp.setenv("EVENT_BUS_NAME", BUS_NAME)
        mp.setenv("SIGNING_SECRET_ARN", secret_arn)
        receiver._reset_for_tests()
        local = LocalAws(secret=secret, queue_url=queue_url, sqs=sqs)

        def count(**_: Any) -> None:
            local.put_events_calls[0] += 1

        receiver._client("events").meta.events.register("before-call.eventbridge.PutEvents", count)
        try:
            yield local
            assert local.drain() == [], "a message reached the bus that no test accounted for"
        finally:
            receiver._reset_for_tests()


# --- driving the handler ----------------------------------------------------------------------


@dataclass
class Outcome:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    log: dict[str, Any]
    put_events: int


def url_event(
    body: Any,
    signature: Any = None,
    *,
    method: Any = "POST",
    path: str = "/",
    is_base64: Any = False,
    header_name: str = "stripe-signature",
    omit_header: bool = False,
) -> dict[str, Any]:
    """A Lambda function URL event (payload format 2.0)."""
    headers: dict[str, Any] = {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "host": "abcdefghijklmnop.lambda-url.us-east-1.on.aws",
    }
    if not omit_header:
        headers[header_name] = signature
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1"},
            "requestId": "props",
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def run(aws: LocalAws, event: dict[str, Any]) -> Outcome:
    """Call the handler once; it must return (not raise) and log exactly one JSON line."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "unknown").split("::")[-1].split(" ")[0]
    CASES[current.split("[")[0]] += 1
    before = aws.put_events_calls[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        response = receiver.handler(event, None)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    log = json.loads(lines[0])
    # Fixed keys only: the log line has no room for payloads, headers or secrets.
    rejected = response["statusCode"] != 200
    assert set(log) == (LOG_KEYS | {"event_id_verified"} if rejected else LOG_KEYS), log
    assert log["status"] == response["statusCode"]
    assert aws.secret not in lines[0]
    assert response["headers"]["content-type"] == "application/json"
    return Outcome(
        status=response["statusCode"],
        body=json.loads(response["body"]),
        headers=response["headers"],
        log=log,
        put_events=aws.put_events_calls[0] - before,
    )


def assert_rejected(out: Outcome, statuses: tuple[int, ...] = (400,)) -> None:
    assert out.status in statuses, (out.status, out.body, out.log)
    assert 400 <= out.status < 500
    assert list(out.body) == ["error"] and isinstance(out.body["error"], str)
    assert out.body["error"].endswith(".")
    assert out.log["outcome"] != "forwarded"
    assert out.put_events == 0
    # Only the id the body claims, marked unverified, and only in the evt_ shape (no injection).
    claimed = out.log["event_id"]
    assert claimed is None or re.fullmatch(r"evt_[A-Za-z0-9_]{1,255}", claimed), claimed
    assert out.log.get("event_id_verified") is False


def assert_forwarded(aws: LocalAws, out: Outcome, event: dict[str, Any]) -> None:
    assert out.status == 200, (out.body, out.log)
    assert out.body == {"received": True, "id": event["id"]}
    assert out.log["outcome"] == "forwarded" and out.log["event_id"] == event["id"]
    assert out.put_events == 1
    [message] = aws.drain()
    assert message["detail-type"] == event["type"]
    assert message["source"] == SOURCE
    assert message["detail"] == event
    created = datetime.fromtimestamp(event["created"], tz=UTC)
    assert message["time"] == created.strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_consistent(aws: LocalAws, out: Outcome, event: dict[str, Any]) -> None:
    """Either outcome may be right; whichever it is, the bus agrees with the response."""
    if out.status == 200:
        assert_forwarded(aws, out, event)
    else:
        assert_rejected(out)


# --- strategies -------------------------------------------------------------------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=24)
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=5)
type_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=15)
# "checkout.session.completed", "v1.billing.meter.no_meter_found", ...
stripe_types = st.tuples(
    st.sampled_from(["", "v1."]), st.lists(type_words, min_size=2, max_size=4)
).map(lambda t: t[0] + ".".join(t[1]))
# Up to 2100: realistic `created` values (see the report about values beyond year 9999).
created_times = st.integers(min_value=0, max_value=4_102_444_800)


@st.composite
def stripe_events(draw: st.DrawFn) -> dict[str, Any]:
    """A Stripe v1 Event object with random ids, type, created and data."""
    event: dict[str, Any] = {
        "id": "evt_" + draw(st.text(alphabet=ALNUM, min_size=1, max_size=28)),
        "object": "event",
        "api_version": draw(st.sampled_from(["2025-09-30.clover", "2024-06-20", None])),
        "created": draw(created_times),
        "data": {"object": draw(json_objects)},
        "livemode": draw(st.booleans()),
        "pending_webhooks": draw(st.integers(min_value=0, max_value=20)),
        "request": {"id": None, "idempotency_key": None},
        "type": draw(stripe_types),
    }
    if draw(st.booleans()):
        event["data"]["previous_attributes"] = draw(json_objects)
    extra = draw(st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=3))
    for key, value in extra.items():
        event.setdefault(key, value)  # new API versions add fields; known ones stay intact
    return event


@st.composite
def plain_events(draw: st.DrawFn) -> dict[str, Any]:
    """A cheaper checkout.session.completed-like Event for the tests where the content of the
    event is not the point (generating rich events dominates their run time)."""
    words = st.text(alphabet=ALNUM, min_size=1, max_size=20)
    customer = {"email": draw(words) + "@example.com", "name": draw(st.text(max_size=12))}
    return {
        "id": "evt_" + draw(words),
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": draw(created_times),
        "data": {
            "object": {
                "id": "cs_" + draw(words),
                "object": "checkout.session",
                "amount_total": draw(st.integers(min_value=0, max_value=10**8)),
                "customer_details": customer,
                "metadata": draw(st.dictionaries(words, st.text(max_size=10), max_size=2)),
            }
        },
        "livemode": draw(st.booleans()),
        "type": draw(stripe_types),
    }


serialisations = st.sampled_from(["stripe", "compact", "unicode"])


def serialise(event: Any, how: str) -> str:
    if how == "stripe":  # what Stripe sends: two-space indents
        return json.dumps(event, indent=2)
    if how == "compact":
        return json.dumps(event, separators=(",", ":"))
    return json.dumps(event, ensure_ascii=False)


def signature_of(payload: str, secret: str, ts: int) -> str:
    return sign(payload, secret, timestamp=ts).split(",")[1].split("=", 1)[1]


other_secrets = st.binary(min_size=8, max_size=32).map(
    lambda b: "whsec_" + base64.urlsafe_b64encode(b).decode("ascii")
)
unknown_schemes = st.from_regex(r"\A[a-z][a-z0-9]{0,3}\Z").filter(lambda s: s not in ("t", "v1"))
ascii_values = st.text(alphabet=ASCII_VALUE, max_size=70)
header_names = st.sampled_from(["stripe-signature", "Stripe-Signature", "STRIPE-SIGNATURE"])


@st.composite
def extra_parts(draw: st.DrawFn) -> list[str]:
    """Parts Stripe may add or a proxy may repeat: v1 from other secrets, v0, unknown schemes."""
    parts: list[str] = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        kind = draw(st.sampled_from(["v1-other", "v0", "unknown"]))
        if kind == "v1-other":
            parts.append("v1=" + draw(st.text(alphabet=HEX, min_size=64, max_size=64)))
        elif kind == "v0":
            parts.append("v0=" + draw(st.text(alphabet=HEX, min_size=64, max_size=64)))
        else:
            parts.append(f"{draw(unknown_schemes)}={draw(ascii_values)}")
    return parts


def header_from(parts: list[str], order: list[int]) -> str:
    return ",".join(parts[i] for i in order)


# --- valid requests ---------------------------------------------------------------------------


@settings(max_examples=400, **PROPERTY_SETTINGS)
@given(
    event=stripe_events(),
    how=serialisations,
    skew=st.integers(min_value=-TOLERANCE + 30, max_value=TOLERANCE - 30),
    rolled=st.lists(other_secrets, max_size=2),
    extras=extra_parts(),
    duplicate=st.booleans(),
    order_seed=st.randoms(use_true_random=False),
    header_name=header_names,
    as_base64=st.booleans(),
)
def test_valid_request_reaches_the_bus_exactly_once(
    aws: LocalAws, event, how, skew, rolled, extras, duplicate, order_seed, header_name, as_base64
) -> None:
    payload = serialise(event, how)
    ts = int(time.time()) + skew
    parts = [f"t={ts}", f"v1={signature_of(payload, aws.secret, ts)}"]
    parts += [f"v1={signature_of(payload, other, ts)}" for other in rolled]  # a rolled secret
    parts += extras
    if duplicate:  # a proxy repeating parts (same t value: the first t is the signed one)
        parts += [f"t={ts}", parts[1]]
    order = list(range(1, len(parts)))
    order_seed.shuffle(order)
    # t may come anywhere, as long as no other t precedes it with another value (none here).
    order.insert(order_seed.randint(0, len(order)), 0)
    header = header_from(parts, order)
    body = base64.b64encode(payload.encode()).decode() if as_base64 else payload
    out = run(aws, url_event(body, header, is_base64=as_base64, header_name=header_name))
    assert_forwarded(aws, out, event)


# --- forged signatures, wrong secrets, bad timestamps, replays ---------------------------------


@st.composite
def forged_signatures(draw: st.DrawFn, real: str) -> str:
    """A v1 value that is not `real` (truncated, extended, bit-flipped, re-cased, random)."""
    kind = draw(st.sampled_from(["truncate", "extend", "bitflip", "char", "upper", "random"]))
    if kind == "truncate":
        forged = real[: draw(st.integers(min_value=0, max_value=len(real) - 1))]
    elif kind == "extend":
        forged = real + draw(st.text(alphabet=HEX, min_size=1, max_size=8))
    elif kind == "bitflip":
        # Bits 0-6 only: a flipped bit 7 gives a non-ASCII character (a known 500, see below).
        i = draw(st.integers(min_value=0, max_value=len(real) - 1))
        bit = draw(st.integers(min_value=0, max_value=6))
        forged = real[:i] + chr(ord(real[i]) ^ (1 << bit)) + real[i + 1 :]
    elif kind == "char":
        i = draw(st.integers(min_value=0, max_value=len(real) - 1))
        forged = real[:i] + draw(st.sampled_from(HEX.replace(real[i], ""))) + real[i + 1 :]
    elif kind == "upper":
        forged = real.upper()
    else:
        forged = draw(st.text(alphabet=HEX, min_size=64, max_size=64))
    assume(forged != real)
    return forged


@settings(max_examples=300, **PROPERTY_SETTINGS)
@given(
    event=plain_events(),
    how=serialisations,
    data=st.data(),
    scheme_key=st.sampled_from(["v1", "v0", "V1", "v2", "v1 ", " v1", "v", "v11", "s1"]),
    extras=extra_parts(),
    order_seed=st.randoms(use_true_random=False),
)
def test_forged_signature_is_rejected(
    aws: LocalAws, event, how, data, scheme_key, extras, order_seed
) -> None:
    payload = serialise(event, how)
    ts = int(time.time())
    real = signature_of(payload, aws.secret, ts)
    if scheme_key == "v1":
        sig_part = "v1=" + data.draw(forged_signatures(real))
    else:  # the real signature under a scheme name that is not exactly "v1"
        sig_part = f"{scheme_key}={real}"
    parts = [f"t={ts}", sig_part, *extras]
    order = list(range(len(parts)))
    order_seed.shuffle(order)
    out = run(aws, url_event(payload, header_from(parts, order)))
    assert_rejected(out)


@settings(max_examples=200, **PROPERTY_SETTINGS)
@given(
    event=plain_events(),
    how=serialisations,
    tamper=st.sampled_from(["append", "prepend", "char", "reserialise", "truncate"]),
    data=st.data(),
)
def test_tampered_body_is_rejected(aws: LocalAws, event, how, tamper, data) -> None:
    payload = serialise(event, how)
    header = sign(payload, aws.secret)
    if tamper == "append":
        body = payload + data.draw(st.sampled_from([" ", "\n", "\r\n", "{}", "x"]))
    elif tamper == "prepend":
        body = data.draw(st.sampled_from([" ", "\n", "\ufeff"])) + payload
    elif tamper == "char":
        i = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
        body = payload[:i] + data.draw(st.characters(codec="utf-8")) + payload[i + 1 :]
    elif tamper == "reserialise":  # the same JSON value, other bytes: still not what was signed
        body = serialise(event, data.draw(serialisations.filter(lambda h: h != how)))
    else:
        body = payload[: data.draw(st.integers(min_value=0, max_value=len(payload) - 1))]
    assume(body != payload)
    assert_rejected(run(aws, url_event(body, header)))


@settings(max_examples=200, **PROPERTY_SETTINGS)
@given(
    event=plain_events(),
    wrong=st.one_of(
        other_secrets,
        st.text(max_size=40),
        st.sampled_from(["suffix", "prefix", "case", "drop-last", "prefix-only"]),
    ),
    count=st.integers(min_value=1, max_value=3),
)
def test_signature_with_a_wrong_secret_is_rejected(aws: LocalAws, event, wrong, count) -> None:
    real = aws.secret
    variants = {
        "suffix": real + "x",
        "prefix": "x" + real,
        "case": real.swapcase(),
        "drop-last": real[:-1],
        "prefix-only": "whsec_",
    }
    secret = variants.get(wrong, wrong)
    assume(secret != real)
    payload = serialise(event, "stripe")
    ts = int(time.time())
    header = ",".join([f"t={ts}"] + [f"v1={signature_of(payload, secret, ts)}"] * count)
    assert_rejected(run(aws, url_event(payload, header)))


@settings(max_examples=250, **PROPERTY_SETTINGS)
@given(
    event=plain_events(),
    # Beyond the 300 s tolerance with a margin for the clock moving during the test; up to
    # ~30 years either way (far larger values hit a known 500, see below).
    distance=st.integers(min_value=TOLERANCE + 10, max_value=10**9),
    future=st.booleans(),
    rolled=st.lists(other_secrets, max_size=1),
)
def test_timestamp_outside_the_tolerance_is_rejected(
    aws: LocalAws, event, distance, future, rolled
) -> None:
    payload = serialise(event, "stripe")
    ts = int(time.time()) + (distance if future else -distance)
    header = sign(payload, aws.secret, timestamp=ts, extra_secrets=rolled)
    out = run(aws, url_event(payload, header))
    assert_rejected(out)
    assert out.log["outcome"] == "signature_timestamp"


@settings(max_examples=200, **PROPERTY_SETTINGS)
@given(
    event=plain_events(),
    age=st.integers(min_value=TOLERANCE + 10, max_value=3 * 86400),
    replay=st.sampled_from(["as-is", "new-t", "new-t-first", "new-t-last", "both-sigs"]),
)
def test_replayed_old_request_is_rejected(aws: LocalAws, event, age, replay) -> None:
    """A request Stripe really signed `age` seconds ago, captured and replayed now."""
    payload = serialise(event, "stripe")
    now = int(time.time())
    old_ts = now - age
    old = sign(payload, aws.secret, timestamp=old_ts)
    old_sig = old.split("v1=")[1]
    header = {
        "as-is": old,
        "new-t": f"t={now},v1={old_sig}",
        "new-t-first": f"t={now},{old}",
        "new-t-last": f"{old},t={now}",
        # A fresh v1 made over the old t cannot exist without the secret: pair old t, old sig
        # with a fresh t and a forged v1 in every order.
        "both-sigs": f"t={old_ts},v1={old_sig},t={now},v1={'0' * 64}",
    }[replay]
    assert_rejected(run(aws, url_event(payload, header)))


# --- malformed and missing headers ------------------------------------------------------------


@settings(max_examples=250, **PROPERTY_SETTINGS)
@given(
    event=plain_events(),
    header=st.one_of(
        st.none(),
        st.just(""),
        st.text(alphabet=" \t", max_size=4),
        st.integers(),
        st.lists(st.text(max_size=8), max_size=2),
        st.text(max_size=120),  # arbitrary text cannot carry a valid HMAC
        st.lists(st.text(alphabet=ASCII_VALUE.replace("=", ""), max_size=12), max_size=5).map(
            ",".join
        ),
    ),
    omit=st.booleans(),
)
def test_missing_or_malformed_header_is_rejected(aws: LocalAws, event, header, omit) -> None:
    payload = serialise(event, "stripe")
    out = run(aws, url_event(payload, header, omit_header=omit))
    assert_rejected(out)


@settings(max_examples=200, **PROPERTY_SETTINGS)
@given(
    event=plain_events(),
    extras=extra_parts(),
    spaces=st.lists(
        st.tuples(st.integers(min_value=0, max_value=200), st.sampled_from([" ", "\t", "  "])),
        min_size=1,
        max_size=4,
    ),
)
def test_whitespace_in_the_header_never_confuses_the_receiver(
    aws: LocalAws, event, extras, spaces
) -> None:
    """Stripe sends no whitespace. Accepted or not, the response and the bus must agree, and a
    header whose real v1 part is no longer exactly "v1=<sig>" must be rejected."""
    payload = serialise(event, "stripe")
    ts = int(time.time())
    real = signature_of(payload, aws.secret, ts)
    header = ",".join([f"t={ts}", f"v1={real}", *extras])
    for position, blank in sorted(spaces, reverse=True):
        position = min(position, len(header))
        header = header[:position] + blank + header[position:]
    out = run(aws, url_event(payload, header))
    if f"v1={real}" not in header.split(","):
        assert_rejected(out)
    else:
        assert_consistent(aws, out, event)


# --- bodies -----------------------------------------------------------------------------------


def _not_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@settings(max_examples=200, **PROPERTY_SETTINGS)
@given(
    kind=st.sampled_from(["bytes", "surrogate", "bad-base64"]),
    raw=st.binary(min_size=1, max_size=300).filter(_not_utf8),
    text=st.text(max_size=60),
    surrogate=st.integers(min_value=0xD800, max_value=0xDFFF),
    header=st.one_of(st.none(), ascii_values.map(lambda v: f"t={int(time.time())},v1={v}")),
)
def test_unreadable_body_is_rejected(aws: LocalAws, kind, raw, text, surrogate, header) -> None:
    if kind == "bytes":  # binary the function URL hands over base64-encoded
        event = url_event(base64.b64encode(raw).decode("ascii"), header, is_base64=True)
    elif kind == "surrogate":  # text that cannot be encoded as UTF-8
        event = url_event(text + chr(surrogate) + text, header)
    else:  # the base64 flag set on a body that is not base64
        event = url_event(text + "{*}", header, is_base64=True)
    assert_rejected(run(aws, event))


@settings(max_examples=150, **PROPERTY_SETTINGS)
@given(event=plain_events(), how=serialisations, flag=st.sampled_from(["flag-only", "b64-only"]))
def test_base64_flag_mismatch_is_rejected(aws: LocalAws, event, how, flag) -> None:
    payload = serialise(event, how)
    header = sign(payload, aws.secret)
    if flag == "flag-only":  # plain JSON declared as base64
        request = url_event(payload, header, is_base64=True)
    else:  # base64 text declared as plain: the signed bytes are not what arrives
        request = url_event(base64.b64encode(payload.encode()).decode(), header)
    assert_rejected(run(aws, request))


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


@settings(max_examples=200, **PROPERTY_SETTINGS)
@given(
    body=st.one_of(
        st.text(max_size=200),
        plain_events().map(lambda e: serialise(e, "stripe")[:-1]),  # truncated JSON
        plain_events().map(lambda e: "event=" + e["type"] + "&id=" + e["id"]),  # form-encoded
    ).filter(_not_json)
)
def test_signed_body_that_is_not_json_is_rejected(aws: LocalAws, body) -> None:
    out = run(aws, url_event(body, sign(body, aws.secret)))
    assert_rejected(out)
    assert out.log["outcome"] == "body_not_json"


@st.composite
def near_miss_events(draw: st.DrawFn) -> dict[str, Any]:
    """A Stripe-shaped event with exactly one thing that makes it not a v1 Event."""
    event = draw(plain_events())
    broken = draw(
        st.sampled_from(["drop", "object", "id-prefix", "id-type", "type", "created", "thin"])
    )
    if broken == "drop":
        del event[draw(st.sampled_from(["id", "object", "type", "created"]))]
    elif broken == "object":
        event["object"] = draw(st.sampled_from(["Event", "v2.core.event", "checkout.session"]))
    elif broken == "id-prefix":
        event["id"] = draw(st.sampled_from(["cs_", "EVT_", "evt", "", " evt_"])) + event["id"][4:]
    elif broken == "id-type":
        event["id"] = draw(st.one_of(st.none(), st.integers(), st.lists(st.just(event["id"]))))
    elif broken == "type":
        event["type"] = draw(st.one_of(st.none(), st.just(""), st.integers(), st.booleans()))
    elif broken == "created":
        event["created"] = draw(
            st.one_of(st.booleans(), st.floats(allow_nan=False), st.text(max_size=10), st.none())
        )
    else:  # a v2 thin event: not what the v1 destination sends
        event = {"id": event["id"], "object": "v2.core.event", "type": event["type"]}
    return event


@settings(max_examples=250, **PROPERTY_SETTINGS)
@given(
    document=st.one_of(
        json_values.filter(lambda v: not (isinstance(v, dict) and v.get("object") == "event")),
        near_miss_events(),
    ),
    how=serialisations,
)
def test_signed_json_that_is_not_a_stripe_event_is_rejected(aws: LocalAws, document, how) -> None:
    payload = serialise(document, how)
    out = run(aws, url_event(payload, sign(payload, aws.secret)))
    assert_rejected(out)
    assert out.log["outcome"] == "not_stripe_event"


@settings(max_examples=150, **PROPERTY_SETTINGS)
@given(event=plain_events(), limit=st.integers(min_value=64, max_value=4096), data=st.data())
def test_body_size_limit_holds_at_every_size(aws: LocalAws, event, limit, data) -> None:
    """MAX_BODY_BYTES is inclusive and counts bytes (multi-byte characters included)."""
    payload = serialise(event, "unicode")
    size = len(payload.encode("utf-8"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MAX_BODY_BYTES", str(limit))
        if size > limit:
            out = run(aws, url_event(payload, sign(payload, aws.secret)))
            assert_rejected(out, (413,))
        else:
            assert_forwarded(aws, run(aws, url_event(payload, sign(payload, aws.secret))), event)
        # The same body with one more multi-byte character is over any limit it exactly fills.
        mp.setenv("MAX_BODY_BYTES", str(size))
        padded = payload[:-1] + ' , "zz": "\u00e9"}' if payload.endswith("}") else payload
        assume(padded != payload)
        out = run(aws, url_event(padded, sign(padded, aws.secret)))
        assert_rejected(out, (413,))


@settings(max_examples=12, **PROPERTY_SETTINGS)
@given(event=plain_events(), extra=st.integers(min_value=1, max_value=4096))
def test_body_over_the_default_limit_is_rejected(aws: LocalAws, event, extra) -> None:
    event["data"]["object"]["padding"] = ""
    base = len(serialise(event, "stripe").encode("utf-8"))
    event["data"]["object"]["padding"] = "x" * (DEFAULT_LIMIT - base + extra)
    payload = serialise(event, "stripe")
    assert len(payload.encode("utf-8")) == DEFAULT_LIMIT + extra
    out = run(aws, url_event(payload, sign(payload, aws.secret)))
    assert_rejected(out, (413,))
    assert str(DEFAULT_LIMIT) in out.body["error"]


# --- methods and paths ------------------------------------------------------------------------

paths = st.one_of(
    st.sampled_from(["/", "/webhook", "/stripe/webhook", "/../admin", "//", "/%2e%2e/"]),
    st.text(alphabet=ALNUM + "/._-%", max_size=30).map(lambda p: "/" + p),
)


@settings(max_examples=150, **PROPERTY_SETTINGS)
@given(
    event=plain_events(),
    method=st.one_of(
        st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post", "Post"]),
        st.text(max_size=10).filter(lambda m: m != "POST"),
        st.none(),
        st.integers(),
    ),
    path=paths,
    signed_ok=st.booleans(),
)
def test_wrong_method_is_rejected_even_when_signed(
    aws: LocalAws, event, method, path, signed_ok
) -> None:
    payload = serialise(event, "stripe")
    header = sign(payload, aws.secret) if signed_ok else f"t={int(time.time())},v1={'0' * 64}"
    out = run(aws, url_event(payload, header, method=method, path=path))
    assert_rejected(out, (405,))
    assert out.headers["allow"] == "POST"


@settings(max_examples=150, **PROPERTY_SETTINGS)
@given(event=plain_events(), path=paths, signed_ok=st.booleans())
def test_path_never_changes_the_outcome(aws: LocalAws, event, path, signed_ok) -> None:
    """A function URL has no routes: the signature alone decides, whatever path Stripe posts to
    (the endpoint URL configured in Stripe may carry any path)."""
    payload = serialise(event, "stripe")
    header = sign(payload, aws.secret) if signed_ok else sign(payload, aws.secret + "x")
    out = run(aws, url_event(payload, header, path=path))
    if signed_ok:
        assert_forwarded(aws, out, event)
    else:
        assert_rejected(out)


# --- anything at all --------------------------------------------------------------------------


@settings(max_examples=300, **PROPERTY_SETTINGS)
@given(
    body=st.one_of(st.none(), st.text(max_size=200), st.integers(), json_values),
    header=st.one_of(st.none(), st.text(max_size=100), st.integers()),
    is_base64=st.one_of(st.booleans(), st.none(), st.sampled_from(["true", "false", 0, 1])),
    method=st.one_of(st.just("POST"), st.text(max_size=6)),
    headers_kind=st.sampled_from(["dict", "none", "missing"]),
    context_kind=st.sampled_from(["full", "none", "no-http"]),
)
def test_arbitrary_request_is_a_4xx_and_never_reaches_the_bus(
    aws: LocalAws, body, header, is_base64, method, headers_kind, context_kind
) -> None:
    event = url_event(body, header, method=method, is_base64=is_base64)
    if headers_kind == "none":
        event["headers"] = None
    elif headers_kind == "missing":
        del event["headers"]
    if context_kind == "none":
        event["requestContext"] = None
    elif context_kind == "no-http":
        event["requestContext"] = {"requestId": "x"}
    assert_rejected(run(aws, event), (400, 405, 413))


# --- once 500s, now 400s ----------------------------------------------------------------------
# A non-ASCII v1 value made hmac.compare_digest raise TypeError, and a 400-digit t overflowed
# the tolerance arithmetic: both answered 500. The receiver now rejects such headers as malformed.


@pytest.mark.parametrize(
    "make_header",
    [
        lambda now: f"t={now},v1=\u00e9",
        lambda now: f"t={now},v1={'ab' * 31}\u0100\u0101",
        lambda now: "t=" + "9" * 400 + ",v1=" + "ab" * 32,
    ],
    ids=["non-ascii-v1", "non-ascii-tail", "huge-t"],
)
def test_malformed_headers_that_once_caused_500s_get_400(aws: LocalAws, make_header) -> None:
    payload = serialise({"id": "evt_1", "object": "event", "type": "x.y", "created": 1}, "stripe")
    out = run(aws, url_event(payload, make_header(int(time.time()))))
    assert_rejected(out)


# --- the count --------------------------------------------------------------------------------


def test_enough_cases_ran() -> None:
    """Runs last (file order): the property tests above ran at least MIN_TOTAL_CASES requests."""
    names = [n for n, f in globals().items() if n.startswith("test_") and hasattr(f, "hypothesis")]
    missing = [n for n in names if CASES[n] == 0]
    if missing:
        pytest.skip(f"only part of the module ran (not run: {', '.join(missing)})")
    total = sum(CASES[n] for n in names)
    print(f"\nreceiver property cases run: {total} ({dict(CASES)})")
    assert total >= MIN_TOTAL_CASES, CASES
