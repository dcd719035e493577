"""Step Functions: moto's ASL interpreter: simulated time, HTTP Task, task integrations, error
names, JSONPath, status-change events.

moto gaps bridged here (`SERVICE.gaps`):
- sfn.simulated_wait
- sfn.simulated_retry_backoff
- sfn.http_invoke
- sfn.states_error_names
- sfn.start_execution
- sfn.aws_sdk_responses
- sfn.aws_sdk_error_names
- sfn.states_all_excludes_runtime
- sfn.jsonpath_definite
- sfn.server_endpoint
- sfn.status_change_events
- AWS::StepFunctions::StateMachine

Speed-ups (same behaviour, less work):
- sfn.parsed_definitions
- sfn.shared_parses
- sfn.sll_parses
- sfn.task_clients
- sfn.json_copies
- sfn.result_paths
- sfn.pooled_threads
- sfn.execution_index
- sfn.inline_tasks
- sfn.thread_lists
- sfn.direct_calls
- sfn.history_details
- sfn.size_quota
- sfn.program_states
- sfn.sync_waits
- sfn.output_paths
- sfn.input_paths
- sfn.execution_outputs
"""

from __future__ import annotations

from payops.localaws.core.patch import Patches
from payops.localaws.core.registry import Service
from payops.localaws.services.stepfunctions import (
    checks,
    error_names,
    history_details,
    lookups,
    resources,
    simulated_time,
    speedups,
    state_copies,
    status_events,
    sync_waits,
    tasks,
)
from payops.localaws.services.stepfunctions.endings import endings, wait_for_an_ending
from payops.localaws.services.stepfunctions.http_task import (
    RealNetworkCallBlocked,
    http_routes,
    invoke_http,
    set_http_routes,
    url_encode_body,
)
from payops.localaws.services.stepfunctions.simulated_time import (
    reset_simulated_time,
    simulated_seconds,
)
from payops.localaws.services.stepfunctions.status_events import status_event

PATCHES = Patches(
    "stepfunctions",
    simulated_time.simulated_time_patches,
    error_names.error_names_patches,
    tasks.task_factory_patches,
    tasks.states_all_patches,
    tasks.jsonpath_patches,
    tasks.server_endpoint_patches,
    *status_events.PATCHES,
)
SPEEDUP_PATCHES = Patches(
    "stepfunctions",
    speedups.parsed_definitions_patches,
    speedups.task_clients_patches,
    speedups.json_copies_patches,
    speedups.result_paths_patches,
    speedups.pooled_threads_patches,
    lookups.execution_index_patches,
    speedups.inline_tasks_patches,
    speedups.thread_lists_patches,
    history_details.history_details_patches,
    history_details.size_quota_patches,
    speedups.program_states_patches,
    sync_waits.sync_waits_patches,
    state_copies.output_paths_patches,
    state_copies.input_paths_patches,
    state_copies.execution_outputs_patches,
)

SERVICE = Service(
    name="stepfunctions",
    gaps={**tasks.GAPS, **status_events.GAPS, **resources.GAPS},
    patches=PATCHES,
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
    speedups={
        **speedups.SPEEDUPS,
        **lookups.SPEEDUPS,
        **history_details.SPEEDUPS,
        **sync_waits.SPEEDUPS,
        **state_copies.SPEEDUPS,
    },
    speedup_patches=SPEEDUP_PATCHES,
    # The HTTP sender (routes, connection auth, recording) is lent to the pipes' API destinations.
    provides=("invoke_http",),
)
install, uninstall, is_installed = PATCHES.install, PATCHES.uninstall, PATCHES.is_installed

__all__ = [
    "endings",
    "wait_for_an_ending",
    "PATCHES",
    "RealNetworkCallBlocked",
    "SERVICE",
    "http_routes",
    "install",
    "invoke_http",
    "is_installed",
    "reset_simulated_time",
    "set_http_routes",
    "simulated_seconds",
    "status_event",
    "uninstall",
    "url_encode_body",
]
