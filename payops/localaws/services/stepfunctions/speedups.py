"""Speed-ups for moto 5.2.5: same behaviour, less work per call (found profiling long replays).

Not gaps in what moto does but in how fast: each is listed in `SPEEDUPS`, installed with the
bridges, undone by `uninstall()`, and has a test showing plain moto's cost and the same results.
Pinned to moto 5.2.5 like the bridges: the patched internals are private.
"""

from __future__ import annotations

import copy
import threading
from importlib import import_module
from typing import Any

from payops.localaws.moto_pin import require_pinned_moto

SPEEDUPS: dict[str, str] = {
    "sfn.parsed_definitions": "Every execution re-parses its whole ASL definition with ANTLR "
    "(30-100 ms each here); now parsed once per definition, and each execution gets a program "
    "no other running execution holds: a finished execution's, or a deep copy (2-30 ms).",
    "sfn.task_clients": "Every Task state's service call built a new boto3 client (~10 ms); "
    "now one per (region, service, endpoint), as boto3 clients are thread-safe.",
    "sqs.send_message_attributes": "SendMessage computed every queue attribute, counting all "
    "messages in the queue, to read ContentBasedDeduplication: O(queue depth) per send, so "
    "queues without a local consumer made long replays quadratic.",
    "events.input_paths": "Every rule delivery through moto (SQS, archive, log targets) "
    "re-parsed each input path with a new jsonpath_ng yacc parser (~5 ms each).",
}

