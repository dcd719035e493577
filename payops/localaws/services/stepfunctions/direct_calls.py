"""Task states' calls to JSON-protocol services, handed to moto's handler without the HTTP client.

Under `mock_aws`, a Task's `dynamodb:updateItem` went through all of botocore (endpoint rules,
request hooks, signing, retries, response hooks) only to reach moto's BotocoreStubber in the same
thread: a fifth of a replay. `DirectClient` keeps the two ends that decide what the call means —
botocore's own serializer for the request and its own parser for the response, so blobs,
timestamps and error shapes are exactly the client's — and hands the request straight to the
stubber. Errors are raised as the client raises them (its modeled exception classes). Only the
JSON protocol (DynamoDB, EventBridge, Secrets Manager...) and only in-process: under a
ThreadedMotoServer, or for other protocols, the real client is used.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.patch import Patch

SPEEDUPS: dict[str, str] = {
    "sfn.direct_calls": (
        "A Task's call to a JSON-protocol service (DynamoDB above all) went through botocore's "
        "endpoint rules, hooks, signing and retries to reach moto in the same thread; now "
        "botocore's serializer and parser wrap a direct call to moto's request handler."
    ),
}
_PROTOCOLS = ("json",)


class DirectClient:
    """What moto's Task states use of a boto3 client (operation methods, `exceptions`, `meta`),
    with each operation sent to moto's BotocoreStubber directly."""

    def __init__(self, client: Any) -> None:
        from botocore.parsers import create_parser
        from botocore.serialize import create_serializer

        self._client = client
        self._model = client.meta.service_model
        self._operations = client.meta.method_to_api_mapping
        self._serializer = create_serializer(self._model.protocol, include_validation=False)
        self._parser = create_parser(self._model.protocol)
        self._url = client.meta.endpoint_url.rstrip("/")
        self._calls: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        operation = self._operations.get(name)
        if operation is None:
            return getattr(self._client, name)
        call = self._calls.get(name)
        if call is None:
            operation_model = self._model.operation_model(operation)

            def call(**params: Any) -> dict[str, Any]:
                return self._call(operation_model, params)

            self._calls[name] = call
        return call

    def _call(self, operation_model: Any, params: dict[str, Any]) -> dict[str, Any]:
        from botocore.awsrequest import AWSPreparedRequest
        from botocore.compat import HTTPHeaders
        from moto.core.models import botocore_stubber

        request = self._serializer.serialize_to_request(params, operation_model)
        headers = HTTPHeaders()
        for key, value in request["headers"].items():
            headers[key] = value
        body = request["body"]
        prepared = AWSPreparedRequest(
            method=request["method"],
            url=self._url + request["url_path"],
            headers=headers,
            body=body.encode("utf-8") if isinstance(body, str) else body,
            stream_output=False,
        )
        answered = botocore_stubber.process_request(prepared)
        if answered is None:  # not a mocked URL: what the client would have done
            return getattr(self._client, operation_model.name)(**params)
        status, response_headers, response_body = answered
        if isinstance(response_body, str):
            response_body = response_body.encode("utf-8")
        response_headers = {str(k).lower(): str(v) for k, v in dict(response_headers).items()}
        parsed = self._parser.parse(
            {"status_code": status, "headers": response_headers, "body": response_body},
            operation_model.output_shape,
        )
        parsed.setdefault("ResponseMetadata", {}).update(
            HTTPStatusCode=status, HTTPHeaders=response_headers, RetryAttempts=0
        )
        if status >= 300:
            code = parsed.get("Error", {}).get("Code")
            # As botocore's Endpoint does: a modeled error's own fields (e.g. the Item of a
            # ConditionalCheckFailedException) are parsed into the response too.
            error_shape = self._model.shape_for_error_code(code) if code else None
            if error_shape is not None:
                response = {"status_code": status, "headers": response_headers}
                parsed.update(self._parser.parse({**response, "body": response_body}, error_shape))
            raise self._client.exceptions.from_code(code)(parsed, operation_model.name)
        return dict(parsed)


def direct(client: Any) -> Any:
    """`client`, or a DirectClient for it when moto answers in this thread and its protocol is
    one DirectClient speaks."""
    from moto.core.models import botocore_stubber

    if not botocore_stubber.enabled or client.meta.service_model.protocol not in _PROTOCOLS:
        return client
    return DirectClient(client)


def direct_calls_patches() -> list[Patch]:
    """Wrap whatever `boto_client_for` the Task modules hold (moto's, or task_clients' cached
    one): the client it returns is used directly only where `direct()` says so."""
    import threading
    from importlib import import_module

    from payops.localaws.services.stepfunctions.speedups import CLIENT_USERS

    lock = threading.Lock()
    wrapped: dict[tuple[str, str], Any] = {}  # one DirectClient per (region, service)
    found: list[Patch] = []
    for name in CLIENT_USERS:
        module = import_module("moto.stepfunctions.parser.asl.component.state.exec." + name)
        inner = module.__dict__.get("boto_client_for")
        if inner is None:
            continue

        def boto_client_for(
            region: str, service: str, state_credentials: Any = None, _inner: Any = inner
        ) -> Any:
            from moto.core.models import botocore_stubber

            if not botocore_stubber.enabled:
                return _inner(region=region, service=service, state_credentials=state_credentials)
            key = (region, service)
            with lock:
                client = wrapped.get(key)
            if client is None:
                client = direct(
                    _inner(region=region, service=service, state_credentials=state_credentials)
                )
                with lock:
                    client = wrapped.setdefault(key, client)
            return client

        found.append(Patch(module, "boto_client_for", boto_client_for, key=f"{name}.direct"))
    return found
