"""The Step Functions bridges: each gap is shown on the plain pinned moto, then the bridged
behaviour.

Executions run for real in moto (`execute_state_machine`); tests poll describe_execution.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import os
import re
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import moto
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from payops.localaws.core.account import ACCOUNT, REGION
from payops.localaws.core.moto_pin import MOTO_VERSION
from payops.localaws.core.recorder import RECORDER
from payops.localaws.fakes.fake_stripe import FakeStripe
from payops.localaws.services import stepfunctions as sfb

ROLE = f"arn:aws:iam::{ACCOUNT}:role/local-sfn"
API_KEY = "sk_test_" + "local"  # built at runtime, far from a real key's shape
_names = itertools.count()


class Bridge:
    """Switch the Step Functions bridges off (plain moto) and on inside one test."""

    def off(self) -> None:
        sfb.uninstall()

    def on(self) -> None:
        sfb.install()


@pytest.fixture
def bridge() -> Iterator[Bridge]:
    was_installed = sfb.is_installed()
    sfb.install()
    yield Bridge()
    if was_installed:
        sfb.install()
    else:
        sfb.uninstall()


@pytest.fixture
def aws(bridge: Bridge) -> Iterator[None]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


@pytest.fixture
def tokyo_time() -> Iterator[None]:
    """Local time 9 h ahead of UTC, to catch naive-datetime arithmetic."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if previous is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = previous
    time.tzset()


@pytest.fixture
def routes() -> Iterator[None]:
    yield
    sfb.set_http_routes({})


@functools.cache
def _client(service: str, endpoint_url: str | None) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint_url)


def client(service: str, endpoint_url: str | None = None) -> Any:
    """Clients are cached: building one costs ~50 ms, and moto intercepts them all alike."""
    return _client(service, endpoint_url)


@dataclass
class Run:
    arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    seconds: float
    history: list[dict[str, Any]] = field(repr=False)


@dataclass
class Started:
    arn: str
    at: float
    sfn: Any


def start(definition: dict[str, Any], payload: Any = None, *, sfn: Any = None) -> Started:
    sfn = sfn or client("stepfunctions")
    suffix = f"{next(_names)}-{uuid.uuid4().hex[:6]}"
    machine = sfn.create_state_machine(
        name=f"sm-{suffix}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    at = time.monotonic()
    arn = sfn.start_execution(
        stateMachineArn=machine, name=f"ex-{suffix}", input=json.dumps(payload or {})
    )["executionArn"]
    return Started(arn, at, sfn)


def finish(started: Started, timeout: float = 10.0) -> Run:
    sfn = started.sfn
    while True:
        described = sfn.describe_execution(executionArn=started.arn)
        if described["status"] != "RUNNING" or time.monotonic() - started.at > timeout:
            break
        time.sleep(0.02)
    output = described.get("output")
    return Run(
        arn=started.arn,
        status=described["status"],
        output=json.loads(output) if output else None,
        error=described.get("error"),
        cause=described.get("cause"),
        seconds=time.monotonic() - started.at,
        history=sfn.get_execution_history(executionArn=started.arn)["events"],
    )


def run(definition: dict[str, Any], payload: Any = None, *, sfn: Any = None) -> Run:
    return finish(start(definition, payload, sfn=sfn))


def task(resource: str, parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    state = {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}
    state.update(extra)
    if "Catch" in extra:
        return {
            "StartAt": "T",
            "States": {"T": state, "Caught": {"Type": "Pass", "End": True}},
        }
    return {"StartAt": "T", "States": {"T": state}}


def catch(*errors: str) -> list[dict[str, Any]]:
    return [{"ErrorEquals": list(errors), "Next": "Caught", "ResultPath": "$.caught"}]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------ registry


def test_install_refuses_another_moto_version(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moto, "__version__", "5.2.6")
    with pytest.raises(RuntimeError, match=f"pinned to moto {MOTO_VERSION}"):
        sfb.install()


def test_bridges_are_registered_and_uninstall_restores_moto(bridge: Bridge) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
        state_task_factory,
    )

    assert set(sfb.tasks.GAPS) == {
        "sfn.simulated_wait",
        "sfn.simulated_retry_backoff",
        "sfn.http_invoke",
        "sfn.states_error_names",
        "sfn.start_execution",
        "sfn.aws_sdk_responses",
        "sfn.aws_sdk_error_names",
        "sfn.states_all_excludes_runtime",
        "sfn.jsonpath_definite",
        "sfn.server_endpoint",
    }
    assert all(text and "\n" not in text for text in sfb.tasks.GAPS.values())
    bridged = state_task_factory.state_task_service_for
    bridge.off()
    assert not sfb.is_installed()
    assert state_task_factory.state_task_service_for is not bridged
    bridge.on()
    bridge.on()  # idempotent
    assert sfb.is_installed()
    assert state_task_factory.state_task_service_for.__name__ == bridged.__name__


# ------------------------------------------------------------------------------ simulated time

WAITS = {
    "StartAt": "W1",
    "States": {
        "W1": {"Type": "Wait", "Seconds": 3600, "Next": "W2"},
        "W2": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "W3"},
        "W3": {"Type": "Wait", "TimestampPath": "$.at", "Next": "W4"},
        "W4": {"Type": "Wait", "TimestampPath": "$.past", "End": True},
    },
}


def test_gap_wait_and_retry_really_sleep(aws: None, bridge: Bridge) -> None:
    bridge.off()
    wait = start({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}})
    retry = start(failing_get({"IntervalSeconds": 1, "MaxAttempts": 1}))
    waited, retried = finish(wait), finish(retry)
    assert waited.status == "SUCCEEDED"
    assert retried.error == "DynamoDB.ResourceNotFoundException"
    assert waited.seconds >= 1.0 and retried.seconds >= 1.0


