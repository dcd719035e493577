"""Speed-ups for the pinned moto: same behaviour, less work per call (found profiling long replays).

Not gaps in what moto does but in how fast: each is listed in `SPEEDUPS`, installed with the
bridges, undone by `uninstall()`, and has a test showing plain moto's cost and the same results.
Pinned like the bridges (core/moto_pin.py): the patched internals are private.
"""

from __future__ import annotations

import copy
import marshal
import queue
import sys
import threading
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from importlib import import_module
from types import ModuleType
from typing import Any

from payops.localaws.core.direct_client import direct
from payops.localaws.core.patch import Patch
from payops.localaws.services.stepfunctions import program_store

SPEEDUPS: dict[str, str] = {
    "sfn.parsed_definitions": (
        "Every execution re-parses its whole ASL definition with ANTLR (30-100 ms each here); now"
        " parsed once per definition (CreateStateMachine's validating parse included, so a stack "
        "deployed again parses nothing), and each execution gets a program no other running "
        "execution holds: a finished execution's, or a deep copy (2-30 ms)."
    ),
    "sfn.sll_parses": (
        "moto's ANTLR parse predicts with full LL; ANTLR's SLL prediction gives the same tree or "
        "a syntax error, so it goes first and moto's parse runs on any error (the app's 14 "
        "definitions: 1.12 -> 0.87 s)."
    ),
    "sfn.shared_parses": (
        "Each process of a test session or replay run parsed the app's definitions again (~1.5 s "
        "in a fresh one); a program parsed by one is pickled into their shared directory and "
        "loaded by the others (program_store.py)."
    ),
    "sfn.task_clients": (
        "Every Task state's service call built a new boto3 client (~10 ms); now one per (region, "
        "service, endpoint), as boto3 clients are thread-safe."
    ),
    "sfn.direct_calls": (
        "A Task's call (DynamoDB above all, then Lambda, SNS, EventBridge) went through "
        "botocore's endpoint rules, hooks, signing and retries to reach moto in the same "
        "thread; now botocore's serializer and parser wrap a direct call to moto's handler "
        "(core/direct_client.py), on the cached client."
    ),
    "sfn.result_paths": (
        "Every ResultPath with a path built a new jsonpath_ng yacc parser to parse it (~5 ms); "
        "now each path is parsed once (parsed paths are immutable)."
    ),
    "sfn.thread_lists": (
        "moto appends every interpreter thread to a module-level list nothing reads "
        "(TMP_THREADS), about 20 per Stripe event, so a long replay's memory only grew; now "
        "they are not kept."
    ),
    "sfn.pooled_threads": (
        "The interpreter starts a new thread per execution, per Task state (to time it out) and "
        "per Map iteration, about 20 per Stripe event; now they run on reused worker threads, "
        "started only when none is idle (the same concurrency: a worker per running job)."
    ),
    "sfn.inline_tasks": (
        "Every Task state ran on a second thread while the execution's thread waited for it, "
        "only to time it out; a Task without a TimeoutSeconds of its own (moto's default is "
        "99,999,999 s) now runs on the execution's thread: a thread hand-off less per Task."
    ),
    "sfn.json_copies": (
        "The interpreter deep-copies the state's data (whole Stripe events) several times per "
        "state with copy.deepcopy, a third of a replay's CPU; now JSON trees (dicts, lists, "
        "strings, numbers) are copied by a loop that knows them, anything else by deepcopy."
    ),
    "sfn.program_states": (
        "Every look at an execution's program state (running? ended?) deep-copied it, many "
        "times per state; the states whose fields are all immutable (running, ended, stopped, "
        "timed out) are now copied shallowly, which is as independent."
    ),
}