# Modules that bind moto's boto_client_for by name (moto 5.2.5).
_CLIENT_USERS = (
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
# What the parser builds depends on these module attributes, which stepfunctions_bridge patches
# (task classes, error names): a program parsed under other ones must not be reused.
_PARSE_HOOKS = (
    ("exec.state_task.state_task_factory", "state_task_service_for"),
    ("exec.state_task.service.state_task_service_factory", "state_task_service_for"),
    ("fail.state_fail", "CustomErrorName"),
    ("exec.state_parallel.branches_decl", "CustomErrorName"),
    ("exec.state_map.iteration.iteration_worker", "CustomErrorName"),
)
_IDLE_PROGRAMS = 8  # per definition: as many as executions of one machine usually overlap

_lock = threading.Lock()
_installed = False
_originals: list[tuple[Any, str, Any]] = []


def _patch(owner: Any, name: str, value: Any) -> None:
    _originals.append((owner, name, owner.__dict__[name]))
    setattr(owner, name, value)


def install() -> None:
    global _installed
    require_pinned_moto("speedups")
    with _lock:
        if _installed:
            return
        try:
            _install_parsed_definitions()
            _install_task_clients()
            _install_sqs_send_message()
            _install_event_input_paths()
        except Exception:
            _restore()
            raise
        _installed = True


def uninstall() -> None:
    global _installed
    with _lock:
        _restore()
        _installed = False


def is_installed() -> bool:
    return _installed


def _restore() -> None:
    while _originals:
        owner, name, original = _originals.pop()
        setattr(owner, name, original)


def _install_parsed_definitions() -> None:
    """Parse once; hand each execution a program no running execution holds.

    Parsed ASL components keep no per-execution state (that lives in the execution's
    Environment), so a finished execution's program can serve the next one. Only one execution
    at a time uses a program: a lazily set key (EvalComponent.heap_key) must not race.
    """
    from moto.stepfunctions.parser.asl.parse import preprocessor
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    parsed: dict[Any, Any] = {}  # key -> a program never evaluated, to copy
    idle: dict[Any, list[Any]] = {}  # key -> programs of finished executions
    lock = threading.Lock()
    original_logic = ExecutionWorker._execution_logic
    hooks = [(preprocessor, "CustomErrorName")] + [
        (import_module("moto.stepfunctions.parser.asl.component.state." + path), name)
        for path, name in _PARSE_HOOKS
    ]

    def _get_evaluation_entrypoint(self: Any) -> Any:
        # The hooks themselves are in the key (not their ids): compared by identity, and kept
        # alive, so a later function can never be mistaken for them.
        key = (
            self._evaluation_details.state_machine_details.definition,
            *(module.__dict__.get(name) for module, name in hooks),
        )
        with lock:
            program = idle[key].pop() if idle.get(key) else None
            template = parsed.get(key)
        if program is None:
            if template is None:
                template = AmazonStateLanguageParser.parse(key[0])[0]
                with lock:
                    if len(parsed) >= _PROGRAM_CACHE_SIZE:
                        parsed.clear()
                        idle.clear()
                    parsed[key] = template
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

    _patch(ExecutionWorker, "_get_evaluation_entrypoint", _get_evaluation_entrypoint)
    _patch(ExecutionWorker, "_execution_logic", _execution_logic)


def _install_task_clients() -> None:
    from moto.core.models import botocore_stubber
    from moto.stepfunctions.parser.asl.utils import boto_client

    clients: dict[tuple[str, str, str | None], Any] = {}
    lock = threading.Lock()
    original = boto_client.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # The same endpoint choice as moto's (stepfunctions_bridge may patch the server port).
        endpoint = None if botocore_stubber.enabled else str(boto_client.moto_server_port())
        key = (region, service, endpoint)
        with lock:
            client = clients.get(key)
        if client is None:
            client = original(region=region, service=service, state_credentials=state_credentials)
            with lock:
                client = clients.setdefault(key, client)
        return client

    prefix = "moto.stepfunctions.parser.asl.component.state.exec."
    for name in _CLIENT_USERS:
        module = import_module(prefix + name)
        if module.__dict__.get("boto_client_for") is original:
            _patch(module, "boto_client_for", boto_client_for)


def _install_sqs_send_message() -> None:
    from moto.sqs.models import Queue, SQSBackend

    sending = threading.local()
    original_send = SQSBackend.send_message
    original_attributes = Queue.__dict__["attributes"]

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        sending.active = True
        try:
            return original_send(self, *args, **kwargs)
        finally:
            sending.active = False

    def attributes(self: Any) -> dict[str, Any]:
        if getattr(sending, "active", False):
            # All send_message (and add_message) read is ContentBasedDeduplication, which only
            # a FIFO queue has: the same value moto's full attribute dict would give.
            if not self.fifo_queue:
                return {}
            value = getattr(self, "content_based_deduplication", "false")
            return {"ContentBasedDeduplication": str(value).lower()}
        return original_attributes.fget(self)

    _patch(SQSBackend, "send_message", send_message)
    _patch(Queue, "attributes", property(attributes))


def _install_event_input_paths() -> None:
    """moto's EventTemplateParser.parse, with each input path parsed once."""
    import functools
    import json

    from jsonpath_ng.ext import parse as parse_uncached
    from moto.events.utils import EventTemplateParser

    parse = functools.lru_cache(maxsize=1024)(parse_uncached)  # parsed paths are immutable

    def template_parse(
        input_template: str, input_paths_map: dict[str, Any], event: Any
    ) -> dict[str, Any]:
        # Line for line moto 5.2.5's EventTemplateParser.parse, but for the cached parse.
        template = input_template or EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
        paths = input_paths_map or EventTemplateParser.DEFAULT_EVENT_INPUT_PATHS_MAP
        for name in paths:
            matches = parse(paths[name]).find(event)
            result = EventTemplateParser._stringify(matches[0].value) if matches else None
            if result:
                template = template.replace(f"<{name}>", result)
        defaults = {
            "aws.events.event.json": event,
            "aws.events.event.ingestion-time": event["ingestion-time"],
        }
        for name, value in defaults.items():
            template = template.replace(f"<{name}>", EventTemplateParser._stringify(value))
        return json.loads(template)

    _patch(EventTemplateParser, "parse", staticmethod(template_parse))
