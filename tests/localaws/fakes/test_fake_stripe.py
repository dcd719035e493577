"""FakeStripe: Stripe-shaped objects, errors, auth and idempotency, checked over raw HTTP and
through the real stripe-python client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe

from payops.localaws.fakes.fake_stripe import FakeStripe, parse_form

API_KEY = "sk_test_" + "local"  # built at runtime, far from a real key's shape
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeStripe) -> FakeStripe:
    server.reset()
    return server


def post(
    fake: FakeStripe,
    path: str,
    data: Any = None,
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    sent = dict(AUTH if headers is None else headers)
    if key:
        sent["Idempotency-Key"] = key
    return requests.post(fake.url + path, data=data, headers=sent, timeout=5)


def error_of(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


def test_parse_form_nested_keys() -> None:
    pairs = [
        ("metadata[order_id]", "ord_1"),
        ("metadata[note]", ""),
        ("expand[]", "a"),
        ("expand[]", "b"),
        ("items[1][quantity]", "2"),
        ("items[0][price]", "price_1"),
        ("promotion[coupon]", "co_1"),
        ("amount", "500"),
    ]
    assert parse_form(pairs) == {
        "metadata": {"order_id": "ord_1", "note": ""},
        "expand": ["a", "b"],
        "items": [{"price": "price_1"}, {"quantity": "2"}],
        "promotion": {"coupon": "co_1"},
        "amount": "500",
    }


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sk_live_" + "local"},
        {"Authorization": "Bearer sk_test_"},
        {"Authorization": "Basic c2tfdGVzdF94Og=="},
    ],
)
def test_requests_without_a_test_key_get_401(fake: FakeStripe, headers: dict[str, str]) -> None:
    response = post(fake, "/v1/coupons", {"percent_off": 5}, headers=headers)
    assert response.status_code == 401
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert "API key" in error["message"] or "API Key" in error["message"]
    assert fake.coupons == {}
    assert post(fake, "/v1/coupons", {"percent_off": 5}).status_code == 200


def test_coupon_shape_and_nested_metadata(fake: FakeStripe) -> None:
    response = post(
        fake,
        "/v1/coupons",
        "percent_off=12.5&duration=repeating&duration_in_months=3&metadata[order_id]=ord_9",
    )
    assert response.status_code == 200
    assert response.headers["Request-Id"].startswith("req_")
    coupon = response.json()
    assert coupon["id"].startswith("co_")
    assert coupon["object"] == "coupon"
    assert coupon["livemode"] is False
    assert isinstance(coupon["created"], int)
    assert (coupon["percent_off"], coupon["amount_off"]) == (12.5, None)
    assert (coupon["duration"], coupon["duration_in_months"]) == ("repeating", 3)
    assert coupon["metadata"] == {"order_id": "ord_9"}
    assert fake.coupons == {coupon["id"]: coupon}


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"duration": "once"}, None),  # neither percent_off nor amount_off
        ({"percent_off": 10, "amount_off": 100, "currency": "jpy"}, None),
        ({"amount_off": 100}, "currency"),
        ({"amount_off": "lots", "currency": "jpy"}, "amount_off"),
        ({"percent_off": 150}, "percent_off"),
        ({"percent_off": 10, "duration": "repeating"}, "duration_in_months"),
        ({"percent_off": 10, "colour": "red"}, "colour"),
    ],
)
def test_coupon_validation(fake: FakeStripe, data: dict[str, Any], param: str | None) -> None:
    response = post(fake, "/v1/coupons", data)
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error.get("param") == param
    assert fake.coupons == {}


def test_idempotency_replays_and_rejects_other_parameters(fake: FakeStripe) -> None:
    first = post(fake, "/v1/coupons", {"percent_off": 10, "metadata[o]": "1"}, key="k-1")
    replay = post(fake, "/v1/coupons", {"metadata[o]": "1", "percent_off": 10}, key="k-1")
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(fake.coupons) == 1

    other = post(fake, "/v1/coupons", {"percent_off": 20}, key="k-1")
    assert other.status_code == 400
    assert error_of(other)["type"] == "idempotency_error"
    elsewhere = post(fake, "/v1/refunds", {"percent_off": 10, "metadata[o]": "1"}, key="k-1")
    assert error_of(elsewhere)["type"] == "idempotency_error"

    fresh = post(fake, "/v1/coupons", {"percent_off": 10, "metadata[o]": "1"}, key="k-2")
    assert fresh.json()["id"] != first.json()["id"]
    assert len(fake.coupons) == 2
    assert [c.replayed for c in fake.calls] == [False, True, False, False, False]


def test_validation_errors_are_not_saved_under_the_key(fake: FakeStripe) -> None:
    assert post(fake, "/v1/coupons", {"amount_off": 100}, key="k-3").status_code == 400
    fixed = post(fake, "/v1/coupons", {"amount_off": 100, "currency": "JPY"}, key="k-3")
    assert fixed.status_code == 200
    assert fixed.json()["currency"] == "jpy"


def test_fail_next_injects_failures_before_the_endpoint_runs(fake: FakeStripe) -> None:
    fake.fail_next(429)
    fake.fail_next(503, times=2)
    limited = post(fake, "/v1/coupons", {"percent_off": 5}, key="k-4")
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "rate_limit"
    for _ in range(2):
        failed = post(fake, "/v1/coupons", {"percent_off": 5}, key="k-4")
        assert failed.status_code == 503
        assert error_of(failed)["type"] == "api_error"
        assert failed.headers["Stripe-Should-Retry"] == "true"
    assert fake.coupons == {}
    ok = post(fake, "/v1/coupons", {"percent_off": 5}, key="k-4")  # the retry goes through
    assert ok.status_code == 200
    assert len(fake.coupons) == 1
    assert [(c.status, c.injected) for c in fake.calls] == [
        (429, True),
        (503, True),
        (503, True),
        (200, False),
    ]
    with pytest.raises(ValueError):
        fake.fail_next(200)


def test_promotion_codes(fake: FakeStripe) -> None:
    coupon = post(fake, "/v1/coupons", {"amount_off": 500, "currency": "jpy"}).json()
    created = post(
        fake,
        "/v1/promotion_codes",
        {"promotion[type]": "coupon", "promotion[coupon]": coupon["id"], "code": "THANKS-1"},
    )
    assert created.status_code == 200
    promo = created.json()
    assert promo["id"].startswith("promo_")
    assert promo["object"] == "promotion_code"
    assert (promo["code"], promo["active"], promo["livemode"]) == ("THANKS-1", True, False)
    assert promo["promotion"] == {"type": "coupon", "coupon": coupon["id"]}

    legacy = post(fake, "/v1/promotion_codes", {"coupon": coupon["id"]}).json()
    assert legacy["promotion"]["coupon"] == coupon["id"]
    assert len(legacy["code"]) == 8

    duplicate = post(fake, "/v1/promotion_codes", {"coupon": coupon["id"], "code": "thanks-1"})
    assert error_of(duplicate)["code"] == "resource_already_exists"
    missing = post(
        fake, "/v1/promotion_codes", {"promotion[type]": "coupon", "promotion[coupon]": "co_nope"}
    )
    assert missing.status_code == 400
    assert error_of(missing)["code"] == "resource_missing"
    assert len(fake.promotion_codes) == 2


def test_refunds(fake: FakeStripe) -> None:
    intent = fake.add_payment_intent(3000, "jpy")
    partial = post(
        fake,
        "/v1/refunds",
        {
            "payment_intent": intent["id"],
            "amount": 1000,
            "reason": "requested_by_customer",
            "metadata[order_id]": "o1",
        },
    )
    assert partial.status_code == 200
    refund = partial.json()
    assert refund["id"].startswith("re_")
    assert refund["object"] == "refund"
    assert (refund["amount"], refund["currency"], refund["status"]) == (1000, "jpy", "succeeded")
    assert refund["payment_intent"] == intent["id"]
    assert refund["charge"] == intent["latest_charge"]
    assert refund["metadata"] == {"order_id": "o1"}

    too_much = post(fake, "/v1/refunds", {"charge": intent["latest_charge"], "amount": 2500})
    assert (too_much.status_code, error_of(too_much)["param"]) == (400, "amount")
    rest = post(fake, "/v1/refunds", {"charge": intent["latest_charge"]}).json()
    assert rest["amount"] == 2000  # the unrefunded remainder
    again = post(fake, "/v1/refunds", {"payment_intent": intent["id"]})
    assert error_of(again)["code"] == "charge_already_refunded"
    unknown = post(fake, "/v1/refunds", {"payment_intent": "pi_unknown"})
    assert error_of(unknown)["code"] == "resource_missing"
    bad_reason = fake.add_payment_intent(100)
    assert (
        post(
            fake, "/v1/refunds", {"payment_intent": bad_reason["id"], "reason": "whim"}
        ).status_code
        == 400
    )
    assert len(fake.refunds) == 2


def test_subscriptions_get_and_cancel(fake: FakeStripe) -> None:
    sub = fake.add_subscription(customer="cus_1", metadata={"plan": "pro"})
    url = f"{fake.url}/v1/subscriptions/{sub['id']}"
    got = requests.get(url, headers=AUTH, timeout=5)
    assert got.status_code == 200
    assert got.json()["status"] == "active"
    assert got.json()["object"] == "subscription"
    assert sub["id"].startswith("sub_")

    cancelled = requests.delete(
        url, data={"cancellation_details[comment]": "moving"}, headers=AUTH, timeout=5
    )
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["status"] == "canceled"
    assert isinstance(body["canceled_at"], int)
    assert body["cancellation_details"]["comment"] == "moving"
    assert requests.get(url, headers=AUTH, timeout=5).json()["status"] == "canceled"
    assert requests.delete(url, headers=AUTH, timeout=5).status_code == 400

    missing = requests.get(f"{fake.url}/v1/subscriptions/sub_nope", headers=AUTH, timeout=5)
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "resource_missing"
    unknown = requests.get(f"{fake.url}/v1/customers", headers=AUTH, timeout=5)
    assert unknown.status_code == 404
    assert "Unrecognized request URL" in error_of(unknown)["message"]


def _subscription_event(kind: str, created: int, status: str) -> dict[str, Any]:
    return {
        "id": f"evt_{kind}{created}",
        "object": "event",
        "type": f"customer.subscription.{kind}",
        "created": created,
        "data": {"object": {"id": "sub_1", "object": "subscription", "customer": "cus_1",
                            "status": status, "latest_invoice": None}},
    }  # fmt: skip


@pytest.mark.parametrize(
    "order",
    [("created", "updated", "deleted"), ("deleted", "created", "updated"),
     ("updated", "deleted", "created"), ("deleted", "updated", "created")],
)  # fmt: skip
def test_subscriptions_answer_their_newest_state_whatever_the_replay_order(
    fake: FakeStripe, order: tuple[str, ...]
) -> None:
    events = {
        "created": _subscription_event("created", 100, "incomplete"),
        "updated": _subscription_event("updated", 200, "active"),
        "deleted": _subscription_event("deleted", 300, "canceled"),
    }
    for kind in order:
        fake.observe(events[kind])
    url = f"{fake.url}/v1/subscriptions/sub_1"
    assert requests.get(url, headers=AUTH, timeout=5).json()["status"] == "canceled"


def test_same_second_subscription_events_resolve_by_lifecycle(fake: FakeStripe) -> None:
    fake.observe(_subscription_event("updated", 100, "active"))
    fake.observe(_subscription_event("created", 100, "incomplete"))  # same second, earlier step
    url = f"{fake.url}/v1/subscriptions/sub_1"
    assert requests.get(url, headers=AUTH, timeout=5).json()["status"] == "active"


def test_reset_forgets_everything(fake: FakeStripe) -> None:
    post(fake, "/v1/coupons", {"percent_off": 5}, key="k-5")
    fake.fail_next(500)
    fake.reset()
    assert (fake.calls, fake.coupons) == ([], {})
    response = post(fake, "/v1/coupons", {"percent_off": 9}, key="k-5")
    assert response.status_code == 200  # no pending failure, no remembered key


def test_the_real_stripe_client_talks_to_the_fake(fake: FakeStripe) -> None:
    client = stripe.StripeClient(API_KEY, base_addresses={"api": fake.url}, max_network_retries=0)
    coupon = client.v1.coupons.create(
        {"percent_off": 20, "duration": "once", "metadata": {"order_id": "ord_1"}},
        {"idempotency_key": "order-ord_1"},
    )
    assert isinstance(coupon, stripe.Coupon)
    assert coupon.metadata["order_id"] == "ord_1"
    promo = client.v1.promotion_codes.create(
        {"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "ORD1"}
    )
    assert promo.promotion.coupon == coupon.id
    intent = fake.add_payment_intent(1200)
    refund = client.v1.refunds.create({"payment_intent": intent["id"]})
    assert refund.amount == 1200
    sub = fake.add_subscription()
    assert client.v1.subscriptions.retrieve(sub["id"]).status == "active"
    assert client.v1.subscriptions.cancel(sub["id"]).status == "canceled"
    with pytest.raises(stripe.IdempotencyError):
        client.v1.coupons.create({"percent_off": 30}, {"idempotency_key": "order-ord_1"})
    fake.fail_next(500)
    with pytest.raises(stripe.APIError):
        client.v1.coupons.create({"percent_off": 5})
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient(
            "rk_test_" + "local", base_addresses={"api": fake.url}, max_network_retries=0
        ).v1.coupons.create({"percent_off": 5})


def test_subscription_expands_its_customer_and_a_failure_can_pin_the_query(
    fake: FakeStripe,
) -> None:
    fake.add_subscription(customer="cus_A", id="sub_A")
    fake.observe(
        {
            "type": "customer.updated",
            "created": 1720000000,
            "data": {
                "object": {"id": "cus_A", "object": "customer", "metadata": {"app_user_id": "u_1"}}
            },
        }
    )
    url = fake.url + "/v1/subscriptions/sub_A"
    fake.fail_next(500, path="/v1/subscriptions/", query="")  # only the plain read fails
    expanded = requests.get(url, params={"expand[]": "customer"}, headers=AUTH, timeout=5)
    assert expanded.status_code == 200
    assert expanded.json()["customer"]["metadata"] == {"app_user_id": "u_1"}
    assert requests.get(url, headers=AUTH, timeout=5).status_code == 500
    plain = requests.get(url, headers=AUTH, timeout=5)
    assert plain.status_code == 200 and plain.json()["customer"] == "cus_A"