# Modules that bind moto's boto_client_for by name (the pinned moto).
CLIENT_USERS = (
    "state_map.result_writer.resource_eval.resource_eval_s3",
    "state_map.item_reader.eval.resource_eval_s3",
    "state_task.lambda_eval_utils",
    "state_task.service.state_task_service_unsupported",
    "state_task.service.state_task_service_glue",
    "state_task.service.state_task_service_events",
    "state_task.service.state_task_service_ecs",
    "state_task.service.state_task_service_sqs",
    "state_task.service.state_task_service_sfn",
    "state_task.service.state_task_service_dynamodb",
    "state_task.service.state_task_service_batch",
    "state_task.service.state_task_service_sns",
    "state_task.service.state_task_service_aws_sdk",
)
_PROGRAM_CACHE_SIZE = 256
# What the parser builds depends on these module attributes, which this service's bridges
# patch (task classes, error names): a program parsed under other ones must not be reused.
_PARSE_HOOKS = (
    ("exec.state_task.state_task_factory", "state_task_service_for"),
    ("exec.state_task.service.state_task_service_factory", "state_task_service_for"),
    ("fail.state_fail", "CustomErrorName"),
    ("exec.state_parallel.branches_decl", "CustomErrorName"),
    ("exec.state_map.iteration.iteration_worker", "CustomErrorName"),
)
_IDLE_PROGRAMS = 8  # per definition: as many as executions of one machine usually overlap


# The parse cache outlives an install: every uninstall (a test lifting the bridges) rebuilt it,
# and each later deploy parsed its 14 definitions again (~1.5 s).
_PARSED: dict[Any, Any] = {}  # key -> a program never evaluated, to copy
_IDLE: dict[Any, list[Any]] = {}  # key -> programs of finished executions
_PARSE_LOCK = threading.Lock()


def _stable(hook: Any) -> Any:
    """A parse hook as the cache key holds it. moto's own hooks by identity (compared as objects
    and kept alive, so a later function is never mistaken for them); the bridges' by module and
    qualified name, the same across installs: a reinstall rebuilds the same functions (and their
    classes, which nothing checks by identity), so a program parsed under the last install of
    the bridges is what this one would parse."""
    module = getattr(hook, "__module__", None) or ""
    if module.startswith("payops."):
        return (module, getattr(hook, "__qualname__", type(hook).__qualname__))
    return hook


def parsed_definitions_patches() -> list[Patch]:
    """Parse once; hand each execution a program no running execution holds.

    Parsed ASL components keep no per-execution state (that lives in the execution's
    Environment), so a finished execution's program can serve the next one. Only one execution
    at a time uses a program: a lazily set key (EvalComponent.heap_key) must not race.
    """
    found: list[Patch] = []
    from moto.stepfunctions.parser.asl.parse import preprocessor
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    parsed, idle, lock = _PARSED, _IDLE, _PARSE_LOCK
    original_logic = ExecutionWorker._execution_logic
    original_validate = StepFunctionsParserBackend._validate_definition
    hooks = [(preprocessor, "CustomErrorName")] + [
        (import_module("moto.stepfunctions.parser.asl.component.state." + path), name)
        for path, name in _PARSE_HOOKS
    ]

    def _key(definition: str) -> tuple[Any, ...]:
        return (definition, *(_stable(module.__dict__.get(name)) for module, name in hooks))

    def _remember(key: tuple[Any, ...], template: Any) -> None:
        with lock:
            if len(parsed) >= _PROGRAM_CACHE_SIZE:
                parsed.clear()
                idle.clear()
            parsed[key] = template

    def _parse(key: tuple[Any, ...]) -> Any:
        template = program_store.load(key)  # another process of this session parsed it
        if template is None:
            template = program_store.parse_program(key[0])
            program_store.save(key, template)
        _remember(key, template)
        return template

    def _validate_definition(definition: str) -> None:
        # CreateStateMachine parses to validate: that parse is kept for the executions, and a
        # definition already parsed (a stack deployed again) is known valid.
        key = _key(definition)
        with lock:
            if key in parsed:
                return
        try:
            _parse(key)
        except Exception:
            original_validate(definition)  # moto's own error for it (InvalidDefinition)
            raise

    def _get_evaluation_entrypoint(self: Any) -> Any:
        key = _key(self._evaluation_details.state_machine_details.definition)
        with lock:
            program = idle[key].pop() if idle.get(key) else None
            template = parsed.get(key)
        if program is None:
            if template is None:
                template = _parse(key)
            # Only components, dicts and lists (no backend, no lock): a deep copy is what a
            # fresh parse would give.
            program = copy.deepcopy(template)
        self._payops_program = (key, program)
        return program

    def _execution_logic(self: Any) -> None:
        original_logic(self)  # an execution that raised does not give its program back
        key, program = self.__dict__.pop("_payops_program", (None, None))
        if program is not None:
            with lock:
                programs = idle.setdefault(key, [])
                if key in parsed and len(programs) < _IDLE_PROGRAMS:
                    programs.append(program)

    found.append(Patch(ExecutionWorker, "_get_evaluation_entrypoint", _get_evaluation_entrypoint))
    found.append(Patch(ExecutionWorker, "_execution_logic", _execution_logic))
    found.append(
        Patch(
            StepFunctionsParserBackend,
            "_validate_definition",
            staticmethod(_validate_definition),
        )
    )
    return found


