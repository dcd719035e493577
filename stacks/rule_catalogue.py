"""One EventBridge rule per file in `rules/` with its effective pattern: Stripe's on the ingress
bus, the stack's own (internal sources: payops.access, payops.fulfilment) on the app event bus."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_events as events
from constructs import Construct

from payops.rules import Rule, RuleError, is_internal


class RuleWithoutTarget(RuleError):
    """A rule in rules/ that nothing acts on: an event matching it would do nothing."""


class RuleCatalogue(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rules: list[Rule],
        bus_name: str,
        app_bus_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rules: dict[str, events.CfnRule] = {}
        self._targets: dict[str, list[Any]] = {}
        self.dropped: dict[str, str] = {}  # rule name -> why it is not deployed
        stack_name = Stack.of(self).stack_name
        for rule in rules:
            # Named after the rule file, so traces and the console show which rule fired.
            self.rules[rule.name] = events.CfnRule(
                self,
                _logical_id(rule.name),
                name=f"{stack_name}-{rule.name}"[:64],
                description=rule.description,
                event_bus_name=app_bus_name if is_internal(rule) else bus_name,
                event_pattern=rule.pattern,
                state="ENABLED",
            )
            self._targets[rule.name] = []

    def check_every_rule_acts(self) -> None:
        """Called once every capability has added its targets (at synth)."""
        for name in sorted(self.rules):
            if not self._targets[name]:
                raise RuleWithoutTarget(
                    f"rules/{name}.json: the rule has no target; wire it to a notice or "
                    "workflow, or delete the file"
                )

    # --- Rules of an optional capability (issue 15) ---
    def drop_if_unused(self, rule_names: tuple[str, ...], why: str) -> None:
        """Leave those of these rules that nothing acts on out of the template: the capability
        that acts on them is off (`why`). Rules other capabilities use stay."""
        for name in rule_names:
            if self._targets[name]:
                continue
            self.node.try_remove_child(self.rules.pop(name).node.id)
            del self._targets[name]
            self.dropped[name] = why

    def add_target(self, rule_name: str, target: events.CfnRule.TargetProperty) -> None:
        if rule_name not in self.rules:
            raise KeyError(f"no rule named {rule_name!r} in rules/ (have: {sorted(self.rules)})")
        targets = self._targets[rule_name]
        if len(targets) >= 5:
            raise ValueError(f"rule {rule_name!r}: EventBridge allows at most 5 targets per rule")
        targets.append(target)
        self.rules[rule_name].targets = list(targets)


def _logical_id(rule_name: str) -> str:
    return "Rule" + "".join(part.capitalize() for part in rule_name.split("-"))
