"""Bridges over moto 5.2.5's Step Functions interpreter (moto/stepfunctions/parser/).

moto executes ASL for real when `execute_state_machine` is on, but some integrations our workflows
use are missing or broken. Each bridge below subclasses or patches moto's own classes in place,
is registered by name in `BRIDGES` with the gap it closes, and has a test that proves the gap
(without `install()`) and the fix. Patches are class-level, so they hold for `mock_aws` and for a
`ThreadedMotoServer` running in the same process.

Pinned to moto 5.2.5: `install()` refuses any other version, because the patched internals are
private and change between releases.
"""

from __future__ import annotations

import base64
import datetime
import functools
import http.client
import ipaddress
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

from botocore.response import StreamingBody

from payops.localaws.moto_pin import require_pinned_moto
from payops.localaws.recorder import RECORDER

BRIDGES: dict[str, str] = {
    "sfn.simulated_wait": "Wait states (Seconds/Timestamp/SecondsPath/TimestampPath) really sleep, "
    "and Timestamp is compared with naive local time instead of UTC.",
    "sfn.simulated_retry_backoff": "Retry back-off (IntervalSeconds/BackoffRate/MaxDelaySeconds/"
    "JitterStrategy) really sleeps with time.sleep.",
    "sfn.http_invoke": "arn:aws:states:::http:invoke is unknown: creating the state machine fails "
    "with \"Unknown service 'http'\".",
    "sfn.states_error_names": "ErrorEquals on States.Http.StatusCode.<code>/States.Http.Socket is "
    "rejected as an illegal custom name, and a Parallel/Map branch failing with a States.* error "
    "(States.TaskFailed, States.Timeout...) crashes with ValueError, becoming States.Runtime; "
    "so does a Fail state with a States.* Error.",
    "sfn.start_execution": "states:startExecution(.sync/.sync:2) fails with KeyError "
    "'StateMachineArn' (parameter names not normalised); its datetime output is unserialisable; "
    "without a Name every child is named 'None', so a second start fails ExecutionAlreadyExists "
    "(AWS generates a UUID); a Retry of a .sync task reuses the interrupted callback endpoint "
    "of the first attempt and times out at once (States.Timeout).",
    "sfn.aws_sdk_responses": "aws-sdk responses holding timestamps (secretsmanager:getSecretValue, "
    "cloudformation:describeStacks) crash describe_execution (not JSON serialisable); "
    "s3:getObject's Body stays a stream object instead of text.",
    "sfn.aws_sdk_error_names": "aws-sdk errors are named after the lower-case API name "
    "(secretsmanager.ResourceNotFoundException), not the service id as on AWS "
    "(SecretsManager.ResourceNotFoundException).",
    "sfn.states_all_excludes_runtime": "States.ALL in Retry/Catch matches States.Runtime and "
    "States.DataLimitExceeded, which AWS never lets a workflow catch or retry.",
    "sfn.jsonpath_definite": "A definite JSONPath through an array index ($.Stacks[0].StackStatus, "
    "$.lines.data[0].price) yields a one-element list instead of the value.",
    "sfn.server_endpoint": "Under a ThreadedMotoServer, service tasks call localhost:5000 "
    "(MOTO_PORT) instead of the port the in-process server listens on.",
}

_install_lock = threading.Lock()
_installed = False
_originals: list[tuple[Any, str, Any]] = []  # (owner, attribute, moto's value), for uninstall


def _patch(owner: Any, name: str, value: Any) -> None:
    _originals.append((owner, name, owner.__dict__[name]))
    setattr(owner, name, value)


def install() -> None:
    """Apply every bridge in `BRIDGES` (idempotent)."""
    global _installed
    require_pinned_moto("stepfunctions_bridge")
    with _install_lock:
        if _installed:
            return
        try:
            _install_simulated_time()
            _install_error_names()
            _install_task_factory()
            _install_states_all()
            _install_jsonpath()
            _install_server_endpoint()
        except Exception:
            _restore()  # never leave moto half-patched
            raise
        _installed = True


def uninstall() -> None:
    """Put moto's own code back (tests use it to show each gap)."""
    global _installed
    with _install_lock:
        _restore()
        _installed = False


def _restore() -> None:
    while _originals:
        owner, name, original = _originals.pop()
        setattr(owner, name, original)


def is_installed() -> bool:
    return _installed


# --------------------------------------------------------------------------- simulated time


