"""Task states' calls to moto through `core.direct_client` (botocore's serializer and parser
around a direct call to moto's handler) instead of botocore's whole HTTP pipeline: a fifth of a
replay was a Task's `dynamodb:updateItem` travelling through endpoint rules, hooks, signing and
retries to reach moto in the same thread."""

from __future__ import annotations

from typing import Any

from payops.localaws.core.direct_client import direct
from payops.localaws.core.patch import Patch

SPEEDUPS: dict[str, str] = {
    "sfn.direct_calls": (
        "A Task's call (DynamoDB above all, then Lambda, SNS, EventBridge) went through "
        "botocore's endpoint rules, hooks, signing and retries to reach moto in the same "
        "thread; now botocore's serializer and parser wrap a direct call to moto's handler."
    ),
}


def direct_calls_patches() -> list[Patch]:
    """Wrap whatever `boto_client_for` the Task modules hold (moto's, or task_clients' cached
    one): the client it returns is used directly only where `direct()` says so."""
    import threading
    from importlib import import_module

    from payops.localaws.services.stepfunctions.speedups import CLIENT_USERS

    lock = threading.Lock()
    wrapped: dict[tuple[str, str], Any] = {}  # one DirectClient per (region, service)
    found: list[Patch] = []
    for name in CLIENT_USERS:
        module = import_module("moto.stepfunctions.parser.asl.component.state.exec." + name)
        inner = module.__dict__.get("boto_client_for")
        if inner is None:
            continue

        def boto_client_for(
            region: str, service: str, state_credentials: Any = None, _inner: Any = inner
        ) -> Any:
            from moto.core.models import botocore_stubber

            if not botocore_stubber.enabled:
                return _inner(region=region, service=service, state_credentials=state_credentials)
            key = (region, service)
            with lock:
                client = wrapped.get(key)
            if client is None:
                client = direct(
                    _inner(region=region, service=service, state_credentials=state_credentials)
                )
                with lock:
                    client = wrapped.setdefault(key, client)
            return client

        found.append(Patch(module, "boto_client_for", boto_client_for, key=f"{name}.direct"))
    return found