def task_clients_patches() -> list[Patch]:
    found: list[Patch] = []
    from moto.core.models import botocore_stubber
    from moto.stepfunctions.parser.asl.utils import boto_client

    clients: dict[tuple[str, str, str | None], Any] = {}
    lock = threading.Lock()
    original = boto_client.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # The same endpoint choice as moto's (this service's bridges may patch the server port).
        endpoint = None if botocore_stubber.enabled else str(boto_client.moto_server_port())
        key = (region, service, endpoint)
        with lock:
            client = clients.get(key)
        if client is None:
            client = original(region=region, service=service, state_credentials=state_credentials)
            if endpoint is None:  # in-process: straight to moto's handler (sfn.direct_calls)
                client = direct(client)
            with lock:
                client = clients.setdefault(key, client)
        return client

    prefix = "moto.stepfunctions.parser.asl.component.state.exec."
    for name in CLIENT_USERS:
        module = import_module(prefix + name)
        if module.__dict__.get("boto_client_for") is original:
            found.append(Patch(module, "boto_client_for", boto_client_for))
    return found


# Values copy.deepcopy hands back as they are, plus immutable ones it would rebuild equal.
_SAME = frozenset({str, int, float, bool, type(None), bytes, Decimal, datetime, date, time})


def json_copy(value: Any, memo: Any = None) -> Any:
    """copy.deepcopy for the JSON trees a state's data is: as deep, as independent.

    A tree of exactly dicts, lists, strings, numbers, booleans and None goes through `marshal`
    (C: a quarter faster than the loop on a Stripe event; like deepcopy's memo, it keeps an
    object reachable twice as one object). A tree with anything else (a datetime, an enum, a
    FailureEvent, a subclass) is rebuilt by a loop: dicts and lists rebuilt, immutable leaves
    shared, the rest deep-copied; there an object reachable twice is copied twice, which JSON
    data cannot see.
    """
    kind = type(value)
    if kind in _SAME:
        return value
    if kind is dict or kind is list:
        try:
            return marshal.loads(marshal.dumps(value))
        except ValueError:  # "unmarshallable object": not a plain JSON tree
            pass
    return _tree_copy(value, memo)


def _tree_copy(value: Any, memo: Any = None) -> Any:
    kind = type(value)
    if kind in _SAME:
        return value
    if kind is dict:
        return {
            (key if type(key) is str else copy.deepcopy(key)): _tree_copy(item)
            for key, item in value.items()
        }
    if kind is list:
        return [_tree_copy(item) for item in value]
    if isinstance(value, Enum):  # deepcopy gives an enum member back as it is
        return value
    return copy.deepcopy(value, memo)


class _CopyModule(ModuleType):
    """The `copy` module, but for `deepcopy`: what the patched interpreter modules see."""

    def __init__(self) -> None:
        super().__init__("copy")
        self.deepcopy = json_copy

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