def test_gap_timestamp_wait_uses_local_time(aws: None, bridge: Bridge, tokyo_time: None) -> None:
    bridge.off()
    at = iso(datetime.now(UTC) + timedelta(seconds=30))
    definition = {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "TimestampPath": "$.at", "End": True}},
    }
    result = run(definition, {"at": at})
    # 30 s in the future, UTC; moto subtracts local (UTC+9) time and does not wait at all.
    assert result.status == "SUCCEEDED"
    assert result.seconds < 1.0


def test_wait_states_are_simulated_and_recorded(aws: None, tokyo_time: None) -> None:
    mark = RECORDER.mark()
    start = datetime.now(UTC)
    payload = {
        "seconds": 60,
        "at": iso(start + timedelta(days=1)),
        "past": iso(start - timedelta(days=1)),
    }
    result = run(WAITS, payload)
    assert result.status == "SUCCEEDED"
    assert result.seconds < 3
    skipped = [f.data for f in RECORDER.since(mark, "sleep_skipped")]
    assert [(s["state"], s["reason"]) for s in skipped] == [
        ("W1", "wait"),
        ("W2", "wait"),
        ("W3", "wait"),
    ]  # W4 is in the past: nothing to skip
    assert all(s["execution_arn"] == result.arn for s in skipped)
    assert skipped[0]["seconds"] == 3600 and skipped[1]["seconds"] == 60
    # Timestamps are absolute: the clock had already moved 3660 s when W3 started.
    assert abs(skipped[2]["seconds"] - (86400 - 3660)) <= 5
    assert abs(sfb.simulated_seconds(result.arn) - 86400) <= 5
    assert sfb.simulated_seconds() >= sfb.simulated_seconds(result.arn)


def test_timestamp_literal_wait_is_simulated(aws: None) -> None:
    at = iso(datetime.now(UTC) + timedelta(hours=2))
    result = run({"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": at, "End": True}}})
    assert result.status == "SUCCEEDED"
    assert result.seconds < 3
    assert abs(sfb.simulated_seconds(result.arn) - 7200) <= 5


def failing_get(retry: dict[str, Any]) -> dict[str, Any]:
    return task(
        "arn:aws:states:::dynamodb:getItem",
        {"TableName": "no-such-table", "Key": {"pk": {"S": "x"}}},
        Retry=[{"ErrorEquals": ["DynamoDB.ResourceNotFoundException"], **retry}],
    )


def test_retry_backoff_is_simulated_and_recorded(aws: None) -> None:
    mark = RECORDER.mark()
    retry = {"IntervalSeconds": 10, "BackoffRate": 3, "MaxAttempts": 3, "MaxDelaySeconds": 50}
    result = run(failing_get(retry))
    assert result.status == "FAILED"
    assert result.error == "DynamoDB.ResourceNotFoundException"
    assert result.seconds < 3
    skipped = RECORDER.since(mark, "sleep_skipped")
    assert [(f.data["seconds"], f.data["reason"]) for f in skipped] == [
        (10, "retry"),
        (30, "retry"),
        (50, "retry"),  # 90 capped by MaxDelaySeconds
    ]
    assert sfb.simulated_seconds(result.arn) == 90
    scheduled = [e for e in result.history if e["type"] == "TaskScheduled"]
    assert len(scheduled) == 4  # first attempt + 3 retries


def test_full_jitter_stays_under_the_backoff(aws: None) -> None:
    mark = RECORDER.mark()
    retry = {"IntervalSeconds": 20, "BackoffRate": 2, "MaxAttempts": 3, "JitterStrategy": "FULL"}
    result = run(failing_get(retry))
    assert result.status == "FAILED"
    skipped = [f.data["seconds"] for f in RECORDER.since(mark, "sleep_skipped")]
    assert len(skipped) == 3
    assert all(0 < s <= cap for s, cap in zip(skipped, [20, 40, 80], strict=True))


# ------------------------------------------------------------------------------ HTTP Task


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: str


