"""EventBridge buses: event patterns, bus names and ARNs, partner buses and their sources, the
PutEvents size limit and source check, Stripe's partner delivery, archive replays."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from payops.localaws.core.patch import Patch
from payops.localaws.services.events import bus_policy
from payops.localaws.services.events.targets import _epoch

# PutEvents: the entries of one request may total 1 MiB (256 KiB before 2026-01-29).
MAX_PUT_EVENTS_BYTES = 1024 * 1024


_TEST_EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")


def _parse_pattern(self: Any) -> dict[str, Any]:
    from moto.events.exceptions import InvalidEventPatternException

    from payops import patterns

    parsed = _EVENT_PATTERN_PARSER_PARSE.original(self)
    if self.pattern:
        try:
            patterns.validate_pattern(parsed)
        except patterns.PatternError as exc:
            raise InvalidEventPatternException(reason=str(exc)) from exc
    return parsed


def _backend_test_event_pattern(self: Any, event_pattern: str, event: str) -> bool:
    from moto.events.exceptions import InvalidEventPatternException, ValidationException
    from moto.events.models import EventPatternParser

    from payops import patterns

    if not event_pattern:
        raise InvalidEventPatternException(reason="Event pattern is required")
    pattern = EventPatternParser(event_pattern).parse()  # validates (see _parse_pattern)
    try:
        parsed = json.loads(event)
    except (TypeError, ValueError) as exc:
        raise ValidationException("Parameter Event is not valid.") from exc
    missing = [
        name for name in _TEST_EVENT_FIELDS if not isinstance(parsed, dict) or name not in parsed
    ]
    if missing:
        raise ValidationException(
            "Parameter Event is not valid. Reason: the event must have the fields "
            + ", ".join(_TEST_EVENT_FIELDS)
            + f"; missing {', '.join(missing)}"
        )
    return patterns.matches(pattern, parsed)


def _handler_test_event_pattern(self: Any) -> str:
    result = self.events_backend.test_event_pattern(
        self._get_param("EventPattern"), self._get_param("Event")
    )
    return json.dumps({"Result": result})


def _normalize_event_bus_arn(self: Any, event_bus_arn: str | None) -> str:
    # AWS takes a bus name or ARN; partner bus names contain "/", so only an ARN is split.
    if isinstance(event_bus_arn, str) and event_bus_arn:
        if event_bus_arn.startswith("arn:") and ":event-bus/" in event_bus_arn:
            return event_bus_arn.split(":event-bus/", 1)[1]
        return event_bus_arn
    return _EVENTS_BACKEND_NORMALIZE_EVENT_BUS_ARN.original(self, event_bus_arn)


def _create_event_bus(
    self: Any, name: str, event_source_name: str | None = None, **kwargs: Any
) -> Any:
    from moto.core.exceptions import JsonRESTError

    if event_source_name:
        if event_source_name != name:
            raise JsonRESTError(
                "ValidationException",
                f"Event bus name {name} must match the name of its event source "
                f"{event_source_name}.",
            )
        if event_source_name not in self.event_sources and name.startswith("aws.partner/"):
            # In AWS the partner (Stripe) creates the source; locally it appears on demand.
            self.create_partner_event_source(name, self.account_id)
    return _EVENTS_BACKEND_CREATE_EVENT_BUS.original(
        self, name, event_source_name=event_source_name, **kwargs
    )


def _source_allowed(self: Any, entry: dict[str, Any]) -> bool:
    source = entry.get("Source") or ""
    if not source.startswith("aws."):
        return True
    # Stripe's delivery, emulated: a partner bus takes events whose source is its own name.
    bus_name = self._normalize_event_bus_arn(entry.get("EventBusName"))
    return source.startswith("aws.partner/") and source == bus_name


def entry_size(entry: dict[str, Any]) -> int:
    """A PutEvents entry's size as AWS counts it (eb-putevent-size): 14 bytes for Time if set,
    then the UTF-8 bytes of Source, DetailType, Detail and each Resources entry."""
    size = 14 if entry.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(name) or "").encode("utf-8"))
    return size + sum(len(str(r).encode("utf-8")) for r in entry.get("Resources") or [])


def _put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from moto.events.exceptions import ValidationException

    if len(events) > 10:
        return _EVENTS_BACKEND_PUT_EVENTS.original(self, events)  # moto's own error
    if sum(entry_size(entry) for entry in events) > MAX_PUT_EVENTS_BYTES:
        raise ValidationException("Total size of the entries in the request is over the limit.")
    results: list[dict[str, Any] | None] = [None] * len(events)
    allowed: list[int] = []
    for index, entry in enumerate(events):
        refused = bus_policy.refusal(self, entry)  # an explicit Deny in the bus policy
        if refused is not None:
            results[index] = refused
        elif _source_allowed(self, entry):
            allowed.append(index)
        else:
            results[index] = {
                "ErrorCode": "NotAuthorizedForSourceException",
                "ErrorMessage": "Not authorized for the source.",
            }
    if allowed:
        delivered = _EVENTS_BACKEND_PUT_EVENTS.original(self, [events[i] for i in allowed])
        for index, entry in zip(allowed, delivered, strict=True):
            results[index] = entry
    return [entry for entry in results if entry is not None]


def _put_partner_events(self: Any, entries: list[dict[str, Any]]) -> None:
    from moto.events.models import events_backends

    # AWS routes a partner event to the bus matched with its event source (moto: default bus).
    for entry in entries:
        source = entry["Source"]
        for account_id in self.partner_event_sources[source].accounts:
            backend = events_backends[account_id][self.region_name]
            if source in backend.event_buses:
                backend.put_events([dict(entry, EventBusName=source)])


def deliver_partner_event(entry: dict[str, Any], account: str, region: str) -> str:
    """Stripe's delivery of one event onto its partner event bus: "accepted" or "refused: why".

    The partner side delivers, not a PutEvents call in the account (AWS refuses a partner bus
    name there), so no caller is recorded and no bus policy is asked; the size limit and the
    source check of `_put_events` apply as they do to Stripe.
    """
    from moto.core.exceptions import JsonRESTError, ServiceException
    from moto.events.models import events_backends

    try:
        result = events_backends[account][region].put_events([entry])[0]
    except (JsonRESTError, ServiceException) as err:  # over the 1 MiB limit: Stripe sees it fail
        return f"refused: {getattr(err, 'message', err)}"
    return "accepted" if "EventId" in result else f"refused: {result.get('ErrorMessage')}"


def _replay_events(self: Any, archive: Any) -> None:
    from moto.events.models import ReplayState, events_backends

    backend = events_backends[self.account_id][self.region]
    bus = backend._get_event_bus(self.destination["Arn"])  # the full name: partner buses too
    only = set(self.destination.get("FilterArns") or [])
    start, end = _epoch(self.event_start_time), _epoch(self.event_end_time)
    for archived in list(archive.events):
        if not start <= _epoch(archived.get("time")) <= end:
            continue
        event = dict(archived, **{"id": str(uuid.uuid4()), "replay-name": self.name})
        for rule in list(bus.rules.values()):
            if not only or rule.arn in only:
                rule.send_to_targets(dict(event))
    self.state = ReplayState.COMPLETED
    self.end_time = time.time()


# The moto attributes this module replaces.
_EVENT_PATTERN_PARSER_PARSE = Patch(
    "moto.events.models:EventPatternParser", "parse", _parse_pattern
)
_EVENTS_BACKEND_TEST_EVENT_PATTERN = Patch(
    "moto.events.models:EventsBackend", "test_event_pattern", _backend_test_event_pattern
)
_EVENTS_HANDLER_TEST_EVENT_PATTERN = Patch(
    "moto.events.responses:EventsHandler", "test_event_pattern", _handler_test_event_pattern
)
_EVENTS_BACKEND_NORMALIZE_EVENT_BUS_ARN = Patch(
    "moto.events.models:EventsBackend", "_normalize_event_bus_arn", _normalize_event_bus_arn
)
_EVENTS_BACKEND_CREATE_EVENT_BUS = Patch(
    "moto.events.models:EventsBackend", "create_event_bus", _create_event_bus
)
_EVENTS_BACKEND_PUT_EVENTS = Patch("moto.events.models:EventsBackend", "put_events", _put_events)
_EVENTS_BACKEND_PUT_PARTNER_EVENTS = Patch(
    "moto.events.models:EventsBackend", "put_partner_events", _put_partner_events
)
_REPLAY_REPLAY_EVENTS = Patch("moto.events.models:Replay", "replay_events", _replay_events)
PATCHES = (
    _EVENT_PATTERN_PARSER_PARSE,
    _EVENTS_BACKEND_TEST_EVENT_PATTERN,
    _EVENTS_HANDLER_TEST_EVENT_PATTERN,
    _EVENTS_BACKEND_NORMALIZE_EVENT_BUS_ARN,
    _EVENTS_BACKEND_CREATE_EVENT_BUS,
    _EVENTS_BACKEND_PUT_EVENTS,
    _EVENTS_BACKEND_PUT_PARTNER_EVENTS,
    _REPLAY_REPLAY_EVENTS,
)
