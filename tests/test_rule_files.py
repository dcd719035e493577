"""Rule files are validated at synth with the file and JSON path in the message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from payops.rules import (
    INTERNAL_SOURCES,
    RULES_DIR,
    RuleError,
    load_catalogue,
    load_rule,
    recovered_pattern,
)
from payops.settings import OWN_SOURCES, WEBHOOK_SOURCE, Settings

PARTNER = Settings.load({}, env={})
WEBHOOK = Settings.load({"ingress": "webhook"}, env={})
SOURCE = [{"prefix": "aws.partner/stripe.com"}]


def write_rule(tmp_path: Path, name: str, document: object) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_catalogue_has_the_documented_rules() -> None:
    names = [rule.name for rule in load_catalogue(PARTNER)]
    assert names == [
        "access-changed", "awaiting-payment", "checkout-payment-failed",
        "coupon-qualifying-order", "customer-changed", "customer-dunning",
        "dispute",
        "free-order", "large-invoice", "large-order", "live-access-changed", "order-fulfilled",
        "order-refunded-in-full", "paid-order",
        "payment-activity", "payment-failed", "payment-intent-failed", "refund-failed",
        "refund", "subscription-ended", "subscription-schedule-status-changed",
        "subscription-started",
    ]  # fmt: skip


def test_paid_order_is_the_documented_pattern_narrowed_to_payment_mode() -> None:
    # The workshop's pattern, plus mode: payment (issue 10): a subscription sign-up through
    # Checkout is paid too, but it is not an order.
    rule = load_rule(RULES_DIR / "paid-order.json", PARTNER)
    assert rule.pattern == {
        "source": SOURCE,
        "detail-type": ["checkout.session.completed", "checkout.session.async_payment_succeeded"],
        "detail": {"data": {"object": {"mode": ["payment"], "payment_status": ["paid"]}}},
    }


def test_large_order_is_the_documented_pattern_with_the_threshold_setting() -> None:
    documented = {
        "source": [{"prefix": "aws.partner/stripe.com"}],
        "detail-type": ["checkout.session.completed"],
        "detail": {"data": {"object": {"mode": ["payment"],
                                       "amount_total": [{"numeric": [">=", 30000]}],
                                       "currency": ["jpy"]}}},
    }  # fmt: skip
    assert load_rule(RULES_DIR / "large-order.json", PARTNER).pattern == documented
    raised = Settings.load({"largeOrderThresholdJpy": "50000"}, env={})
    pattern = load_rule(RULES_DIR / "large-order.json", raised).pattern
    assert pattern["detail"]["data"]["object"]["amount_total"] == [{"numeric": [">=", 50000]}]


def test_webhook_mode_swaps_only_the_source_filter() -> None:
    for partner_rule, webhook_rule in zip(
        load_catalogue(PARTNER), load_catalogue(WEBHOOK), strict=True
    ):
        if str(partner_rule.pattern["source"][0]) in INTERNAL_SOURCES:
            assert webhook_rule.pattern == partner_rule.pattern  # the stack's own events
            continue
        assert webhook_rule.pattern["source"] == [WEBHOOK_SOURCE]
        assert {**webhook_rule.pattern, "source": SOURCE} == partner_rule.pattern


def test_rules_of_events_the_stack_puts_back_differ_only_in_the_source() -> None:
    """issue 16: re-injected and hydrated Stripe events go on the app event bus under the stack's
    own sources; each Stripe rule's twin there has the same pattern with those sources."""
    for rule in load_catalogue(PARTNER):
        if str(rule.pattern["source"][0]) in INTERNAL_SOURCES:
            continue
        twin = recovered_pattern(rule.pattern)
        assert twin["source"] == list(OWN_SOURCES)
        assert {**twin, "source": rule.pattern["source"]} == rule.pattern


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ('{"description": "x", "pattern": {', "not valid JSON"),
        (
            {"description": "x", "pattern": {"source": SOURCE, "detail-type": [{"prefx": "inv"}]}},
            "$.pattern.detail-type[0]",
        ),
        (
            {"description": "x", "pattern": {"source": SOURCE, "detail-typ": ["a"]}},
            "$.pattern.detail-typ: unknown field for this level (did you mean 'detail-type'?)",
        ),
        (
            {
                "description": "x",
                "pattern": {"source": SOURCE, "detail": {"dat": {"object": {"status": ["paid"]}}}},
            },
            "$.pattern.detail.dat: unknown field",
        ),
        (
            {
                "description": "x",
                "pattern": {
                    "source": SOURCE,
                    "detail": {"data": {"previous_attributes": {"status": [{"exists": "yes"}]}}},
                },
            },
            "$.pattern.detail.data.previous_attributes.status[0]",
        ),
        (
            {
                "description": "x",
                "pattern": {
                    "source": SOURCE,
                    "detail": {
                        "data": {
                            "object": {"amount_total": [{"numeric": [">=", "${noSuchSetting}"]}]}
                        }
                    },
                },
            },
            "unknown setting '${noSuchSetting}'",
        ),
        ({"pattern": {"source": SOURCE, "detail-type": ["a"]}}, "$.description"),
        ({"description": "two\nlines", "pattern": {"source": SOURCE}}, "$.description"),
        (
            {"description": "x", "pattern": {"source": SOURCE}, "target": "sns"},
            "$.target: unknown key",
        ),
        (
            {"description": "x", "pattern": {"source": ["my.app"], "detail-type": ["a"]}},
            "$.pattern.source: expected",
        ),
        (
            {"description": "x", "pattern": {"source": SOURCE, "detail-type": "a"}},
            "$.pattern.detail-type",
        ),
    ],
)
def test_bad_rule_files_fail_with_file_and_json_path(
    tmp_path: Path, document: object, needle: str
) -> None:
    path = write_rule(tmp_path, "bad-rule", document)
    with pytest.raises(RuleError) as err:
        load_rule(path, PARTNER)
    message = str(err.value)
    assert "bad-rule.json" in message
    assert needle in message
    assert "\n" not in message


def test_rule_names_come_from_file_stems_and_must_be_kebab_case(tmp_path: Path) -> None:
    path = write_rule(tmp_path, "Paid_Order", {"description": "x", "pattern": {"source": SOURCE}})
    with pytest.raises(RuleError, match="lower-case words"):
        load_rule(path, PARTNER)


def test_empty_rules_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="no rule files"):
        load_catalogue(PARTNER, tmp_path)


# --- Internal sources (issue 15) ---
def test_a_rule_may_name_one_internal_source_whose_detail_is_not_a_stripe_event(
    tmp_path: Path,
) -> None:
    document = {
        "description": "x",
        "pattern": {"source": ["payops.access"], "detail": {"access": ["none"]}},
    }
    rule = load_rule(write_rule(tmp_path, "access-lost", document), WEBHOOK)
    assert rule.pattern == document["pattern"]  # same source on both ingress paths


@pytest.mark.parametrize(
    "source", [["payops.other"], ["payops.access", "payops.fulfilment"], [{"prefix": "payops."}]]
)
def test_any_other_source_is_refused_naming_the_internal_ones(tmp_path: Path, source: list) -> None:
    document = {"description": "x", "pattern": {"source": source, "detail": {"access": ["x"]}}}
    with pytest.raises(RuleError, match="or one internal source as a list of one: payops.access"):
        load_rule(write_rule(tmp_path, "odd", document), PARTNER)
