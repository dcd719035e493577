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
# -- issue 16: reconciliation and thin events -------------------------------------------------
# Sources of events the stack itself puts on the bus; every rule accepts them besides the
# ingress mode's Stripe source (rules/*.json keep Stripe's documented source: see
# payops.rules.effective_pattern). Customers may use any source not starting with "aws.".
RECONCILIATION_SOURCE = "payops.reconciliation"  # an event Stripe has but the bus never got
HYDRATION_SOURCE = "payops.thin-events"  # a thin event, fetched back into its snapshot shape
OWN_SOURCES = (RECONCILIATION_SOURCE, HYDRATION_SOURCE)
SCHEDULE_RE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$")


def _schedule(key: str, raw: Any) -> str:
    """An EventBridge Scheduler expression (`rate(1 hour)`, `cron(...)`), or `off`."""
    value = str(raw).strip()
    if value != "off" and not SCHEDULE_RE.match(value):
        raise SettingsError(key, f"expected 'off', 'rate(<n> <unit>)' or 'cron(...)', got {raw!r}")
    return value


# -- end issue 16 ----------------------------------------------------------------------------

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
    # Links in staff notifications; use https://dashboard.stripe.com/test for test mode.
    stripe_dashboard_url: str = "https://dashboard.stripe.com"
    sender_email: str = "orders@example.com"  # an SES-verified identity in real deployments
    download_link_ttl_hours: int = 72
    download_limit: int = 5  # downloads per link (grant); a re-issued link starts again
    coupon_min_order_jpy: int = 10000
    coupon_percent_off: int = 10
    stripe_api_key_secret_name: str = "payops/stripe-api-key"
    customer_template_url: str = ""  # empty: the bundled provisioning/customer-stack.json
    # Reserved concurrency of the two public function URLs: a flood of anonymous requests is
    # throttled (429) at this many concurrent runs instead of starving the account's Lambda
    # concurrency. Stripe retries a 429 like any non-2xx.
    receiver_reserved_concurrency: int = 10
    download_reserved_concurrency: int = 10
    # --- analytics export (issue 16): every Stripe event -> Firehose -> S3, Glue, Athena ---
    # Off: no bucket, stream, table or workgroup (see the README's "Analytics" for the cost).
    analytics_export: bool = True
    analytics_retention_days: int = 1095  # exported events expire after this many days
    # -- access state and Cognito sync (issue 15; README "Access state and Cognito") --
    access_grace_days: int = 7  # past_due keeps access this many days after the period start
    cognito_user_pool_id: str = ""  # empty: no Cognito sync / no live status
    # -- end access state --
    # issue 16: how often the reconciliation workflow compares Stripe's events with the audit
    # trail (EventBridge Scheduler expression), or "off" (no schedule; run it by hand).
    reconciliation_schedule: str = "rate(1 hour)"
    # -- chat posts and tickets (issue 14); parsed in the block at the end of this module --
    chat_provider: str = "none"  # none | slack | teams
    chat_secret_name: str = "payops/chat"  # slack: the bot token; teams: {"endpoint", "sig"}
    slack_channel: str = "payops"  # a channel name or id the bot was invited to
    ticket_provider: str = "none"  # none | backlog | github
    ticket_secret_name: str = "payops/ticket"  # backlog: the API key; github: a token
    backlog_space_url: str = "https://example.backlog.com"  # or https://<space>.backlog.jp
    backlog_project_id: int = 1
    backlog_issue_type_id: int = 1
    backlog_priority_id: int = 3  # Backlog's "Normal"
    github_repository: str = "example/payops-tickets"  # owner/repo

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


def _email(key: str, raw: Any) -> str:
    (email,) = _emails(key, [raw]) or ("",)
    if not email:
        raise SettingsError(key, "expected an email address, got nothing")
    return email


