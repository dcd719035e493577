"""The app's settings: read once from CDK context or the environment, validated with clear messages.

Precedence: CDK context (`-c key=value`, cdk.json "context") > environment (PAYOPS_<KEY>) > default.
Values given with `-c` arrive as strings, so every setting is parsed from text as well as from JSON.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

INGRESS_MODES = ("partner", "webhook")
PARTNER_SOURCE_RE = re.compile(r"^aws\.partner/stripe\.com/ed_[A-Za-z0-9_]+$")
EMAIL_RE = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
# Customers cannot PutEvents with a source starting "aws."; the webhook receiver uses its own.
WEBHOOK_SOURCE = "payops.stripe-webhook"
PARTNER_SOURCE_PREFIX = "aws.partner/stripe.com"
# A syntactically valid example for local runs; a real one comes from the Stripe dashboard.
EXAMPLE_PARTNER_SOURCE = "aws.partner/stripe.com/ed_local_example"


class SettingsError(ValueError):
    """One setting is invalid; str() is a single line naming the setting."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"setting '{key}': {problem}")
        self.key = key


def _env_name(key: str) -> str:
    return "PAYOPS_" + re.sub(r"(?<!^)(?=[A-Z])", "_", key).upper()


def _positive_int(key: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise SettingsError(key, f"expected a positive whole number, got {raw!r}")
    try:
        value = int(str(raw).strip()) if not isinstance(raw, int) else raw
    except ValueError:
        raise SettingsError(key, f"expected a positive whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(key, f"expected a positive whole number, got {raw!r}")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def parse(key: str, raw: Any) -> str:
        value = str(raw).strip()
        if value not in choices:
            raise SettingsError(key, f"expected one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def _partner_source(key: str, raw: Any) -> str:
    value = str(raw).strip()
    if not PARTNER_SOURCE_RE.match(value):
        raise SettingsError(
            key,
            f"expected the Stripe partner event source name "
            f"'aws.partner/stripe.com/ed_<destination id>', got {raw!r}",
        )
    return value


def _emails(key: str, raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [p for p in str(raw).split(",")]
    emails = tuple(str(item).strip() for item in items if str(item).strip())
    for email in emails:
        if not EMAIL_RE.match(email):
            raise SettingsError(key, f"{email!r} is not an email address")
    return emails


@dataclass(frozen=True)
class Settings:
    ingress: str = "partner"
    stripe_event_source_name: str = EXAMPLE_PARTNER_SOURCE
    large_order_threshold_jpy: int = 30000
    large_invoice_threshold_jpy: int = 5000
    webhook_tolerance_seconds: int = 300
    staff_emails: tuple[str, ...] = ()

    @property
    def event_source(self) -> str:
        """The `source` that Stripe events carry on this ingress path."""
        return self.stripe_event_source_name if self.ingress == "partner" else WEBHOOK_SOURCE

    def placeholders(self) -> dict[str, Any]:
        """Values that rule files and state machines may name as ${camelCaseKey}."""
        return {_camel(f.name): getattr(self, f.name) for f in fields(self)}

    @classmethod
    def load(
        cls, context: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Validate every setting; raise SettingsError on the first bad one."""
        context = context or {}
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = _camel(f.name)
            raw = context.get(key)
            if raw is None:
                raw = env.get(_env_name(key))
            if raw is None:
                continue
            values[f.name] = _PARSERS[f.name](key, raw)
        return cls(**values)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "ingress": _choice(INGRESS_MODES),
    "stripe_event_source_name": _partner_source,
    "large_order_threshold_jpy": _positive_int,
    "large_invoice_threshold_jpy": _positive_int,
    "webhook_tolerance_seconds": _positive_int,
    "staff_emails": _emails,
}

SETTING_KEYS = tuple(_camel(f.name) for f in fields(Settings))
