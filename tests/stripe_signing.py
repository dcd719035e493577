"""Sign webhook payloads the way Stripe does, with stripe-python's own signing code.

Secrets are generated at run time; none is ever written to a file.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

import stripe


def make_signing_secret() -> str:
    """A fresh random webhook signing secret in Stripe's "whsec_..." form."""
    return "whsec_" + secrets.token_urlsafe(24)


def sign(
    payload: str | bytes,
    secret: str,
    timestamp: int | None = None,
    extra_secrets: Sequence[str] = (),
) -> str:
    """A Stripe-Signature header value: "t=<ts>,v1=<sig>[,v1=<sig>...]".

    One v1 signature per secret (`secret` first, then `extra_secrets`), as Stripe sends while a
    signing secret is being rolled. `timestamp` defaults to now.
    """
    text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    ts = int(time.time()) if timestamp is None else timestamp
    scheme = stripe.WebhookSignature.EXPECTED_SCHEME
    parts = [f"t={ts}"]
    for key in (secret, *extra_secrets):
        parts.append(f"{scheme}={stripe.WebhookSignature._compute_signature(f'{ts}.{text}', key)}")
    return ",".join(parts)
