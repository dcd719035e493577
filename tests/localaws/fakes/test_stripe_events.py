"""The fake Stripe API's events (issue 16): GET /v1/events as Stripe documents its list
(created[gte|gt|lte|lt], type with `*`, types[], delivery_success, starting_after / ending_before,
limit 1..100, has_more, newest first), GET /v1/events/{id}, GET /v2/core/events/{id}, thin events'
related objects, and `stripe events list` files in --stripe-data."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from payops.localaws.fakes.fake_stripe import FakeStripe
from payops.localaws.fakes.stripe_catalogue import StripeDataError

KEY = "sk_test_" + secrets.token_hex(8)


def event(n: int, type_: str = "checkout.session.completed", created: int | None = None) -> dict:
    return {
        "id": f"evt_{n:04d}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": 1_700_000_000 + n if created is None else created,
        "data": {"object": {"id": f"cs_{n:04d}", "object": "checkout.session"}},
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }


@pytest.fixture
def stripe_api() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


def get(fake: FakeStripe, path: str, **params: Any) -> tuple[int, dict]:
    query = urllib.parse.urlencode(params, doseq=True)
    request = urllib.request.Request(
        f"{fake.url}{path}{'?' + query if query else ''}",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def ids(body: dict) -> list[str]:
    return [e["id"] for e in body["data"]]


def test_lists_what_it_has_seen_newest_first_with_created_bounds(stripe_api: FakeStripe) -> None:
    for n in (3, 1, 2, 4):
        stripe_api.observe(event(n))
    status, body = get(stripe_api, "/v1/events")
    assert status == 200 and body["object"] == "list" and body["url"] == "/v1/events"
    assert ids(body) == ["evt_0004", "evt_0003", "evt_0002", "evt_0001"]
    assert body["has_more"] is False
    window = {"created[gte]": 1_700_000_002, "created[lte]": 1_700_000_003}
    assert ids(get(stripe_api, "/v1/events", **window)[1]) == ["evt_0003", "evt_0002"]
    assert ids(get(stripe_api, "/v1/events", **{"created[gt]": 1_700_000_003})[1]) == ["evt_0004"]
    assert ids(get(stripe_api, "/v1/events", created=1_700_000_001)[1]) == ["evt_0001"]


def test_paginates_with_starting_after_and_ending_before(stripe_api: FakeStripe) -> None:
    for n in range(1, 8):
        stripe_api.observe(event(n))
    first = get(stripe_api, "/v1/events", limit=3)[1]
    assert ids(first) == ["evt_0007", "evt_0006", "evt_0005"] and first["has_more"] is True
    second = get(stripe_api, "/v1/events", limit=3, starting_after="evt_0005")[1]
    assert ids(second) == ["evt_0004", "evt_0003", "evt_0002"] and second["has_more"] is True
    last = get(stripe_api, "/v1/events", limit=3, starting_after="evt_0002")[1]
    assert ids(last) == ["evt_0001"] and last["has_more"] is False
    back = get(stripe_api, "/v1/events", limit=2, ending_before="evt_0003")[1]
    assert ids(back) == ["evt_0005", "evt_0004"] and back["has_more"] is True
    status, error = get(stripe_api, "/v1/events", starting_after="evt_nope")
    assert status == 404 and error["error"]["code"] == "resource_missing"


def test_filters_on_type_types_and_delivery_success(stripe_api: FakeStripe) -> None:
    stripe_api.observe(event(1, "invoice.paid"))
    stripe_api.observe(event(2, "invoice.payment_failed"))
    stripe_api.never_delivered(event(3, "charge.refunded"))
    stripe_api.observe(event(4, "customer.created"))
    assert ids(get(stripe_api, "/v1/events", type="invoice.*")[1]) == ["evt_0002", "evt_0001"]
    types = {"types[]": ["customer.created", "charge.refunded"]}
    assert ids(get(stripe_api, "/v1/events", **types)[1]) == ["evt_0004", "evt_0003"]
    assert ids(get(stripe_api, "/v1/events", delivery_success="false")[1]) == ["evt_0003"]
    delivered = get(stripe_api, "/v1/events", delivery_success="true")[1]
    assert ids(delivered) == ["evt_0004", "evt_0002", "evt_0001"]
    status, error = get(stripe_api, "/v1/events", type="a", **{"types[]": ["b"]})
    assert status == 400 and "either type or types" in error["error"]["message"]
    for bad in ({"limit": 0}, {"limit": 101}, {"colour": "red"}, {"created[after]": 1}):
        assert get(stripe_api, "/v1/events", **bad)[0] == 400, bad


def test_retrieves_v1_and_v2_events_and_related_objects(stripe_api: FakeStripe) -> None:
    stripe_api.observe(event(1))
    assert get(stripe_api, "/v1/events/evt_0001") == (200, event(1))
    status, error = get(stripe_api, "/v1/events/evt_gone")
    assert status == 404 and error["error"]["code"] == "resource_missing"
    thin = {"id": "evt_test_65R1", "object": "v2.core.event", "type": "v1.invoice.paid",
            "created": "2026-11-24T09:15:02.246Z", "livemode": False, "context": None,
            "related_object": {"id": "in_1", "type": "invoice", "url": "/v1/invoices/in_1"},
            "snapshot_event": "evt_0001", "changes": None}  # fmt: skip
    stripe_api.events.add_thin(thin)
    assert get(stripe_api, "/v2/core/events/evt_test_65R1") == (200, thin)
    assert get(stripe_api, "/v2/core/events/evt_0001")[0] == 404  # a v1 id is no v2 event
    stripe_api.events.add_object("/v2/core/event_destinations/ed_1", {"id": "ed_1"})
    assert get(stripe_api, "/v2/core/event_destinations/ed_1") == (200, {"id": "ed_1"})
    stripe_api.reset()
    assert get(stripe_api, "/v1/events/evt_0001")[0] == 404  # reset forgets seen events


def test_stripe_data_events_file_is_listed_and_pending_ones_are_undelivered(
    stripe_api: FakeStripe, tmp_path: Path
) -> None:
    pending = {**event(2), "pending_webhooks": 1}
    listed = {"object": "list", "data": [event(1), pending], "has_more": False, "url": "/v1/events"}
    (tmp_path / "events.json").write_text(json.dumps(listed))
    assert stripe_api.load_stripe_data(tmp_path) == 2
    assert ids(get(stripe_api, "/v1/events")[1]) == ["evt_0002", "evt_0001"]
    assert ids(get(stripe_api, "/v1/events", delivery_success="false")[1]) == ["evt_0002"]
    stripe_api.reset()  # --stripe-data survives a reset, as the catalogue does
    assert ids(get(stripe_api, "/v1/events")[1]) == ["evt_0002", "evt_0001"]
    (tmp_path / "bad.json").write_text(
        json.dumps({"object": "list", "data": [{"object": "event"}]})
    )
    with pytest.raises(StripeDataError, match=r"bad\.json: \.data\[0\]: not a Stripe object"):
        FakeStripe().load_stripe_data(tmp_path)
