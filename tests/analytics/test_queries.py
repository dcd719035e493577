"""The named queries (analytics/*.sql) on hand-made exports: what counts as a fact, once.

No local AWS here: the export's layout (events/dt=.../type=.../*.gz, one EventBridge event per
line) is written by hand, as the Firehose bridge writes it (tests/localaws/firehose).
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from payops.analytics.queries import ANALYTICS_DIR, load_queries, to_duckdb
from payops.analytics.report import build_report, run_queries

D1 = 1722470400  # 2024-08-01T00:00:00Z


class Export:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0

    def put(
        self,
        detail: dict[str, Any],
        *,
        dt: str = "2024-08-01",
        source: str = "aws.partner/stripe.com/ed_1",
    ) -> None:
        kind = detail["type"].removeprefix("v1.")
        folder = self.root / "events" / f"dt={dt}" / f"type={kind}"
        folder.mkdir(parents=True, exist_ok=True)
        self.count += 1
        envelope = {"version": "0", "id": f"eb-{self.count}", "detail-type": kind,
                    "source": source, "account": "1", "time": "t", "region": "r",
                    "resources": [], "detail": detail}  # fmt: skip
        (folder / f"s-1-{self.count}.gz").write_bytes(
            gzip.compress(json.dumps(envelope).encode() + b"\n")
        )


def stripe_event(
    event_id: str, kind: str, created: int, obj: dict, previous: dict | None = None
) -> dict:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {"id": event_id, "object": "event", "type": kind, "created": created, "data": data}


def paid_order(event_id: str, session: str, amount: int, created: int = D1 + 60) -> dict:
    return stripe_event(event_id, "checkout.session.completed", created, {
        "id": session, "object": "checkout.session", "mode": "payment", "payment_status": "paid",
        "amount_total": amount, "currency": "jpy", "invoice": None})  # fmt: skip


def report(root: Path, tz: str = "UTC") -> dict[str, Any]:
    return build_report(run_queries(root, tz), tz)


def test_a_thin_payload_is_not_a_fact_and_its_hydrated_copy_counts_once(tmp_path: Path) -> None:
    export = Export(tmp_path)
    # A v2 event notification (thin): ids, no object; Stripe documents this shape.
    thin = {
        "id": "evt_thin",
        "object": "v2.core.event",
        "type": "v1.checkout.session.completed",
        "created": "2024-08-01T00:01:00.000Z",
        "livemode": False,
        "related_object": {
            "id": "cs_1",
            "type": "checkout.session",
            "url": "/v1/checkout/sessions/cs_1",
        },
    }
    export.put(thin)
    # The same event hydrated (full snapshot), put on the bus again under another source, and
    # a reconciled copy of it the next day: one order.
    export.put(paid_order("evt_thin", "cs_1", 1000), source="payops.hydrated")
    export.put(paid_order("evt_thin", "cs_1", 1000), dt="2024-08-02", source="payops.reconciled")
    result = report(tmp_path)
    assert result["gross_by_day"] == {"2024-08-01": {"jpy": 1000}}
    assert result["orders_by_day"] == {"2024-08-01": 1}


def test_two_events_paying_one_session_count_once(tmp_path: Path) -> None:
    export = Export(tmp_path)
    export.put(paid_order("evt_a", "cs_1", 1000, D1 + 60))
    paid_again = paid_order("evt_b", "cs_1", 1000, D1 + 120)
    paid_again["type"] = "checkout.session.async_payment_succeeded"
    export.put(paid_again)
    assert report(tmp_path)["gross_by_day"] == {"2024-08-01": {"jpy": 1000}}


def test_the_invoice_a_payment_checkout_made_for_itself_is_not_counted_twice(
    tmp_path: Path,
) -> None:
    export = Export(tmp_path)
    order = paid_order("evt_a", "cs_1", 1000)
    order["data"]["object"]["invoice"] = "in_1"
    export.put(order)
    export.put(stripe_event("evt_b", "invoice.paid", D1 + 90, {
        "id": "in_1", "object": "invoice", "amount_paid": 1000, "currency": "jpy"}))  # fmt: skip
    export.put(stripe_event("evt_c", "invoice.paid", D1 + 95, {
        "id": "in_2", "object": "invoice", "amount_paid": 300, "currency": "jpy"}))  # fmt: skip
    assert report(tmp_path)["gross_by_day"] == {"2024-08-01": {"jpy": 1300}}


def charge(
    event_id: str, created: int, refunded: int, previous: dict | None, kind: str = "charge.refunded"
) -> dict:
    return stripe_event(event_id, kind, created, {
        "id": "ch_1", "object": "charge", "amount": 5000, "amount_refunded": refunded,
        "currency": "usd"}, previous)  # fmt: skip


def test_refunds_without_previous_attributes_count_from_the_charges_earlier_events(
    tmp_path: Path,
) -> None:
    export = Export(tmp_path)
    export.put(charge("evt_1", D1 + 10, 0, None, "charge.succeeded"))
    export.put(charge("evt_2", D1 + 20, 1500, None))  # no previous_attributes: 1500 - 0
    export.put(charge("evt_3", D1 + 86400, 5000, {"amount_refunded": 1500}))  # 3500
    export.put(charge("evt_4", D1 + 86500, 5000, {"metadata": {}}, "charge.updated"))  # 0
    result = report(tmp_path)
    assert result["refunds_by_day"] == {"2024-08-01": {"usd": 1500}, "2024-08-02": {"usd": 3500}}
    assert result["net_by_day"] == {"2024-08-01": {"usd": -1500}, "2024-08-02": {"usd": -3500}}


def subscription(event_id: str, kind: str, created: int, status: str, **shape: Any) -> dict:
    return stripe_event(
        event_id,
        kind,
        created,
        {"id": "sub_1", "object": "subscription", "status": status, "currency": "usd", **shape},
    )


WEEKLY = {"interval": "week", "interval_count": 2}
WEEKLY_ITEMS = {
    "items": {
        "object": "list",
        "data": [
            {"quantity": 1, "price": {"unit_amount": 600, "currency": "usd", "recurring": WEEKLY}}
        ],
    }
}


def test_mrr_takes_each_subscriptions_latest_state_and_normalises_the_interval(
    tmp_path: Path,
) -> None:
    export = Export(tmp_path)
    export.put(subscription("evt_1", "customer.subscription.created", D1, "active", **WEEKLY_ITEMS))
    assert report(tmp_path)["mrr"] == {"usd": 1300}  # 600 / 2 weeks * 52 / 12
    # Deleted in the same second as an update: the deletion wins.
    export.put(
        subscription("evt_2", "customer.subscription.updated", D1 + 5, "active", **WEEKLY_ITEMS)
    )
    export.put(
        subscription("evt_3", "customer.subscription.deleted", D1 + 5, "canceled", **WEEKLY_ITEMS)
    )
    assert report(tmp_path)["mrr"] == {}


def test_an_empty_export_gives_an_empty_report(tmp_path: Path) -> None:
    result = report(tmp_path)
    assert result["gross_by_day"] == {} and result["mrr"] == {} and result["orders_by_day"] == {}
    assert result["failed_payment_rate"]["total"] == {"failed": 0, "paid": 0, "rate": None}


def test_days_follow_the_time_zone(tmp_path: Path) -> None:
    Export(tmp_path).put(paid_order("evt_a", "cs_1", 700, D1 + 15 * 3600))  # 15:00Z, 00:00 JST
    assert report(tmp_path)["gross_by_day"] == {"2024-08-01": {"jpy": 700}}
    assert report(tmp_path, "Asia/Tokyo")["gross_by_day"] == {"2024-08-02": {"jpy": 700}}
    assert report(tmp_path, "America/Los_Angeles")["gross_by_day"] == {"2024-08-01": {"jpy": 700}}


def test_from_unixtime_with_a_zone_keeps_the_zone_in_duckdb() -> None:
    # sqlglot alone drops the zone argument: every day would be a UTC day.
    plain = sqlglot.transpile(
        "SELECT from_unixtime(1, 'Asia/Tokyo')", read="athena", write="duckdb"
    )
    assert "Asia/Tokyo" not in plain[0]
    assert "AT TIME ZONE 'Asia/Tokyo'" in to_duckdb("SELECT from_unixtime(1, 'Asia/Tokyo')")


@pytest.mark.parametrize("query", load_queries(), ids=lambda q: q.name)
def test_every_scan_of_the_table_names_its_event_types(query) -> None:
    """The Glue table's `type` partition is injected: Athena refuses a scan without a static
    `type =` / `type IN (...)` filter, and the filter keeps the bytes scanned down."""
    tree = sqlglot.parse_one(query.sql, read="athena")
    scans = [t for t in tree.find_all(exp.Table) if t.name == "stripe_events"]
    assert scans
    for table in scans:
        where = table.find_ancestor(exp.Select).args.get("where")
        filters = [
            c for c in (where.find_all(exp.In, exp.EQ) if where else []) if c.this.name == "type"
        ]
        assert filters and all(
            all(
                isinstance(v, exp.Literal)
                for v in (f.expressions if isinstance(f, exp.In) else [f.expression])
            )
            for f in filters
        ), f"{query.path.name}: a scan of stripe_events without a literal type filter"


def test_each_query_file_starts_with_a_one_line_title() -> None:
    for path in sorted(ANALYTICS_DIR.glob("*.sql")):
        first = path.read_text().splitlines()[0]
        assert re.match(r"^-- [A-Z].{10,}\.$", first), path.name


def test_a_refund_counts_what_its_own_event_says_changed(tmp_path: Path) -> None:
    export = Export(tmp_path)
    export.put(charge("evt_1", D1 + 10, 0, None, "charge.succeeded"))
    # The first refund's event (0 -> 1500) never arrived: this one reports 1500 -> 5000.
    export.put(charge("evt_3", D1 + 20, 5000, {"amount_refunded": 1500}))
    # Delivered twice (the second copy a day later, e.g. re-injected): counted once.
    export.put(charge("evt_3", D1 + 20, 5000, {"amount_refunded": 1500}), dt="2024-08-02")
    assert report(tmp_path)["refunds_by_day"] == {"2024-08-01": {"usd": 3500}}


def test_a_subscription_sign_up_is_counted_by_its_invoice_only(tmp_path: Path) -> None:
    export = Export(tmp_path)
    # API versions before 2022-08-01 have no `invoice` on the session: only `mode` tells.
    sign_up = paid_order("evt_a", "cs_sub", 1500)
    sign_up["data"]["object"].pop("invoice")
    sign_up["data"]["object"].update(mode="subscription", subscription="sub_1")
    export.put(sign_up)
    export.put(stripe_event("evt_b", "invoice.paid", D1 + 61, {
        "id": "in_1", "object": "invoice", "amount_paid": 1500, "currency": "jpy",
        "subscription": "sub_1"}))  # fmt: skip
    result = report(tmp_path)
    assert result["gross_by_day"] == {"2024-08-01": {"jpy": 1500}}
    assert result["orders_by_day"] == {}
