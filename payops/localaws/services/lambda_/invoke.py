"""Lambda bridge: run a function's Python handler in this process (the pinned moto needs
Docker for it).

`install()` replaces `moto.awslambda.models.LambdaFunction.invoke`, the one place every caller
goes through (boto3 `lambda.invoke` under `mock_aws` and under `ThreadedMotoServer`, SNS and SQS
event sources, Step Functions tasks). The events bridge calls `invoke_function_arn` for
EventBridge targets.

The code comes from a directory registered with `register_code_dir` (CDK assets live in S3
buckets moto does not have), else from the zip moto stored at create time (create_function, or
CloudFormation's inline ZipFile). The handler module is loaded under a name of its own per
function; the function's other modules are kept per function ("warm container") and swapped
into `sys.modules` only during its calls, with its directory first on `sys.path`, as /var/task
is in Lambda. Environment variables are set for the call and restored after; calls are
serialised by one process-wide lock because `os.environ` and `sys.modules` are process-wide.
Under a ThreadedMotoServer (no mock_aws), handlers' SDK calls must be pointed at the server with
`set_endpoint_url`; without it the bridge refuses to run them rather than let them reach AWS.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from payops.localaws.core.patch import Patch
from payops.localaws.core.recorder import RECORDER

GAPS: dict[str, str] = {
    "lambda.in_process_invoke": (
        "Invoke runs the function's Python handler in-process with its environment and a context "
        "object (moto runs Lambda code only in Docker, absent here)"
    ),
    "lambda.execution_role": (
        "the handler's AWS calls are signed with a session of the function's execution role "
        "(moto: the caller's own credentials)"
    ),
}

# A handler that waits (through a moto server thread) on another in-process invocation would
# otherwise hang forever on the lock; fail that call loudly instead. The limit is on one call
# holding the lock, not on the wait: under a storm a call queues behind many short ones (a
# hundred notice runs each invoking the formatter), which is load, not a hang.
LOCK_TIMEOUT_S = 30.0
LOCK_POLL_S = 0.5  # how often a waiting call looks whether the holder is still making progress
LOG_TAIL_BYTES = 4096  # what Lambda returns for LogType=Tail

_lock = threading.RLock()
_held = {"depth": 0, "since": 0.0}  # changed only by the lock's holder: nesting, when it took it
_code_dirs: dict[str, Path] = {}  # function name -> registered source directory
_endpoint_url: str | None = None  # where handlers' SDK calls go when moto runs as a server
_sessions: dict[tuple[str, str], dict[str, str]] = {}  # (account, role ARN) -> credentials
_extract_root: Path | None = None
_FUNCTION_ARN_RE = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(:[^:]+)?$")


@dataclass(frozen=True)
class InvokeResult:
    payload: bytes  # the JSON Lambda returns: the handler's result or an error object
    function_error: str | None  # "Unhandled" when the handler (or its init) failed
    error_type: str | None
    logs: str = ""


@dataclass
class LambdaContext:
    """The part of Lambda's context object that handlers use."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.deadline_ms - time.time() * 1000))


@dataclass
class _Container:
    code_dir: Path
    handler: str
    code_id: str  # changes when the code changes: a new container (cold start)
    module: ModuleType | None = None
    private_modules: dict[str, ModuleType] = field(default_factory=dict)
    # The container's own boto3 default session: it resolves credentials from the function's
    # environment (its role's session) once, as in a Lambda sandbox, instead of reusing the
    # credentials this process's default session cached.
    boto3_session: Any = None


def function_name_of(function_name_or_arn: str) -> str:
    match = _FUNCTION_ARN_RE.match(function_name_or_arn)
    return match.group(1) if match else function_name_or_arn.split(":")[0]


def register_code_dir(function_name_or_arn: str, path: str) -> None:
    """Run this function's code from `path` (a directory holding the handler module)."""
    directory = Path(path).resolve()
    if not directory.is_dir():
        raise ValueError(f"not a directory: {path}")
    with _lock:
        _code_dirs[function_name_of(function_name_or_arn)] = directory


def set_endpoint_url(url: str | None) -> None:
    """The moto server URL handlers' AWS SDK calls go to (AWS_ENDPOINT_URL), e.g.
    "http://localhost:5000" for a ThreadedMotoServer. Not needed under mock_aws."""
    global _endpoint_url
    _endpoint_url = url


def _mock_active() -> bool:
    from moto.core.models import MockAWS

    return bool(MockAWS._mocks_active)


def unregister_code_dirs() -> None:
    with _lock:
        _code_dirs.clear()