class _SimulatedClock:
    """Seconds of Wait/Retry time skipped, per execution ARN (a sum, not wall-clock: waits in
    parallel branches add up)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_execution: dict[str, float] = {}

    def advance(self, execution_arn: str, seconds: float) -> None:
        with self._lock:
            self._by_execution[execution_arn] = self._by_execution.get(execution_arn, 0.0) + seconds

    def seconds(self, execution_arn: str | None = None) -> float:
        with self._lock:
            if execution_arn is None:
                return sum(self._by_execution.values())
            return self._by_execution.get(execution_arn, 0.0)

    def reset(self) -> None:
        with self._lock:
            self._by_execution.clear()


_CLOCK = _SimulatedClock()


def simulated_seconds(execution_arn: str | None = None) -> float:
    """Simulated seconds skipped by one execution, or by all executions when None."""
    return _CLOCK.seconds(execution_arn)


def reset_simulated_time() -> None:
    _CLOCK.reset()


def _execution_arn(env: Any) -> str:
    return env.states.context_object.context_object_data["Execution"]["Id"]


def _state_name(env: Any) -> str | None:
    state = env.states.context_object.context_object_data.get("State") or {}
    return state.get("Name")


def _skip(env: Any, seconds: float, reason: str) -> None:
    if seconds <= 0:
        return
    arn = _execution_arn(env)
    _CLOCK.advance(arn, float(seconds))
    RECORDER.record(
        "sleep_skipped",
        execution_arn=arn,
        seconds=float(seconds),
        reason=reason,
        state=_state_name(env),
    )


def _install_simulated_time() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import (
        MaxAttemptsOutcome,
    )
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import (
        RetrierOutcome,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (
        timestamp,
        wait_function,
    )

    def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        _skip(env, wait_seconds, "wait")

    def _get_wait_seconds(self: Any, env: Any) -> int:
        # moto subtracts naive local time; compare in UTC against the execution's simulated now.
        self.string.eval(env=env)
        timestamp_str: str = env.stack.pop()
        target = self._from_timestamp_string(timestamp=timestamp_str)
        if target is None:
            raise timestamp.FailureEventException(self._create_failure_event(env, timestamp_str))
        now = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
            seconds=_CLOCK.seconds(_execution_arn(env))
        )
        return max(0, int((target.replace(tzinfo=datetime.UTC) - now).total_seconds()))

    def _retrier_eval_body(self: Any, env: Any) -> None:
        # Same steps as moto's RetrierDecl._eval_body, minus time.sleep.
        self.error_equals.eval(env)
        if not env.stack.pop():
            env.stack.append(RetrierOutcome.Skipped)
            return
        self.max_attempts.eval(env=env)
        if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
            env.stack.append(RetrierOutcome.Failed)
            return
        self.interval_seconds.eval(env=env)
        self.backoff_rate.eval(env=env)
        self.max_delay_seconds.eval(env=env)
        self.jitter_strategy.eval(env=env)
        _skip(env, env.stack.pop(), "retry")
        env.stack.append(RetrierOutcome.Executed)

    _patch(wait_function.WaitFunction, "_wait_interval", _wait_interval)
    _patch(timestamp.Timestamp, "_get_wait_seconds", _get_wait_seconds)
    _patch(retrier_decl.RetrierDecl, "_eval_body", _retrier_eval_body)


# --------------------------------------------------------------------------- JSON-safe outputs


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return (
            value.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, StreamingBody):
        return value.read().decode("utf-8", errors="replace")
    return value


def _make_json_safe_in_place(value: Any) -> None:
    """Timestamps, bytes and streams in boto responses -> strings (moto json.dumps outputs)."""
    items: Iterator[tuple[Any, Any]]
    if isinstance(value, dict):
        items = iter(list(value.items()))
    elif isinstance(value, list):
        items = iter(list(enumerate(value)))
    else:
        return
    for key, item in items:
        safe = _json_safe(item)
        if safe is not item:
            value[key] = safe
        else:
            _make_json_safe_in_place(item)


@functools.lru_cache(maxsize=64)
def _operation_model(boto_service: str, snake_action: str) -> Any:
    import botocore.session
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    service_model = botocore.session.get_session().get_service_model(boto_service)
    for operation_name in service_model.operation_names:
        if camel_to_snake_case(operation_name) == snake_action:
            return service_model.operation_model(operation_name)
    raise RuntimeError(f"botocore has no operation {snake_action!r} in service {boto_service!r}")


@functools.lru_cache(maxsize=64)
def _service_error_prefix(boto_service: str) -> str:
    import botocore.session

    service_id = botocore.session.get_session().get_service_model(boto_service).service_id
    return str(service_id).replace(" ", "")


class _ShapeNormalisation:
    """LocalStack's request/response normalisation against the botocore shapes, which moto's port
    left as no-ops: StateMachineArn -> stateMachineArn for boto, executionArn -> ExecutionArn in
    the output, timestamps -> ISO-8601 strings."""

    def _normalise_parameters(
        self: Any,
        parameters: dict,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        super()._normalise_parameters(  # type: ignore[misc]
            parameters,
            boto_service_name=boto_service_name,
            service_action_name=service_action_name,
        )
        model = _operation_model(
            self._get_boto_service_name(boto_service_name),
            self._get_boto_service_action(service_action_name),
        )
        if model.input_shape is not None:
            self._to_boto_request(parameters, model.input_shape)

    def _normalise_response(
        self: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        super()._normalise_response(  # type: ignore[misc]
            response,
            boto_service_name=boto_service_name,
            service_action_name=service_action_name,
        )
        model = _operation_model(
            self._get_boto_service_name(boto_service_name),
            self._get_boto_service_action(service_action_name),
        )
        if model.output_shape is not None:
            self._from_boto_response(response, model.output_shape)
        _make_json_safe_in_place(response)


# --------------------------------------------------------------------------- task factory


def _install_task_factory() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_factory,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (  # noqa: E501
        StateTaskServiceAwsSdk,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (  # noqa: E501
        StateTaskServiceSfn,
    )

    class BridgedStateTaskServiceSfn(_ShapeNormalisation, StateTaskServiceSfn):
        def _normalise_parameters(
            self,
            parameters: dict,
            boto_service_name: str | None = None,
            service_action_name: str | None = None,
        ) -> None:
            super()._normalise_parameters(
                parameters,
                boto_service_name=boto_service_name,
                service_action_name=service_action_name,
            )
            action = self._get_boto_service_action(service_action_name)
            if action == "start_execution" and not parameters.get("name"):
                parameters["name"] = str(uuid.uuid4())  # as AWS names an unnamed execution

        def _eval_integration_pattern(
            self,
            env: Any,
            resource_runtime_part: Any,
            normalised_parameters: dict,
            state_credentials: Any,
        ) -> None:
            # moto makes the callback endpoint once per state, and interrupts it when an attempt
            # ends: a Retry of a .sync task then "times out" at once. Each attempt gets its own.
            if self.resource.condition in (ResourceCondition.Sync, ResourceCondition.Sync2):
                token = env.states.context_object.update_task_token()
                env.callback_pool_manager.add(token)
            super()._eval_integration_pattern(
                env, resource_runtime_part, normalised_parameters, state_credentials
            )

    class BridgedStateTaskServiceAwsSdk(StateTaskServiceAwsSdk):
        # Keys stay as botocore names them (moto's choice; AWS's casing for aws-sdk outputs is
        # not verified here); only values that cannot be serialised are converted.
        def _normalise_response(
            self,
            response: Any,
            boto_service_name: str | None = None,
            service_action_name: str | None = None,
        ) -> None:
            super()._normalise_response(
                response,
                boto_service_name=boto_service_name,
                service_action_name=service_action_name,
            )
            _make_json_safe_in_place(response)

        @staticmethod
        def _normalise_service_error_name(service_name: str) -> str:
            # LocalStack's rule: the botocore serviceId without spaces ("Secrets Manager" ->
            # SecretsManager, SESv2, CloudFormation); moto kept only its explicit names.
            if service_name.lower() in {"dynamodb", "sfn"}:  # DynamoDb, Sfn: checked on AWS
                return StateTaskServiceAwsSdk._normalise_service_error_name(service_name)
            try:
                return _service_error_prefix(service_name.lower())
            except Exception:  # unknown to botocore: keep moto's name
                return service_name

    http_task_class = _make_http_task_class()
    original = state_task_service_factory.state_task_service_for

    def state_task_service_for(service_name: str) -> Any:
        if service_name == "http":
            return http_task_class()
        if service_name == "states":
            return BridgedStateTaskServiceSfn()
        if service_name == "aws-sdk":
            return BridgedStateTaskServiceAwsSdk()
        return original(service_name)

    _patch(state_task_service_factory, "state_task_service_for", state_task_service_for)
    # state_task_factory imported the name; the preprocessor calls it through that module.
    _patch(state_task_factory, "state_task_service_for", state_task_service_for)


# --------------------------------------------------------------------------- error names


_HTTP_ERROR_PREFIX = "States.Http."
_error_name_factory: Any = None  # set by _install_error_names


def _install_error_names() -> None:
    global _error_name_factory
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        iteration_worker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail
    from moto.stepfunctions.parser.asl.parse import preprocessor

    class HttpErrorName(ErrorName):
        """States.Http.* names: reserved-prefix names the HTTP Task itself raises on AWS."""

    def error_name_for(error_name: str | None) -> Any:
        # Stands in for CustomErrorName(...) where moto rebuilds or parses a name: reserved
        # States.* names become what they are instead of a ValueError.
        if error_name is not None and error_name.startswith(_HTTP_ERROR_PREFIX):
            return HttpErrorName(error_name=error_name)
        if error_name is not None and error_name.startswith("States."):
            try:
                return StatesErrorName.from_name(error_name)
            except ValueError:
                pass
        return CustomErrorName(error_name=error_name)

    _error_name_factory = error_name_for
    # ErrorEquals parsing, Fail states, and Parallel/Map re-raising a branch's error.
    for module in (preprocessor, state_fail, branches_decl, iteration_worker):
        _patch(module, "CustomErrorName", error_name_for)


def _install_states_all() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
        ErrorEqualsDecl,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    terminal = {
        StatesErrorNameType.StatesRuntime,
        StatesErrorNameType.StatesStatesDataLimitExceeded,
    }
    original = ErrorEqualsDecl._eval_body

    def _eval_body(self: Any, env: Any) -> None:
        error_name = env.stack[-1]
        if (
            ErrorEqualsDecl._STATE_ALL_ERROR in self.error_names
            and isinstance(error_name, StatesErrorName)
            and error_name.typ in terminal
        ):
            env.stack.pop()
            env.stack.append(False)
            return
        original(self, env)

    _patch(ErrorEqualsDecl, "_eval_body", _eval_body)


# --------------------------------------------------------------------------- JSONPath


def _is_definite(expression: Any) -> bool:
    """Jayway's rule, which Step Functions follows: a path without wildcards, slices, filters,
    unions or deep scans names one value; any other path yields a list."""
    from jsonpath_ng.jsonpath import Child, Fields, Index, Root, This

    if isinstance(expression, (Root, This)):
        return True
    if isinstance(expression, Child):
        return _is_definite(expression.left) and _is_definite(expression.right)
    if isinstance(expression, Fields):
        return len(expression.fields) == 1 and expression.fields[0] != "*"
    if isinstance(expression, Index):
        return len(expression.indices) == 1
    return False


def _install_jsonpath() -> None:
    from jsonpath_ng.ext import parse as parse_uncached
    from moto.stepfunctions.parser.asl.component.common.string import string_expression
    from moto.stepfunctions.parser.asl.component.intrinsic.argument import argument
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations import (  # noqa: E501
        boolean_equals,
        numeric,
        string_operators,
        timestamp_operators,
    )
    from moto.stepfunctions.parser.asl.eval import states
    from moto.stepfunctions.parser.asl.utils import json_path

    # jsonpath_ng builds a new yacc parser for every parse (~5 ms); parsed paths are immutable.
    parse = functools.lru_cache(maxsize=4096)(parse_uncached)

    def extract_json(path: str, data: Any) -> Any:
        expression = parse(path)
        matches = expression.find(data)
        if _is_definite(expression):
            if not matches:
                raise json_path.NoSuchJsonPathError(json_path=path, data=data)
            return matches[0].value
        return [match.value for match in matches]

    for module in (
        json_path,
        string_expression,
        argument,
        boolean_equals,
        numeric,
        string_operators,
        timestamp_operators,
        states,
    ):
        _patch(module, "extract_json", extract_json)


# --------------------------------------------------------------------------- server endpoint


def _serving_moto_servers() -> list[Any]:
    """ThreadedMotoServers running in this process, found through their serving threads."""
    from moto.server import ThreadedMotoServer

    servers = []
    for thread in threading.enumerate():
        owner = getattr(getattr(thread, "_target", None), "__self__", None)
        if (
            isinstance(owner, ThreadedMotoServer)
            and owner._server is not None
            and owner._server_ready_event.is_set()  # cleared by stop()
        ):
            servers.append(owner)
    return servers


def _install_server_endpoint() -> None:
    from moto.stepfunctions.parser.asl.utils import boto_client

    original_port = boto_client.moto_server_port

    def moto_server_port() -> str:
        # Any server in this process shares the backends that executions run against.
        servers = _serving_moto_servers()
        if servers:
            return str(servers[-1].get_host_and_port()[1])
        return original_port()

    _patch(boto_client, "moto_server_port", moto_server_port)


# --------------------------------------------------------------------------- HTTP Task

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

    url = str(endpoint)
    if query:
        url += ("&" if urllib.parse.urlsplit(url).query else "?") + urllib.parse.urlencode(query)
    return {
        "method": method,
        "url": url,
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
        "url": request["url"],
        "routed_to": routed,
        "headers": request["masked_headers"],
        "body": request["masked_data"],
    }
    if not _is_loopback(routed):
        RECORDER.record("http_call", **record, status=None, error="blocked")
        raise RealNetworkCallBlocked(
            f"HTTP Task refused a real network call to {request['url']}: local runs only reach "
            "127.0.0.1; add a route with stepfunctions_bridge.set_http_routes({...})."
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
        raise HttpSocketError(f"{request['method']} {request['url']}: {error}") from error
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
                error_name=_error_name_factory(error),
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
            env.stack.append(invoke_http(normalised_parameters, _execution_arn(env)))

    return StateTaskServiceHttp
