"""What every capability construct receives from the stack."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_sns as sns

from payops.settings import Settings
from stacks.idempotency import IdempotencyTable
from stacks.rule_catalogue import RuleCatalogue
from stacks.targets import RuleTargets


@dataclass
class Shared:
    settings: Settings
    bus_name: str
    bus_arn: str
    # The stack's own events (payops.access, payops.fulfilment): PutEvents cannot target a
    # partner bus, and the webhook bus admits only the receiver.
    app_bus_name: str
    app_bus_arn: str
    catalogue: RuleCatalogue  # .add_target(rule_name, target)
    targets: RuleTargets  # .state_machine(machine) / .topic(...) -> a target with DLQ + retries
    idempotency: IdempotencyTable
    alerts: sns.ITopic | None = None  # staff "payment problems" topic, set after Notifications