class EchoServer:
    """Records requests; answers with queued (status, json) or 200 {"ok": true}."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.replies: list[tuple[int, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                split = urllib.parse.urlsplit(self.path)
                owner.received.append(
                    Received(
                        self.command,
                        split.path,
                        urllib.parse.parse_qs(split.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(length).decode(),
                    )
                )
                status, body = owner.replies.pop(0) if owner.replies else (200, {"ok": True})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Echo", "yes")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def echo(routes: None) -> Iterator[EchoServer]:
    server = EchoServer()
    sfb.set_http_routes({"https://api.example.test": server.url})
    yield server
    server.server.shutdown()
    server.server.server_close()


def connection(auth_type: str = "API_KEY", **auth: Any) -> str:
    if not auth:
        auth = {
            "ApiKeyAuthParameters": {
                "ApiKeyName": "Authorization",
                "ApiKeyValue": f"Bearer {API_KEY}",
            }
        }
    name = f"conn-{next(_names)}"
    return client("events").create_connection(
        Name=name, AuthorizationType=auth_type, AuthParameters=auth
    )["ConnectionArn"]


HTTP = "arn:aws:states:::http:invoke"


def test_gap_http_invoke_is_unknown(aws: None, bridge: Bridge) -> None:
    bridge.off()
    definition = task(HTTP, {"ApiEndpoint": "https://api.example.test", "Method": "GET"})
    with pytest.raises(ClientError, match="Unknown service 'http'"):
        client("stepfunctions").create_state_machine(
            name="http-gap", definition=json.dumps(definition), roleArn=ROLE
        )


def test_http_invoke_merges_connection_and_url_encodes(aws: None, echo: EchoServer) -> None:
    arn = connection(
        ApiKeyAuthParameters={"ApiKeyName": "Authorization", "ApiKeyValue": f"Bearer {API_KEY}"},
        InvocationHttpParameters={
            "HeaderParameters": [
                {"Key": "Stripe-Version", "Value": "2026-10-28.endive"},
                {"Key": "X-Shop-Token", "Value": "hidden-1", "IsValueSecret": True},
            ],
            "QueryStringParameters": [{"Key": "from_connection", "Value": "q"}],
            "BodyParameters": [
                {"Key": "source", "Value": "payops"},
                {"Key": "shop_secret", "Value": "hidden-2", "IsValueSecret": True},
            ],
        },
    )
    definition = task(
        HTTP,
        {
            "ApiEndpoint": "https://api.example.test/v1/coupons",
            "Method": "POST",
            "Authentication": {"ConnectionArn": arn},
            "Headers": {"Idempotency-Key.$": "$.order_id"},
            "QueryParameters": {"expand": "none"},
            "RequestBody": {
                "percent_off": 20,
                "metadata": {"order_id.$": "$.order_id", "note": "a b&c"},
                "applies_to": {"products": ["prod_1", "prod_2"]},
            },
            "Transform": {"RequestBodyEncoding": "URL_ENCODED"},
        },
    )
    mark = RECORDER.mark()
    result = run(definition, {"order_id": "ord-1"})
    assert result.status == "SUCCEEDED", result.cause

    (request,) = echo.received
    assert (request.method, request.path) == ("POST", "/v1/coupons")
    assert request.query == {"expand": ["none"], "from_connection": ["q"]}
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["idempotency-key"] == "ord-1"
    assert request.headers["stripe-version"] == "2026-10-28.endive"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert urllib.parse.parse_qsl(request.body) == [
        ("percent_off", "20"),
        ("metadata[order_id]", "ord-1"),
        ("metadata[note]", "a b&c"),
        ("applies_to[products][0]", "prod_1"),
        ("applies_to[products][1]", "prod_2"),
        ("source", "payops"),
        ("shop_secret", "hidden-2"),
    ]
    assert request.headers["x-shop-token"] == "hidden-1"

    assert set(result.output) == {"Headers", "ResponseBody", "StatusCode", "StatusText"}
    assert result.output["StatusCode"] == 200
    assert result.output["StatusText"] == "OK"
    assert result.output["ResponseBody"] == {"ok": True}
    assert result.output["Headers"]["x-echo"] == ["yes"]

    (call,) = [f.data for f in RECORDER.since(mark, "http_call")]
    assert call["method"] == "POST"
    assert call["url"].startswith("https://api.example.test/v1/coupons?")
    assert call["routed_to"].startswith(echo.url + "/v1/coupons?")
    assert call["headers"]["Authorization"] == "Bearer ****"
    assert call["headers"]["X-Shop-Token"] == "****"
    assert call["body"] == request.body.replace("hidden-2", "%2A%2A%2A%2A")
    assert call["status"] == 200
    recorded = json.dumps(call)
    assert API_KEY not in recorded and "hidden-" not in recorded


@pytest.mark.parametrize(
    ("array_format", "expected"),
    [
        ("INDICES", "array[0]=a&array[1]=b&array[2]=c"),
        ("REPEAT", "array=a&array=b&array=c"),
        ("COMMAS", "array=a,b,c"),
        ("BRACKETS", "array[]=a&array[]=b&array[]=c"),
    ],
)
def test_url_encoding_array_formats(array_format: str, expected: str) -> None:
    encoded = sfb.url_encode_body({"array": ["a", "b", "c"]}, array_format)
    assert urllib.parse.unquote(encoded) == expected


def test_url_encoding_nested_objects_and_scalars() -> None:
    body = {"metadata": {"order": "x", "n": 2}, "flag": True, "none": None, "items": [{"p": 1}]}
    encoded = sfb.url_encode_body(body)
    assert urllib.parse.unquote(encoded) == (
        "metadata[order]=x&metadata[n]=2&flag=true&none=&items[0][p]=1"
    )
    with pytest.raises(ValueError, match="ArrayFormat"):
        sfb.url_encode_body(body, "SEMICOLONS")


def test_http_invoke_brackets_json_and_basic_auth(aws: None, echo: EchoServer) -> None:
    basic = connection("BASIC", BasicAuthParameters={"Username": "shop", "Password": "pw"})
    definition = {
        "StartAt": "Form",
        "States": {
            "Form": {
                "Type": "Task",
                "Resource": HTTP,
                "Parameters": {
                    "ApiEndpoint": "https://api.example.test/form",
                    "Method": "POST",
                    "Authentication": {"ConnectionArn": basic},
                    "RequestBody": {"expand": ["a", "b"]},
                    "Transform": {
                        "RequestBodyEncoding": "URL_ENCODED",
                        "RequestEncodingOptions": {"ArrayFormat": "BRACKETS"},
                    },
                },
                "ResultPath": None,
                "Next": "Json",
            },
            "Json": {
                "Type": "Task",
                "Resource": HTTP,
                "Parameters": {
                    "ApiEndpoint": "https://api.example.test/json",
                    "Method": "PUT",
                    "Authentication": {"ConnectionArn": basic},
                    "RequestBody": {"a": [1, 2]},
                },
                "End": True,
            },
        },
    }
    result = run(definition)
    assert result.status == "SUCCEEDED", result.cause
    form, body = echo.received
    assert urllib.parse.unquote(form.body) == "expand[]=a&expand[]=b"
    expected_auth = "Basic " + base64.b64encode(b"shop:pw").decode()
    assert form.headers["authorization"] == body.headers["authorization"] == expected_auth
    assert body.method == "PUT"
    assert json.loads(body.body) == {"a": [1, 2]}
    assert body.headers["content-type"].startswith("application/json")


def test_http_invoke_oauth_is_not_bridged(aws: None, echo: EchoServer) -> None:
    oauth = connection(
        "OAUTH_CLIENT_CREDENTIALS",
        OAuthParameters={
            "ClientParameters": {"ClientID": "id", "ClientSecret": "secret"},
            "AuthorizationEndpoint": "https://auth.example.test/token",
            "HttpMethod": "POST",
        },
    )
    spec = {
        "ApiEndpoint": "https://api.example.test/x",
        "Method": "GET",
        "Authentication": {"ConnectionArn": oauth},
    }
    result = run(task(HTTP, spec))
    assert result.status == "FAILED"
    assert "OAUTH_CLIENT_CREDENTIALS" in result.cause
    assert echo.received == []


def test_gap_states_http_error_names_are_rejected(aws: None, bridge: Bridge) -> None:
    bridge.off()
    definition = task(
        "arn:aws:states:::sqs:sendMessage",
        {"QueueUrl": "q", "MessageBody": "x"},
        Catch=catch("States.Http.StatusCode.404"),
    )
    with pytest.raises(ClientError, match="MUST NOT begin with the prefix 'States.'"):
        client("stepfunctions").create_state_machine(
            name="errname-gap", definition=json.dumps(definition), roleArn=ROLE
        )


def test_http_non_2xx_fails_with_status_code_error(aws: None, echo: EchoServer) -> None:
    echo.replies.append((402, {"error": {"type": "card_error", "message": "declined"}}))
    mark = RECORDER.mark()
    spec = {
        "ApiEndpoint": "https://api.example.test/v1/refunds",
        "Method": "POST",
        "Authentication": {"ConnectionArn": connection()},
    }
    result = run(task(HTTP, spec))
    assert result.status == "FAILED"
    assert result.error == "States.Http.StatusCode.402"
    cause = json.loads(result.cause)
    assert cause["StatusCode"] == 402
    assert cause["ResponseBody"]["error"]["type"] == "card_error"
    assert [f.data["status"] for f in RECORDER.since(mark, "http_call")] == [402]


def test_http_status_errors_drive_retry_and_catch(aws: None, routes: None) -> None:
    with FakeStripe() as stripe_api:
        sfb.set_http_routes({"https://api.stripe.com": stripe_api.url})
        stripe_api.fail_next(503, times=2)
        arn = connection()
        definition = {
            "StartAt": "Coupon",
            "States": {
                "Coupon": {
                    "Type": "Task",
                    "Resource": HTTP,
                    "Parameters": {
                        "ApiEndpoint": "https://api.stripe.com/v1/coupons",
                        "Method": "POST",
                        "Authentication": {"ConnectionArn": arn},
                        "RequestBody": {"percent_off": 10},
                        "Transform": {"RequestBodyEncoding": "URL_ENCODED"},
                    },
                    "Retry": [
                        {
                            "ErrorEquals": ["States.Http.StatusCode.503"],
                            "IntervalSeconds": 30,
                            "MaxAttempts": 3,
                        }
                    ],
                    "ResultSelector": {"id.$": "$.ResponseBody.id"},
                    "ResultPath": "$.coupon",
                    "Next": "Subscription",
                },
                "Subscription": {
                    "Type": "Task",
                    "Resource": HTTP,
                    "Parameters": {
                        "ApiEndpoint": "https://api.stripe.com/v1/subscriptions/sub_missing",
                        "Method": "GET",
                        "Authentication": {"ConnectionArn": arn},
                    },
                    "Catch": [
                        {
                            "ErrorEquals": ["States.Http.StatusCode.404"],
                            "ResultPath": "$.missing",
                            "Next": "Done",
                        }
                    ],
                    "Next": "Done",
                },
                "Done": {"Type": "Succeed"},
            },
        }
        result = run(definition)
        assert result.status == "SUCCEEDED", result.cause
        assert result.output["coupon"]["id"] in stripe_api.coupons
        assert len(stripe_api.coupons) == 1
        assert result.output["missing"]["Error"] == "States.Http.StatusCode.404"
        assert [c.status for c in stripe_api.calls] == [503, 503, 200, 404]
        assert sfb.simulated_seconds(result.arn) == 30 + 60


def test_http_refuses_real_network_calls(aws: None, routes: None) -> None:
    arn = connection()
    mark = RECORDER.mark()
    spec = {
        "ApiEndpoint": "https://api.stripe.com/v1/coupons",
        "Method": "POST",
        "Authentication": {"ConnectionArn": arn},
    }
    # Not even Catch States.ALL may hide it.
    result = run(task(HTTP, spec, Catch=catch("States.ALL")))
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert "refused a real network call" in result.cause
    sfb.set_http_routes({"https://api.stripe.com": "https://stripe.example.net"})
    assert run(task(HTTP, spec)).status == "FAILED"
    calls = [f.data for f in RECORDER.since(mark, "http_call")]
    assert [(c["error"], c["routed_to"]) for c in calls] == [
        ("blocked", "https://api.stripe.com/v1/coupons"),
        ("blocked", "https://stripe.example.net/v1/coupons"),
    ]


def test_http_unreachable_server_is_a_socket_error(aws: None, routes: None) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    sfb.set_http_routes({"https://api.example.test": f"http://127.0.0.1:{closed_port}"})
    spec = {
        "ApiEndpoint": "https://api.example.test/x",
        "Method": "GET",
        "Authentication": {"ConnectionArn": connection()},
    }
    result = run(task(HTTP, spec, Catch=catch("States.Http.Socket")))
    assert result.status == "SUCCEEDED"
    assert result.output["caught"]["Error"] == "States.Http.Socket"


def test_stripe_workflow_is_idempotent_across_executions(aws: None, routes: None) -> None:
    with FakeStripe() as stripe_api:
        sfb.set_http_routes({"https://api.stripe.com": stripe_api.url})
        arn = connection()

        def stripe_post(path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
            return {
                "ApiEndpoint": f"https://api.stripe.com{path}",
                "Method": "POST",
                "Authentication": {"ConnectionArn": arn},
                "Headers": {"Idempotency-Key.$": key},
                "RequestBody": body,
                "Transform": {"RequestBodyEncoding": "URL_ENCODED"},
            }

        definition = {
            "StartAt": "Coupon",
            "States": {
                "Coupon": {
                    "Type": "Task",
                    "Resource": HTTP,
                    "Parameters": stripe_post(
                        "/v1/coupons",
                        {
                            "percent_off": 15,
                            "duration": "once",
                            "metadata": {"order_id.$": "$.order_id"},
                        },
                        "States.Format('coupon-{}', $.order_id)",
                    ),
                    "ResultSelector": {"id.$": "$.ResponseBody.id"},
                    "ResultPath": "$.coupon",
                    "Next": "Promotion",
                },
                "Promotion": {
                    "Type": "Task",
                    "Resource": HTTP,
                    "Parameters": stripe_post(
                        "/v1/promotion_codes",
                        {
                            "promotion": {"type": "coupon", "coupon.$": "$.coupon.id"},
                            "code.$": "$.code",
                        },
                        "States.Format('promo-{}', $.order_id)",
                    ),
                    "ResultSelector": {"code.$": "$.ResponseBody.code"},
                    "ResultPath": "$.promotion",
                    "End": True,
                },
            },
        }
        first = run(definition, {"order_id": "ord-7", "code": "THANKS7"})
        again = run(definition, {"order_id": "ord-7", "code": "THANKS7"})  # redelivered event
        assert first.status == again.status == "SUCCEEDED", first.cause or again.cause
        assert first.output == again.output
        assert len(stripe_api.coupons) == len(stripe_api.promotion_codes) == 1
        (coupon,) = stripe_api.coupons.values()
        assert coupon["metadata"] == {"order_id": "ord-7"}
        assert [c.replayed for c in stripe_api.calls] == [False, False, True, True]


# ------------------------------------------------------------------------------ Parallel / Map

MAP_FAIL = {
    "StartAt": "M",
    "States": {
        "M": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "Iterator": {
                "StartAt": "F",
                "States": {"F": {"Type": "Fail", "Error": "States.TaskFailed", "Cause": "x"}},
            },
            "Catch": catch("States.TaskFailed"),
            "End": True,
        },
        "Caught": {"Type": "Pass", "End": True},
    },
}


def test_gap_branch_states_errors_crash(aws: None, bridge: Bridge) -> None:
    bridge.off()
    result = run(MAP_FAIL, {"items": [1]})
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert "MUST NOT begin with the prefix 'States.'" in result.cause


def test_branch_states_errors_propagate(aws: None) -> None:
    result = run(MAP_FAIL, {"items": [1]})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["caught"]["Error"] == "States.TaskFailed"


# --------------------------------------------------------------------------- startExecution

START = "arn:aws:states:::states:startExecution"


@pytest.fixture
def child(aws: None) -> str:
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Echo"},
            "Echo": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": True},
        },
    }
    return client("stepfunctions").create_state_machine(
        name=f"child-{next(_names)}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]


def start_child(child: str, suffix: str = "") -> dict[str, Any]:
    return task(
        START + suffix,
        {
            "StateMachineArn": child,
            "Input": {"order_id.$": "$.order_id"},
            "Name.$": "States.Format('{}-child', $$.Execution.Name)",
        },
    )


def test_gap_start_execution_fails(child: str, bridge: Bridge) -> None:
    bridge.off()
    result = run(start_child(child), {"order_id": "o-1"})
    assert result.status == "FAILED"
    assert "StateMachineArn" in result.cause


def test_start_execution(child: str) -> None:
    result = run(start_child(child), {"order_id": "o-1"})
    assert result.status == "SUCCEEDED", result.cause
    assert set(result.output) == {"ExecutionArn", "StartDate"}
    assert result.output["ExecutionArn"].endswith("-child")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", result.output["StartDate"])
    described = client("stepfunctions").describe_execution(
        executionArn=result.output["ExecutionArn"]
    )
    assert json.loads(described["input"]) == {"order_id": "o-1"}


@pytest.mark.parametrize(("suffix", "parsed"), [(".sync", False), (".sync:2", True)])
def test_start_execution_sync(child: str, suffix: str, parsed: bool) -> None:
    result = run(start_child(child, suffix), {"order_id": "o-2"})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["Status"] == "SUCCEEDED"
    output = result.output["Output"]
    assert (output if parsed else json.loads(output)) == {"got": {"order_id": "o-2"}}
    assert sfb.simulated_seconds(result.output["ExecutionArn"]) == 3600


def test_unnamed_child_executions_get_names_of_their_own(child: str) -> None:
    """AWS names an execution started without Name with a UUID; two starts are two children."""
    unnamed = task(START, {"StateMachineArn": child, "Input": {"order_id.$": "$.order_id"}})
    first, second = run(unnamed, {"order_id": "o-3"}), run(unnamed, {"order_id": "o-4"})
    assert first.status == second.status == "SUCCEEDED", (first.cause, second.cause)
    names = [r.output["ExecutionArn"].rsplit(":", 1)[1] for r in (first, second)]
    assert names[0] != names[1]
    assert all(re.fullmatch(r"[0-9a-f-]{36}", name) for name in names), names


def test_retried_sync_task_runs_every_attempt(aws: None) -> None:
    """A Retry of startExecution.sync:2 starts the (failing, Express) child once per attempt and
    fails with the child's TaskFailed each time, not with an instant States.Timeout."""
    # A child that is still running when the parent first polls it (a few dozen states).
    steps = {f"P{n}": {"Type": "Pass", "Next": f"P{n + 1}"} for n in range(40)}
    steps["P40"] = {"Type": "Fail", "Error": "ChildFailed"}
    failing = {"StartAt": "P0", "States": steps}
    sfn = client("stepfunctions")
    express = sfn.create_state_machine(
        name=f"child-{next(_names)}", definition=json.dumps(failing), roleArn=ROLE, type="EXPRESS"
    )["stateMachineArn"]
    retried = task(
        START + ".sync:2",
        {"StateMachineArn": express, "Input": {}},
        Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 60, "MaxAttempts": 3}],
    )
    result = run(retried, {})
    assert result.status == "FAILED" and result.error == "States.TaskFailed"
    history = sfn.get_execution_history(executionArn=result.arn, maxResults=1000)["events"]
    assert [e["type"] for e in history].count("TaskFailed") == 4
    assert not any(e["type"] == "TaskTimedOut" for e in history)
    assert sfb.simulated_seconds(result.arn) == 60 + 120 + 240  # BackoffRate 2 by default


