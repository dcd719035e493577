"""SNS publishes recorded as "sns_published" facts, for traces (behaviour unchanged)."""

from __future__ import annotations

from typing import Any

from payops.localaws.core.patch import Patch
from payops.localaws.core.recorder import recording


def _topic(message: str, arn: str | None = None, *_: Any, **kwargs: Any) -> dict:
    return {
        "topic": (arn or "").rsplit(":", 1)[-1],
        "subject": kwargs.get("subject"),
        "message": message,
    }


def publish_patches() -> list[Patch]:
    from moto.sns.models import SNSBackend

    return [Patch(SNSBackend, "publish", recording("sns_published", SNSBackend.publish, _topic))]
