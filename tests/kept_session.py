"""boto3's default session, under moto, made the local AWS's shared one, for code that calls
`boto3.client(...)` (handlers, fixtures).

moto's mock_aws drops boto3's default session at every start, so each client made afterwards
comes from a new session that reads its service's model JSON (and the endpoint rules) again:
~50 ms a service, paid by every test that starts a fresh mock. The shared session
(`core.clients.shared_session`, the one the local AWS's own clients come from) keeps what it has
read, and moto's stub is one of botocore's built-in handlers, so its clients reach whichever
mock is active.
"""

from __future__ import annotations

import boto3

from payops.localaws.core.clients import shared_session


def use_kept_session() -> None:
    """Inside an active mock_aws: boto3's default session becomes the shared one (the mock's
    stop puts back the one from before it started)."""
    boto3.DEFAULT_SESSION = shared_session()