# ------------------------------------------------------------------------------ aws-sdk

SECRET = "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue"


def test_gap_aws_sdk_timestamps_break_describe_execution(aws: None, bridge: Bridge) -> None:
    client("secretsmanager").create_secret(Name="stripe/api", SecretString='{"k": "v"}')
    bridge.off()
    with pytest.raises(TypeError, match="datetime is not JSON serializable"):
        run(task(SECRET, {"SecretId": "stripe/api"}))


def test_gap_aws_sdk_error_names(aws: None, bridge: Bridge) -> None:
    bridge.off()
    result = run(task(SECRET, {"SecretId": "missing"}))
    assert result.error == "secretsmanager.ResourceNotFoundException"


def test_aws_sdk_secret_and_error_name(aws: None) -> None:
    client("secretsmanager").create_secret(Name="stripe/api", SecretString='{"k": "v"}')
    result = run(task(SECRET, {"SecretId": "stripe/api"}))
    assert result.status == "SUCCEEDED", result.cause
    assert json.loads(result.output["SecretString"]) == {"k": "v"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", result.output["CreatedDate"])
    missing = run(
        task(
            SECRET, {"SecretId": "missing"}, Catch=catch("SecretsManager.ResourceNotFoundException")
        )
    )
    assert missing.status == "SUCCEEDED"
    assert missing.output["caught"]["Error"] == "SecretsManager.ResourceNotFoundException"


def test_aws_sdk_s3_get_object_body_is_text(aws: None, bridge: Bridge) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="receipts")
    s3.put_object(Bucket="receipts", Key="r.json", Body=b'{"total": 1200}')
    definition = task(
        "arn:aws:states:::aws-sdk:s3:getObject",
        {"Bucket": "receipts", "Key": "r.json"},
        ResultSelector={"body.$": "States.StringToJson($.Body)"},
    )
    bridge.off()
    gap = run(definition)
    assert gap.status == "FAILED"
    assert "'StreamingChecksumBody' object" in gap.cause  # the body is a stream, not text
    bridge.on()
    result = run(definition)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"body": {"total": 1200}}


