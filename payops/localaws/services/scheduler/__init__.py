"""EventBridge Scheduler: schedules from CloudFormation, and a way to fire one now.

moto gaps bridged here (`SERVICE.gaps`):
- AWS::Scheduler::Schedule
- fire

moto has no CloudFormation model for schedules (its API backend keeps them), and nothing fires a
schedule: `fire(name)` starts its target now, with the schedule's input, as the service would at
the next scheduled time (Step Functions targets only; the target role is not assumed locally).
"""

from __future__ import annotations

from payops.localaws.core.registry import Service
from payops.localaws.services.scheduler import checks, resources
from payops.localaws.services.scheduler.fire import fire

SERVICE = Service(
    name="scheduler",
    gaps={
        **resources.GAPS,
        "fire": "nothing fires schedules locally: fire(name) starts the target now",
    },
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
    provides=("fire",),
)

__all__ = ["SERVICE", "fire"]
