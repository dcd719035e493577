"""The Stripe objects the fake API writes (coupons, promotion codes, refunds, subscriptions,
line items), with Stripe's parameter checks, and the request helpers they share with fake_stripe.py.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from payops.localaws.fakes.stripe_catalogue import Catalogue

API_VERSION = "2026-10-28.endive"  # what stripe 16.1.0 sends
_BASE62 = string.ascii_letters + string.digits
_KEY_PATTERN = re.compile(r"^Bearer (sk_test_\S+)$")
_PARAM_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_COUPON_PARAMS = frozenset(
    {
        "id",
        "amount_off",
        "currency",
        "duration",
        "duration_in_months",
        "max_redemptions",
        "metadata",
        "name",
        "percent_off",
        "redeem_by",
        "applies_to",
        "currency_options",
    }
)
_PROMOTION_CODE_PARAMS = frozenset(
    {
        "promotion",
        "coupon",
        "code",
        "active",
        "customer",
        "customer_account",
        "expires_at",
        "max_redemptions",
        "metadata",
        "restrictions",
    }
)
_REFUND_PARAMS = frozenset(
    {
        "amount",
        "charge",
        "payment_intent",
        "metadata",
        "reason",
        "currency",
        "customer",
        "instructions_email",
        "origin",
        "refund_application_fee",
        "reverse_transfer",
    }
)


def _new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_BASE62) for _ in range(length))


def _now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class StripeCall:
    """One request the fake received, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: str
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    replayed: bool = False
    injected: bool = False


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        error: dict[str, Any] = {"message": message, "type": type}
        if code:
            error["code"] = code
        if param:
            error["param"] = param
        self.body = {"error": error}


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe-style nested form keys -> nested dicts/lists:
    metadata[a]=1 -> {"metadata": {"a": "1"}}; expand[]=x -> {"expand": ["x"]};
    items[0][price]=p -> {"items": [{"price": "p"}]}."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _PARAM_KEY.match(raw_key)
        if not match:
            raise StripeError(400, f"Invalid parameter name: {raw_key}")
        path = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node: Any = root
        for depth, part in enumerate(path):
            last = depth == len(path) - 1
            nxt = path[depth + 1] if not last else None
            child_default: Any = [] if nxt == "" else {}
            if isinstance(node, list):  # reached through "[]"
                if last:
                    node.append(value)
                    break
                node.append(child_default)
                node = node[-1]
                continue
            key: Any = int(part) if part.isdigit() and depth > 0 else part
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, child_default)
    return _listify(root)


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {k: _listify(v) for k, v in value.items()}
        if converted and all(isinstance(k, int) for k in converted):
            return [converted[k] for k in sorted(converted)]
        return {str(k): v for k, v in converted.items()}
    if isinstance(value, list):
        return [_listify(v) for v in value]
    return value