def test_aws_sdk_cloudformation_stack_lifecycle(aws: None) -> None:
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "cfn-q"}}}
    }
    cfn = "arn:aws:states:::aws-sdk:cloudformation:"
    definition = {
        "StartAt": "Create",
        "States": {
            "Create": {
                "Type": "Task",
                "Resource": cfn + "createStack",
                "Parameters": {"StackName": "payops-tmp", "TemplateBody": json.dumps(template)},
                "ResultPath": "$.created",
                "Next": "Describe",
            },
            "Describe": {
                "Type": "Task",
                "Resource": cfn + "describeStacks",
                "Parameters": {"StackName": "payops-tmp"},
                "ResultSelector": {
                    "status.$": "$.Stacks[0].StackStatus",
                    "at.$": "$.Stacks[0].CreationTime",
                },
                "ResultPath": "$.described",
                "Next": "Delete",
            },
            "Delete": {
                "Type": "Task",
                "Resource": cfn + "deleteStack",
                "Parameters": {"StackName": "payops-tmp"},
                "ResultPath": None,
                "End": True,
            },
        },
    }
    result = run(definition)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["described"]["status"] == "CREATE_COMPLETE"
    assert isinstance(result.output["described"]["at"], str)
    stack_id = result.output["created"]["StackId"]
    (stack,) = client("cloudformation").describe_stacks(StackName=stack_id)["Stacks"]
    assert stack["StackStatus"] == "DELETE_COMPLETE"


