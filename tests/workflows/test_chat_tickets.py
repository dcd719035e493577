"""Chat posts and tickets end to end in the local AWS (issue 14): the real template with
chatProvider/ticketProvider on, Stripe events in, the fake Slack / Teams / Backlog / GitHub out.

Done means: with both providers on, a failed invoice payment delivered three times gives exactly
one chat post, one ticket and one customer email.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PARTNER_SOURCE

from payops.envelope import load_events
from payops.localaws.runtime import EventTrace, LocalAws

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "fixtures" / "events"
DASHBOARD = "https://dashboard.stripe.com"


def running(**settings: str) -> Iterator[LocalAws]:
    """The stack in the local AWS with these settings (a module fixture's body)."""
    context = {"stripeEventSourceName": PARTNER_SOURCE, **settings}
    with LocalAws(context, stripe_data=ROOT / "examples" / "stripe-data") as local:
        yield local


@pytest.fixture(scope="module")
def local() -> Iterator[LocalAws]:
    yield from running(
        chatProvider="slack",
        slackChannel="C0PAYOPS01",
        ticketProvider="backlog",
        backlogProjectId="4242",
    )


@pytest.fixture
def fake(local: LocalAws) -> Any:
    local.fake_partners.reset()
    return local.fake_partners


def deliver(local: LocalAws, name: str, times: int = 1) -> list[EventTrace]:
    (event,) = load_events(EVENTS / name, local.settings)
    traces = [local.send(event) for _ in range(times)]
    assert all(t.delivery == "accepted" for t in traces)
    return traces


def text_of(call: dict[str, Any]) -> str:
    return str(call["body"]["text"])


def test_a_failed_payment_delivered_three_times_gives_one_post_one_ticket_one_email(
    local: LocalAws, fake: Any
) -> None:
    traces = deliver(local, "invoice.payment_failed.json", times=3)
    assert [t.failed for t in traces] == [[], [], []]
    (post,) = fake.of("slack")
    (ticket,) = fake.of("backlog")
    emails = [e for t in traces for e in t.emails]
    assert [e["to"] for e in emails] == ["haruto.shimizu@example.jp"]
    event_id = "evt_1PkPjYk2LmQ1hvtwUz1hDQc2"
    # One readable line, Japanese and English, the amount in yen, the Dashboard link.
    assert post["body"]["channel"] == "C0PAYOPS01" and post["authorized"]
    assert text_of(post) == (
        "⚠️ 支払い失敗 ¥9,800 haruto.shimizu@example.jp / Payment failed: ¥9,800 from "
        f"haruto.shimizu@example.jp {DASHBOARD}/events/{event_id}"
    )
    # The ticket: Backlog's form, the settings' project, the event id in the text.
    form = ticket["body"]
    assert ticket["authorized"] and ticket["path"] == "/api/v2/issues"
    assert (form["projectId"], form["issueTypeId"], form["priorityId"]) == ("4242", "1", "3")
    assert form["summary"] == "支払い失敗 / Payment failed: ¥9,800 (in_1PTPjYk2LmQ07vrF39sRpOdY)"
    assert f"Stripe event: {event_id} (invoice.payment_failed)" in form["description"]
    assert "null" not in form["description"] and "None" not in form["description"]


def test_the_trace_shows_both_calls_without_the_api_key(local: LocalAws, fake: Any) -> None:
    (trace,) = deliver(local, "checkout.session.async_payment_failed.json")
    assert sorted(c["url"] for c in trace.http_calls) == [
        "https://example.backlog.com/api/v2/issues?apiKey=****",
        "https://slack.com/api/chat.postMessage",
    ]
    assert all(c["status"] in (200, 201) for c in trace.http_calls)


def test_a_dispute_redelivered_opens_one_ticket(local: LocalAws, fake: Any) -> None:
    deliver(local, "charge.dispute.created.json", times=4)
    (ticket,) = fake.of("backlog")
    assert ticket["body"]["summary"].startswith("不審請求の申し立て / Dispute: ")
    assert len(fake.of("slack")) == 1


@pytest.mark.parametrize(
    ("name", "starts", "amount"),
    [
        ("checkout.session.completed.card-paid.json", "🛒 注文 ", "¥4,980"),
        ("checkout.session.completed.jpy-36000.json", "💰 大口注文 ", "¥36,000"),
        ("checkout.session.completed.usd-large.json", "🛒 注文 ", "$"),
        ("charge.refunded.partial.json", "↩️ 返金 ", "¥"),
    ],
)
def test_orders_and_refunds_are_posted_and_open_no_ticket(
    local: LocalAws, fake: Any, name: str, starts: str, amount: str
) -> None:
    deliver(local, name)
    (post,) = fake.of("slack")
    assert text_of(post).startswith(starts) and amount in text_of(post)
    assert f" {DASHBOARD}/" in text_of(post)
    assert fake.of("backlog") == []


@pytest.mark.parametrize(
    "name",
    [
        "checkout.session.completed.konbini-unpaid.json",  # not paid yet
        "customer.subscription.created.active.json",
        "invoice.paid.jpy-5000.json",
        "charge.dispute.closed.lost-usd.json",  # only a new dispute is news
    ],
)
def test_events_not_worth_a_post_call_nothing(local: LocalAws, fake: Any, name: str) -> None:
    (trace,) = deliver(local, name)
    assert fake.calls == [] and trace.failed == []


def test_a_subscription_refunded_for_failed_provisioning_opens_a_ticket(
    local: LocalAws, fake: Any
) -> None:
    deliver(local, "refund.created.provisioning-failed.json", times=2)
    (ticket,) = fake.of("backlog")
    assert ticket["body"]["summary"] == (
        "プロビジョニング失敗 / Subscription provisioning failed: sub_1PqR6yK2LmQvW9eYdE5fG6hI"
    )
    assert "¥1,980" in ticket["body"]["description"]
    assert fake.of("slack") == []  # a refund.created is no chat news (charge.refunded is)


def test_a_post_that_fails_once_is_retried_and_sent_once(local: LocalAws, fake: Any) -> None:
    fake.fail_next("slack", 500)
    deliver(local, "charge.refunded.json")
    assert [c.get("status") for c in fake.of("slack")] == [500, None]  # the same SQS message
    deliver(local, "charge.refunded.json")  # a redelivery of the event after it was posted
    assert len(fake.of("slack")) == 2


def test_a_ticket_the_api_keeps_refusing_is_dead_lettered_and_reported(
    local: LocalAws, fake: Any
) -> None:
    fake.fail_next("backlog", 500, times=100)
    (trace,) = deliver(local, "invoice.payment_failed.jpy-980.json")
    assert len(fake.of("backlog")) == 5  # the queue's maxReceiveCount
    assert trace.dlq == {"NotificationsTicketDeadLetters": 1}
    (failure,) = trace.failed
    assert "TicketPipe" in failure["workflow"] and "HTTP 500" in failure["error"]
    assert len(fake.of("slack")) == 1  # the chat consumer is independent

    # The API is back: the README's re-drive moves the message back to its queue (a new SQS
    # message id). Its last try gave the claim back, so the ticket opens, once.
    fake.fail_next("backlog", 500, times=0)
    redrive(local, "NotificationsTicketDeadLetters", "NotificationsTicketQueue")
    assert [c.get("status") for c in fake.of("backlog")][5:] == [None]
    deliver(local, "invoice.payment_failed.jpy-980.json")  # and a redelivery finds the claim
    assert len(fake.of("backlog")) == 6


def queue_url(local: LocalAws, name: str) -> str:
    sqs = local.client("sqs")
    (url,) = [u for u in sqs.list_queues()["QueueUrls"] if local._name(u.rsplit("/", 1)[1]) == name]
    return url


def redrive(local: LocalAws, dlq: str, source: str) -> None:
    """What `aws sqs start-message-move-task` does: each message sent again as a new message."""
    sqs = local.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url(local, dlq), MaxNumberOfMessages=10)
    for message in messages.get("Messages", []):
        sqs.send_message(QueueUrl=queue_url(local, source), MessageBody=message["Body"])
        sqs.delete_message(QueueUrl=queue_url(local, dlq), ReceiptHandle=message["ReceiptHandle"])
    local.settle()
