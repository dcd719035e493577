"""TODO docstring."""

from __future__ import annotations

from typing import Any

from payops.localaws.core.account import FAKE_CREDENTIALS, REGION


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
            import boto3

            self._clients[service] = boto3.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url,
                **FAKE_CREDENTIALS,
            )  # fmt: skip
        return self._clients[service]


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(exc).__name__))
