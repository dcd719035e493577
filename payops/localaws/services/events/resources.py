"""EventBridge's CloudFormation resource bridges: AWS::Events::Archive (in place of moto's model:
the EventPattern object as JSON text, names within 48 characters), AWS::Events::Connection and
AWS::Events::ApiDestination (moto skips both), and patches to moto's EventBus model: Ref gives the
bus name and its Policy property is applied.
"""

from __future__ import annotations

import json
from typing import Any

from payops.localaws.core.patch import Patch
from payops.localaws.core.resources import BridgedResource, json_text


def _events(account_id: str, region_name: str) -> Any:
    from moto.events.models import events_backends

    return events_backends[account_id][region_name]


class EventsArchive(BridgedResource):
    TYPE = "AWS::Events::Archive"
    NAME_PROPERTY = "ArchiveName"
    NAME_LIMIT = 48
    ATTRIBUTES = ("Arn", "ArchiveName")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _events(account_id, region_name)
        pattern = properties.get("EventPattern")
        archive = backend.create_archive(
            name,
            properties["SourceArn"],
            properties.get("Description"),
            None if pattern is None else json_text(pattern),
            properties.get("RetentionDays"),
        )
        archive.event_bus_name = backend._get_event_bus(properties["SourceArn"]).name
        return cls(
            archive.name,
            {"Arn": archive.arn, "ArchiveName": archive.name},
            lambda: archive.delete(account_id, region_name),
            archive,
        )


class EventsConnection(BridgedResource):
    TYPE = "AWS::Events::Connection"
    NAME_PROPERTY = "Name"
    NAME_LIMIT = 64
    ATTRIBUTES = ("Arn", "ArnForPolicy", "SecretArn")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _events(account_id, region_name)
        connection = backend.create_connection(
            name,
            properties.get("Description"),
            properties["AuthorizationType"],
            properties.get("AuthParameters") or {},
        )
        return cls(
            name,
            {
                "Arn": connection.arn,
                "ArnForPolicy": connection.arn.rsplit("/", 1)[0],
                "SecretArn": connection.secret_arn,
            },
            lambda: backend.delete_connection(name),
            connection,
        )


class EventsApiDestination(BridgedResource):
    TYPE = "AWS::Events::ApiDestination"
    NAME_PROPERTY = "Name"
    NAME_LIMIT = 64
    ATTRIBUTES = ("Arn", "ArnForPolicy")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _events(account_id, region_name)
        backend.create_api_destination(
            name,
            properties.get("Description"),
            properties["ConnectionArn"],
            properties["InvocationEndpoint"],
            properties.get("InvocationRateLimitPerSecond"),
            properties["HttpMethod"],
        )
        destination = backend.destinations[name]
        return cls(
            name,
            {"Arn": destination.arn, "ArnForPolicy": destination.arn.rsplit("/", 1)[0]},
            lambda: backend.delete_api_destination(name),
            destination,
        )


def _event_bus_physical_id(self: Any) -> str:
    return self.name


def _create_event_bus(cls: Any, resource_name: str, cloudformation_json: Any, *args: Any,
                      **kwargs: Any) -> Any:  # fmt: skip
    """moto's EventBus, with its Policy property applied (moto drops it)."""
    original = _EVENT_BUS_CREATE_FROM_CLOUDFORMATION_JSON.original.__func__
    bus = original(cls, resource_name, cloudformation_json, *args, **kwargs)
    policy = (cloudformation_json.get("Properties") or {}).get("Policy")
    if policy:
        bus.add_policy(json.loads(policy) if isinstance(policy, str) else policy)
    return bus


GAPS: dict[str, str] = {
    "AWS::Events::EventBus": (
        "Ref returns the bus name (moto returns its model object); Policy is applied (moto drops "
        "it)"
    ),
    "AWS::Events::Archive": (
        "EventPattern is taken as an object, names stay within 48 characters, Ref returns the "
        "name (moto crashes on the object pattern)"
    ),
    "AWS::Events::Connection": ("created on moto's events backend (moto: skipped)"),
    "AWS::Events::ApiDestination": ("created on moto's events backend (moto: skipped)"),
}


# The moto attributes this module replaces.
_EVENT_BUS_PHYSICAL_RESOURCE_ID = Patch(
    "moto.events.models:EventBus", "physical_resource_id", property(_event_bus_physical_id)
)
_EVENT_BUS_CREATE_FROM_CLOUDFORMATION_JSON = Patch(
    "moto.events.models:EventBus", "create_from_cloudformation_json", classmethod(_create_event_bus)
)
PATCHES = (_EVENT_BUS_PHYSICAL_RESOURCE_ID, _EVENT_BUS_CREATE_FROM_CLOUDFORMATION_JSON)

RESOURCES = (EventsArchive, EventsConnection, EventsApiDestination)