def _zip_dir(code: bytes) -> Path:
    """Extract a zip once per content hash into a private temporary directory."""
    global _extract_root
    if _extract_root is None:
        _extract_root = Path(tempfile.mkdtemp(prefix="payops-lambda-"))
        atexit.register(shutil.rmtree, _extract_root, True)
    target = _extract_root / hashlib.sha256(code).hexdigest()[:16]
    if not target.exists():
        partial = target.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            archive.extractall(partial)
        partial.rename(target)
    return target


def _container_for(fn: Any) -> _Container:
    """The function's warm state; kept on moto's function object, so it goes with the function."""
    registered = _code_dirs.get(fn.function_name)
    if registered is not None:
        code_dir, code_id = registered, f"dir:{registered}"
    else:
        code = getattr(fn, "code_bytes", b"") or b""
        if not code:
            raise _InitError(
                "Runtime.InvalidEntrypoint",
                f"no code for function {fn.function_name} in the local AWS: its package is not "
                "in moto (a CDK asset?); call lambda_bridge.register_code_dir(name, path)",
            )
        code_dir, code_id = _zip_dir(code), f"zip:{hashlib.sha256(code).hexdigest()}"
    # New code or configuration means new execution environments (a cold start) in Lambda too.
    code_id += f"|{fn.handler}|{json.dumps(fn.environment_vars, sort_keys=True, default=str)}"
    current = getattr(fn, "_payops_container", None)
    if current is None or current.code_id != code_id:
        current = _Container(code_dir=code_dir, handler=fn.handler or "", code_id=code_id)
        fn._payops_container = current
    return current


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


_listings: dict[Path, tuple[int, frozenset[str]]] = {}


def _top_level_names(code_dir: Path) -> frozenset[str]:
    # Listed again only when the directory changed (its mtime moves when entries come or go).
    stamp = code_dir.stat().st_mtime_ns
    listed = _listings.get(code_dir)
    if listed is not None and listed[0] == stamp:
        return listed[1]
    names = set()
    for entry in code_dir.iterdir():
        if entry.suffix == ".py":
            names.add(entry.stem)
        elif entry.is_dir() and entry.name.isidentifier():
            names.add(entry.name)
    _listings[code_dir] = (stamp, frozenset(names))
    return _listings[code_dir][1]


def _is_from(module: ModuleType, code_dir: Path) -> bool:
    locations = [getattr(module, "__file__", None)] + list(getattr(module, "__path__", []) or [])
    root = str(code_dir) + os.sep
    return any(isinstance(loc, str) and loc.startswith(root) for loc in locations)


# (code dir, module name) -> (that module, whether it is from the code dir): a call's end looks
# at every loaded module, and a module's location does not change while it stays loaded.
_origins: dict[tuple[Path, str], tuple[ModuleType, bool]] = {}


def _is_from_cached(name: str, module: ModuleType, code_dir: Path) -> bool:
    known = _origins.get((code_dir, name))
    if known is None or known[0] is not module:
        if len(_origins) > 100_000:  # many code dirs in one process (tests): start afresh
            _origins.clear()
        known = (module, _is_from(module, code_dir))
        _origins[(code_dir, name)] = known
    return known[1]


_thread_env = threading.local()


class _ThreadOverlayEnviron(os._Environ):  # type: ignore[misc,name-defined]
    """os.environ, plus the running Lambda's variables for the thread that runs it only.

    Rewriting the real os.environ for a call (and clearing it afterwards) races with moto's
    Step Functions threads, which read AWS_* variables at the same time: they saw keys vanish.
    The overlay shares the real environment's storage, so everything else is unchanged.
    """

    def __init__(self, base: Any) -> None:
        super().__init__(
            base._data, base.encodekey, base.decodekey, base.encodevalue, base.decodevalue
        )

    def _overlay(self) -> dict[str, str]:
        return getattr(_thread_env, "env", None) or {}

    def __getitem__(self, key: str) -> str:
        overlay = self._overlay()
        return overlay[key] if key in overlay else super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        return key in self._overlay() or super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        overlay = self._overlay()
        yield from overlay
        yield from (key for key in super().__iter__() if key not in overlay)

    def __len__(self) -> int:
        return len(set(self._overlay()) | set(super().__iter__()))

    def copy(self) -> dict[str, str]:
        return dict(self)


def _install_environ_overlay() -> None:
    if not isinstance(os.environ, _ThreadOverlayEnviron):
        os.environ = _ThreadOverlayEnviron(os.environ)  # noqa: B003 (same storage, not a reset)


