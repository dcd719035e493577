"""EventBridge: rules, targets (a sender per target service, as LocalStack's target registry),
partner buses, replays, the bus policy.

moto gaps bridged here (`SERVICE.gaps`):
- events.matching
- events.test_event_pattern
- events.targets
- events.target_input
- events.rule_state
- events.dead_letters
- events.partner_buses
- events.replay
- events.size_limit
- events.sfn_input_limit
- events.reserved_sources
- events.bus_policy
- events.partner_bus_names
- AWS::Events::EventBus
- AWS::Events::Archive
- AWS::Events::Connection
- AWS::Events::ApiDestination

Speed-ups (same behaviour, less work):
- events.input_paths
"""

from __future__ import annotations

from payops.localaws.core.patch import Patches
from payops.localaws.core.registry import Service
from payops.localaws.services.events import bus, bus_policy, checks, resources, speedups, targets
from payops.localaws.services.events.bus import (
    MAX_PUT_EVENTS_BYTES,
    deliver_partner_event,
    entry_size,
)
from payops.localaws.services.events.targets import (
    MAX_BUS_HOPS,
    MAX_EXECUTION_INPUT_BYTES,
    render_input_transformer,
    target_input,
    target_kind,
)

PATCHES = Patches(
    "events",
    *targets.PATCHES,
    *bus.PATCHES,
    *bus_policy.PATCHES,
)
SPEEDUP_PATCHES = Patches(
    "events",
    speedups.event_input_paths_patches,
)

SERVICE = Service(
    name="events",
    gaps={**targets.GAPS, **resources.GAPS},
    patches=PATCHES,
    resource_patches=(*resources.PATCHES,),
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
    speedups=speedups.SPEEDUPS,
    speedup_patches=SPEEDUP_PATCHES,
)
install, uninstall, is_installed = PATCHES.install, PATCHES.uninstall, PATCHES.is_installed

__all__ = [
    "MAX_BUS_HOPS",
    "MAX_EXECUTION_INPUT_BYTES",
    "MAX_PUT_EVENTS_BYTES",
    "PATCHES",
    "SERVICE",
    "deliver_partner_event",
    "entry_size",
    "install",
    "is_installed",
    "render_input_transformer",
    "target_input",
    "target_kind",
    "uninstall",
]