# The interpreter's modules (the pinned moto) that deep-copy a state's data per state or step.
_COPYING = (
    "asl.eval.states",
    "asl.eval.environment",
    "asl.eval.event.event_manager",
    "asl.component.common.string.string_expression",
    "asl.component.common.path.result_path",
    "asl.component.intrinsic.function.statesfunction.json_manipulation.json_merge",
    "asl.component.state.exec.execute_state",
    "asl.component.state.exec.state_map.state_map",
    "asl.component.state.exec.state_map.iteration.job",
    "asl.component.state.exec.state_parallel.state_parallel",
    "asl.component.state.exec.state_task.service.state_task_service",
)


def _module_patches(names: tuple[str, ...], attribute: str, expected: Any, by: Any) -> list[Patch]:
    """`attribute` of each moto.stepfunctions.parser module in `names`, which must still hold
    `expected` (the pinned moto), replaced `by`."""
    found = []
    for name in names:
        module = import_module("moto.stepfunctions.parser." + name)
        if module.__dict__.get(attribute) is not expected:
            raise RuntimeError(f"moto.stepfunctions.parser.{name} no longer uses {attribute}")
        found.append(Patch(module, attribute, by, key=f"{name}.{attribute}"))
    return found


def json_copies_patches() -> list[Patch]:
    return _module_patches(_COPYING, "copy", copy, _CopyModule())


def program_states_patches() -> list[Patch]:
    from moto.stepfunctions.parser.asl.eval import program_state
    from moto.stepfunctions.parser.asl.eval.environment import Environment

    # Their attributes are strings, None and a datetime: a shallow copy shares nothing mutable.
    # ProgramError holds a dict (its error details) and keeps moto's deep copy.
    immutable = {
        program_state.ProgramRunning,
        program_state.ProgramEnded,
        program_state.ProgramStopped,
        program_state.ProgramTimedOut,
    }

    def state_of(self: Any) -> Any:
        state = self._program_state
        kind = type(state)
        if kind in immutable:  # copy.copy, without its pickle-protocol round trip
            shallow = object.__new__(kind)
            shallow.__dict__.update(state.__dict__)
            return shallow
        return copy.deepcopy(state)

    return [Patch(Environment, "program_state", state_of)]


def result_paths_patches() -> list[Patch]:
    import functools

    from jsonpath_ng import parse as parse_uncached
    from moto.stepfunctions.parser.asl.component.common.path import result_path

    if result_path.__dict__.get("parse") is not parse_uncached:
        raise RuntimeError("moto's ResultPath no longer parses with jsonpath_ng.parse")
    parse = functools.lru_cache(maxsize=1024)(parse_uncached)
    return [Patch(result_path, "parse", parse, key="result_path.parse")]


class _Pool:
    """Idle daemon workers, reused; a job finding none idle starts one (never waits for one)."""

    IDLE_S = 30.0  # a worker idle this long ends

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, job: Any) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1  # that worker is now promised this job
                self._jobs.put(job)
                return
        threading.Thread(target=self._work, args=(job,), daemon=True, name="sfn-worker").start()

    def _work(self, job: Any) -> None:
        while True:
            job()
            job = None
            with self._lock:
                self._idle += 1
            try:
                job = self._jobs.get(timeout=self.IDLE_S)
            except queue.Empty:
                with self._lock:  # a job put meanwhile was promised to an idle worker: take it
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        self._idle -= 1
                        return


_POOL = _Pool()
_INLINE = threading.local()  # set: the next PooledThread this thread starts runs right here


