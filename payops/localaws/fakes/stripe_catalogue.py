"""What the fake Stripe API knows about a shop: products, prices, Payment Links, Checkout Sessions.

Loaded from a directory of JSON files as the Stripe CLI prints them (`payops replay --stripe-data
DIR`):

    stripe products list --limit 100                                   > DIR/products.json
    stripe prices list --limit 100                                     > DIR/prices.json
    stripe payment_links list --limit 100 --expand data.line_items     > DIR/payment_links.json
    stripe checkout sessions list --limit 100 --expand data.line_items > DIR/sessions.json

(the last one is optional: sessions are also learnt from the replayed events).

Each file is a list object (`{"object": "list", "data": [...], "has_more": ...}`); the kind of each
entry comes from its `object` field, so file names do not matter. A `downloads/` folder beside them
holds the files customers buy, uploaded to the downloads bucket as `products/<file name>`.

Line items of a session, as `GET /v1/checkout/sessions/{id}/line_items` answers them: the
session's own `line_items` (from `sessions.json`), else those of its Payment Link. A session made by
a Payment Link has its link's line items, with line item ids of its own.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

# "event": `stripe events list` output, served by GET /v1/events (stripe_events.py).
KINDS = ("product", "price", "payment_link", "checkout.session", "event")


class StripeDataError(ValueError):
    """A --stripe-data file that is not what the Stripe CLI prints; names the file and entry."""


class Catalogue:
    def __init__(self) -> None:
        self.products: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        self.payment_links: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []

    # -- loading ---------------------------------------------------------------------------
    def load_dir(self, directory: Path) -> int:
        """Every *.json list object in `directory`; returns how many objects were loaded."""
        if not directory.is_dir():
            raise StripeDataError(f"{directory}: --stripe-data needs a directory")
        files = sorted(directory.glob("*.json"))
        if not files:
            raise StripeDataError(f"{directory}: no *.json files (stripe products list > ...)")
        return sum(self.load_file(path) for path in files)

    def load_file(self, path: Path) -> int:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise StripeDataError(f"{path}: not a JSON file: {err}") from None
        if not isinstance(document, dict) or document.get("object") != "list":
            raise StripeDataError(
                f'{path}: expected a Stripe list object {{"object": "list", "data": [...]}} '
                "as the Stripe CLI prints it"
            )
        entries = document.get("data")
        if not isinstance(entries, list):
            raise StripeDataError(f"{path}: .data is not a list")
        for index, entry in enumerate(entries):
            self.add(entry, where=f"{path}: .data[{index}]")
        return len(entries)

    def add(self, entry: Any, *, where: str = "object") -> None:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise StripeDataError(f"{where}: not a Stripe object with an id")
        kind = entry.get("object")
        if kind not in KINDS:
            raise StripeDataError(f"{where}: object {kind!r} is not one of {', '.join(KINDS)}")
        if kind == "event":
            self.events.append(copy.deepcopy(entry))
            return
        table = {
            "product": self.products,
            "price": self.prices,
            "payment_link": self.payment_links,
            "checkout.session": self.sessions,
        }[kind]
        table[entry["id"]] = {**table.get(entry["id"], {}), **copy.deepcopy(entry)}

    def learn_session(self, session: dict[str, Any]) -> None:
        """A session as an event carries it (no line items): kept beside what data said."""
        known = self.sessions.get(session["id"], {})
        merged = {**known, **copy.deepcopy(session)}
        if "line_items" in known and "line_items" not in session:
            merged["line_items"] = known["line_items"]
        self.sessions[session["id"]] = merged

    # -- answering ---------------------------------------------------------------------------
    def session(self, session_id: str) -> dict[str, Any] | None:
        session = self.sessions.get(session_id)
        if session is None:
            return None
        shown = copy.deepcopy(session)
        shown.pop("line_items", None)  # only with expand[]=line_items, which we never ask
        return shown

    def line_items(self, session_id: str) -> list[dict[str, Any]] | None:
        """The session's line items, or None when nothing says what was bought."""
        session = self.sessions.get(session_id)
        if session is None:
            return None
        own = session.get("line_items")
        if isinstance(own, dict) and isinstance(own.get("data"), list):
            return [self._with_price(item) for item in own["data"]]
        link = self.payment_links.get(str(session.get("payment_link")))
        if link is None or not isinstance((link.get("line_items") or {}).get("data"), list):
            return None
        items = []
        for item in link["line_items"]["data"]:
            copied = self._with_price(item)
            # A session's line items have ids of their own (stable per session and link item).
            digest = hashlib.sha256(f"{session_id}/{item.get('id')}".encode()).hexdigest()
            copied["id"] = "li_" + digest[:24]
            items.append(copied)
        return items

    def _with_price(self, item: dict[str, Any]) -> dict[str, Any]:
        copied = copy.deepcopy(item)
        price = copied.get("price")
        if isinstance(price, str) and price in self.prices:
            copied["price"] = copy.deepcopy(self.prices[price])
        return copied

    def product(self, product_id: str, fallback_name: str | None) -> dict[str, Any]:
        """Expanded `price.product`. A product not in the data is shown with what the line item
        says about it (its description as the name) and no metadata."""
        if product_id in self.products:
            return copy.deepcopy(self.products[product_id])
        return {
            "id": product_id,
            "object": "product",
            "active": True,
            "description": None,
            "images": [],
            "livemode": False,
            "metadata": {},
            "name": fallback_name or product_id,
            "shippable": None,
        }

    def expand(self, item: dict[str, Any], paths: list[str]) -> dict[str, Any]:
        if "data.price.product" in paths:
            price = item.get("price")
            if isinstance(price, dict) and isinstance(price.get("product"), str):
                price["product"] = self.product(price["product"], item.get("description"))
        return item