@contextlib.contextmanager
def _isolated(container: _Container, env: dict[str, str]) -> Iterator[None]:
    """The function's directory, modules and environment, only for the duration of the call."""
    _install_environ_overlay()
    saved_path = list(sys.path)
    names = _top_level_names(container.code_dir)
    # The host's modules of the names the function ships, warm calls too (names already in
    # private_modules): all put back afterwards, else the host re-imports a second copy.
    # (str.startswith with a tuple, in C, narrows the ~4,000 host modules to a few first.)
    prefixes = tuple(names)
    shadowed = {
        name: module
        for name, module in list(sys.modules.items())
        if (
            (name.startswith(prefixes) and name.split(".")[0] in names)
            or name in container.private_modules
        )
        and module is not container.private_modules.get(name)
    }
    for name in shadowed:
        del sys.modules[name]
    sys.modules.update(container.private_modules)
    # Every module of the function's code is now either one of its private modules or not
    # imported yet: only those and the modules the call imports are looked at afterwards.
    present = set(sys.modules)
    sys.path.insert(0, str(container.code_dir))
    _thread_env.env = dict(env)
    import boto3

    saved_session = boto3.DEFAULT_SESSION
    if container.boto3_session is None:
        container.boto3_session = boto3.Session()  # reads the overlaid environment
    boto3.DEFAULT_SESSION = container.boto3_session
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = saved_session
        for name in (sys.modules.keys() - present) | container.private_modules.keys():
            module = sys.modules.get(name)
            if module is not None and (
                name in container.private_modules
                or _is_from_cached(name, module, container.code_dir)
            ):
                container.private_modules[name] = module
                del sys.modules[name]
        sys.modules.update(shadowed)
        sys.path[:] = saved_path
        _thread_env.env = None


def _load_handler(container: _Container, function_name: str) -> Any:
    module_part, _, attr = container.handler.rpartition(".")
    if not module_part or not attr:
        raise _InitError("Runtime.MalformedHandlerName", f"Bad handler '{container.handler}'")
    if container.module is None:
        rel = Path(*module_part.replace("/", ".").split("."))
        path = container.code_dir / rel.with_suffix(".py")
        if not path.is_file():
            path = container.code_dir / rel / "__init__.py"
        if not path.is_file():
            raise _InitError(
                "Runtime.ImportModuleError",
                f"Unable to import module '{module_part}': No module named '{module_part}'",
            )
        unique = "_payops_lambda_" + re.sub(r"\W", "_", function_name) + "_" + uuid.uuid4().hex[:8]
        spec = importlib.util.spec_from_file_location(unique, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        # In sys.modules while the call lasts (dataclasses and pickle look modules up there);
        # `_isolated` then keeps it with the function's other private modules.
        sys.modules[unique] = module
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            del sys.modules[unique]
            raise _InitError("Runtime.UserCodeSyntaxError", str(exc)) from exc
        except ImportError as exc:
            del sys.modules[unique]
            raise _InitError(
                "Runtime.ImportModuleError", f"Unable to import module '{module_part}': {exc}"
            ) from exc
        except BaseException:
            del sys.modules[unique]  # a failed init is retried from scratch, as in Lambda
            raise
        container.module = module
    handler = getattr(container.module, attr, None)
    if not callable(handler):
        raise _InitError(
            "Runtime.HandlerNotFound", f"Handler '{attr}' missing on module '{module_part}'"
        )
    return handler


def _environment(fn: Any, request_id: str) -> dict[str, str]:
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
        "_HANDLER": fn.handler or "",
        "_X_AMZN_REQUEST_ID": request_id,
    }
    if _endpoint_url:
        env["AWS_ENDPOINT_URL"] = _endpoint_url
    env.update(_role_credentials(fn))
    env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
    return env


def _role_credentials(fn: Any) -> dict[str, str]:
    """A session of the function's execution role, as Lambda gives each function: its calls are
    then signed as that role, so resource policies naming the role (a bus policy) apply."""
    from moto.sts.models import sts_backends

    role_arn = str(getattr(fn, "role", "") or "")
    if not role_arn.startswith("arn:"):
        return {}
    backend = sts_backends[fn.account_id]["aws"]
    key = (fn.account_id, role_arn)
    cached = _sessions.get(key)
    # moto forgets its sessions when a mock ends: reuse one only while the backend has it.
    if cached is None or not any(
        s.access_key_id == cached["AWS_ACCESS_KEY_ID"] for s in backend.assumed_roles
    ):
        session = backend.assume_role(
            region_name=fn.region, role_session_name=fn.function_name[:64], role_arn=role_arn,
            policy="", duration=3600, external_id="",
        )  # fmt: skip
        cached = {
            "AWS_ACCESS_KEY_ID": session.access_key_id,
            "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
            "AWS_SESSION_TOKEN": session.session_token,
        }
        _sessions[key] = cached
    return cached


def _error(error_type: str, message: str, request_id: str, trace: list[str]) -> bytes:
    body = {"errorMessage": message, "errorType": error_type, "requestId": request_id}
    body["stackTrace"] = trace
    return json.dumps(body).encode()


