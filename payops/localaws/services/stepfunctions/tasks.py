"""Bridges over the pinned moto's Step Functions interpreter (moto/stepfunctions/parser/).

moto executes ASL for real when `execute_state_machine` is on, but some integrations our workflows
use are missing or broken. Each bridge below subclasses or patches moto's own classes in place,
is registered by name in `BRIDGES` with the gap it closes, and has a test that proves the gap
(without `install()`) and the fix. Patches are class-level, so they hold for `mock_aws` and for a
`ThreadedMotoServer` running in the same process.

Pinned to one moto (core/moto_pin.py): `install()` refuses any other version, because the
patched internals are private and change between releases.
"""

from __future__ import annotations

import datetime
import functools
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from botocore.response import StreamingBody

from payops.localaws.core.patch import Patch
from payops.localaws.services.stepfunctions import program_store
from payops.localaws.services.stepfunctions.http_task import _make_http_task_class

GAPS: dict[str, str] = {
    "sfn.simulated_wait": (
        "Wait states (Seconds/Timestamp/SecondsPath/TimestampPath) really sleep, and Timestamp is"
        " compared with naive local time instead of UTC."
    ),
    "sfn.simulated_retry_backoff": (
        "Retry back-off (IntervalSeconds/BackoffRate/MaxDelaySeconds/JitterStrategy) really "
        "sleeps with time.sleep."
    ),
    "sfn.http_invoke": (
        'arn:aws:states:::http:invoke is unknown: creating the state machine fails with "Unknown '
        "service 'http'\"."
    ),
    "sfn.states_error_names": (
        "ErrorEquals on States.Http.StatusCode.<code>/States.Http.Socket is rejected as an "
        "illegal custom name, and a Parallel/Map branch failing with a States.* error "
        "(States.TaskFailed, States.Timeout...) crashes with ValueError, becoming States.Runtime;"
        " so does a Fail state with a States.* Error."
    ),
    "sfn.start_execution": (
        "states:startExecution(.sync/.sync:2) fails with KeyError 'StateMachineArn' (parameter "
        "names not normalised); its datetime output is unserialisable; without a Name every child"
        " is named 'None', so a second start fails ExecutionAlreadyExists (AWS generates a UUID);"
        " a Retry of a .sync task reuses the interrupted callback endpoint of the first attempt "
        "and times out at once (States.Timeout)."
    ),
    "sfn.aws_sdk_responses": (
        "aws-sdk responses holding timestamps (secretsmanager:getSecretValue, "
        "cloudformation:describeStacks) crash describe_execution (not JSON serialisable); "
        "s3:getObject's Body stays a stream object instead of text."
    ),
    "sfn.aws_sdk_error_names": (
        "aws-sdk errors are named after the lower-case API name "
        "(secretsmanager.ResourceNotFoundException), not the service id as on AWS "
        "(SecretsManager.ResourceNotFoundException)."
    ),
    "sfn.states_all_excludes_runtime": (
        "States.ALL in Retry/Catch matches States.Runtime and States.DataLimitExceeded, which AWS"
        " never lets a workflow catch or retry."
    ),
    "sfn.jsonpath_definite": (
        "A definite JSONPath through an array index ($.Stacks[0].StackStatus, "
        "$.lines.data[0].price) yields a one-element list instead of the value."
    ),
    "sfn.server_endpoint": (
        "Under a ThreadedMotoServer, service tasks call localhost:5000 (MOTO_PORT) instead of the"
        " port the in-process server listens on."
    ),
}


# --------------------------------------------------------------------------- simulated time


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


def task_factory_patches() -> list[Patch]:
    found: list[Patch] = []
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

    @program_store.shared_by_name
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

    @program_store.shared_by_name
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
            try:  # an integration name boto3 spells otherwise (cognitoidentityprovider)
                boto_name = StateTaskServiceAwsSdk._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES.get(
                    service_name.lower(), service_name.lower()
                )
                return _service_error_prefix(boto_name)
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

    found.append(
        Patch(state_task_service_factory, "state_task_service_for", state_task_service_for)
    )
    # state_task_factory imported the name; the preprocessor calls it through that module.
    found.append(Patch(state_task_factory, "state_task_service_for", state_task_service_for))
    return found


# --------------------------------------------------------------------------- error names


def states_all_patches() -> list[Patch]:
    found: list[Patch] = []
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

    found.append(Patch(ErrorEqualsDecl, "_eval_body", _eval_body))
    return found


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


def _field_names(expression: Any) -> tuple[str, ...] | None:
    """The names of a path that is `$` then single plain fields (`$.detail.data.object`,
    `$['detail-type']`), or None for any other path."""
    from jsonpath_ng.jsonpath import Child, Fields, Root

    names: list[str] = []
    while type(expression) is Child:
        field = expression.right
        if type(field) is not Fields or len(field.fields) != 1 or field.fields[0] == "*":
            return None
        names.append(field.fields[0])
        expression = expression.left
    return tuple(reversed(names)) if type(expression) is Root else None


_MISSING = object()


def jsonpath_patches() -> list[Patch]:
    found: list[Patch] = []
    from jsonpath_ng import jsonpath
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

    # jsonpath_ng builds a new yacc parser for every parse (~5 ms); parsed paths are immutable,
    # so each path's parse, definiteness and field names are kept.
    @functools.lru_cache(maxsize=4096)
    def plan(path: str) -> tuple[Any, bool, tuple[str, ...] | None]:
        expression = parse_uncached(path)
        return expression, _is_definite(expression), _field_names(expression)

    def find(path: str, data: Any) -> Any:
        expression, definite, _ = plan(path)
        matches = expression.find(data)
        if definite:
            if not matches:
                raise json_path.NoSuchJsonPathError(json_path=path, data=data)
            return matches[0].value
        return [match.value for match in matches]

    def extract_json(path: str, data: Any) -> Any:
        # Most paths are `$` and plain fields: walked as jsonpath_ng's Fields finds each step
        # (`value.get(name)`; no such key, or a value without `get`: nothing found), without
        # its DatumInContext per step. Every other path, and a name jsonpath_ng gives its
        # auto-id meaning, goes through jsonpath_ng (`find`).
        names = plan(path)[2]
        if names is None or jsonpath.auto_id_field in names:
            return find(path, data)
        value = data
        for name in names:
            try:
                value = value.get(name, _MISSING)
            except (TypeError, AttributeError):
                value = _MISSING
            if value is _MISSING:
                raise json_path.NoSuchJsonPathError(json_path=path, data=data)
        return value

    extract_json.find = find  # type: ignore[attr-defined]  # the general way, for tests

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
        found.append(Patch(module, "extract_json", extract_json))
    return found


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


def server_endpoint_patches() -> list[Patch]:
    found: list[Patch] = []
    from moto.stepfunctions.parser.asl.utils import boto_client

    original_port = boto_client.moto_server_port

    def moto_server_port() -> str:
        # Any server in this process shares the backends that executions run against.
        servers = _serving_moto_servers()
        if servers:
            return str(servers[-1].get_host_and_port()[1])
        return original_port()

    found.append(Patch(boto_client, "moto_server_port", moto_server_port))
    return found


# --------------------------------------------------------------------------- HTTP Task
