"""Calls to moto without botocore's HTTP pipeline: `direct(client)` for the local AWS's own
in-process callers (Step Functions Task states, the pipes' SQS receives).

Under `mock_aws`, a call went through all of botocore (endpoint rules, request hooks, signing,
retries, response hooks) only to reach moto's BotocoreStubber in the same thread. `DirectClient`
keeps the two ends that decide what the call means — botocore's own serializer for the request
and its own parser for the response, so blobs, timestamps and error shapes are exactly the
client's — and hands the request straight to the stubber. The client's parameter and after-call
hooks still run (botocore's idempotency tokens, IAM's URL-encoded policy documents decoded,
SQS's query-compatible error codes). Errors are raised as the client raises them (its modeled
exception classes). The JSON, REST-JSON and query protocols (DynamoDB,
EventBridge, Lambda, SES v2, SNS, SQS...), and only in-process: under a ThreadedMotoServer, or for
REST-XML (S3), the real client is used.
"""

from __future__ import annotations

from typing import Any

_PROTOCOLS = ("json", "rest-json", "query")


class DirectClient:
    """What moto's Task states use of a boto3 client (operation methods, `exceptions`, `meta`),
    with each operation sent to moto's BotocoreStubber directly."""

    def __init__(self, client: Any) -> None:
        from botocore.parsers import create_parser
        from botocore.serialize import create_serializer

        self._client = client
        self._model = client.meta.service_model
        self._operations = client.meta.method_to_api_mapping
        self._methods = {api: method for method, api in self._operations.items()}
        protocol = _protocol(self._model)
        self._serializer = create_serializer(protocol, include_validation=False)
        self._parser = create_parser(protocol)
        self._url = client.meta.endpoint_url
        self._events = client.meta.events
        self._service_id = self._model.service_id.hyphenize()
        self._calls: dict[str, Any] = {}
        self._authorization = _authorization(client)

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
        # botocore's steps that shape the request and read the answer, with the client's
        # parameter and after-call hooks, minus endpoint rules, signing, transport hooks and
        # retries; moto's BotocoreStubber answers in between, as it would.
        from botocore.awsrequest import AWSResponse, create_request_object, prepare_request_dict
        from botocore.endpoint import convert_to_response_dict
        from botocore.hooks import first_non_none_response
        from moto.core.botocore_stubber import MockRawResponse
        from moto.core.models import botocore_stubber

        event = f"{self._service_id}.{operation_model.name}"
        context: dict[str, Any] = {
            "client_region": self._client.meta.region_name,
            "client_config": self._client.meta.config,
            "has_streaming_input": operation_model.has_streaming_input,
        }
        hooked = self._events.emit(
            f"provide-client-params.{event}", params=params, model=operation_model, context=context
        )
        params = first_non_none_response(hooked, default=params)
        self._events.emit(
            f"before-parameter-build.{event}", params=params, model=operation_model, context=context
        )
        request_dict = self._serializer.serialize_to_request(params, operation_model)
        prepare_request_dict(request_dict, endpoint_url=self._url)
        request = create_request_object(request_dict)
        request.stream_output = operation_model.has_streaming_output
        if self._authorization:  # moto tells the account and caller from the access key
            request.headers["Authorization"] = self._authorization
        prepared = request.prepare()
        answered = botocore_stubber.process_request(prepared)
        if answered is None:  # not a mocked URL: what the client would have done
            return getattr(self._client, self._methods[operation_model.name])(**params)
        status, headers, body = answered
        response = AWSResponse(prepared.url, status, headers, MockRawResponse(body))
        response_dict = convert_to_response_dict(response, operation_model)
        parsed = self._parser.parse(response_dict, operation_model.output_shape)
        if status >= 300:
            code = parsed.get("Error", {}).get("Code")
            # As botocore's Endpoint does: a modeled error's own fields (e.g. the Item of a
            # ConditionalCheckFailedException) are parsed into the response too.
            error_shape = self._model.shape_for_error_code(code) if code else None
            if error_shape is not None:
                parsed.update(self._parser.parse(response_dict, error_shape))
        parsed.setdefault("ResponseMetadata", {}).update(
            HTTPStatusCode=status, HTTPHeaders=response_dict["headers"], RetryAttempts=0
        )
        self._events.emit(
            f"after-call.{event}",
            http_response=response,
            parsed=parsed,
            model=operation_model,
            context=context,
        )
        if status >= 300:
            code = context.get("error_code_override") or code
            raise self._client.exceptions.from_code(code)(parsed, operation_model.name)
        return dict(parsed)


def _protocol(model: Any) -> str:
    return str(getattr(model, "resolved_protocol", None) or model.protocol)


def _authorization(client: Any) -> str | None:
    """An Authorization header naming the client's access key (moto reads only that part)."""
    try:
        credentials = client._request_signer._credentials
        key = credentials.get_frozen_credentials().access_key if credentials else None
    except Exception:  # no credentials: moto's default account, as an unsigned call
        return None
    if not key:
        return None
    region, service = client.meta.region_name, client.meta.service_model.signing_name
    return f"AWS4-HMAC-SHA256 Credential={key}/20260101/{region}/{service}/aws4_request"


def direct(client: Any) -> Any:
    """`client`, or a DirectClient for it when moto answers in this thread and its protocol is
    one DirectClient speaks."""
    from moto.core.models import botocore_stubber

    if not botocore_stubber.enabled or _protocol(client.meta.service_model) not in _PROTOCOLS:
        return client
    return DirectClient(client)