def _https_url(key: str, raw: Any) -> str:
    value = str(raw).strip().rstrip("/")
    if value and not re.match(r"^https://[^\s/]+(/\S*)?$", value):
        raise SettingsError(key, f"expected an https:// URL, got {raw!r}")
    return value


def _percent(key: str, raw: Any) -> int:
    value = _positive_int(key, raw)
    if value > 100:
        raise SettingsError(key, f"expected a percentage from 1 to 100, got {raw!r}")
    return value


def _secret_name(key: str, raw: Any) -> str:
    value = str(raw).strip()
    if not re.match(r"^[A-Za-z0-9/_+=.@-]{1,512}$", value):
        raise SettingsError(key, f"expected a Secrets Manager secret name, got {raw!r}")
    return value


_PARSERS.update(
    {
        "stripe_dashboard_url": _https_url,
        "sender_email": _email,
        "download_link_ttl_hours": _positive_int,
        "download_limit": _positive_int,
        "coupon_min_order_jpy": _positive_int,
        "coupon_percent_off": _percent,
        "stripe_api_key_secret_name": _secret_name,
        "customer_template_url": _https_url,
        "receiver_reserved_concurrency": _positive_int,
        "download_reserved_concurrency": _positive_int,
        "reconciliation_schedule": _schedule,
    }
)


# --- analytics export (issue 16) ---
def _flag(key: str, raw: Any) -> bool:
    value = str(raw).strip().lower() if not isinstance(raw, bool) else str(raw).lower()
    if value not in ("true", "false"):
        raise SettingsError(key, f"expected true or false, got {raw!r}")
    return value == "true"


_PARSERS.update({"analytics_export": _flag, "analytics_retention_days": _positive_int})
# -- access state and Cognito sync --
COGNITO_USER_POOL_ID_RE = re.compile(r"^[\w-]+_[0-9a-zA-Z]+$")


def _user_pool_id(key: str, raw: Any) -> str:
    value = str(raw).strip()
    if value and not COGNITO_USER_POOL_ID_RE.match(value):
        raise SettingsError(
            key,
            f"expected a Cognito user pool id like 'ap-northeast-1_AbC123' (or empty), got {raw!r}",
        )
    return value


_PARSERS.update({"access_grace_days": _positive_int, "cognito_user_pool_id": _user_pool_id})
# -- end access state --
# -- chat posts and tickets (issue 14) --
CHAT_PROVIDERS = ("none", "slack", "teams")
TICKET_PROVIDERS = ("none", "backlog", "github")


def _slack_channel(key: str, raw: Any) -> str:
    value = str(raw).strip()
    if not re.match(r"^#?[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$", value):
        raise SettingsError(
            key, f"expected a Slack channel name or id (e.g. C0123ABCD), got {raw!r}"
        )
    return value.lstrip("#")


def _github_repository(key: str, raw: Any) -> str:
    value = str(raw).strip()
    if not re.match(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$", value):
        raise SettingsError(key, f"expected a GitHub repository as owner/name, got {raw!r}")
    return value


def _backlog_space(key: str, raw: Any) -> str:
    value = _https_url(key, raw)
    if not re.match(r"^https://[A-Za-z0-9-]+\.(backlog\.com|backlog\.jp|backlogtool\.com)$", value):
        raise SettingsError(
            key, f"expected a Backlog space URL like https://<space>.backlog.com, got {raw!r}"
        )
    return value


_PARSERS.update(
    {
        "chat_provider": _choice(CHAT_PROVIDERS),
        "chat_secret_name": _secret_name,
        "slack_channel": _slack_channel,
        "ticket_provider": _choice(TICKET_PROVIDERS),
        "ticket_secret_name": _secret_name,
        "backlog_space_url": _backlog_space,
        "backlog_project_id": _positive_int,
        "backlog_issue_type_id": _positive_int,
        "backlog_priority_id": _positive_int,
        "github_repository": _github_repository,
    }
)


SETTING_KEYS = tuple(_camel(f.name) for f in fields(Settings))