class PooledThread:
    """What moto's interpreter uses of threading.Thread (start, join, is_alive, daemon, name),
    its target run on a pooled worker. An exception escaping the target goes to
    threading.excepthook, as a thread's would."""

    def __init__(
        self,
        group: Any = None,
        target: Any = None,
        name: str | None = None,
        args: Any = (),
        kwargs: Any = None,
        *,
        daemon: bool | None = None,
    ) -> None:
        self._target, self._args, self._kwargs = target, args, kwargs or {}
        self.name = name or "sfn-job"
        self.daemon = bool(daemon)
        self._done = threading.Event()
        self._started = False
        self.ident: int | None = None  # the worker's, once the target runs (moto logs them)
        self.native_id: int | None = None

    def start(self) -> None:
        if self._started:
            raise RuntimeError("threads can only be started once")
        self._started = True
        if getattr(_INLINE, "next", False):  # a Task with no timeout of its own: see inline_tasks
            _INLINE.next = False
            self._run()
            return
        _POOL.submit(self._run)

    def _run(self) -> None:
        self.ident, self.native_id = threading.get_ident(), threading.get_native_id()
        try:
            if self._target is not None:
                self._target(*self._args, **self._kwargs)
        except BaseException:
            exc_type, exc_value, exc_tb = sys.exc_info()
            threading.excepthook(threading.ExceptHookArgs((exc_type, exc_value, exc_tb, None)))
        finally:
            self._target = self._args = self._kwargs = None  # as Thread.run drops them
            self._done.set()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def is_alive(self) -> bool:
        return self._started and not self._done.is_set()


class _ThreadingModule(ModuleType):
    """The `threading` module, but for `Thread`: what the patched interpreter modules see."""

    def __init__(self) -> None:
        super().__init__("threading")
        self.Thread = PooledThread

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


# Where the pinned moto starts a thread per execution, per state or per iteration, and how
# each module names threading.Thread.
_THREAD_STARTERS = (
    ("backend.execution_worker", "Thread"),
    ("asl.component.state.exec.execute_state", "Thread"),
    ("asl.component.program.program", "threading"),
    ("asl.component.state.exec.state_map.iteration.inline_iteration_component", "threading"),
    ("asl.component.state.exec.state_parallel.branch_worker", "threading"),
)


def pooled_threads_patches() -> list[Patch]:
    def named(attribute: str) -> tuple[str, ...]:
        return tuple(name for name, used in _THREAD_STARTERS if used == attribute)

    return _module_patches(
        named("Thread"), "Thread", threading.Thread, PooledThread
    ) + _module_patches(named("threading"), "threading", threading, _ThreadingModule())


def inline_tasks_patches() -> list[Patch]:
    """A Task state whose timeout is moto's never-set default runs where its execution runs.

    moto evaluates every Task on a new thread so that it can stop waiting after TimeoutSeconds.
    Without a TimeoutSeconds (or TimeoutSecondsPath, or a heartbeat's implied 60 s) there is
    nothing to time out, and the hand-off between the two threads is pure cost. Only the
    thread `_evaluate_with_timeout` itself starts runs inline (the flag is consumed by the
    first start); threads the Task starts (a callback's wait) are pooled as before.
    """
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState

    original = ExecutionState._evaluate_with_timeout
    never_set = TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS

    def _evaluate_with_timeout(self: Any, env: Any) -> None:
        timeout = self.timeout
        if type(timeout) is not TimeoutSeconds or timeout.timeout_seconds != never_set:
            return original(self, env)
        _INLINE.next = True
        try:
            return original(self, env)
        finally:
            _INLINE.next = False

    return [Patch(ExecutionState, "_evaluate_with_timeout", _evaluate_with_timeout)]


class _Discarded(list):  # type: ignore[type-arg]
    """moto's TMP_THREADS, which nothing reads: what is appended is not kept."""

    def append(self, item: Any) -> None:
        pass


# Every module of the pinned moto that appends to TMP_THREADS (moto.stepfunctions.parser.utils).
_THREAD_LISTS = (
    "utils",
    "backend.execution_worker",
    "asl.component.program.program",
    "asl.component.state.exec.execute_state",
    "asl.component.state.exec.state_map.iteration.inline_iteration_component",
    "asl.component.state.exec.state_parallel.branch_worker",
    "asl.component.state.exec.state_task.service.state_task_service_callback",
    "asl.component.test_state.program.test_state_program",
)


def thread_lists_patches() -> list[Patch]:
    """moto keeps every thread the interpreter ever started in a module-level list that
    nothing reads (TMP_THREADS): memory that grew with every Task of a long replay."""
    from moto.stepfunctions.parser import utils

    return _module_patches(_THREAD_LISTS, "TMP_THREADS", utils.TMP_THREADS, _Discarded())
