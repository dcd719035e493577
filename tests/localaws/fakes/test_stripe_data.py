"""`--stripe-data`: the fake Stripe API serves Checkout Sessions and their line items from Stripe
CLI list output (examples/stripe-data), and answers as Stripe does for ids it does not know."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from payops.cli import main
from payops.localaws.fakes.fake_stripe import FakeStripe
from payops.localaws.fakes.stripe_catalogue import Catalogue, StripeDataError

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "examples" / "stripe-data"
LINK_ORDER = ROOT / "examples" / "events" / "10-payment-link-order-paid.json"
AUTH = {"Authorization": "Bearer sk_test_" + "local"}


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        server.load_stripe_data(DATA)
        yield server


def get(fake: FakeStripe, path: str, **params: Any) -> requests.Response:
    return requests.get(fake.url + path, params=params, headers=AUTH, timeout=5)


def link_session() -> dict[str, Any]:
    return json.loads(LINK_ORDER.read_text())["data"]["object"]


def test_payment_link_session_has_its_links_line_items(fake: FakeStripe) -> None:
    session = link_session()
    fake.observe(json.loads(LINK_ORDER.read_text()))  # learnt from the replayed event

    got = get(fake, f"/v1/checkout/sessions/{session['id']}")
    assert got.status_code == 200
    assert got.json()["payment_link"] == session["payment_link"]
    assert got.json()["metadata"] == {}

    items = get(fake, f"/v1/checkout/sessions/{session['id']}/line_items").json()
    assert items["object"] == "list" and items["has_more"] is False
    assert items["url"] == f"/v1/checkout/sessions/{session['id']}/line_items"
    assert [i["description"] for i in items["data"]] == [
        "AWS Patterns (e-book)",
        "Workshop recording: Stripe x EventBridge",
    ]
    assert all(i["id"].startswith("li_") for i in items["data"])
    link_item_ids = {"li_QsPLinkEbook0001", "li_QsPLinkBonus0002"}
    assert not link_item_ids & {i["id"] for i in items["data"]}  # the session's own ids
    assert items["data"][0]["price"]["object"] == "price"
    assert items["data"][0]["price"]["product"] == "prod_QsPtnEbook4980"  # not expanded

    again = get(fake, f"/v1/checkout/sessions/{session['id']}/line_items").json()
    assert [i["id"] for i in again["data"]] == [i["id"] for i in items["data"]]  # stable


def test_expanded_products_carry_their_metadata(fake: FakeStripe) -> None:
    fake.observe(json.loads(LINK_ORDER.read_text()))
    path = f"/v1/checkout/sessions/{link_session()['id']}/line_items"

    items = get(fake, path, **{"expand[]": "data.price.product"}).json()["data"]

    products = [i["price"]["product"] for i in items]
    assert [p["object"] for p in products] == ["product", "product"]
    assert products[0]["metadata"] == {"download_key": "ebook-aws-patterns"}
    assert products[1]["metadata"] == {} and products[1]["id"] == "prod_QsWrkBonusVid1"


def test_line_items_page_as_stripe_pages(fake: FakeStripe) -> None:
    fake.observe(json.loads(LINK_ORDER.read_text()))
    path = f"/v1/checkout/sessions/{link_session()['id']}/line_items"

    first = get(fake, path, limit=1).json()
    assert len(first["data"]) == 1 and first["has_more"] is True
    second = get(fake, path, limit=1, starting_after=first["data"][0]["id"]).json()
    assert len(second["data"]) == 1 and second["has_more"] is False
    assert second["data"][0]["id"] != first["data"][0]["id"]

    assert get(fake, path, limit=101).status_code == 400
    missing = get(fake, path, starting_after="li_nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "resource_missing"


def test_unknown_sessions_are_404_resource_missing(fake: FakeStripe) -> None:
    for path in ("/v1/checkout/sessions/cs_test_unknown",
                 "/v1/checkout/sessions/cs_test_unknown/line_items"):  # fmt: skip
        response = get(fake, path)
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["code"] == "resource_missing"
        assert "cs_test_unknown" in error["message"]


def test_a_session_known_only_from_its_event_has_no_line_items(fake: FakeStripe) -> None:
    """The event says a session exists, but nothing says what it bought: Stripe's answer for an
    id it does not know, not invented line items."""
    event = json.loads(LINK_ORDER.read_text())
    event["data"]["object"].update(id="cs_test_elsewhere", payment_link="plink_not_in_the_data")
    fake.observe(event)

    assert get(fake, "/v1/checkout/sessions/cs_test_elsewhere").status_code == 200
    items = get(fake, "/v1/checkout/sessions/cs_test_elsewhere/line_items")
    assert items.status_code == 404
    assert items.json()["error"]["code"] == "resource_missing"


def test_sessions_listed_with_their_line_items_are_served(tmp_path: Path) -> None:
    session = {**link_session(), "id": "cs_test_listed", "payment_link": None}
    session["line_items"] = {
        "object": "list",
        "data": [
            {
                "id": "li_own",
                "object": "item",
                "description": "Own",
                "quantity": 2,
                "price": "price_1PsPtnEbook4980JpyAbCd",
            }
        ],  # fmt: skip
        "has_more": False,
    }
    (tmp_path / "sessions.json").write_text(
        json.dumps({"object": "list", "data": [session], "has_more": False})
    )
    with FakeStripe() as fake:
        fake.load_stripe_data(DATA)
        fake.load_stripe_data(tmp_path)
        fake.reset()  # loaded data survives a reset
        (item,) = get(fake, "/v1/checkout/sessions/cs_test_listed/line_items").json()["data"]
        assert item["id"] == "li_own" and item["price"]["unit_amount"] == 4980
        assert "line_items" not in get(fake, "/v1/checkout/sessions/cs_test_listed").json()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a JSON file"),
        ('[{"id": "prod_x"}]', "expected a Stripe list object"),
        ('{"object": "list", "data": {}}', ".data is not a list"),
        ('{"object": "list", "data": [{"id": "x", "object": "customer"}]}', ".data[0]: object"),
        ('{"object": "list", "data": [{"object": "product"}]}', "not a Stripe object with an id"),
    ],
)
def test_bad_data_files_are_named_with_what_is_wrong(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "products.json").write_text(content)
    with pytest.raises(StripeDataError) as raised:
        Catalogue().load_dir(tmp_path)
    assert "products.json" in str(raised.value) and message in str(raised.value)


def test_cli_rejects_a_bad_stripe_data_dir_before_deploying(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["replay", "--stripe-data", str(tmp_path / "missing"), str(LINK_ORDER)])
    assert exited.value.code == 2
    assert "--stripe-data needs a directory" in capsys.readouterr().err
