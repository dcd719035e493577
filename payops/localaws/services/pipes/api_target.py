"""A pipe's API destination target, called as EventBridge calls it.

The request goes through the Step Functions HTTP Task's sender (routed to the local fakes,
recorded as `http_call`, real network refused), with the destination's endpoint and method, the
connection's credentials and parameters, and the pipe's HttpParameters headers. A non-2xx answer
or an unreachable endpoint fails the batch, so SQS redelivers it and finally dead-letters it.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core import registry
from payops.localaws.core.recorder import RECORDER
from payops.localaws.services.pipes.transform import render

USER_AGENT = "Amazon/EventBridge/ApiDestinations"


def is_api_destination(arn: str) -> bool:
    return ":events:" in arn and ":api-destination/" in arn


def _destination(arn: str) -> Any:
    from moto.events.models import events_backends

    _, _, _, region, account, resource = arn.split(":", 5)
    destination = events_backends[account][region].destinations.get(resource.split("/")[1])
    if destination is None or destination.arn != arn:
        raise RuntimeError(f"API destination not found: {arn}")
    return destination


def call(pipe: Any, event: Any) -> None:
    """Send one event (the enrichment's output element, or the source record) to the target."""
    invoke_http = registry.provided("stepfunctions", "invoke_http")
    params = pipe.target_parameters or {}
    template = params.get("InputTemplate")
    body = render(template, event, pipe) if template else event
    http = params.get("HttpParameters") or {}
    destination = _destination(pipe.target)
    headers = {"User-Agent": USER_AGENT, **(http.get("HeaderParameters") or {})}
    RECORDER.record("pipe_invoked", pipe=pipe.name, target=pipe.target, invocation="api")
    invoke_http(
        {
            "ApiEndpoint": destination.invocation_endpoint,
            "Method": destination.http_method,
            "Authentication": {"ConnectionArn": destination.connection_arn},
            "Headers": headers,
            "QueryParameters": http.get("QueryStringParameters") or {},
            "RequestBody": body,
        }
    )
