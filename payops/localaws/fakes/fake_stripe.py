"""A tiny in-process fake of the Stripe API for local runs and tests.

Serves the few endpoints our workflows call, on 127.0.0.1 in a daemon thread:

    POST   /v1/coupons              POST /v1/promotion_codes      POST /v1/refunds
    GET    /v1/subscriptions/{id} (expand[]=customer)   DELETE /v1/subscriptions/{id}
    GET    /v1/checkout/sessions/{id}   GET /v1/checkout/sessions/{id}/line_items
    GET    /v1/events   GET /v1/events/{id}   GET /v2/core/events/{id}   (stripe_events.py)

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
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from payops.localaws.fakes.local_http import LocalHttpServer
from payops.localaws.fakes.stripe_catalogue import Catalogue
from payops.localaws.fakes.stripe_events import EventLog
from payops.localaws.fakes.stripe_objects import (
    _KEY_PATTERN,
    API_VERSION,
    StripeCall,
    StripeError,
    StripeObjects,
    _allow,
    _missing,
    _new_id,
    _now,
    parse_form,
)


class FakeStripe(LocalHttpServer, StripeObjects):
    """Context manager: `with FakeStripe() as stripe_api: ... stripe_api.url ...`."""

    thread_name = "fake-stripe"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        LocalHttpServer.__init__(self, host, port)
        self._lock = threading.RLock()
        self._data_dirs: list[Path] = []
        self.reset()

    # -- lifecycle (start, stop, url: LocalHttpServer)
    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    # -- test controls
    def reset(self) -> None:
        """Forget every object, call, idempotency record and pending injected failure."""
        with self._lock:
            self._calls: list[StripeCall] = []
            self._failures: list[tuple[int, str, str | None]] = []
            self._idempotency: dict[str, tuple[tuple[Any, ...], int, dict[str, Any]]] = {}
            self.coupons: dict[str, dict[str, Any]] = {}
            self.promotion_codes: dict[str, dict[str, Any]] = {}
            self.refunds: dict[str, dict[str, Any]] = {}
            self.subscriptions: dict[str, dict[str, Any]] = {}
            # subscription id -> `created` of the event (or the time of the API call) its state
            # is from: a replay in any order leaves the newest state, as Stripe would answer.
            self._subscription_as_of: dict[str, tuple[int, int]] = {}
            self.payment_intents: dict[str, dict[str, Any]] = {}
            # Customers as their customer.* events describe them (newest by `created`), for
            # GET /v1/subscriptions/{id}?expand[]=customer.
            self.customers: dict[str, dict[str, Any]] = {}
            self._customer_as_of: dict[str, int] = {}
            self.invoices: dict[str, dict[str, Any]] = {}
            self._charges: dict[str, dict[str, Any]] = {}
            self.catalogue = Catalogue()
            self.events = EventLog()
            for directory in self._data_dirs:
                self.catalogue.load_dir(directory)
            self._learn_data_events()

    def _learn_data_events(self) -> None:
        for event in self.catalogue.events:
            self.events.add_from_data(event)
            self.observe(event)  # Stripe knows the objects its events describe

    def load_stripe_data(self, directory: Path) -> int:
        """Products, prices, Payment Links (and sessions) from Stripe CLI list output; kept
        across reset(). Raises StripeDataError naming the file and entry that is wrong."""
        with self._lock:
            count = self.catalogue.load_dir(directory)
            self._data_dirs.append(directory)
            self._learn_data_events()
            return count

    @property
    def calls(self) -> list[StripeCall]:
        with self._lock:
            return list(self._calls)

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        path: str = "/",
        query: str | None = None,
        skip: int = 0,
    ) -> None:
        """Answer the next `times` requests whose path starts with `path` (every path by
        default) with `status` (429 or 5xx), before they run. `query` also pins the query string
        ("" = none): two workflows may read the same object, one of them with `expand[]`. `skip`
        such requests are answered normally first."""
        if status < 400 or times < 1 or skip < 0:
            raise ValueError("fail_next needs an error status (>= 400), times >= 1, skip >= 0")
        with self._lock:
            self._failures.extend([(0, path, query)] * skip + [(status, path, query)] * times)

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
        with self._lock:
            self.events.add(stripe_event)  # GET /v1/events lists it from now on
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
            elif kind == "customer":
                created = stripe_event.get("created")
                as_of = created if isinstance(created, int) else _now()
                if as_of >= self._customer_as_of.get(obj_id, as_of):
                    self.customers[obj_id] = dict(obj)
                    self._customer_as_of[obj_id] = as_of
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

    def never_delivered(self, stripe_event: dict[str, Any]) -> None:
        """Stripe created this event but its delivery failed (or is still pending): Stripe knows
        its objects and lists it with `delivery_success=false`; nothing reached the bus."""
        with self._lock:
            self.events.add(stripe_event, delivered=False)
        self.observe(stripe_event)

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
                failure = next(
                    (
                        f
                        for f in self._failures
                        if path.startswith(f[1]) and f[2] in (None, split.query)
                    ),
                    None,
                )
                if failure is not None:
                    self._failures.remove(failure)
                    if failure[0]:  # 0: a request fail_next(skip=...) lets through
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
        if method == "GET" and path == "/v1/events":
            return 200, self.events.list(params)
        match = re.fullmatch(r"/v(1|2/core)/events/([^/]+)", path)
        if match and method == "GET":
            get = self.events.get if match.group(1) == "1" else self.events.get_v2
            return 200, get(match.group(2), params)
        related = self.events.object_at(path) if method == "GET" else None
        if related is not None:
            return 200, related
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
        expand = params.pop("expand", None)  # accepted; applied to a subscription's customer
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
            subscription = dict(self._subscription(match.group(1)))
            if "customer" in (expand or []) and isinstance(subscription.get("customer"), str):
                subscription["customer"] = self._customer(subscription["customer"])
            return 200, subscription
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

    def _customer(self, customer_id: str) -> dict[str, Any]:
        """A customer no event described: Stripe's shape with no metadata (a Payment Link's)."""
        known = self.customers.get(customer_id)
        if known is not None:
            return dict(known)
        return {"id": customer_id, "object": "customer", "email": None, "metadata": {}}


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
