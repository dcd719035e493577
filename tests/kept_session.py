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


def share_model_loaders() -> None:
    """Every botocore session of this process reads its JSON (service models, endpoint rules)
    through one loader per data path, so a session made after a mock's start (`boto3.client`
    in a test, a fixture, a handler) parses nothing another has parsed. A session's loader only
    reads those files and keeps what it parsed, unchanged: one shared loader gives each session
    the same data its own would. Before, a test creating three clients in a fresh mock spent
    about half of its time parsing JSON."""
    import functools

    import botocore.loaders
    import botocore.session

    if getattr(botocore.session.create_loader, "shared", False):
        return
    shared = functools.lru_cache(maxsize=None)(botocore.loaders.create_loader)
    shared.shared = True  # type: ignore[attr-defined]
    botocore.session.create_loader = shared