def _int(params: dict[str, Any], name: str, *, minimum: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        number = int(str(raw))
    except ValueError:
        raise StripeError(400, f"Invalid integer: {raw}", param=name) from None
    if minimum is not None and number < minimum:
        raise StripeError(
            400, f"Invalid {name}: must be greater than or equal to {minimum}", param=name
        )
    return number


def _bool(params: dict[str, Any], name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if str(raw).lower() in {"true", "false"}:
        return str(raw).lower() == "true"
    raise StripeError(400, f"Invalid boolean: {raw}", param=name)


def _metadata(params: dict[str, Any]) -> dict[str, str]:
    metadata = params.get("metadata") or {}
    if metadata == "":
        return {}
    if not isinstance(metadata, dict):
        raise StripeError(400, "Invalid object", param="metadata")
    if len(metadata) > 50:
        raise StripeError(400, "Metadata can have at most 50 keys.", param="metadata")
    for key, value in metadata.items():
        if len(key) > 40 or not isinstance(value, str) or len(value) > 500:
            raise StripeError(400, f"Invalid metadata value for key {key!r}", param="metadata")
    return dict(metadata)


def _allow(params: dict[str, Any], allowed: frozenset[str] | set[str]) -> None:
    for name in params:
        if name not in allowed:
            raise StripeError(400, f"Received unknown parameter: {name}", param=name)


def _missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    """Stripe's 404 for an id it does not know."""
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


class StripeObjects:
    """The endpoints that create or change objects; FakeStripe routes requests to them."""

    # Held by FakeStripe (set in its reset()).
    catalogue: Catalogue
    coupons: dict[str, dict[str, Any]]
    promotion_codes: dict[str, dict[str, Any]]
    refunds: dict[str, dict[str, Any]]
    payment_intents: dict[str, dict[str, Any]]
    subscriptions: dict[str, dict[str, Any]]
    _subscription_as_of: dict[str, tuple[int, int]]
    _charges: dict[str, dict[str, Any]]

    def _route_coupon_withdrawal(
        self, method: str, path: str, params: dict[str, Any]
    ) -> tuple[int, dict] | None:
        """POST /v1/promotion_codes/{id} (active, metadata) and DELETE /v1/coupons/{id}."""
        match = re.fullmatch(r"/v1/promotion_codes/([^/]+)", path)
        if match and method == "POST":
            _allow(params, {"active", "metadata"})
            promo = self.promotion_codes.get(match.group(1))
            if promo is None:
                raise StripeError(
                    404, f"No such promotion code: '{match.group(1)}'", code="resource_missing"
                )
            promo["active"] = _bool(params, "active", promo["active"])
            promo["metadata"] = {**promo["metadata"], **_metadata(params)}
            return 200, dict(promo)
        match = re.fullmatch(r"/v1/coupons/([^/]+)", path)
        if match and method == "DELETE":
            _allow(params, set())
            if self.coupons.pop(match.group(1), None) is None:
                raise StripeError(
                    404, f"No such coupon: '{match.group(1)}'", code="resource_missing"
                )
            return 200, {"id": match.group(1), "object": "coupon", "deleted": True}
        return None

    # -- endpoints
    def _line_items(self, session_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """A Stripe list, paginated as the API does it (limit 1..100, default 10)."""
        expand = params.pop("expand", None) or []
        _allow(params, {"limit", "starting_after", "ending_before"})
        limit = _int(params, "limit", minimum=1)
        limit = 10 if limit is None else limit
        if limit > 100:
            raise StripeError(400, "Invalid limit: must be at most 100", param="limit")
        items = self.catalogue.line_items(session_id)
        if items is None:
            raise _missing("checkout.session", session_id)
        ids = [item.get("id") for item in items]
        start = 0
        if params.get("starting_after"):
            if params["starting_after"] not in ids:
                raise _missing("line_item", params["starting_after"], "starting_after")
            start = ids.index(params["starting_after"]) + 1
        page = items[start : start + limit]
        return {
            "object": "list",
            "data": [self.catalogue.expand(item, list(expand)) for item in page],
            "has_more": start + limit < len(items),
            "url": f"/v1/checkout/sessions/{session_id}/line_items",
        }

    def _create_coupon(self, params: dict[str, Any]) -> dict[str, Any]:
        _allow(params, _COUPON_PARAMS)
        percent_off = params.get("percent_off")
        amount_off = _int(params, "amount_off", minimum=1)
        if (percent_off is None) == (amount_off is None):
            raise StripeError(400, "You must pass exactly one of percent_off or amount_off.")
        if percent_off is not None:
            try:
                percent_off = float(percent_off)
            except ValueError:
                raise StripeError(400, "Invalid decimal", param="percent_off") from None
            if not 0 < percent_off <= 100:
                raise StripeError(
                    400, "percent_off must be between 0 and 100.", param="percent_off"
                )
        currency = params.get("currency")
        if amount_off is not None and not currency:
            raise StripeError(
                400, "You must pass currency when passing amount_off.", param="currency"
            )
        duration = params.get("duration") or "once"
        if duration not in {"once", "repeating", "forever"}:
            raise StripeError(
                400,
                "Invalid duration: must be one of forever, once, or repeating",
                param="duration",
            )
        months = _int(params, "duration_in_months", minimum=1)
        if duration == "repeating" and months is None:
            raise StripeError(
                400,
                "You must pass duration_in_months when duration is repeating.",
                param="duration_in_months",
            )
        coupon_id = params.get("id") or _new_id("co_", 8)
        if coupon_id in self.coupons:
            raise StripeError(
                400, "Coupon already exists.", code="resource_already_exists", param="id"
            )
        coupon = {
            "id": coupon_id,
            "object": "coupon",
            "amount_off": amount_off,
            "created": _now(),
            "currency": currency.lower() if currency else None,
            "duration": duration,
            "duration_in_months": months if duration == "repeating" else None,
            "livemode": False,
            "max_redemptions": _int(params, "max_redemptions", minimum=1),
            "metadata": _metadata(params),
            "name": params.get("name"),
            "percent_off": percent_off,
            "redeem_by": _int(params, "redeem_by"),
            "times_redeemed": 0,
            "valid": True,
        }
        self.coupons[coupon_id] = coupon
        return dict(coupon)

    def _create_promotion_code(self, params: dict[str, Any]) -> dict[str, Any]:
        _allow(params, _PROMOTION_CODE_PARAMS)
        promotion = params.get("promotion")
        if isinstance(promotion, dict):
            if promotion.get("type") != "coupon":
                raise StripeError(
                    400, "Invalid promotion[type]: must be coupon", param="promotion[type]"
                )
            coupon_id, param = promotion.get("coupon"), "promotion[coupon]"
        else:  # API versions before promotion[...] took a top-level coupon
            coupon_id, param = params.get("coupon"), "coupon"
        if not coupon_id:
            raise StripeError(400, "Missing required param: promotion.", param="promotion")
        if coupon_id not in self.coupons:
            raise StripeError(
                400, f"No such coupon: '{coupon_id}'", code="resource_missing", param=param
            )
        code = params.get("code") or "".join(
            secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8)
        )
        if not re.fullmatch(r"[A-Za-z0-9-]+", code):
            raise StripeError(400, "Invalid code: only a-z, A-Z, 0-9 and - are allowed.")
        active = _bool(params, "active", True)
        if active and any(
            p["active"] and p["code"].lower() == code.lower() for p in self.promotion_codes.values()
        ):
            raise StripeError(
                400,
                f"An active promotion code with `code: {code}` already exists.",
                code="resource_already_exists",
                param="code",
            )
        promo_id = _new_id("promo_")
        promotion_code = {
            "id": promo_id,
            "object": "promotion_code",
            "active": active,
            "code": code,
            "created": _now(),
            "customer": params.get("customer"),
            "customer_account": params.get("customer_account"),
            "expires_at": _int(params, "expires_at"),
            "livemode": False,
            "max_redemptions": _int(params, "max_redemptions", minimum=1),
            "metadata": _metadata(params),
            "promotion": {"coupon": coupon_id, "type": "coupon"},
            "restrictions": {
                "currency_options": {},
                "first_time_transaction": False,
                "minimum_amount": None,
                "minimum_amount_currency": None,
            },
            "times_redeemed": 0,
        }
        self.promotion_codes[promo_id] = promotion_code
        return dict(promotion_code)

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        _allow(params, _REFUND_PARAMS)
        charge_id, intent_id = params.get("charge"), params.get("payment_intent")
        if bool(charge_id) == bool(intent_id):
            raise StripeError(400, "You must pass exactly one of charge or payment_intent.")
        if intent_id:
            intent = self.payment_intents.get(intent_id)
            if intent is None:
                raise StripeError(
                    400,
                    f"No such payment_intent: '{intent_id}'",
                    code="resource_missing",
                    param="payment_intent",
                )
            charge_id = intent["latest_charge"]
        charge = self._charges.get(charge_id)
        if charge is None:
            raise StripeError(
                400, f"No such charge: '{charge_id}'", code="resource_missing", param="charge"
            )
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise StripeError(
                400,
                f"Charge {charge_id} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = _int(params, "amount", minimum=1)
        if amount is None:
            amount = remaining
        if amount > remaining:
            raise StripeError(
                400,
                f"Refund amount ({amount} {charge['currency']}) is greater than unrefunded "
                f"amount on charge ({remaining} {charge['currency']})",
                param="amount",
            )
        reason = params.get("reason")
        if reason is not None and reason not in {
            "duplicate",
            "fraudulent",
            "requested_by_customer",
        }:
            raise StripeError(
                400,
                "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                param="reason",
            )
        charge["amount_refunded"] += amount
        refund_id = _new_id("re_")
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "balance_transaction": _new_id("txn_"),
            "charge": charge_id,
            "created": _now(),
            "currency": charge["currency"],
            "metadata": _metadata(params),
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
        self.refunds[refund_id] = refund
        return dict(refund)

    def _subscription(self, sub_id: str) -> dict[str, Any]:
        subscription = self.subscriptions.get(sub_id)
        if subscription is None:
            raise StripeError(
                404, f"No such subscription: '{sub_id}'", code="resource_missing", param="id"
            )
        return subscription

    def _cancel_subscription(self, sub_id: str, params: dict[str, Any]) -> dict[str, Any]:
        _allow(params, {"cancellation_details", "invoice_now", "prorate"})
        subscription = self._subscription(sub_id)
        self._subscription_as_of[sub_id] = max(
            (_now(), 2), self._subscription_as_of.get(sub_id, (0, 0))
        )
        if subscription["status"] == "canceled":
            raise StripeError(400, f"Subscription {sub_id} is already canceled.")
        details = params.get("cancellation_details") or {}
        now = _now()
        subscription.update(
            status="canceled",
            canceled_at=now,
            ended_at=now,
            cancellation_details={
                "comment": details.get("comment"),
                "feedback": details.get("feedback"),
                "reason": "cancellation_requested",
            },
        )
        return dict(subscription)
