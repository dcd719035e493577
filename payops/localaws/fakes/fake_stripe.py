"""A tiny in-process fake of the Stripe API for local runs and tests.

Serves the few endpoints our workflows call, on 127.0.0.1 in a daemon thread:

    POST   /v1/coupons              POST /v1/promotion_codes      POST /v1/refunds
    GET    /v1/subscriptions/{id}   DELETE /v1/subscriptions/{id}
    GET    /v1/checkout/sessions/{id}   GET /v1/checkout/sessions/{id}/line_items

Checkout Sessions and their line items come from a `Catalogue` (stripe_catalogue.py): the
`--stripe-data` files as the Stripe CLI prints them, plus the sessions replayed events carry. A
session or line items nobody described get Stripe's answer for an unknown id: 404
`resource_missing`.

Like Stripe it takes application/x-www-form-urlencoded bodies with nested keys
(metadata[order_id]=x, promotion[coupon]=co_x, expand[]=y), requires
`Authorization: Bearer sk_test_...` (401 with Stripe's error shape otherwise), rejects unknown
parameters, and honours `Idempotency-Key` on POST: the same key with the same parameters replays
the first response (header `Idempotent-Replayed: true`, no second object); the same key with
other parameters is a 400 `idempotency_error`. As Stripe documents, a result is only saved once
the endpoint ran: validation errors and failures injected with `fail_next` (429/5xx, returned
before the endpoint runs) are not saved, so a retry with the same key goes through.

Choices of this fake, not Stripe's: generated coupon ids use a `co_` prefix (Stripe makes
8-character ids without one); refunds and subscriptions need objects seeded with
`add_payment_intent` / `add_subscription`; cancelling an already canceled subscription is a 400.
`observe()` keeps the newest state of a subscription by event `created` (then created < updated <
deleted within one second), as Stripe's API would answer whatever order a replay delivers in.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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


class FakeStripe:
    """Context manager: `with FakeStripe() as stripe_api: ... stripe_api.url ...`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.RLock()
        self._host = host
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._data_dirs: list[Path] = []
        self.reset()

    # -- lifecycle
    def start(self) -> FakeStripe:
        if self._server is not None:
            return self
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer((self._host, self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # fast shutdown()
            name="fake-stripe",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeStripe is not running: use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- test controls
    def reset(self) -> None:
        """Forget every object, call, idempotency record and pending injected failure."""
        with self._lock:
            self._calls: list[StripeCall] = []
            self._failures: list[tuple[int, str]] = []
            self._idempotency: dict[str, tuple[tuple[Any, ...], int, dict[str, Any]]] = {}
            self.coupons: dict[str, dict[str, Any]] = {}
            self.promotion_codes: dict[str, dict[str, Any]] = {}
            self.refunds: dict[str, dict[str, Any]] = {}
            self.subscriptions: dict[str, dict[str, Any]] = {}
            # subscription id -> `created` of the event (or the time of the API call) its state
            # is from: a replay in any order leaves the newest state, as Stripe would answer.
            self._subscription_as_of: dict[str, tuple[int, int]] = {}
            self.payment_intents: dict[str, dict[str, Any]] = {}
            self.invoices: dict[str, dict[str, Any]] = {}
            self._charges: dict[str, dict[str, Any]] = {}
            self.catalogue = Catalogue()
            for directory in self._data_dirs:
                self.catalogue.load_dir(directory)

    def load_stripe_data(self, directory: Path) -> int:
        """Products, prices, Payment Links (and sessions) from Stripe CLI list output; kept
        across reset(). Raises StripeDataError naming the file and entry that is wrong."""
        with self._lock:
            count = self.catalogue.load_dir(directory)
            self._data_dirs.append(directory)
            return count

    @property
    def calls(self) -> list[StripeCall]:
        with self._lock:
            return list(self._calls)

    def fail_next(self, status: int, times: int = 1, *, path: str = "/") -> None:
        """Answer the next `times` requests whose path starts with `path` (every path by
        default) with `status` (429 or 5xx), before they run."""
        if status < 400 or times < 1:
            raise ValueError("fail_next needs an error status (>= 400) and times >= 1")
        with self._lock:
            self._failures.extend([(status, path)] * times)

    def add_payment_intent(
        self, amount: int, currency: str = "jpy", id: str | None = None
    ) -> dict[str, Any]:
        """Seed a succeeded PaymentIntent (with its charge) that refunds can target."""
        with self._lock:
            pi_id = id or _new_id("pi_")
            self._seed_intent(pi_id, {"amount": amount, "currency": currency})
            return dict(self.payment_intents[pi_id])

    def add_subscription(
        self,
        customer: str = "cus_local",
        status: str = "active",
        metadata: dict[str, str] | None = None,
        id: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            sub_id = id or _new_id("sub_")
            now = _now()
            subscription = {
                "id": sub_id,
                "object": "subscription",
                "billing_cycle_anchor": now,
                "cancel_at": None,
                "cancel_at_period_end": False,
                "canceled_at": None,
                "cancellation_details": {"comment": None, "feedback": None, "reason": None},
                "collection_method": "charge_automatically",
                "created": now,
                "currency": "jpy",
                "customer": customer,
                "ended_at": None,
                "items": {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "url": f"/v1/subscription_items?subscription={sub_id}",
                },
                "latest_invoice": None,
                "livemode": False,
                "metadata": dict(metadata or {}),
                "start_date": now,
                "status": status,
            }
            self.subscriptions[sub_id] = subscription
            return dict(subscription)

    def add_invoice(self, invoice_id: str, payment_intent: str | None) -> dict[str, Any]:
        """Seed an invoice (paid when it has a PaymentIntent) for GET /v1/invoices/{id}."""
        with self._lock:
            self.invoices[invoice_id] = {
                "id": invoice_id,
                "object": "invoice",
                "payment_intent": payment_intent,
                "status": "paid" if payment_intent else "open",
            }
            return dict(self.invoices[invoice_id])

    def observe(self, stripe_event: dict[str, Any]) -> None:
        """Learn the objects a Stripe event carries, as Stripe knows them when it sends it.

        Replays call this before delivering an event, so workflows that read objects back
        (GET /v1/subscriptions/{id}, /v1/invoices/{id}) see the state the event describes.
        """
        obj = (stripe_event.get("data") or {}).get("object") or {}
        kind, obj_id = obj.get("object"), obj.get("id")
        if not isinstance(obj_id, str):
            return
        with self._lock:
            if kind == "checkout.session":
                self.catalogue.learn_session(obj)
            elif kind == "subscription":
                created = stripe_event.get("created")
                # Same second: the lifecycle decides (created < updated < deleted).
                kind_rank = {"created": 0, "deleted": 2}.get(
                    str(stripe_event.get("type", "")).rsplit(".", 1)[-1], 1
                )
                as_of = (created if isinstance(created, int) else _now(), kind_rank)
                if as_of >= self._subscription_as_of.get(obj_id, as_of):
                    known = self.subscriptions.get(obj_id, {})
                    self.subscriptions[obj_id] = {**known, **obj}
                    self._subscription_as_of[obj_id] = as_of
                invoice = obj.get("latest_invoice")
                if isinstance(invoice, str) and invoice not in self.invoices:
                    intent = _new_id("pi_")
                    self.invoices[invoice] = {
                        "id": invoice,
                        "object": "invoice",
                        "payment_intent": intent,
                        "status": "paid",
                    }
                    self._seed_intent(intent, obj)
            elif kind == "invoice":
                self.invoices[obj_id] = {**self.invoices.get(obj_id, {}), **obj}
                intent = obj.get("payment_intent")
                if isinstance(intent, str) and intent not in self.payment_intents:
                    self._seed_intent(
                        intent,
                        {
                            "currency": obj.get("currency", "jpy"),
                            "amount": obj.get("amount_paid") or obj.get("total"),
                        },
                    )

    def _seed_intent(self, intent_id: str, source: dict[str, Any]) -> None:
        amount = source.get("amount")
        amount = 1000 if amount is None else amount
        charge_id = _new_id("ch_")
        self.payment_intents[intent_id] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "currency": source.get("currency", "jpy"),
            "created": _now(),
            "latest_charge": charge_id,
            "livemode": False,
            "metadata": {},
            "status": "succeeded",
        }
        self._charges[charge_id] = {
            "id": charge_id,
            "payment_intent": intent_id,
            "amount": amount,
            "amount_refunded": 0,
            "currency": source.get("currency", "jpy"),
        }

    # -- request handling (called from the server threads)
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        split = urllib.parse.urlsplit(raw_path)
        path = split.path
        extra = {"Request-Id": _new_id("req_", 14), "Stripe-Version": API_VERSION}
        params: dict[str, Any] = {}
        replayed = injected = False
        with self._lock:
            try:
                failure = next((f for f in self._failures if path.startswith(f[1])), None)
                if failure is not None:
                    self._failures.remove(failure)
                    injected = True
                    raise self._injected(failure[0], extra)
                self._authenticate(headers)
                pairs = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
                pairs += urllib.parse.parse_qsl(body, keep_blank_values=True)
                params = parse_form(pairs)
                status, response, replayed = self._idempotent(
                    method, path, headers, pairs, params, extra
                )
            except StripeError as error:
                status, response = error.status, error.body
            self._calls.append(
                StripeCall(
                    method=method,
                    path=path,
                    headers=dict(headers),
                    body=body,
                    params=params,
                    status=status,
                    response=response,
                    replayed=replayed,
                    injected=injected,
                )
            )
            return status, response, extra

    def _idempotent(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        pairs: list[tuple[str, str]],
        params: dict[str, Any],
        extra: dict[str, str],
    ) -> tuple[int, dict[str, Any], bool]:
        """Run the endpoint once per Idempotency-Key (POST only, as on Stripe)."""
        key = headers.get("idempotency-key") if method == "POST" else None
        if key is None:
            return *self._route(method, path, dict(params)), False
        extra["Idempotency-Key"] = key
        fingerprint = (method, path, tuple(sorted(pairs)))
        saved = self._idempotency.get(key)
        if saved is not None:
            if saved[0] != fingerprint:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
            extra["Idempotent-Replayed"] = "true"
            return saved[1], saved[2], True
        status, response = self._route(method, path, dict(params))
        self._idempotency[key] = (fingerprint, status, response)
        return status, response, False

    @staticmethod
    def _injected(status: int, extra_headers: dict[str, str]) -> StripeError:
        if status == 429:
            return StripeError(
                429,
                "Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.",
                code="rate_limit",
            )
        if status >= 500:
            extra_headers["Stripe-Should-Retry"] = "true"
            return StripeError(
                status,
                "An unknown error occurred (injected by FakeStripe.fail_next).",
                type="api_error",
            )
        return StripeError(status, "Injected failure (FakeStripe.fail_next).")

    @staticmethod
    def _authenticate(headers: dict[str, str]) -> None:
        auth = headers.get("authorization")
        if not auth:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
                "or we can help at https://support.stripe.com/.",
            )
        match = _KEY_PATTERN.match(auth)
        if not match or len(match.group(1)) <= len("sk_test_"):
            shown = auth.split(" ", 1)[-1]
            raise StripeError(
                401,
                f"Invalid API Key provided: {shown[:8]}{'*' * max(0, len(shown) - 12)}"
                f"{shown[-4:] if len(shown) > 12 else ''}",
            )

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict]:
        match = re.fullmatch(r"/v1/checkout/sessions/([^/]+)(/line_items)?", path)
        if match and method == "GET":
            if match.group(2):
                return 200, self._line_items(match.group(1), params)
            params.pop("expand", None)
            _allow(params, set())
            session = self.catalogue.session(match.group(1))
            if session is None:
                raise _missing("checkout.session", match.group(1))
            return 200, session
        params.pop("expand", None)  # accepted, not applied
        if path == "/v1/coupons" and method == "POST":
            return 200, self._create_coupon(params)
        if path == "/v1/promotion_codes" and method == "POST":
            return 200, self._create_promotion_code(params)
        if path == "/v1/refunds" and method == "POST":
            return 200, self._create_refund(params)
        match = re.fullmatch(r"/v1/invoices/([^/]+)", path)
        if match and method == "GET":
            _allow(params, set())
            invoice = self.invoices.get(match.group(1))
            if invoice is None:
                raise StripeError(
                    404, f"No such invoice: '{match.group(1)}'", code="resource_missing"
                )
            return 200, dict(invoice)
        match = re.fullmatch(r"/v1/subscriptions/([^/]+)", path)
        if match and method == "GET":
            _allow(params, set())
            return 200, dict(self._subscription(match.group(1)))
        if match and method == "DELETE":
            return 200, self._cancel_subscription(match.group(1), params)
        withdrawn = self._route_coupon_withdrawal(method, path, params)
        if withdrawn is not None:
            return withdrawn
        raise StripeError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    # -- coupon withdrawal (issue 10: a coupon dies with its refunded order) ----------------
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


def _missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    """Stripe's 404 for an id it does not know."""
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


class _Handler(BaseHTTPRequestHandler):
    owner: FakeStripe
    protocol_version = "HTTP/1.1"
    server_version = "FakeStripe/1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, response, extra = self.owner.handle(self.command, self.path, headers, body)
        payload = json.dumps(response, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass
