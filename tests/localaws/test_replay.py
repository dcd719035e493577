"""End to end: the real stack in the local AWS, the bundled example events replayed through it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from payops.envelope import load_events
from payops.localaws.cli import summarize
from payops.localaws.runtime import LocalAws

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "events"
PARTNER_SOURCE = "aws.partner/stripe.com/ed_test_61SampleDestination"

# What the example story must do, whichever ingress carries it. One email per paid order: the
# duplicate delivery (09) changes nothing.
SESSION = "https://api.stripe.com/v1/checkout/sessions/"
LINK_SESSION = "cs_test_a1PaymentLinkCheckoutV9wX2yZ5aB8cD1eF4gH7iJ0kL3mN6oP9qR2sT5u"
DOWNLOAD = "Your download is ready / ダウンロードのご案内"
COUPON = "A thank-you coupon for your next order"
CARD_SESSION = "cs_test_a1rfC313SyucPIE9BmyQnNOyzszoj11c51cLNYHuYDx2ngdiOTtzfDqrhg5e"
KONBINI_SESSION = "cs_test_a1x7wYWCarUJnQgivL2dIYY2SuaWwMlnLZOkgnU04iROmjIla5b1MbHHBtlb"
LARGE_SESSION = "cs_test_a10CI1UjLacTi8WNdrZNYFL4n2qh6UPFGm7zAJo6SyJLVyBbzi1AoRmhZxtf"
EXPECTED_SUMMARY = {
    "events": 11,
    "rules": {
        "Events-Archive-StripePayOps-stripe-events": 11,  # the archive's rule: every event kept
        "analytics-export": 11,  # every delivery goes to Firehose (issue 16)
        "access-changed": 3,
        "awaiting-payment": 1,
        "coupon-qualifying-order": 1,
        "customer-changed": 3,
        "customer-dunning": 1,
        "large-order": 1,
        "paid-order": 6,
        "payment-activity": 11,
        "payment-failed": 1,
        "subscription-ended": 1,
        "subscription-started": 1,
    },
    "executions": {
        "access": {"SUCCEEDED": 3},
        "audit-record": {"SUCCEEDED": 11},
        "coupon": {"SUCCEEDED": 1},
        "customer-mirror": {"SUCCEEDED": 3},
        "dunning": {"SUCCEEDED": 1},
        "fulfilment": {"SUCCEEDED": 6},
        # One run per notice rule matched; the duplicates' runs end AlreadySent.
        "notice": {"SUCCEEDED": 9},
        "subscription-deprovision": {"SUCCEEDED": 1},
        "subscription-provision": {"SUCCEEDED": 1},
    },
    "emails": [
        {"to": "hanako.sato@example.jp", "subject": DOWNLOAD},
        {"to": "kenji.suzuki@example.jp", "subject": DOWNLOAD},
        {"to": "aiko.watanabe@corp.example.jp", "subject": COUPON},
        {"to": "aiko.watanabe@corp.example.jp", "subject": DOWNLOAD},
        {"to": "kenji.tanaka@example.jp", "subject": DOWNLOAD},  # the Payment Link order
        # The failed payment (04): the customer is told how to pay (dunning).
        {
            "to": "yuki.takahashi@example.jp",
            "subject": "お支払いが完了しませんでした / Your payment did not go through",
        },
    ],
    "sns": {
        "NotificationsLargeOrders": 1,
        "NotificationsOrders": 4,  # not 6: the duplicates (09, 11) claim and find the notice sent
        "NotificationsPaymentActivity": 11,
        "NotificationsPaymentProblems": 2,
    },
    "http_calls": [
        {"method": "GET", "url": SESSION + CARD_SESSION},
        {"method": "GET", "url": SESSION + KONBINI_SESSION},
        {"method": "GET", "url": SESSION + LARGE_SESSION},
        {"method": "POST", "url": "https://api.stripe.com/v1/coupons"},
        {"method": "POST", "url": "https://api.stripe.com/v1/promotion_codes"},
        # Provisioning reads the subscription before creating its stack and again once it is
        # up; deprovisioning reads it before removing anything.
        *[
            {
                "method": "GET",
                "url": "https://api.stripe.com/v1/subscriptions/sub_1PjPjYk2LmQbO0pq5sqDHHiT",
            }
        ]
        * 3,
        # The access workflow reads it (with its customer) for each of its three events.
        *[
            {
                "method": "GET",
                "url": "https://api.stripe.com/v1/subscriptions/sub_1PjPjYk2LmQbO0pq5sqDHHiT"
                "?expand%5B%5D=customer",
            }
        ]
        * 3,
        {"method": "GET", "url": SESSION + LINK_SESSION},
        {
            "method": "GET",
            "url": SESSION + LINK_SESSION + "/line_items?limit=100&expand%5B%5D=data.price.product",
        },
    ],
    "dlq": {},
    "failed": [],
    # Read by eye: amounts per currency, no null text, a Dashboard link each. Staff notices act
    # once per (notice, event id): the duplicate delivery (09) and the redelivery (11) send none.
    "notices": [
        # The Payment Link order (10); its redelivery (11) finds the notice's claim.
        {
            "topic": "NotificationsOrders",
            "message": (
                "Paid order cs_test_a1PaymentLinkCheckoutV9wX2yZ5aB8cD1eF4gH7iJ0kL3mN6oP9qR2s"
                "T5u: ¥4,980 from kenji.tanaka@example.jp (Kenji Tanaka)\nhttps://dashboard."
                "stripe.com/checkout/sessions/cs_test_a1PaymentLinkCheckoutV9wX2yZ5aB8cD1eF4g"
                "H7iJ0kL3mN6oP9qR2sT5u"
            ),
        },
        {
            "topic": "NotificationsLargeOrders",
            "message": (
                "Large order cs_test_a10CI1UjLacTi8WNdrZNYFL4n2qh6UPFGm7zAJo6SyJLVyBbzi"
                "1AoRmhZxtf: ¥36,000 from aiko.watanabe@corp.example.jp (Aiko Watanabe)"
                "\nhttps://dashboard.stripe.com/checkout/sessions/cs_test_a10CI1UjLacTi8"
                "WNdrZNYFL4n2qh6UPFGm7zAJo6SyJLVyBbzi1AoRmhZxtf"
            ),
        },
        {
            "topic": "NotificationsOrders",
            "message": (
                "Paid order cs_test_a10CI1UjLacTi8WNdrZNYFL4n2qh6UPFGm7zAJo6SyJLVyBbzi1"
                "AoRmhZxtf: ¥36,000 from aiko.watanabe@corp.example.jp (Aiko Watanabe)\n"
                "https://dashboard.stripe.com/checkout/sessions/cs_test_a10CI1UjLacTi8W"
                "NdrZNYFL4n2qh6UPFGm7zAJo6SyJLVyBbzi1AoRmhZxtf"
            ),
        },
        {
            "topic": "NotificationsOrders",
            "message": (
                "Paid order cs_test_a1rfC313SyucPIE9BmyQnNOyzszoj11c51cLNYHuYDx2ngdiOTt"
                "zfDqrhg5e: ¥4,980 from hanako.sato@example.jp (Hanako Sato)\nhttps://da"
                "shboard.stripe.com/checkout/sessions/cs_test_a1rfC313SyucPIE9BmyQnNOyz"
                "szoj11c51cLNYHuYDx2ngdiOTtzfDqrhg5e"
            ),
        },
        {
            "topic": "NotificationsOrders",
            "message": (
                "Paid order cs_test_a1x7wYWCarUJnQgivL2dIYY2SuaWwMlnLZOkgnU04iROmjIla5b"
                "1MbHHBtlb: ¥2,980 from kenji.suzuki@example.jp (Kenji Suzuki)\nhttps://"
                "dashboard.stripe.com/checkout/sessions/cs_test_a1x7wYWCarUJnQgivL2dIYY"
                "2SuaWwMlnLZOkgnU04iROmjIla5b1MbHHBtlb"
            ),
        },
        {
            "topic": "NotificationsPaymentProblems",
            "message": (
                "Awaiting payment for order cs_test_a1x7wYWCarUJnQgivL2dIYY2SuaWwMlnLZO"
                "kgnU04iROmjIla5b1MbHHBtlb: ¥2,980 from kenji.suzuki@example.jp (Kenji "
                "Suzuki), not paid yet (konbini or bank transfer)\nhttps://dashboard.str"
                "ipe.com/checkout/sessions/cs_test_a1x7wYWCarUJnQgivL2dIYY2SuaWwMlnLZOk"
                "gnU04iROmjIla5b1MbHHBtlb"
            ),
        },
        {
            "topic": "NotificationsPaymentProblems",
            "message": (
                "Payment failed (checkout.session.async_payment_failed) on cs_test_a1sF"
                "5DG5nFLHIUH5PrAtpUak9LkcnzfzUOffqWiG7l4IkRjJUqPSOwA0U7nR: ¥3,980 from "
                "yuki.takahashi@example.jp, customer cus_QqkWCijKevxsAu\nhttps://dashboa"
                "rd.stripe.com/events/evt_1PRPjYk2LmQv8B1ExN6cPNCU"
            ),
        },
    ],
}


def replay(ingress: str) -> tuple[list, LocalAws]:
    local = LocalAws(
        {"ingress": ingress, "stripeEventSourceName": PARTNER_SOURCE},
        stripe_data=ROOT / "examples" / "stripe-data",
    ).start()
    try:
        traces = [local.send(event) for event in load_events(EXAMPLES, local.settings)]
    except BaseException:
        local.stop()
        raise
    return traces, local


@pytest.fixture(scope="module", params=["partner", "webhook"])
def replayed(request: pytest.FixtureRequest):
    traces, local = replay(request.param)
    yield traces, local
    local.stop()


def normalised(summary: dict) -> dict:
    # Emails are compared as a multiset: two workflows triggered by one event may finish in
    # either order.
    return {
        **summary,
        "emails": sorted(summary["emails"], key=json.dumps),
        "notices": sorted(summary["notices"], key=json.dumps),
        "http_calls": sorted(summary["http_calls"], key=json.dumps),
    }


def test_example_story_summary_is_exactly_as_expected(replayed) -> None:
    traces, _ = replayed
    assert all(trace.delivery == "accepted" for trace in traces)
    assert normalised(summarize(traces)) == normalised(EXPECTED_SUMMARY)


def test_with_default_settings_no_chat_or_ticket_api_is_called(replayed) -> None:
    _, local = replayed
    assert (local.settings.chat_provider, local.settings.ticket_provider) == ("none", "none")
    assert local.fake_partners.calls == []


@pytest.mark.parametrize(("first", "again"), [(0, 8), (9, 10)])  # 09 repeats 01, 11 repeats 10
def test_duplicate_delivery_has_no_second_side_effect(replayed, first: int, again: int) -> None:
    traces, _ = replayed
    original, duplicate = traces[first], traces[again]
    assert original.event_id == duplicate.event_id
    assert len(original.emails) == 1 and duplicate.emails == []
    fulfilment = [e for e in duplicate.executions if e["state_machine"] == "fulfilment"]
    assert [e["states"][-1] for e in fulfilment] == ["AlreadyHandled"]
    assert "FulfilmentOrders" not in duplicate.table_writes
    assert "FulfilmentGrants" not in duplicate.table_writes
    # Staff notices too: the original's notice claimed (paid-order, event id).
    assert len(original.notices) == 1 and duplicate.notices == []
    notices = [e for e in duplicate.executions if e["state_machine"] == "notice"]
    assert [e["states"][-1] for e in notices] == ["AlreadySent"]


def test_replayed_workflows_left_their_records(replayed) -> None:
    _, local = replayed
    dynamodb = local.client("dynamodb")
    tables = {local.names.get(name, name): name for name in dynamodb.list_tables()["TableNames"]}
    orders = dynamodb.scan(TableName=tables["FulfilmentOrders"])["Items"]
    assert sorted(item["status"]["S"] for item in orders) == ["FULFILLED"] * 4
    grants = dynamodb.scan(TableName=tables["FulfilmentGrants"])["Items"]
    assert len(grants) == 5  # the Payment Link order has two line items with a file
    audit = dynamodb.scan(TableName=tables["NotificationsAuditTable"])["Items"]
    assert len(audit) == 9  # 11 deliveries, two of them duplicates
    cloudformation = local.client("cloudformation")
    customer_stacks = [
        s for s in cloudformation.list_stacks()["StackSummaries"]
        if s["StackName"].startswith("payops-customer-")
    ]  # fmt: skip
    assert [s["StackStatus"] for s in customer_stacks] == ["DELETE_COMPLETE"]


def test_access_follows_the_story_without_cognito(replayed) -> None:
    """No cognitoUserPoolId: the projection and its events, and not one Cognito call."""
    from payops.localaws.core.recorder import RECORDER

    traces, local = replayed
    runs = [e for t in traces for e in t.executions if e["state_machine"] == "access"]
    # 06 incomplete (none: the first projection), 07 active (full), 08 deleted (none).
    assert [run["states"][-1] for run in runs] == ["AccessChanged"] * 3
    assert all("CognitoOff" in run["states"] for run in runs)
    assert not any("UpdateCognitoUser" in run["states"] for run in runs)
    assert RECORDER.facts("cognito_attributes") == []
    dynamodb = local.client("dynamodb")
    tables = {local.names.get(name, name): name for name in dynamodb.list_tables()["TableNames"]}
    item = dynamodb.get_item(
        TableName=tables["AccessTable"], Key={"pk": {"S": "user#u_1001"}, "sk": {"S": "access"}}
    )["Item"]
    assert (item["plan"]["S"], item["access"]["S"]) == ("membership_monthly", "none")
