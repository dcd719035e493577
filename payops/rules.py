"""The rule catalogue: `rules/*.json`, one reviewed EventBridge pattern per file.

A rule file is {"description": "<one line>", "pattern": {...}}; the rule's name is the file stem.
Patterns are written as the documents give them, for the native partner path
(`"source": [{"prefix": "aws.partner/stripe.com"}]`); `effective_pattern` swaps the source filter
for the webhook receiver's own source when that ingress is chosen, so every rule works on both.
Settings enter patterns as `${camelCaseSetting}` placeholders (a whole JSON string value).
Everything is validated here, because moto and CloudFormation accept misspelt operators and keys.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payops.patterns import PatternError, validate_pattern
from payops.settings import OWN_SOURCES, PARTNER_SOURCE_PREFIX, WEBHOOK_SOURCE, Settings

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
RULE_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
PLACEHOLDER_RE = re.compile(r"^\$\{([A-Za-z][A-Za-z0-9]*)\}$")
DOCUMENTED_SOURCE = [{"prefix": PARTNER_SOURCE_PREFIX}]

# Field names a pattern may use at the levels whose shape is fixed: the EventBridge envelope,
# the Stripe Event object in `detail`, and its `data`. Below that, Stripe objects vary by type.
ENVELOPE_KEYS = {"version", "id", "detail-type", "source", "account", "time", "region",
                 "resources", "detail"}  # fmt: skip
STRIPE_EVENT_KEYS = {"id", "object", "account", "api_version", "context", "created", "data",
                     "livemode", "pending_webhooks", "request", "type"}  # fmt: skip
STRIPE_DATA_KEYS = {"object", "previous_attributes"}
_CHILD_LEVEL = {("envelope", "detail"): "event", ("event", "data"): "data"}
_LEVEL_KEYS = {"envelope": ENVELOPE_KEYS, "event": STRIPE_EVENT_KEYS, "data": STRIPE_DATA_KEYS}


# --- Internal sources (issue 15, live status) ---
# Events the stack's own workflows put on the bus, by source. A rule for one names it exactly
# ("source": ["payops.access"]) instead of the Stripe source: it is the same on both ingress
# paths, and its `detail` is that workflow's own shape (documented here), not a Stripe Event, so
# only the envelope's keys are checked. Adding a source here is a reviewed change of this list.
INTERNAL_SOURCES = {
    "payops.access": "Access changed: {appUserId, customer, subscription, plan, access, until, "
    "features, stripeEventId} (the access projection)",
    "payops.fulfilment": "Order fulfilled: the Checkout Session the fulfilment workflow delivered",
}
# --- end internal sources ---


class RuleError(ValueError):
    """A rule file is invalid; str() is one line: file, JSON path, what is wrong."""


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    pattern: dict[str, Any]  # the effective pattern for the chosen ingress
    path: Path


def load_catalogue(settings: Settings, rules_dir: Path = RULES_DIR) -> list[Rule]:
    """Every rule in `rules_dir`, validated, with its effective pattern; sorted by name."""
    files = sorted(rules_dir.glob("*.json"))
    if not files:
        raise RuleError(f"{rules_dir}: no rule files (*.json) found")
    return [load_rule(path, settings) for path in files]


def load_rule(path: Path, settings: Settings) -> Rule:
    where = _display(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise RuleError(
            f"{where}: not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})"
        ) from None
    except UnicodeDecodeError:
        raise RuleError(f"{where}: not UTF-8 text") from None

    name = path.stem
    if not RULE_NAME_RE.match(name):
        raise RuleError(f"{where}: file name must be lower-case words joined by '-' (rule name)")
    if not isinstance(document, dict):
        raise RuleError(f"{where}: $: expected an object with 'description' and 'pattern'")
    unknown = sorted(set(document) - {"description", "pattern"})
    if unknown:
        raise RuleError(f"{where}: $.{unknown[0]}: unknown key (allowed: description, pattern)")
    description = document.get("description")
    if not isinstance(description, str) or not description.strip() or "\n" in description:
        raise RuleError(f"{where}: $.description: expected a one-line, non-empty string")
    pattern = document.get("pattern")
    if not isinstance(pattern, dict):
        raise RuleError(f"{where}: $.pattern: expected an event pattern object")

    pattern = _substitute(pattern, settings.placeholders(), "$.pattern", where)
    try:
        validate_pattern(pattern)
    except PatternError as err:
        raise RuleError(f"{where}: {_under_pattern(err.path)}: {err.reason}") from None
    internal = _internal_source(pattern)
    if internal is None and pattern.get("source") != DOCUMENTED_SOURCE:
        raise RuleError(
            f"{where}: $.pattern.source: expected {json.dumps(DOCUMENTED_SOURCE)} (the Stripe "
            "partner source as documented; the webhook source is applied per ingress mode) or "
            f"one internal source as a list of one: {', '.join(sorted(INTERNAL_SOURCES))}"
        )
    _check_keys(pattern, "envelope", "$.pattern", where, stripe_detail=internal is None)
    return Rule(name, description.strip(), effective_pattern(pattern, settings), path)


def effective_pattern(pattern: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The pattern as deployed for `settings.ingress` (source filter follows the mode)."""
    if settings.ingress == "partner" or _internal_source(pattern) is not None:
        return pattern
    return {**pattern, "source": [WEBHOOK_SOURCE]}


