"""Chat lines and tickets read well for every event the pipes let through, with null fields, in
any currency (functions/notices/outbound.json through the notice formatter)."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from conftest import FIXTURES
from test_notices import DASHBOARD, NULL_TEXT, notices

EVENTS = FIXTURES / "events"


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))["detail"]


def chat(stripe_event: dict[str, Any]) -> str:
    return notices.format_outbound("chat", stripe_event, DASHBOARD, 30000)["text"]


CHAT = {
    "checkout.session.completed.card-paid.json": "🛒 注文 ¥4,980",
    "checkout.session.completed.jpy-30000-exact.json": "💰 大口注文 ¥30,000",
    "checkout.session.completed.jpy-29999.json": "🛒 注文 ¥29,999",
    "checkout.session.async_payment_failed.json": "⚠️ 支払い失敗 ¥",
    "invoice.payment_failed.usd-final-attempt.json": "⚠️ 支払い失敗 $",
    "charge.dispute.created.json": "🚨 不審請求の申し立て ¥",
    "charge.refunded.partial.json": "↩️ 返金 ¥",
}


@pytest.mark.parametrize(("name", "starts"), sorted(CHAT.items()))
def test_each_chat_line_is_one_readable_line_in_both_languages(name: str, starts: str) -> None:
    text = chat(event(name))
    assert text.startswith(starts) and "\n" not in text
    assert " / " in text and f" {DASHBOARD}/" in text  # Japanese / English, then the link
    assert not NULL_TEXT.search(text.replace(DASHBOARD, "")), text


def test_null_fields_are_left_out_not_printed() -> None:
    guest = event("invoice.payment_failed.no-customer-email.json")
    assert guest["data"]["object"]["customer_email"] is None
    text = chat(guest)
    assert " from " not in text and not NULL_TEXT.search(text.replace(DASHBOARD, ""))


def test_the_large_order_threshold_is_the_setting() -> None:
    order = event("checkout.session.completed.jpy-29999.json")
    line = notices.format_outbound("chat", order, DASHBOARD, 29999)["text"]
    assert line.startswith("💰 大口注文 ¥29,999")


def test_a_ticket_names_the_event_and_is_url_encoded_for_form_apis() -> None:
    ticket = notices.format_outbound("ticket", event("charge.dispute.created.json"), DASHBOARD, 1)
    assert "Stripe event: evt_" in ticket["body"] and not NULL_TEXT.search(ticket["title"])
    assert urllib.parse.unquote(ticket["bodyForm"]) == ticket["body"]
    assert urllib.parse.unquote(ticket["titleForm"]) == ticket["title"]
    assert not set("&=\n ") & set(ticket["bodyForm"])


def test_an_event_the_pipe_should_have_filtered_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="no chat template for 'invoice.paid'"):
        chat(event("invoice.paid.jpy-5000.json"))
