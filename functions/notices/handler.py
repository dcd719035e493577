"""Staff notices: one readable message per Stripe event, from `templates.json`.

A Lambda because amounts need formatting per currency (¥4,800, $12.50) and null fields need
leaving out, and neither EventBridge input transformers nor JSONPath can do either: a missing
or null path renders as `null`, and JSONPath has no number formatting (JSONata's $formatNumber
has, but the local AWS cannot run JSONata). The notice workflow publishes what this returns.

Template syntax (templates.json, data a reviewer reads): `{name}` inserts a field; a `[...]`
part is left out when a field in it is null or missing; a field outside `[...]` that is null
reads "(unknown)". Fields are paths into the Stripe object (`data.object`), or
`{"money": path}` (formatted with the object's `currency`), or `{"dashboard": "path/{id}"}`
(a link under the `stripeDashboardUrl` setting; `{event}` is the event's id), or
`{"date": path}` (epoch seconds, shown in UTC).

The same formatter writes the chat posts and tickets of the chat and ticket pipes
(`outbound.json`, called by the outbound-message workflow), for the same reasons.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

TEMPLATES: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "templates.json").read_text(encoding="utf-8")
)
# Chat posts and tickets (the Chat and Ticket consumers' pipes), same template syntax.
OUTBOUND: dict[str, Any] = json.loads(
    (Path(__file__).parent / "outbound.json").read_text(encoding="utf-8")
)
# Stripe's zero-decimal and three-decimal currencies (docs.stripe.com/currencies): an amount is
# in the currency's smallest unit, so JPY 4800 is ¥4,800 and USD 1250 is $12.50.
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())
SYMBOLS = {"jpy": "¥", "usd": "$", "eur": "€", "gbp": "£", "krw": "₩", "inr": "₹"}
UNKNOWN = "(unknown)"
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def format_money(amount: Any, currency: Any) -> str | None:
    """Stripe's integer amount in the smallest unit -> "¥4,800", "$12.50", "12.50 CHF"."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        return None
    if not isinstance(currency, str) or not currency:
        return f"{amount:,} (smallest currency unit, currency unknown)"
    code = currency.lower()
    decimals = 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2
    value = Decimal(amount).scaleb(-decimals)
    sign, value = ("-", -value) if value < 0 else ("", value)
    number = f"{value:,.{decimals}f}"
    if code in SYMBOLS:
        return f"{sign}{SYMBOLS[code]}{number}"
    return f"{sign}{number} {code.upper()}"


def _path(root: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(root, dict):
            return None
        root = root.get(part)
    return root


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None  # an expanded object or list is no field for a sentence
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value).strip()
    return text or None


def _date(stamp: Any) -> str | None:
    """Epoch seconds in UTC; None for anything else, or a stamp past year 9999 (no retry
    makes such an event readable, so it must not fail the notice)."""
    if isinstance(stamp, bool) or not isinstance(stamp, int):
        return None
    try:
        return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return None


def fields(spec: dict[str, Any], event: dict[str, Any], dashboard_url: str) -> dict[str, Any]:
    obj = _path(event, "data.object") or {}
    values: dict[str, Any] = {}
    for name, how in spec.items():
        if isinstance(how, str):
            values[name] = _text(_path(obj, how))
        elif "money" in how:
            values[name] = format_money(_path(obj, how["money"]), obj.get("currency"))
        elif "date" in how:
            stamp = _path(obj, how["date"])
            values[name] = _date(stamp)
        elif "dashboard" in how:
            ids = {k: _text(_path(obj, k)) for k in _FIELD.findall(how["dashboard"])}
            if "event" in ids:  # the event's id, not data.object.event
                ids["event"] = _text(event.get("id"))
            if any(v is None for v in ids.values()):
                values[name] = None
            else:
                path = how["dashboard"].format(**ids)
                values[name] = f"{dashboard_url.rstrip('/')}/{path}"
        else:
            raise ValueError(f"templates.json: field {name!r}: unknown kind {how!r}")
    return values


def render(template: str, values: dict[str, Any]) -> str:
    def optional(match: re.Match[str]) -> str:
        names = _FIELD.findall(match.group(1))
        if any(values.get(n) is None for n in names):
            return ""
        return match.group(1)

    text = _OPTIONAL.sub(optional, template)
    return _FIELD.sub(lambda m: str(values.get(m.group(1)) or UNKNOWN), text)


def format_notice(notice: str, event: dict[str, Any], dashboard_url: str) -> dict[str, str]:
    if notice not in TEMPLATES:
        raise ValueError(f"no notice template named {notice!r} in templates.json")
    template = TEMPLATES[notice]
    values = fields(template["fields"], event, dashboard_url)
    values["type"] = _text(event.get("type"))
    # SNS email subjects: at most 100 characters, one line.
    subject = render(template["subject"], values).replace("\n", " ")[:100]
    return {"subject": subject, "message": render(template["message"], values)}


def outbound_kind(event: dict[str, Any], large_order_jpy: int) -> str | None:
    """Which outbound.json template an event gets: a paid JPY order at or over the large-order
    threshold is a large order, as the large-order rule says."""
    kind = OUTBOUND["eventKinds"].get(event.get("type"))
    obj = _path(event, "data.object") or {}
    amount = obj.get("amount_total")
    if (
        kind == "order"
        and obj.get("currency") == "jpy"
        and isinstance(amount, int)
        and amount >= large_order_jpy
    ):
        return "large-order"
    return kind


def format_outbound(
    consumer: str, event: dict[str, Any], dashboard_url: str, large_order_jpy: int
) -> dict[str, str]:
    """A chat line ({"text"}) or a ticket ({"title", "body"} and both URL-encoded, for APIs
    that take forms: an input template inserts text but cannot encode it)."""
    kind = outbound_kind(event, large_order_jpy)
    templates = OUTBOUND[consumer]
    if kind not in templates:  # the pipe's filter lets only these through
        raise ValueError(f"outbound.json: no {consumer} template for {event.get('type')!r}")
    template = templates[kind]
    values = fields(template["fields"], event, dashboard_url)
    values["type"] = _text(event.get("type"))
    values["eventId"] = _text(event.get("id"))
    if consumer == "chat":
        return {"text": render(template["text"], values).replace("\n", " ")}
    title = render(template["title"], values).replace("\n", " ")[:255]
    body = render(template["body"], values)
    return {
        "title": title,
        "body": body,
        "titleForm": urllib.parse.quote(title, safe=""),
        "bodyForm": urllib.parse.quote(body, safe=""),
    }


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Step Functions task: {"notice": rule name, "event": the Stripe Event (`detail`)}, or
    {"outbound": "chat" | "ticket", "event": ..., "largeOrderThresholdJpy": ...} from the
    outbound-message workflow."""
    dashboard_url = os.environ["DASHBOARD_URL"]
    if "outbound" in event:
        threshold = int(event.get("largeOrderThresholdJpy") or 0) or 30000
        return format_outbound(event["outbound"], event["event"], dashboard_url, threshold)
    notice = format_notice(event["notice"], event["event"], dashboard_url)
    # The notice workflow's clock (epoch seconds) for its claim's lease and TTL: JSONPath has none.
    return {**notice, "now": int(time.time())}
