"""The HTTP Task (arn:aws:states:::http:invoke), unknown to moto: `invoke_http` builds the request
from the task's Parameters and EventBridge connection (API_KEY or BASIC auth), sends it via the
`set_http_routes` rewrites to loopback only (RealNetworkCallBlocked otherwise), records it with
secrets masked; the task state fails as States.Http.StatusCode.<code> or States.Http.Socket.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from payops.localaws.core.recorder import RECORDER
from payops.localaws.services.stepfunctions import error_names, program_store
from payops.localaws.services.stepfunctions.simulated_time import execution_arn_of

_routes: dict[str, str] = {}


_routes_lock = threading.Lock()


_HTTP_TIMEOUT_SECONDS = 60  # the HTTP Task's own limit on AWS (then States.Http.Socket)


_LOOPBACK_NAMES = {"localhost"}


def set_http_routes(routes: dict[str, str]) -> None:
    """Replace the URL rewrite map used by HTTP Tasks, e.g.
    {"https://api.stripe.com": "http://127.0.0.1:8123"}. Longest matching prefix wins."""
    cleaned = {src.rstrip("/"): dst.rstrip("/") for src, dst in routes.items()}
    with _routes_lock:
        _routes.clear()
        _routes.update(cleaned)


def http_routes() -> dict[str, str]:
    with _routes_lock:
        return dict(_routes)


class RealNetworkCallBlocked(RuntimeError):
    """An HTTP Task tried to reach a non-loopback host: local runs never touch the internet."""


class HttpStatusError(Exception):
    def __init__(self, output: dict[str, Any]) -> None:
        super().__init__(f"HTTP {output['StatusCode']} {output['StatusText']}")
        self.output = output


class HttpSocketError(Exception):
    pass


def _route(url: str) -> str:
    with _routes_lock:
        routes = sorted(_routes.items(), key=lambda kv: len(kv[0]), reverse=True)
    for src, dst in routes:
        if url == src or url.startswith(src + "/") or url.startswith(src + "?"):
            return dst + url[len(src) :]
    return url


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _flatten_form(value: Any, prefix: str, array_format: str) -> list[tuple[str, str]]:
    """qs-style flattening: nested objects become key[sub]; arrays follow ArrayFormat."""
    if isinstance(value, dict):
        pairs: list[tuple[str, str]] = []
        for key, item in value.items():
            pairs += _flatten_form(item, f"{prefix}[{key}]" if prefix else str(key), array_format)
        return pairs
    if isinstance(value, list):
        if array_format == "COMMAS" and all(not isinstance(i, (dict, list)) for i in value):
            return [(prefix, ",".join(_scalar(i) for i in value))]
        pairs = []
        for index, item in enumerate(value):
            if array_format == "REPEAT":
                key = prefix
            elif array_format == "BRACKETS":
                key = f"{prefix}[]"
            else:  # INDICES (the default), and COMMAS for arrays of objects
                key = f"{prefix}[{index}]"
            pairs += _flatten_form(item, key, array_format)
        return pairs
    return [(prefix, _scalar(value))]


def url_encode_body(body: Any, array_format: str = "INDICES") -> str:
    """Transform.RequestBodyEncoding URL_ENCODED as the HTTP Task documents it:
    {"array": ["a","b"]} -> INDICES array[0]=a&array[1]=b, REPEAT array=a&array=b,
    COMMAS array=a,b, BRACKETS array[]=a&array[]=b; objects nest as key[sub]=v."""
    array_format = (array_format or "INDICES").upper()
    if array_format not in {"INDICES", "REPEAT", "COMMAS", "BRACKETS"}:
        raise ValueError(f"Unknown RequestEncodingOptions.ArrayFormat: {array_format!r}")
    if isinstance(body, str):
        return body
    if not isinstance(body, dict):
        raise ValueError("URL_ENCODED needs RequestBody to be a JSON object")
    return urllib.parse.urlencode(_flatten_form(body, "", array_format))


def _connection(connection_arn: str) -> Any:
    from moto.events.models import events_backends

    parts = connection_arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("connection/"):
        raise RuntimeError(f"Not an EventBridge connection ARN: {connection_arn!r}")
    _, _, _, region, account, resource = parts
    name = resource.split("/")[1]
    connection = events_backends[account][region].connections.get(name)
    if connection is None or connection.arn != connection_arn:
        raise RuntimeError(f"EventBridge connection not found: {connection_arn}")
    return connection


def _param_list(params: list[dict[str, Any]] | None) -> list[tuple[str, str, bool]]:
    return [(p["Key"], _scalar(p.get("Value")), bool(p.get("IsValueSecret"))) for p in params or []]


def _mask(value: str) -> str:
    scheme, _, rest = value.partition(" ")
    return f"{scheme} ****" if rest else "****"


def _build_request(parameters: dict[str, Any]) -> dict[str, Any]:
    """Everything the HTTP Task sends, merged from the task Parameters and the connection."""
    endpoint = parameters.get("ApiEndpoint")
    method = str(parameters.get("Method") or "").upper()
    if not endpoint or not method:
        raise RuntimeError("HTTP Task needs Parameters.ApiEndpoint and Parameters.Method")
    if not str(endpoint).startswith("https://"):
        raise RuntimeError(f"HTTP Task ApiEndpoint must be an https:// URL, got {endpoint!r}")
    connection_arn = (parameters.get("Authentication") or {}).get("ConnectionArn")
    if not connection_arn:
        raise RuntimeError("HTTP Task needs Parameters.Authentication.ConnectionArn")
    connection = _connection(connection_arn)

    headers: dict[str, str] = {k: _scalar(v) for k, v in (parameters.get("Headers") or {}).items()}
    secret_headers: set[str] = set()
    query: list[tuple[str, str]] = [
        (k, _scalar(v)) for k, v in (parameters.get("QueryParameters") or {}).items()
    ]
    body = parameters.get("RequestBody")

    auth_type = str(connection.authorization_type).upper()
    auth = connection.auth_parameters or {}
    if auth_type == "API_KEY":
        api_key = auth.get("ApiKeyAuthParameters") or {}
        headers[api_key["ApiKeyName"]] = api_key["ApiKeyValue"]
        secret_headers.add(api_key["ApiKeyName"].lower())
    elif auth_type == "BASIC":
        basic = auth.get("BasicAuthParameters") or {}
        token = base64.b64encode(f"{basic['Username']}:{basic['Password']}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    elif auth_type == "OAUTH_CLIENT_CREDENTIALS":
        raise NotImplementedError(
            "payops.localaws: HTTP Task with an OAUTH_CLIENT_CREDENTIALS connection is not "
            "bridged (no token endpoint locally); use API_KEY or BASIC connections."
        )
    else:
        raise RuntimeError(f"Unsupported connection AuthorizationType {auth_type!r}")
    secret_headers.add("authorization")

    # The connection's invocation parameters are merged in and win on key clashes.
    invocation = auth.get("InvocationHttpParameters") or {}
    for key, value, secret in _param_list(invocation.get("HeaderParameters")):
        headers[key] = value
        if secret:
            secret_headers.add(key.lower())
    connection_query = _param_list(invocation.get("QueryStringParameters"))
    clashing = {key for key, _, _ in connection_query}
    query = [(k, v) for k, v in query if k not in clashing]
    query += [(key, value) for key, value, _ in connection_query]
    body_params = _param_list(invocation.get("BodyParameters"))
    masked_body = body
    if body_params:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise RuntimeError("Connection BodyParameters need RequestBody to be a JSON object")
        masked_body = dict(body)
        for key, value, secret in body_params:
            body[key] = value
            masked_body[key] = "****" if secret else value

    transform = parameters.get("Transform") or {}
    encoding = str(transform.get("RequestBodyEncoding") or "NONE").upper()
    array_format = (transform.get("RequestEncodingOptions") or {}).get("ArrayFormat") or "INDICES"
    lowered = {k.lower() for k in headers}
    data: str | None = None
    masked_data: str | None = None
    if body is not None:
        if encoding == "URL_ENCODED":
            data = url_encode_body(body, array_format)
            masked_data = url_encode_body(masked_body, array_format)
            content_type = "application/x-www-form-urlencoded"
        elif encoding == "NONE":
            data = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
            masked_data = (
                masked_body
                if isinstance(masked_body, str)
                else json.dumps(masked_body, separators=(",", ":"))
            )
            content_type = "application/json; charset=UTF-8"
        else:
            raise RuntimeError(f"Unknown Transform.RequestBodyEncoding {encoding!r}")
        if "content-type" not in lowered:
            headers["Content-Type"] = content_type
    if "user-agent" not in lowered:
        headers["User-Agent"] = "Amazon|StepFunctions|HttpInvoke|local"

    url = masked_url = str(endpoint)
    if query:
        joiner = "&" if urllib.parse.urlsplit(url).query else "?"
        url += joiner + urllib.parse.urlencode(query)
        # A connection's secret query parameter (Backlog's apiKey, a webhook's sig) stays out of
        # the record, as its secret headers do.
        secret_keys = {key for key, _, secret in connection_query if secret}
        masked = [(k, "****" if k in secret_keys else v) for k, v in query]
        masked_url += joiner + urllib.parse.urlencode(masked, safe="*")
    return {
        "method": method,
        "url": url,
        "masked_url": masked_url,
        "headers": headers,
        "masked_headers": {
            k: (_mask(v) if k.lower() in secret_headers else v) for k, v in headers.items()
        },
        "data": data,
        "masked_data": masked_data,
    }


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _response_output(status: int, reason: str, headers: Any, raw: bytes) -> dict[str, Any]:
    grouped: dict[str, list[str]] = {}
    for key, value in headers.items():
        grouped.setdefault(key.lower(), []).append(value)
    text = raw.decode("utf-8", errors="replace")
    try:
        body: Any = json.loads(text) if text else ""
    except ValueError:
        body = text
    return {"Headers": grouped, "ResponseBody": body, "StatusCode": status, "StatusText": reason}


def invoke_http(parameters: dict[str, Any], execution_arn: str | None = None) -> dict[str, Any]:
    """Send one HTTP Task request (routed, recorded) and return the AWS-shaped output.
    Raises HttpStatusError for non-2xx, HttpSocketError when the server cannot be reached."""
    request = _build_request(parameters)
    routed = _route(request["url"])
    record = {
        "execution_arn": execution_arn,
        "method": request["method"],
        "url": request["masked_url"],
        "routed_to": _route(request["masked_url"]),
        "headers": request["masked_headers"],
        "body": request["masked_data"],
    }
    if not _is_loopback(routed):
        RECORDER.record("http_call", **record, status=None, error="blocked")
        raise RealNetworkCallBlocked(
            f"HTTP Task refused a real network call to {request['masked_url']}: local runs only "
            "reach this machine (127.0.0.1, localhost, ::1); add a route with "
            "payops.localaws.services.stepfunctions.set_http_routes({...})."
        )
    data = request["data"].encode() if request["data"] is not None else None
    http_request = urllib.request.Request(
        routed, data=data, headers=request["headers"], method=request["method"]
    )
    try:
        with _OPENER.open(http_request, timeout=_HTTP_TIMEOUT_SECONDS) as response:
            output = _response_output(
                response.status, response.reason, response.headers, response.read()
            )
    except urllib.error.HTTPError as error:
        output = _response_output(error.code, error.reason, error.headers, error.read())
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        RECORDER.record("http_call", **record, status=None, error=str(error))
        raise HttpSocketError(f"{request['method']} {request['masked_url']}: {error}") from error
    RECORDER.record("http_call", **record, status=output["StatusCode"])
    if not 200 <= output["StatusCode"] < 300:
        raise HttpStatusError(output)
    return output


def _make_http_task_class() -> type:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    class StateTaskServiceHttp(StateTaskService):
        _PARAMETERS = {
            "ApiEndpoint",
            "Authentication",
            "Headers",
            "Method",
            "QueryParameters",
            "RequestBody",
            "Transform",
        }

        def _get_supported_parameters(self) -> set[str] | None:
            return self._PARAMETERS if self.resource.api_action == "invoke" else None

        def _failure(self, env: Any, error: str, cause: str) -> Any:
            return FailureEvent(
                env=env,
                error_name=error_names.error_name_factory(error),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=error,
                        cause=cause,
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )

        def _from_error(self, env: Any, ex: Exception) -> Any:
            if isinstance(ex, HttpStatusError):
                code = ex.output["StatusCode"]
                return self._failure(env, f"States.Http.StatusCode.{code}", json.dumps(ex.output))
            if isinstance(ex, HttpSocketError):
                return self._failure(env, "States.Http.Socket", str(ex))
            return super()._from_error(env=env, ex=ex)

        def _eval_service_task(
            self,
            env: Any,
            resource_runtime_part: Any,
            normalised_parameters: dict,
            state_credentials: Any,
        ) -> None:
            env.stack.append(invoke_http(normalised_parameters, execution_arn_of(env)))

    return program_store.shared_by_name(StateTaskServiceHttp)
