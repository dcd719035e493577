"""The fake Stripe API's events: GET /v1/events, /v1/events/{id} and /v2/core/events/{id}.

Stripe keeps every event of the last 30 days and lists them newest first. The fake knows the
events it has seen (each replayed or served event, `FakeStripe.observe`), the events of
`--stripe-data` files (`stripe events list` output: a list object of events), and events a test
says Stripe created but never delivered (`FakeStripe.never_delivered`). Thin events (v1 resources
in thin form and v2 event notifications, `object: "v2.core.event"`) are kept apart, as Stripe's
v2 Events API serves them.

`delivery_success=false` answers the events marked as never delivered, and `--stripe-data`
events with `pending_webhooks > 0` (Stripe: "events which are still pending or have failed all
delivery attempts"); `true` answers the others.
"""

from __future__ import annotations

import copy
import fnmatch
from typing import Any

from payops.localaws.fakes.stripe_objects import StripeError, _allow, _missing

_LIST_PARAMS = frozenset(
    {"created", "type", "types", "delivery_success", "starting_after", "ending_before", "limit"}
)
_RANGE_OPS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def _integer(value: Any, param: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise StripeError(400, f"Invalid integer: {value}", param=param) from None


class EventLog:
    """Snapshot events (v1) and thin events (v2), as Stripe's Events APIs answer them."""

    def __init__(self) -> None:
        self._events: dict[str, dict[str, Any]] = {}
        self._order: dict[str, int] = {}  # insertion order breaks ties of `created`
        self._undelivered: set[str] = set()
        self._thin: dict[str, dict[str, Any]] = {}
        self._objects: dict[str, dict[str, Any]] = {}  # URL path -> a thin event's related object

    # -- what Stripe knows ---------------------------------------------------------------------
    def add(self, event: dict[str, Any], *, delivered: bool = True) -> None:
        """A snapshot event Stripe created (kept once per id; `delivered=False` marks it as one
        whose delivery failed, for `delivery_success=false`)."""
        event_id = event.get("id")
        if not isinstance(event_id, str) or event.get("object") != "event":
            return
        if event_id not in self._events:
            self._events[event_id] = copy.deepcopy(event)
            self._order[event_id] = len(self._order)
        if not delivered:
            self._undelivered.add(event_id)

    def add_from_data(self, event: dict[str, Any]) -> None:
        pending = event.get("pending_webhooks")
        self.add(event, delivered=not (isinstance(pending, int) and pending > 0))

    def add_thin(self, event: dict[str, Any]) -> None:
        """A v2 Event as `GET /v2/core/events/{id}` returns it (id, type, related_object, ...)."""
        self._thin[str(event["id"])] = copy.deepcopy(event)

    def add_object(self, url: str, obj: dict[str, Any]) -> None:
        """A related object a thin event points to (`related_object.url`), served as is."""
        self._objects[url] = copy.deepcopy(obj)

    def object_at(self, path: str) -> dict[str, Any] | None:
        found = self._objects.get(path)
        return copy.deepcopy(found) if found is not None else None

    def forget(self, event_id: str) -> None:
        """Past Stripe's 30 days (or never existed): every fetch of it is a 404."""
        self._events.pop(event_id, None)
        self._thin.pop(event_id, None)

    # -- answering -----------------------------------------------------------------------------
    def get(self, event_id: str, params: dict[str, Any]) -> dict[str, Any]:
        params.pop("expand", None)
        _allow(params, set())
        if event_id not in self._events:
            raise _missing("event", event_id)
        return copy.deepcopy(self._events[event_id])

    def get_v2(self, event_id: str, params: dict[str, Any]) -> dict[str, Any]:
        _allow(params, set())
        if event_id not in self._thin:
            raise StripeError(404, f"No such event: '{event_id}'", code="resource_missing")
        return copy.deepcopy(self._thin[event_id])

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        _allow(params, _LIST_PARAMS)
        if "type" in params and "types" in params:
            raise StripeError(400, "You may pass either type or types, but not both.")
        limit = 10 if params.get("limit") is None else _integer(params["limit"], "limit")
        if not 1 <= limit <= 100:
            raise StripeError(400, "Invalid limit: must be between 1 and 100", param="limit")
        ordered = sorted(
            self._events.values(),
            key=lambda e: (-int(e.get("created") or 0), -self._order[e["id"]]),
        )
        matching = [e for e in ordered if self._matches(e, params)]
        ids = [e["id"] for e in matching]
        if params.get("starting_after"):
            cursor = params["starting_after"]
            if cursor not in self._events:
                raise _missing("event", cursor, "starting_after")
            start = ids.index(cursor) + 1 if cursor in ids else 0
            rest = matching[start:]
            page, has_more = rest[:limit], len(rest) > limit
        elif params.get("ending_before"):
            cursor = params["ending_before"]
            if cursor not in self._events:
                raise _missing("event", cursor, "ending_before")
            before = matching[: ids.index(cursor)] if cursor in ids else []
            page, has_more = before[-limit:], len(before) > limit
        else:
            page, has_more = matching[:limit], len(matching) > limit
        return {
            "object": "list",
            "data": [copy.deepcopy(e) for e in page],
            "has_more": has_more,
            "url": "/v1/events",
        }

    def _matches(self, event: dict[str, Any], params: dict[str, Any]) -> bool:
        created = params.get("created")
        if isinstance(created, dict):
            for op, bound in created.items():
                if op not in _RANGE_OPS:
                    raise StripeError(400, f"Received unknown parameter: created[{op}]")
                if not _RANGE_OPS[op](event.get("created") or 0, _integer(bound, "created")):
                    return False
        elif created is not None and event.get("created") != _integer(created, "created"):
            return False
        if "type" in params and not fnmatch.fnmatchcase(str(event.get("type")), params["type"]):
            return False
        types = params.get("types")
        if types is not None:
            if not isinstance(types, list) or len(types) > 20:
                raise StripeError(400, "types: an array of up to 20 event types", param="types")
            if event.get("type") not in types:
                return False
        success = params.get("delivery_success")
        if success is not None:
            if success not in ("true", "false"):
                raise StripeError(400, f"Invalid boolean: {success}", param="delivery_success")
            if (success == "true") == (event["id"] in self._undelivered):
                return False
        return True
