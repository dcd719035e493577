"""One EventBridge rule per file in `rules/` with its effective pattern: Stripe's on the ingress
bus, the stack's own (internal sources: payops.access, payops.fulfilment) on the app event bus.

Each Stripe rule has a twin on the app event bus (`<stack>-<name>-recovered`) with the same
pattern for the Stripe events the stack puts back itself (reconciliation, hydrated thin events:
`recovered_pattern`), and the same targets: PutEvents cannot target the partner bus."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_events as events
from constructs import Construct

from payops.rules import Rule, RuleError, is_internal, recovered_pattern


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
        self.twins: dict[str, events.CfnRule] = {}  # rule name -> its twin on the app event bus
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
            if not is_internal(rule):
                self.twins[rule.name] = events.CfnRule(
                    self,
                    _logical_id(rule.name) + "Recovered",
                    name=f"{stack_name}-{rule.name}"[:54] + "-recovered",
                    description=f"{rule.description[:400]} (events the stack put back)"[:512],
                    event_bus_name=app_bus_name,
                    event_pattern=recovered_pattern(rule.pattern),
                    state="ENABLED",
                )

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
            if name in self.twins:
                self.node.try_remove_child(self.twins.pop(name).node.id)
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
        if rule_name in self.twins:
            self.twins[rule_name].targets = list(targets)

    def arns(self, rule_name: str) -> list[str]:
        """The rule's ARN and its twin's: what a resource policy for its targets must name."""
        found = [self.rules[rule_name], self.twins.get(rule_name)]
        return [rule.attr_arn for rule in found if rule is not None]


def _logical_id(rule_name: str) -> str:
    return "Rule" + "".join(part.capitalize() for part in rule_name.split("-"))
