"""Stripe events as EventBridge delivers them, and reading event files the way users have them.

A file may hold an EventBridge envelope, a bare Stripe Event (wrapped here as the chosen ingress
would), a JSON list of either, or Stripe's list object (`stripe events list`: {"object": "list",
"data": [...]}). A directory means every *.json file in it, sorted by name.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from payops.settings import Settings

LOCAL_ACCOUNT = "000000000000"
LOCAL_REGION = "us-east-1"


class EventFileError(ValueError):
    """A file holds no usable event; str() is one line naming the file and what is wrong."""


@dataclass(frozen=True)
class LoadedEvent:
    label: str  # "path" or "path#index" for lists
    envelope: dict[str, Any]

    @property
    def stripe_event(self) -> dict[str, Any]:
        return self.envelope["detail"]


def is_envelope(obj: Any) -> bool:
    return isinstance(obj, dict) and {"source", "detail-type", "detail"} <= obj.keys()


def is_stripe_event(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("object") == "event"
        and isinstance(obj.get("id"), str)
        and isinstance(obj.get("type"), str)
    )


def wrap(stripe_event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The EventBridge envelope the configured ingress puts around a Stripe Event."""
    created = stripe_event.get("created")
    when = datetime.fromtimestamp(created, UTC) if isinstance(created, int) else datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),  # EventBridge gives every delivery its own id
        "detail-type": stripe_event["type"],
        "source": settings.event_source,
        "account": LOCAL_ACCOUNT,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": LOCAL_REGION,
        "resources": [],
        "detail": stripe_event,
    }


def to_envelope(obj: Any, settings: Settings, label: str) -> dict[str, Any]:
    if is_envelope(obj):
        return obj
    if is_stripe_event(obj):
        return wrap(obj, settings)
    raise EventFileError(
        f"{label}: neither an EventBridge envelope (source, detail-type, detail) nor a Stripe "
        'Event (object "event", id, type)'
    )


def load_events(path: Path, settings: Settings) -> list[LoadedEvent]:
    """The events in one file or directory; raises EventFileError with the file named."""
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise EventFileError(f"{path}: directory has no *.json event files")
        return [event for file in files for event in load_events(file, settings)]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EventFileError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise EventFileError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise EventFileError(
            f"{path}: not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})"
        ) from None
    if (
        isinstance(data, dict)
        and data.get("object") == "list"
        and isinstance(data.get("data"), list)
    ):
        # `stripe events list` prints newest first; deliver oldest first, as they happened.
        data = sorted(data["data"], key=lambda e: e.get("created", 0) if isinstance(e, dict) else 0)
    if isinstance(data, list):
        if not data:
            raise EventFileError(f"{path}: empty list of events")
        return [
            LoadedEvent(f"{path}#{i}", to_envelope(item, settings, f"{path}#{i}"))
            for i, item in enumerate(data)
        ]
    return [LoadedEvent(str(path), to_envelope(data, settings, str(path)))]
