"""Staff notices read well: no null text, amounts per currency, a Stripe Dashboard link; and
every rule acts (a rule without a target stops synth).

Formatting is unit-tested on the Lambda's pure functions; the whole path (rule -> notice
workflow -> format Lambda -> SNS) runs in the local AWS on real-shaped events, including ones
whose fields are null as Stripe sends them (guest checkouts, older API versions).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import pytest
from conftest import PARTNER_SOURCE, ROOT, Synthesized, load_fixture

from payops.envelope import LoadedEvent
from payops.localaws.runtime import LocalAws
from payops.rules import Rule
from stacks.notifications import TOPIC_OF_RULE
from stacks.rule_catalogue import RuleCatalogue, RuleWithoutTarget

DASHBOARD = "https://dashboard.stripe.com"
NULL_TEXT = re.compile(r"\b(null|None|undefined)\b|[{}\[\]<>]")


def _formatter() -> Any:
    path = ROOT / "functions" / "notices" / "handler.py"
    spec = importlib.util.spec_from_file_location("notices_handler_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop("notices_handler_under_test", None)
    spec.loader.exec_module(module)
    return module


notices = _formatter()


# ------------------------------------------------------------------------------ amounts


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (4800, "jpy", "¥4,800"),
        (36000, "JPY", "¥36,000"),
        (1250, "usd", "$12.50"),
        (1250, "eur", "€12.50"),
        (123456789, "usd", "$1,234,567.89"),
        (5, "usd", "$0.05"),
        (1250, "chf", "12.50 CHF"),
        (12345, "kwd", "12.345 KWD"),  # three-decimal
        (50000, "krw", "₩50,000"),  # zero-decimal
        (-1250, "gbp", "-£12.50"),
        (None, "jpy", None),
        (True, "jpy", None),
    ],
)
def test_amounts_are_formatted_per_currency(amount: Any, currency: str, text: str | None) -> None:
    assert notices.format_money(amount, currency) == text


# ------------------------------------------------------------------------------ templates

# One real-shaped event per notice rule (tests/fixtures/events).
EXAMPLE_OF_RULE = {
    "paid-order": "checkout.session.completed.card-paid.json",
    "free-order": "checkout.session.completed.no_payment_required.json",
    "large-order": "checkout.session.completed.jpy-36000.json",
    "large-invoice": "invoice.paid.jpy-5000.json",
    "awaiting-payment": "checkout.session.completed.konbini-unpaid.json",
    "payment-failed": "invoice.payment_failed.json",
    "refund": "charge.refunded.partial.json",
    "dispute": "charge.dispute.created.json",
    "refund-failed": "refund.failed.json",
    "payment-intent-failed": "payment_intent.payment_failed.card-declined-guest.json",
}


def test_every_notice_rule_has_a_template() -> None:
    assert set(notices.TEMPLATES) == set(TOPIC_OF_RULE) == set(EXAMPLE_OF_RULE)
    for name, template in notices.TEMPLATES.items():
        used = set(re.findall(r"\{(\w+)\}", template["subject"] + template["message"]))
        assert used - {"type"} <= set(template["fields"]), name


def _nulled(event: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """The event with every field the template reads set to null, except the object id."""
    event = copy.deepcopy(event)
    obj = event["data"]["object"]
    for how in template["fields"].values():
        path = how if isinstance(how, str) else next(iter(how.values()))
        *parents, leaf = path.split(".")
        if "{" in leaf or path == "id":
            continue
        node = obj
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[leaf] = None
    return event


@pytest.mark.parametrize("rule", sorted(EXAMPLE_OF_RULE))
def test_a_notice_of_null_fields_leaves_them_out(rule: str) -> None:
    event = load_fixture(f"events/{EXAMPLE_OF_RULE[rule]}")["detail"]
    full = notices.format_notice(rule, event, DASHBOARD)
    nulled = notices.format_notice(rule, _nulled(event, notices.TEMPLATES[rule]), DASHBOARD)
    for notice in (full, nulled):
        for text in notice.values():
            assert not NULL_TEXT.search(text), (rule, text)
    assert "(unknown)" not in full["message"]
    assert len(nulled["message"]) < len(full["message"])  # the null parts are left out
    assert event["data"]["object"]["id"] in nulled["message"]


# ------------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def local() -> Iterator[LocalAws]:
    # The shop's products and files (examples/stripe-data), so paid orders are fulfilled and only
    # the notices under test are sent.
    with LocalAws(
        {"stripeEventSourceName": PARTNER_SOURCE}, stripe_data=ROOT / "examples" / "stripe-data"
    ) as running:
        yield running


def send(local: LocalAws, envelope: dict[str, Any]) -> list[dict[str, str]]:
    trace = local.send(LoadedEvent("notice test", envelope))
    assert trace.delivery == "accepted" and trace.failed == [], trace.failed
    return trace.notices


# fixture -> (topic, what the message must say); read from the events themselves.
EXPECTED = {
    "checkout.session.completed.card-paid.json": [
        ("NotificationsOrders", ["Paid order", "¥4,980", "hanako.sato@example.jp",
                                 f"{DASHBOARD}/checkout/sessions/cs_test_"]),
    ],
    "checkout.session.completed.jpy-36000.json": [
        ("NotificationsOrders", ["Paid order", "¥36,000"]),
        ("NotificationsLargeOrders", ["Large order", "¥36,000", "aiko.watanabe@corp.example.jp"]),
    ],
    "checkout.session.completed.usd-large.json": [
        ("NotificationsOrders", ["Paid order", "$"]),
        # Its product has no file in examples/stripe-data: fulfilment tells staff, once.
        ("NotificationsPaymentProblems", ["Order cs_", "no download link was sent"]),
    ],
    "invoice.paid.jpy-5000.json": [
        ("NotificationsLargeOrders", ["Large invoice in_", "¥5,000", f"{DASHBOARD}/invoices/in_"]),
    ],
    "charge.dispute.closed.lost-usd.json": [
        ("NotificationsPaymentProblems", ["charge.dispute.closed", "$12.50", "fraudulent",
                                          f"{DASHBOARD}/disputes/du_"]),
    ],
    "charge.refund.updated.failed.json": [
        ("NotificationsPaymentProblems", ["Refund re_", "failed", "$12.50", "lost_or_stolen_card",
                                          f"{DASHBOARD}/payments/ch_"]),
    ],
    "payment_intent.payment_failed.card-declined-guest.json": [
        ("NotificationsPaymentProblems", ["Payment attempt failed on pi_", "¥4,800",
                                          "insufficient funds", f"{DASHBOARD}/payments/pi_"]),
    ],
}  # fmt: skip


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_notices_of_real_shaped_events_read_right(local: LocalAws, fixture: str) -> None:
    sent = send(local, load_fixture(f"events/{fixture}"))
    assert sorted(n["topic"] for n in sent) == sorted(t for t, _ in EXPECTED[fixture])
    for topic, parts in EXPECTED[fixture]:
        (message,) = [
            n["message"] for n in sent if n["topic"] == topic and parts[0] in n["message"]
        ]
        for part in parts:
            assert part in message, (part, message)
        assert not NULL_TEXT.search(message), message


def test_a_guest_order_with_null_email_and_amount_reads_without_null(local: LocalAws) -> None:
    envelope = load_fixture("events/checkout.session.completed.card-paid.json")
    envelope["detail"]["id"] = "evt_null_fields_order"
    session = envelope["detail"]["data"]["object"]
    session["customer_details"] = {"email": None, "name": None, "address": None, "phone": None}
    session["amount_total"] = None
    session["customer_email"] = None

    trace = local.send(LoadedEvent("null fields", envelope))

    # (Fulfilment cannot email nobody: its own staff alert is the fulfilment branch's concern.)
    (notice,) = [n for n in trace.notices if n["topic"] == "NotificationsOrders"]
    assert not NULL_TEXT.search(notice["message"]), notice["message"]
    assert " from " not in notice["message"]
    assert notice["message"].startswith(f"Paid order {session['id']}: (unknown)")


def test_an_event_too_big_for_a_workflow_still_gets_its_notice(local: LocalAws) -> None:
    envelope = load_fixture("events/checkout.session.completed.card-paid.json")
    envelope["detail"]["id"] = "evt_big_order_notice"
    envelope["detail"]["data"]["object"]["metadata"]["note"] = "x" * 300_000  # > 256 KiB

    trace = local.send(LoadedEvent("big", envelope))

    (notice,) = trace.notices
    assert notice["topic"] == "NotificationsOrders" and "¥4,980" in notice["message"]
    assert {f["workflow"] for f in trace.failed} == {"fulfilment", "NotificationsPaymentActivity"}


# ------------------------------------------------------------------------------ every rule acts


def test_every_notice_rule_starts_the_notice_workflow_with_its_topic(partner: Synthesized) -> None:
    resources = partner.json["Resources"]
    for rule_name, attribute in TOPIC_OF_RULE.items():
        (rule,) = [
            r["Properties"]
            for r in resources.values()
            if r["Type"] == "AWS::Events::Rule"
            and r["Properties"]["Name"].split("-", 1)[1] == rule_name
        ]
        (target,) = [
            t for t in rule["Targets"] if t["Arn"]["Ref"].startswith("NotificationsNotice")
        ]
        template = json.dumps(target["InputTransformer"])
        assert f'\\"notice\\": \\"{rule_name}\\"' in template
        topic = "Notifications" + attribute.title().replace("_", "")
        assert topic in template, template
        # Only what the template reads: a notice input stays small whatever the event's size.
        paths = target["InputTransformer"]["InputPathsMap"]
        assert "$.detail.data.object.id" in paths.values() and "$.detail" not in paths.values()
        assert all(p.startswith(("$.detail.data.object.", "$.detail.id", "$.detail.type"))
                   for p in paths.values())  # fmt: skip
        assert "Arn" in target["DeadLetterConfig"] and target["RetryPolicy"]


def _catalogue(*names: str) -> RuleCatalogue:
    stack = cdk.Stack(cdk.App(), "CheckStack")
    rules = [Rule(n, "a rule", {"detail-type": ["x"]}, ROOT / f"rules/{n}.json") for n in names]
    return RuleCatalogue(stack, "Rules", rules=rules, bus_name="bus", app_bus_name="app-bus")


def test_a_rule_without_a_target_stops_synth_naming_its_file() -> None:
    catalogue = _catalogue("orphan", "wired")
    catalogue.add_target(
        "wired", cdk.aws_events.CfnRule.TargetProperty(id="T", arn="arn:aws:sns:::t")
    )
    with pytest.raises(RuleWithoutTarget) as error:
        catalogue.check_every_rule_acts()
    assert str(error.value).startswith("rules/orphan.json: the rule has no target")
    assert "\n" not in str(error.value)


def test_the_app_stops_when_a_notice_rule_loses_its_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from payops.app_factory import ConfigurationError, build_app
    from stacks import notifications

    # A copy without the rule: deleting and restoring the key would move it last, and the
    # targets' ids (Target1, Target2, ...) of every later synthesis in this process with it.
    without = {rule: topic for rule, topic in TOPIC_OF_RULE.items() if rule != "large-invoice"}
    monkeypatch.setattr(notifications, "TOPIC_OF_RULE", without)
    with pytest.raises(ConfigurationError, match=r"^rules/large-invoice\.json: the rule has no"):
        build_app({"stripeEventSourceName": PARTNER_SOURCE}, nag=False)
