"""boto3 clients for the local AWS, all made from one session with fake credentials."""

from __future__ import annotations

import threading
from typing import Any

from payops.localaws.core.account import FAKE_CREDENTIALS, REGION

_SESSION: Any = None
_SESSION_LOCK = threading.Lock()


def shared_session() -> Any:
    """The boto3 session kept for the process: a session's loader keeps the service models it
    has read, and moto's mock_aws drops boto3's default session at every start, so clients made
    from that one read each service's model JSON again (a third of a warm local deploy). moto's
    stub is one of botocore's built-in handlers, so this session's clients reach whichever mock
    is active."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            import boto3

            _SESSION = boto3.session.Session()
        return _SESSION


_CLIENTS: dict[tuple[str, str, str | None], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def new_client(service: str, region: str = REGION, endpoint_url: str | None = None) -> Any:
    """The boto3 client of the shared session for this service, region and endpoint, with the
    local AWS's fake credentials; made once per process. Creating one costs 10-15 ms (a copy of
    the session's event hooks, the endpoint rules), and a deploy check alone used ~20. A boto3
    client is thread-safe, holds no state of the mock it ran under (moto's stub is a built-in
    handler) and none of the local AWS's callers adds a hook to one, so every caller can share
    it."""
    key = (service, region, endpoint_url)
    client = _CLIENTS.get(key)
    if client is None:
        with _CLIENTS_LOCK:
            client = _CLIENTS.get(key)
            if client is None:
                client = _CLIENTS[key] = shared_session().client(
                    service, region_name=region, endpoint_url=endpoint_url, **FAKE_CREDENTIALS
                )
    return client


class Clients:
    """boto3 clients for moto: in-process (mock_aws) or a server's endpoint, fake credentials."""

    def __init__(self, endpoint_url: str | None = None, region: str = REGION) -> None:
        if endpoint_url is None:
            from moto.core.models import botocore_stubber

            if not botocore_stubber.enabled:
                raise RuntimeError(
                    "payops.localaws.deploy talks to moto only: run it inside mock_aws() or pass "
                    "the endpoint_url of a moto server"
                )
        self.endpoint_url = endpoint_url
        self.region = region
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            client = new_client(service, self.region, self.endpoint_url)
            if self.endpoint_url is None:  # in-process: straight to moto (core.direct_client)
                from payops.localaws.core.direct_client import direct

                client = direct(client)
            self._clients[service] = client
        return self._clients[service]


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(exc).__name__))