def _acquire_for_invoke() -> bool:
    """Take the invoke lock, waiting as long as the calls before this one keep finishing; False
    once one call has held it for LOCK_TIMEOUT_S (it is stuck, not busy)."""
    while not _lock.acquire(timeout=LOCK_POLL_S):
        since = _held["since"]
        if since and time.monotonic() - since > LOCK_TIMEOUT_S:
            return False
    _held["depth"] += 1
    if _held["depth"] == 1:
        _held["since"] = time.monotonic()
    return True


def _release_after_invoke() -> None:
    _held["depth"] -= 1
    if _held["depth"] == 0:
        _held["since"] = 0.0
    _lock.release()


def invoke_function(fn: Any, event: Any) -> InvokeResult:
    """Run `fn` (a moto LambdaFunction) on `event` (already decoded JSON), like Lambda does."""
    request_id = str(uuid.uuid4())
    if not _acquire_for_invoke():
        message = (
            f"another in-process Lambda call has held the lock for over {LOCK_TIMEOUT_S}s (a "
            "handler waiting on a moto server request that invokes a Lambda function?)"
        )
        RECORDER.record("lambda_invoked", function=fn.function_name, error="LocalBridge.Busy")
        payload = _error("LocalBridge.Busy", message, request_id, [])
        return InvokeResult(payload, "Unhandled", "LocalBridge.Busy")
    logs = io.StringIO()
    try:
        context = LambdaContext(
            function_name=fn.function_name,
            function_version="$LATEST",
            invoked_function_arn=fn.function_arn,
            memory_limit_in_mb=int(fn.memory_size),
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{fn.function_name}",
            log_stream_name=f"local/{request_id}",
            deadline_ms=time.time() * 1000 + float(fn.timeout) * 1000,
        )
        error_type: str | None = None
        try:
            if not (_mock_active() or _endpoint_url or os.environ.get("AWS_ENDPOINT_URL")):
                # Without mock_aws the handler's SDK calls would leave the local AWS.
                raise _InitError(
                    "LocalBridge.NoEndpoint",
                    "mock_aws is not active and no endpoint is set: the handler's AWS calls "
                    "would reach real AWS; call lambda_bridge.set_endpoint_url(server_url)",
                )
            container = _container_for(fn)
            with (
                _isolated(container, _environment(fn, request_id)),
                contextlib.redirect_stdout(logs),
                contextlib.redirect_stderr(logs),
            ):
                handler = _load_handler(container, fn.function_name)
                result = handler(event, context)
            try:
                payload = json.dumps(result).encode()
            except (TypeError, ValueError) as exc:
                error_type = "Runtime.MarshalError"
                payload = _error(error_type, f"Unable to marshal response: {exc}", request_id, [])
        except _InitError as exc:
            error_type = exc.error_type
            payload = _error(error_type, str(exc), request_id, [])
        except SystemExit as exc:
            error_type = "Runtime.ExitError"
            message = f"RequestId: {request_id} Error: Runtime exited with {exc.code!r}"
            payload = _error(error_type, message, request_id, [])
        except Exception as exc:
            error_type = type(exc).__name__
            trace = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
            payload = _error(error_type, str(exc), request_id, [t.rstrip() for t in trace])
        RECORDER.record("lambda_invoked", function=fn.function_name, error=error_type)
        output = logs.getvalue()
        if output:  # into CloudWatch Logs, as moto does for Docker runs
            fn.logs_backend.ensure_log_group(fn.logs_group_name)
            fn.save_logs(output)
        return InvokeResult(payload, "Unhandled" if error_type else None, error_type, output)
    finally:
        _release_after_invoke()


def invoke_function_arn(
    account_id: str, region: str, function_arn: str, event: Any
) -> InvokeResult:
    """Invoke by name or ARN; moto's UnknownFunctionException when there is no such function."""
    from moto.awslambda.utils import get_backend

    fn = get_backend(account_id, region).get_function(function_arn, None)
    return invoke_function(fn, event)


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _patched_invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    from moto.awslambda.exceptions import LambdaClientError

    invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
    if invocation_type == "DryRun":
        return b""
    if isinstance(body, bytes):
        body = body.decode()
    try:
        event = json.loads(body) if body else {}
    except ValueError as exc:
        raise LambdaClientError(
            "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
        ) from exc
    result = invoke_function(self, event)
    if invocation_type == "Event":
        return b""  # Lambda answers 202 with an empty body; the handler has run already
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    tail = result.logs.encode()[-LOG_TAIL_BYTES:]
    response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
    return result.payload


# The moto attributes this module replaces.
_LAMBDA_FUNCTION_INVOKE = Patch("moto.awslambda.models:LambdaFunction", "invoke", _patched_invoke)
PATCHES = (_LAMBDA_FUNCTION_INVOKE,)
