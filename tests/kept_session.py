"""One boto3 session for the test process, for code that calls `boto3.client(...)` under moto.

moto's mock_aws drops boto3's default session at every start, so each client made afterwards
comes from a new session that reads its service's model JSON (and the endpoint rules) again:
~50 ms a service, paid by every test that starts a fresh mock. A session keeps what it has read,
and moto's stub is one of botocore's built-in handlers, so a kept session's clients reach
whichever mock is active.
"""

from __future__ import annotations

import boto3

_KEPT: list[boto3.session.Session] = []


def use_kept_session() -> None:
    """Inside an active mock_aws: boto3's default session becomes the kept one (the mock's stop
    puts back the one from before it started)."""
    if not _KEPT:
        _KEPT.append(boto3.session.Session())
    boto3.DEFAULT_SESSION = _KEPT[0]
