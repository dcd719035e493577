"""Speed-ups for the pinned moto: same behaviour, less work per call (found profiling long replays).

Not gaps in what moto does but in how fast: each is listed in `SPEEDUPS`, installed with the
bridges, undone by `uninstall()`, and has a test showing plain moto's cost and the same results.
Pinned like the bridges (core/moto_pin.py): the patched internals are private.
"""

from __future__ import annotations

import copy
import threading
from importlib import import_module
from typing import Any

from payops.localaws.core.patch import Patch

SPEEDUPS: dict[str, str] = {
    "sfn.parsed_definitions": (
        "Every execution re-parses its whole ASL definition with ANTLR (30-100 ms each here); now"
        " parsed once per definition, and each execution gets a program no other running "
        "execution holds: a finished execution's, or a deep copy (2-30 ms)."
    ),
    "sfn.task_clients": (
        "Every Task state's service call built a new boto3 client (~10 ms); now one per (region, "
        "service, endpoint), as boto3 clients are thread-safe."
    ),
}

# Modules that bind moto's boto_client_for by name (the pinned moto).
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


def parsed_definitions_patches() -> list[Patch]:
    """Parse once; hand each execution a program no running execution holds.

    Parsed ASL components keep no per-execution state (that lives in the execution's
    Environment), so a finished execution's program can serve the next one. Only one execution
    at a time uses a program: a lazily set key (EvalComponent.heap_key) must not race.
    """
    found: list[Patch] = []
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

    found.append(Patch(ExecutionWorker, "_get_evaluation_entrypoint", _get_evaluation_entrypoint))
    found.append(Patch(ExecutionWorker, "_execution_logic", _execution_logic))
    return found


def task_clients_patches() -> list[Patch]:
    found: list[Patch] = []
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
            found.append(Patch(module, "boto_client_for", boto_client_for))
    return found
