"""A generated Stripe event history for the replay benchmark.

A shop's month in Stripe events, deterministic for a seed: card orders paid at once, konbini
orders placed unpaid and paid (or failed) later, large orders, refunds, free orders,
subscriptions created / updated / deleted with their invoices, customer events, and ~5% of
deliveries repeated later with the same event id (Stripe delivers at least once). Every event is
a copy of a real-shaped event from examples/events/ (or tests/fixtures/events/ for the types the
examples lack) with consistent ids: a refund names its order's customer and payment intent, a
subscription's updates name the subscription it created.

    .venv/bin/python -m bench.history -n 5000 -o build/bench/history.json
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "events"
FIXTURES = ROOT / "tests" / "fixtures" / "events"
START = 1719792000  # 2024-07-01T00:00:00Z, the examples' month
MONTH_SECONDS = 30 * 24 * 3600
DUPLICATE_RATE = 0.05
PRODUCTS = (
    "ebook-aws-patterns",
    "ebook-stripe-eventbridge",
    "ebook-step-functions",
    "video-course-serverless",
    "team-license-aws-patterns",
)
# (weight, scenario name): a scenario is one customer story, several events long.
SCENARIOS = (
    (34, "card_order"),
    (12, "konbini_order"),
    (8, "large_order"),
    (6, "refunded_order"),
    (2, "free_order"),
    (20, "subscription"),
    (8, "customer_only"),
    (3, "troubled_order"),
)
FAMILY = ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura")
GIVEN = ("Hanako", "Kenji", "Aiko", "Daichi", "Haruto", "Yui", "Sota", "Mei")


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["detail"] if "detail" in data else data  # fixtures keep the envelope


def templates() -> dict[str, dict[str, Any]]:
    """Stripe Events to copy, by what they show."""
    examples = {
        "paid": "01-card-order-paid.json",
        "konbini_placed": "02-konbini-order-placed.json",
        "konbini_paid": "03-konbini-order-paid.json",
        "konbini_failed": "04-payment-failed.json",
        "sub_created": "06-subscription-created.json",
        "sub_activated": "07-subscription-updated-active.json",
        "sub_deleted": "08-subscription-deleted.json",
    }
    fixtures = {
        "free": "checkout.session.completed.no_payment_required.json",
        "refunded": "charge.refunded.json",
        "customer_created": "customer.created.json",
        "sub_quantity": "customer.subscription.updated.quantity-only.json",
        "invoice_paid": "invoice.paid.jpy-5000.json",
        "invoice_failed": "invoice.payment_failed.json",
        "attempt_failed": "payment_intent.payment_failed.card-declined-guest.json",
        "dispute_created": "charge.dispute.created.json",
        "dispute_closed": "charge.dispute.closed.lost-usd.json",
        "refund_failed": "refund.failed.json",
    }
    loaded = {key: _load(EXAMPLES / name) for key, name in examples.items()}
    loaded.update({key: _load(FIXTURES / name) for key, name in fixtures.items()})
    return loaded


@dataclass
class Customer:
    id: str
    email: str
    name: str
    user_id: str


@dataclass
class _Generator:
    rng: random.Random
    base: dict[str, dict[str, Any]]
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    _serial: int = 0

    # -- ids and people ------------------------------------------------------------------------
    def ident(self, prefix: str, length: int) -> str:
        alphabet = string.ascii_letters + string.digits
        return prefix + "".join(self.rng.choice(alphabet) for _ in range(length))

    def customer(self) -> Customer:
        self._serial += 1
        given, family = self.rng.choice(GIVEN), self.rng.choice(FAMILY)
        email = f"{given.lower()}.{family.lower()}{self._serial}@example.jp"
        return Customer(
            self.ident("cus_Q", 13), email, f"{given} {family}", f"u_{1000 + self._serial}"
        )

    # -- events --------------------------------------------------------------------------------
    def emit(self, key: str, at: int, obj_changes: Callable[[dict[str, Any]], None]) -> None:
        event = copy.deepcopy(self.base[key])
        event["id"] = self.ident("evt_1P", 18)
        event["created"] = at
        event["request"] = {
            "id": self.ident("req_", 14),
            "idempotency_key": str(self.rng.getrandbits(128)),
        }
        obj_changes(event["data"]["object"])
        self.events.append((at, event))

    def session(self, obj: dict[str, Any], who: Customer, at: int, amount: int, **extra: Any):
        obj.update(
            id=self.ident("cs_test_a1", 58),
            created=at - 60,
            expires_at=at + 86400,
            amount_subtotal=amount,
            amount_total=amount,
            currency="jpy",
            customer=who.id,
            metadata={"product_id": self.rng.choice(PRODUCTS)},
            **extra,
        )
        obj["customer_details"]["email"] = who.email
        obj["customer_details"]["name"] = who.name
        if obj.get("payment_intent"):
            obj["payment_intent"] = self.ident("pi_3P", 20)

    def customer_created(self, who: Customer, at: int) -> None:
        def change(obj: dict[str, Any]) -> None:
            obj.update(id=who.id, email=who.email, name=who.name, created=at)
            obj["metadata"] = {"app_user_id": who.user_id}

        self.emit("customer_created", at, change)

    def amount(self, low: int, high: int) -> int:
        return self.rng.randrange(low, high, 10)

    # -- scenarios -----------------------------------------------------------------------------
    def card_order(self, at: int, amount: int | None = None) -> dict[str, Any]:
        who = self.customer()
        if self.rng.random() < 0.3:  # a first order creates the customer
            self.customer_created(who, at - 30)
        price = amount or (
            self.amount(10000, 29990) if self.rng.random() < 0.15 else self.amount(480, 9990)
        )
        made: dict[str, Any] = {}

        def change(obj: dict[str, Any]) -> None:
            self.session(obj, who, at, price)
            made.update(obj)

        self.emit("paid", at, change)
        return {"who": who, "session": made}

    def large_order(self, at: int) -> None:
        self.card_order(at, amount=self.amount(30000, 120000))

    def refunded_order(self, at: int) -> None:
        order = self.card_order(at)
        who, session = order["who"], order["session"]
        later = at + self.rng.randrange(3600, 7 * 86400)

        def change(obj: dict[str, Any]) -> None:
            total = session["amount_total"]
            full = self.rng.random() < 0.7 or total <= 100
            refunded = total if full else self.amount(100, total)
            obj.update(
                id=self.ident("ch_3P", 20),
                amount=session["amount_total"],
                amount_captured=session["amount_total"],
                amount_refunded=refunded,
                refunded=full,
                created=at,
                customer=who.id,
                payment_intent=session["payment_intent"],
                receipt_email=who.email,
                metadata={"product_id": session["metadata"]["product_id"]},
            )
            obj["billing_details"]["email"] = who.email
            obj["billing_details"]["name"] = who.name

        self.emit("refunded", later, change)

    def troubled_order(self, at: int) -> None:
        """A declined first attempt, a paid order, then a dispute or a refund that fails."""
        attempt_at = at - self.rng.randrange(30, 600)
        order = self.card_order(at)
        session = order["session"]
        amount, intent = session["amount_total"], session["payment_intent"]

        def declined(obj: dict[str, Any]) -> None:
            obj.update(id=intent, amount=amount, currency="jpy", created=attempt_at)

        self.emit("attempt_failed", attempt_at, declined)
        charge = self.ident("ch_3P", 20)
        later = at + self.rng.randrange(86400, 30 * 86400)
        if self.rng.random() < 0.6:
            dispute = self.ident("du_1P", 20)

            def disputed(status: str) -> Callable[[dict[str, Any]], None]:
                def change(obj: dict[str, Any]) -> None:
                    obj.update(id=dispute, amount=amount, currency="jpy", charge=charge,
                               payment_intent=intent, status=status)  # fmt: skip

                return change

            self.emit("dispute_created", later, disputed("needs_response"))
            self.emit("dispute_closed", later + 14 * 86400, disputed("lost"))
        else:

            def refund_failed(obj: dict[str, Any]) -> None:
                obj.update(id=self.ident("re_3P", 20), amount=amount, currency="jpy",
                           charge=charge, payment_intent=intent, created=later)  # fmt: skip

            self.emit("refund_failed", later, refund_failed)

    def free_order(self, at: int) -> None:
        who = self.customer()
        self.emit("free", at, lambda obj: self.session(obj, who, at, 0))

    def konbini_order(self, at: int) -> None:
        who = self.customer()
        price = self.amount(980, 45000)
        placed: dict[str, Any] = {}

        def place(obj: dict[str, Any]) -> None:
            self.session(obj, who, at, price)
            placed.update(copy.deepcopy(obj))

        self.emit("konbini_placed", at, place)
        later = at + self.rng.randrange(1800, 3 * 86400)
        outcome = "konbini_paid" if self.rng.random() < 0.8 else "konbini_failed"

        def settle(obj: dict[str, Any]) -> None:
            status = obj["payment_status"]
            obj.clear()
            obj.update(copy.deepcopy(placed))
            obj["payment_status"] = status  # paid, or still unpaid when it failed

        self.emit(outcome, later, settle)

    def subscription(self, at: int) -> None:
        who = self.customer()
        self.customer_created(who, at - 20)
        sub_id = self.ident("sub_1P", 20)
        incomplete = self.rng.random() < 0.4
        state = {"status": "incomplete" if incomplete else "active", "quantity": 1}

        def sub(status: str, **extra: Any) -> Callable[[dict[str, Any]], None]:
            def change(obj: dict[str, Any]) -> None:
                obj.update(
                    id=sub_id,
                    customer=who.id,
                    created=at,
                    start_date=at,
                    current_period_start=at,
                    current_period_end=at + MONTH_SECONDS,
                    status=status,
                    metadata={"plan": "membership", "app_user_id": who.user_id},
                    **extra,
                )

            return change

        self.emit("sub_created", at, sub(state["status"]))
        t = at + self.rng.randrange(60, 3600)
        if incomplete:
            state["status"] = "active"
            self.emit_with_previous("sub_activated", t, sub("active"), {"status": "incomplete"})
        self.invoice("invoice_paid", who, sub_id, t + 5)
        if self.rng.random() < 0.3:
            t += self.rng.randrange(86400, 10 * 86400)
            state["quantity"] = 2
            self.emit_with_previous("sub_quantity", t, sub("active", quantity=2), {"quantity": 1})
        if self.rng.random() < 0.15:
            t += self.rng.randrange(86400, 20 * 86400)
            self.invoice("invoice_failed", who, sub_id, t)
        if self.rng.random() < 0.35:
            t += self.rng.randrange(86400, 25 * 86400)
            self.emit("sub_deleted", t, sub("canceled", canceled_at=t, ended_at=t))

    def emit_with_previous(
        self,
        key: str,
        at: int,
        change: Callable[[dict[str, Any]], None],
        previous: dict[str, Any],
    ) -> None:
        self.emit(key, at, change)
        self.events[-1][1]["data"]["previous_attributes"] = previous

    def invoice(self, key: str, who: Customer, sub_id: str, at: int) -> None:
        def change(obj: dict[str, Any]) -> None:
            obj.update(
                id=self.ident("in_1P", 20),
                customer=who.id,
                customer_email=who.email,
                customer_name=who.name,
                subscription=sub_id,
                created=at,
            )

        self.emit(key, at, change)

    def customer_only(self, at: int) -> None:
        who = self.customer()
        self.customer_created(who, at)
        if self.rng.random() < 0.5:  # the customer changes their email address later
            old_email, who.email = who.email, who.email.replace("@example.jp", "@example.com")
            self.customer_created(who, at + self.rng.randrange(3600, 10 * 86400))
            event = self.events[-1][1]
            event["type"] = "customer.updated"
            event["data"]["previous_attributes"] = {"email": old_email}


def generate(
    n_events: int = 5000, seed: int = 7, duplicate_rate: float = DUPLICATE_RATE
) -> list[dict[str, Any]]:
    """`n_events` Stripe Events in delivery order, about `duplicate_rate` of them redeliveries."""
    if n_events < 1:
        raise ValueError("n_events must be positive")
    rng = random.Random(seed)
    gen = _Generator(rng, templates())
    unique = max(1, round(n_events / (1 + duplicate_rate)))
    names = [name for _, name in SCENARIOS]
    weights = [weight for weight, _ in SCENARIOS]
    span = max(MONTH_SECONDS, unique * 120)  # ~2 minutes between stories, at least a month
    while len(gen.events) < unique:
        at = START + rng.randrange(0, span)
        getattr(gen, rng.choices(names, weights)[0])(at)
    ordered = [event for _, event in sorted(gen.events, key=lambda pair: pair[0])][:unique]
    # Redeliveries: the same event (same id and payload) again, some positions later.
    history = list(ordered)
    for _ in range(n_events - unique):
        original = rng.randrange(len(ordered))
        position = min(len(history), original + rng.randrange(1, 200))
        history.insert(position, copy.deepcopy(ordered[original]))
    return history


def describe(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by event type, and how many deliveries repeat an earlier event id."""
    seen: set[str] = set()
    types: dict[str, int] = {}
    duplicates = 0
    for event in history:
        types[event["type"]] = types.get(event["type"], 0) + 1
        duplicates += event["id"] in seen
        seen.add(event["id"])
    return {"events": len(history), "duplicates": duplicates, "types": dict(sorted(types.items()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--events", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("-o", "--output", type=Path, default=Path("build/bench/history.json"))
    args = parser.parse_args(argv)
    history = generate(args.events, args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(history, ensure_ascii=False), encoding="utf-8")
    print(json.dumps({"output": str(args.output), **describe(history)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