# ------------------------------------------------------------------------------ States.ALL

RUNTIME_ERROR = task(SECRET, {"SecretId.$": "$.no.such.path"}, Catch=catch("States.ALL"))


def test_gap_states_all_catches_runtime_errors(aws: None, bridge: Bridge) -> None:
    bridge.off()
    assert run(RUNTIME_ERROR).status == "SUCCEEDED"


def test_states_all_leaves_runtime_errors_uncaught(aws: None) -> None:
    result = run(RUNTIME_ERROR)
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    # ...but still catches task errors.
    caught = run(task(SECRET, {"SecretId": "missing"}, Catch=catch("States.ALL")))
    assert caught.status == "SUCCEEDED"


# ------------------------------------------------------------------------------ JSONPath

PICK = {
    "StartAt": "P",
    "States": {
        "P": {
            "Type": "Pass",
            "Parameters": {
                "price.$": "$.lines.data[0].price",
                "last.$": "$.lines.data[-1].price",
                "all.$": "$.lines.data[*].price",
                "one.$": "$.single[*].price",
            },
            "End": True,
        }
    },
}
LINES = {"lines": {"data": [{"price": "p_1"}, {"price": "p_2"}]}, "single": [{"price": "p_3"}]}


def test_gap_definite_jsonpath_through_an_index_yields_a_list(aws: None, bridge: Bridge) -> None:
    bridge.off()
    assert run(PICK, LINES).output["price"] == ["p_1"]