def recovered_pattern(pattern: dict[str, Any]) -> dict[str, Any]:
    """The twin of a Stripe rule on the app event bus (issue 16): the same pattern for the Stripe
    events the stack puts back itself (re-injected by reconciliation, hydrated thin events, under
    OWN_SOURCES). They cannot go on the Stripe bus: PutEvents refuses a partner event bus (its
    name is not a NonPartnerEventBusNameOrArn), and the webhook bus admits only the receiver."""
    return {**pattern, "source": list(OWN_SOURCES)}


def deployed_patterns(rule: Rule) -> list[dict[str, Any]]:
    """Every pattern the rule is deployed with: its own, and its twin's for the Stripe events the
    stack puts back (none for a rule of the stack's own events)."""
    return [rule.pattern] if is_internal(rule) else [rule.pattern, recovered_pattern(rule.pattern)]


def is_internal(rule: Rule) -> bool:
    """The rule matches one of the stack's own events (on the app event bus, not Stripe's)."""
    return _internal_source(rule.pattern) is not None


def _internal_source(pattern: dict[str, Any]) -> str | None:
    source = pattern.get("source")
    if isinstance(source, list) and len(source) == 1 and str(source[0]) in INTERNAL_SOURCES:
        return str(source[0])
    return None


def _substitute(node: Any, values: dict[str, Any], path: str, where: str) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, values, f"{path}.{k}", where) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, values, f"{path}[{i}]", where) for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:
        match = PLACEHOLDER_RE.match(node)
        if not match:
            raise RuleError(
                f"{where}: {path}: a placeholder must be a whole value like '${{name}}'"
            )
        if match.group(1) not in values:
            known = ", ".join(sorted(values))
            raise RuleError(f"{where}: {path}: unknown setting {node!r} (known: {known})")
        return values[match.group(1)]
    return node


def _check_keys(
    node: dict[str, Any], level: str, path: str, where: str, stripe_detail: bool = True
) -> None:
    allowed = _LEVEL_KEYS[level]
    for key, value in node.items():
        if key == "$or":
            for i, branch in enumerate(value):
                _check_keys(branch, level, f"{path}.$or[{i}]", where, stripe_detail)
            continue
        if key not in allowed:
            raise RuleError(
                f"{where}: {path}.{key}: unknown field for this level{_suggest(key, allowed)}"
            )
        child = _CHILD_LEVEL.get((level, key))
        if child and isinstance(value, dict) and stripe_detail:
            _check_keys(value, child, f"{path}.{key}", where)


def _suggest(key: str, allowed: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    return (
        f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(sorted(allowed))})"
    )


def _under_pattern(pattern_path: str) -> str:
    return "$.pattern" + pattern_path[1:] if pattern_path.startswith("$") else pattern_path


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