def test_definite_jsonpath_yields_the_value(aws: None) -> None:
    assert run(PICK, LINES).output == {
        "price": "p_1",
        "last": "p_2",
        "all": ["p_1", "p_2"],
        "one": ["p_3"],  # indefinite paths stay lists, even with one match
    }
    choice = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.lines.data[0].price", "StringEquals": "p_1", "Next": "Yes"}
                ],
                "Default": "No",
            },
            "Yes": {"Type": "Succeed"},
            "No": {"Type": "Fail", "Error": "NoMatch"},
        },
    }
    assert run(choice, LINES).status == "SUCCEEDED"


def _outcome(extract: Any, path: str, data: Any) -> tuple[Any, ...]:
    from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError

    try:
        return ("value", extract(path, data))
    except NoSuchJsonPathError as missing:
        return ("missing", missing.json_path, missing.data is data)


def test_plain_field_paths_are_walked_as_jsonpath_ng_finds_them(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path of plain field names is walked with `get`, not through jsonpath_ng: the same value
    or the same NoSuchJsonPathError, on objects, lists, strings, None and missing keys."""
    from jsonpath_ng.jsonpath import Root
    from moto.stepfunctions.parser.asl.utils import json_path

    extract = json_path.extract_json
    finds = {"n": 0}
    root_find = Root.find
    monkeypatch.setattr(
        Root, "find", lambda self, data: finds.update(n=finds["n"] + 1) or root_find(self, data)
    )
    shop = {"a": {"b": None, "c": [1, {"d": 2}], "s": "text", "detail-type": "x", "0": "zero"}}
    plain = ["$", "$.a", "$.a.b", "$.a.c", "$['a']['detail-type']", "$.a.s", "$.a.s.length",
             "$.a.b.x", "$.missing", "$.a.missing", "$.a.c.d", "$.a.0"]  # fmt: skip
    others = ["$.a.c[1].d", "$.a.c[0]", "$.a.c[*]", "$.a.*", "$.a['*']", "$['a','n']", "$..d",
              "$.a.c[-1:]"]  # fmt: skip
    for values in ({"n": 0, **shop}, [shop], "text", None, 0):
        for path in plain:
            finds["n"] = 0
            assert _outcome(extract, path, values) == _outcome(extract.find, path, values), path
            assert finds["n"] == 1, path  # jsonpath_ng's only: the walk used none
        for path in others:
            finds["n"] = 0
            assert _outcome(extract, path, values) == _outcome(extract.find, path, values), path
            assert finds["n"] == 2, path
    assert extract("$.a.c", shop) is shop["a"]["c"]  # the value itself, as jsonpath_ng gives it


# ------------------------------------------------------------------------------ ThreadedMotoServer


@pytest.fixture
def moto_server(bridge: Bridge) -> Iterator[list[ThreadedMotoServer]]:
    servers: list[ThreadedMotoServer] = []
    yield servers
    for server in servers:
        url = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
        requests.post(
            f"{url}/moto-api/config", json={"stepfunctions": {"execute_state_machine": False}}
        )
        requests.post(f"{url}/moto-api/reset")
        server.stop()


def start_server(servers: list[ThreadedMotoServer]) -> dict[str, Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    servers.append(server)
    url = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    requests.post(f"{url}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}})
    return {"endpoint_url": url}


def send_via_server(endpoint: dict[str, Any]) -> Run:
    queue = client("sqs", **endpoint).create_queue(QueueName=f"q-{next(_names)}")["QueueUrl"]
    definition = task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": queue, "MessageBody": "hi"})
    return run(definition, sfn=client("stepfunctions", **endpoint))


def test_server_endpoint_gap_and_bridge(
    bridge: Bridge, moto_server: list[ThreadedMotoServer]
) -> None:
    bridge.off()
    endpoint = start_server(moto_server)
    gap = send_via_server(endpoint)
    assert gap.status == "FAILED"
    assert "localhost:5000" in gap.cause
    bridge.on()
    assert send_via_server(endpoint).status == "SUCCEEDED"


def test_bridges_hold_under_threaded_moto_server(
    bridge: Bridge, moto_server: list[ThreadedMotoServer], routes: None
) -> None:
    endpoint = start_server(moto_server)
    queue = client("sqs", **endpoint).create_queue(QueueName="server-q")["QueueUrl"]
    arn = client("events", **endpoint).create_connection(
        Name="stripe",
        AuthorizationType="API_KEY",
        AuthParameters={
            "ApiKeyAuthParameters": {
                "ApiKeyName": "Authorization",
                "ApiKeyValue": f"Bearer {API_KEY}",
            }
        },
    )["ConnectionArn"]
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Coupon"},
            "Coupon": {
                "Type": "Task",
                "Resource": HTTP,
                "Parameters": {
                    "ApiEndpoint": "https://api.stripe.com/v1/coupons",
                    "Method": "POST",
                    "Authentication": {"ConnectionArn": arn},
                    "RequestBody": {"percent_off": 5, "metadata": {"via": "server"}},
                    "Transform": {"RequestBodyEncoding": "URL_ENCODED"},
                },
                "ResultSelector": {"id.$": "$.ResponseBody.id"},
                "Next": "Notify",
            },
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": queue, "MessageBody.$": "$.id"},
                "End": True,
            },
        },
    }
    with FakeStripe() as stripe_api:
        sfb.set_http_routes({"https://api.stripe.com": stripe_api.url})
        result = run(definition, sfn=client("stepfunctions", **endpoint))
        assert result.status == "SUCCEEDED", result.cause
        assert result.seconds < 5
        assert sfb.simulated_seconds(result.arn) == 3600
        (coupon,) = stripe_api.coupons.values()
        assert coupon["metadata"] == {"via": "server"}
    (message,) = client("sqs", **endpoint).receive_message(QueueUrl=queue)["Messages"]
    assert message["Body"] == coupon["id"]


# ------------------------------------------------------------------------------ out of the box
# These integrations work on plain moto; they run both ways to show the bridges leave them alone.


@pytest.fixture(params=["moto", "bridged"])
def mode(request: pytest.FixtureRequest, aws: None, bridge: Bridge) -> str:
    if request.param == "moto":
        bridge.off()
    return request.param


def test_dynamodb_idempotency_flow(mode: str) -> None:
    ddb = client("dynamodb")
    ddb.create_table(
        TableName="idempotency",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    key = {"pk": {"S.$": "$.event_id"}}
    put = {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:putItem",
        "Parameters": {
            "TableName": "idempotency",
            "Item": {"pk": {"S.$": "$.event_id"}, "n": {"N": "1"}},
            "ConditionExpression": "attribute_not_exists(pk)",
        },
        "ResultPath": None,
    }
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {**put, "Next": "PutAgain"},
            "PutAgain": {
                **put,
                "Catch": [
                    {
                        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                        "ResultPath": "$.duplicate",
                        "Next": "Get",
                    }
                ],
                "Next": "Get",
            },
            "Get": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": "idempotency", "Key": key},
                "ResultSelector": {"n.$": "$.Item.n.N"},
                "ResultPath": "$.got",
                "Next": "Update",
            },
            "Update": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:updateItem",
                "Parameters": {
                    "TableName": "idempotency",
                    "Key": key,
                    "UpdateExpression": "SET n = n + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                    "ReturnValues": "ALL_NEW",
                },
                "ResultSelector": {"n.$": "$.Attributes.n.N"},
                "ResultPath": "$.updated",
                "Next": "Delete",
            },
            "Delete": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:deleteItem",
                "Parameters": {"TableName": "idempotency", "Key": key, "ReturnValues": "ALL_OLD"},
                "ResultSelector": {"n.$": "$.Attributes.n.N"},
                "ResultPath": "$.deleted",
                "End": True,
            },
        },
    }
    result = run(definition, {"event_id": "evt_1"})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["duplicate"]["Error"] == "DynamoDB.ConditionalCheckFailedException"
    assert (result.output["got"], result.output["updated"], result.output["deleted"]) == (
        {"n": "1"},
        {"n": "2"},
        {"n": "2"},
    )
    assert "Item" not in ddb.get_item(TableName="idempotency", Key={"pk": {"S": "evt_1"}})


def test_messaging_integrations(mode: str) -> None:
    from moto.ses.models import ses_backends

    sqs, sns, events = client("sqs"), client("sns"), client("events")
    queue = sqs.create_queue(QueueName="ops")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = sns.create_topic(Name="ops")["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    events.put_rule(Name="ops", EventPattern=json.dumps({"source": ["payops.sfn"]}))
    events.put_targets(Rule="ops", Targets=[{"Id": "q", "Arn": queue_arn}])
    client("sesv2").create_email_identity(EmailIdentity="shop@example.com")

    def step(name: str, resource: str, parameters: dict[str, Any], nxt: str | None) -> dict:
        state: dict[str, Any] = {"Type": "Task", "Resource": resource, "Parameters": parameters}
        state["ResultPath"] = f"$.{name}"
        state.update({"Next": nxt} if nxt else {"End": True})
        return state

    definition = {
        "StartAt": "Sns",
        "States": {
            "Sns": step(
                "sns",
                "arn:aws:states:::sns:publish",
                {"TopicArn": topic, "Message": {"via": "sns"}},
                "Sqs",
            ),
            "Sqs": step(
                "sqs",
                "arn:aws:states:::sqs:sendMessage",
                {"QueueUrl": queue, "MessageBody": {"via": "sqs"}},
                "Events",
            ),
            "Events": step(
                "events",
                "arn:aws:states:::events:putEvents",
                {
                    "Entries": [
                        {"Source": "payops.sfn", "DetailType": "t", "Detail": {"via": "events"}}
                    ]
                },
                "Email",
            ),
            "Email": step(
                "email",
                "arn:aws:states:::aws-sdk:sesv2:sendEmail",
                {
                    "FromEmailAddress": "shop@example.com",
                    "Destination": {"ToAddresses": ["buyer@example.com"]},
                    "Content": {
                        "Simple": {
                            "Subject": {"Data": "Thanks"},
                            "Body": {"Text": {"Data": "Paid"}},
                        }
                    },
                },
                None,
            ),
        },
    }
    result = run(definition)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["events"]["FailedEntryCount"] == 0
    bodies = []
    for _ in range(3):
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            bodies.append(json.loads(message["Body"]))
    vias = sorted(b.get("via") or b["detail"]["via"] for b in bodies)
    assert vias == ["events", "sns", "sqs"]
    sent = ses_backends[ACCOUNT][REGION].sent_messages
    assert [(m.source, m.destinations["ToAddresses"]) for m in sent] == [
        ("shop@example.com", ["buyer@example.com"])
    ]


def test_intrinsic_functions(mode: str) -> None:
    parameters = {
        "format.$": "States.Format('Order {} for {}', $.order, $.name)",
        "parsed.$": "States.StringToJson($.raw)",
        "dumped.$": "States.JsonToString($.obj)",
        "hash.$": "States.Hash($.name, 'SHA-256')",
        "uuid.$": "States.UUID()",
        "sum.$": "States.MathAdd($.order, -2)",
        "item.$": "States.ArrayGetItem($.list, 1)",
    }
    payload = {
        "order": 42,
        "name": "Ayumi",
        "raw": '{"a":[1,2]}',
        "obj": {"b": 1},
        "list": ["x", "y"],
    }
    result = run(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": parameters, "End": True}}},
        payload,
    )
    assert result.status == "SUCCEEDED", result.cause
    out = result.output
    assert out["format"] == "Order 42 for Ayumi"
    assert out["parsed"] == {"a": [1, 2]}
    assert json.loads(out["dumped"]) == {"b": 1}
    assert out["hash"] == hashlib.sha256(b"Ayumi").hexdigest()
    assert uuid.UUID(out["uuid"]).version == 4
    assert (out["sum"], out["item"]) == (40, "y")
