"""Every rule matches exactly the Stripe events it should, on both ingress paths.

The truth is tests/fixtures/expected_matches.json, reviewed by hand from the rules and the events
(see tests/fixtures/README.md); the matcher is payops.patterns, which follows EventBridge.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from payops.cli import main
from payops.envelope import is_envelope, is_stripe_event, load_events, wrap
from payops.patterns import matches
from payops.rules import Rule, deployed_patterns, is_internal, load_catalogue
from payops.settings import OWN_SOURCES, PARTNER_SOURCE_PREFIX, WEBHOOK_SOURCE, Settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
EVENTS = FIXTURES / "events"
EXAMPLES = ROOT / "examples" / "events"
EXPECTED: dict[str, list[str]] = json.loads((FIXTURES / "expected_matches.json").read_text())
FIXTURE_NAMES = sorted(path.name for path in EVENTS.glob("*.json"))
PARTNER_SOURCE = "aws.partner/stripe.com/ed_test_61SampleDestination"
# Another partner's events can reach the partner path only; the webhook path never sees them.
PARTNER_ONLY = {"other-partner-source.json"}
MODES = ("partner", "webhook")
NESTED_RESOURCES = {
    "customer.subscription": "subscription",
    "charge.refund": "refund",
    "charge.dispute": "dispute",
}


def settings(ingress: str, **context: Any) -> Settings:
    return Settings.load(
        {"ingress": ingress, "stripeEventSourceName": PARTNER_SOURCE, **context}, env={}
    )


@cache
def catalogue(ingress: str, **context: Any) -> tuple[Rule, ...]:
    return tuple(load_catalogue(settings(ingress, **context)))


def fixture(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def delivered(name: str, ingress: str) -> dict[str, Any]:
    """The envelope the rules see for this fixture on the given ingress path."""
    envelope = fixture(name)
    if ingress == "partner":
        return envelope
    return wrap(envelope["detail"], settings("webhook"))


def matching(rules: tuple[Rule, ...], envelope: dict[str, Any]) -> list[str]:
    return sorted(
        rule.name
        for rule in rules
        if any(matches(pattern, envelope) for pattern in deployed_patterns(rule))
    )


# ---- the fixtures themselves ----------------------------------------------------------------


def test_every_fixture_has_a_reviewed_verdict_and_every_verdict_a_fixture() -> None:
    assert FIXTURE_NAMES == sorted(EXPECTED)


def test_expected_rule_names_are_in_the_catalogue() -> None:
    names = {rule.name for rule in catalogue("partner")}
    unknown = {rule for rules in EXPECTED.values() for rule in rules} - names
    assert not unknown


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_is_a_partner_envelope_around_a_full_stripe_event(name: str) -> None:
    envelope = fixture(name)
    assert set(envelope) == {"version", "id", "detail-type", "source", "account", "time",
                             "region", "resources", "detail"}  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        envelope["id"])  # fmt: skip
    if name not in PARTNER_ONLY:
        assert envelope["source"] == PARTNER_SOURCE
    else:
        assert not envelope["source"].startswith(PARTNER_SOURCE_PREFIX + "/")
    event = envelope["detail"]
    assert is_stripe_event(event) and envelope["detail-type"] == event["type"]
    assert event["id"].startswith("evt_") and event["livemode"] is False
    # Since 2024-09-30 Stripe names versions with a release suffix: "2024-10-28.acacia".
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?", event["api_version"])
    assert set(event["request"]) == {"id", "idempotency_key"}
    assert isinstance(event["created"], int) and isinstance(event["pending_webhooks"], int)
    obj = event["data"]["object"]
    # The event type names its object, except where Stripe nests the name under a parent.
    resource = event["type"].rsplit(".", 1)[0]
    assert obj["object"] == NESTED_RESOURCES.get(resource, resource)
    assert isinstance(obj["id"], str) and len(obj) > 10  # the full object, not a thin event
    # Stripe sends previous_attributes on *.updated events only.
    assert ("previous_attributes" in event["data"]) == event["type"].endswith(".updated")


# ---- rule verdicts --------------------------------------------------------------------------

CASES = [
    pytest.param(mode, name, id=f"{mode}:{name}")
    for mode in MODES
    for name in FIXTURE_NAMES
    if not (mode == "webhook" and name in PARTNER_ONLY)
]


@pytest.mark.parametrize(("ingress", "name"), CASES)
def test_rules_matching_each_fixture_are_the_reviewed_ones(ingress: str, name: str) -> None:
    envelope = delivered(name, ingress)
    assert matching(catalogue(ingress), envelope) == sorted(EXPECTED[name])


@pytest.mark.parametrize(
    "rule", [r for r in catalogue("partner") if is_internal(r)], ids=lambda rule: rule.name
)
def test_rules_of_the_stacks_own_events_take_those_and_no_stripe_event(rule: Rule) -> None:
    """Internal rules (live status) match their own source's event and none of the Stripe
    fixtures; the twins of Stripe rules never match them."""
    (source,) = rule.pattern["source"]
    (detail_type,) = rule.pattern["detail-type"]
    own = {**fixture("checkout.session.completed.payment-link.json"), "source": source,
           "detail-type": detail_type}  # fmt: skip
    assert matches(rule.pattern, own)
    assert not [name for name in EXPECTED if matches(rule.pattern, fixture(name))]
    others = [r for r in catalogue("partner") if not is_internal(r)]
    assert not [r.name for r in others if any(matches(p, own) for p in deployed_patterns(r))]


def _type_filter_only(pattern: dict[str, Any]) -> dict[str, Any]:
    """The pattern without its content filters: which events the rule is *about*."""
    kept = {k: v for k, v in pattern.items() if k in ("source", "detail-type")}
    if "$or" in pattern:
        kept["$or"] = [_type_filter_only(branch) for branch in pattern["$or"]]
    return kept


@pytest.mark.parametrize(
    "rule", [r for r in catalogue("partner") if not is_internal(r)], ids=lambda rule: rule.name
)
def test_each_rule_has_positive_and_negative_fixtures(rule: Rule) -> None:
    positives = [name for name, rules in EXPECTED.items() if rule.name in rules]
    negatives = [name for name, rules in EXPECTED.items() if rule.name not in rules]
    assert len(positives) >= 2 and len(negatives) >= 2
    about = _type_filter_only(rule.pattern)
    if about != rule.pattern:
        # A rule that filters on content needs a near miss: its event type, the wrong content.
        near_misses = [name for name in negatives if matches(about, fixture(name))]
        assert near_misses, f"{rule.name}: no negative fixture of an event type it listens to"


# ---- settings and sources -------------------------------------------------------------------


@pytest.mark.parametrize("ingress", MODES)
def test_large_order_threshold_setting_moves_the_verdict(ingress: str) -> None:
    exact = delivered("checkout.session.completed.jpy-30000-exact.json", ingress)
    below = delivered("checkout.session.completed.jpy-29999.json", ingress)
    assert "large-order" in matching(catalogue(ingress), exact)
    raised = catalogue(ingress, largeOrderThresholdJpy="50000")
    assert "large-order" not in matching(raised, exact)
    assert "paid-order" in matching(raised, exact)  # only the threshold rule moved
    lowered = catalogue(ingress, largeOrderThresholdJpy="29999")
    assert "large-order" in matching(lowered, below)


@pytest.mark.parametrize("ingress", MODES)
def test_large_invoice_threshold_setting_moves_the_verdict(ingress: str) -> None:
    at = delivered("invoice.paid.jpy-5000.json", ingress)
    below = delivered("invoice.paid.jpy-4999.json", ingress)
    assert "large-invoice" not in matching(catalogue(ingress, largeInvoiceThresholdJpy="5001"), at)
    assert "large-invoice" in matching(catalogue(ingress, largeInvoiceThresholdJpy="4999"), below)


def test_sources_do_not_cross_between_ingress_modes() -> None:
    for name in FIXTURE_NAMES:
        partner_envelope = delivered(name, "partner")
        assert matching(catalogue("webhook"), partner_envelope) == [], name
        if name not in PARTNER_ONLY:
            webhook_envelope = delivered(name, "webhook")
            assert webhook_envelope["source"] == WEBHOOK_SOURCE
            assert matching(catalogue("partner"), webhook_envelope) == [], name


# ---- the `payops match` and `payops rules` commands -----------------------------------------


def _json_lines(text: str) -> dict[str, list[str]]:
    lines = [json.loads(line) for line in text.splitlines()]
    return {Path(line["event"]).name: sorted(line["rules"]) for line in lines}


@pytest.mark.parametrize("as_directory", [False, True], ids=["files", "directory"])
def test_cli_match_json_over_all_fixtures(
    capsys: pytest.CaptureFixture[str], as_directory: bool
) -> None:
    args = [str(EVENTS)] if as_directory else [str(EVENTS / name) for name in FIXTURE_NAMES]
    assert main(["match", "--json", *args]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == len(FIXTURE_NAMES)
    assert _json_lines(out) == {name: sorted(rules) for name, rules in EXPECTED.items()}


def test_cli_match_in_webhook_mode_ignores_partner_envelopes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["match", "--json", "--ingress", "webhook", str(EVENTS)]) == 0
    verdicts = _json_lines(capsys.readouterr().out)
    assert set(verdicts) == set(FIXTURE_NAMES)
    assert all(rules == [] for rules in verdicts.values())


@pytest.mark.parametrize("ingress", MODES)
@pytest.mark.parametrize(
    "name",
    [
        "checkout.session.completed.jpy-30000-exact.json",
        "customer.subscription.updated.incomplete-to-active.json",
        "customer.created.json",
    ],
)
def test_cli_match_wraps_a_bare_stripe_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ingress: str, name: str
) -> None:
    bare = tmp_path / "event.json"
    bare.write_text(json.dumps(fixture(name)["detail"]))
    assert main(["match", "--json", "--ingress", ingress, str(bare)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {"event": str(bare), "rules": EXPECTED[name]}


def test_cli_match_reports_bad_files_and_still_prints_the_good_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    invalid = tmp_path / "invalid.json"
    invalid.write_text('{"id": "evt_1", ')
    not_an_event = tmp_path / "not-an-event.json"
    not_an_event.write_text(json.dumps({"hello": "world"}))
    missing = tmp_path / "missing.json"
    good = EVENTS / "checkout.session.completed.card-paid.json"

    code = main(["match", "--json", str(invalid), str(good), str(not_an_event), str(missing)])
    captured = capsys.readouterr()
    assert code != 0
    assert [json.loads(line) for line in captured.out.splitlines()] == [
        {"event": str(good), "rules": EXPECTED[good.name]}
    ]
    errors = captured.err.splitlines()
    assert len(errors) == 3
    for line, path in zip(errors, [invalid, not_an_event, missing], strict=True):
        assert line.startswith(f"error: {path}: ") and len(line) > len(f"error: {path}: ")


@pytest.mark.parametrize("ingress", MODES)
def test_cli_rules_json_prints_every_effective_pattern(
    capsys: pytest.CaptureFixture[str], ingress: str
) -> None:
    assert main(["rules", "--json", "--ingress", ingress]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {rule.name: rule.pattern for rule in catalogue(ingress)}
    stripes = [rule for rule in catalogue(ingress) if not is_internal(rule)]
    sources = {json.dumps(printed[rule.name]["source"]) for rule in stripes}
    expected_source = [
        WEBHOOK_SOURCE if ingress == "webhook" else {"prefix": PARTNER_SOURCE_PREFIX}
    ]
    assert sources == {json.dumps(expected_source)}


def test_cli_rules_json_fills_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--json", "-c", "largeOrderThresholdJpy=50000"]) == 0
    printed = json.loads(capsys.readouterr().out)
    amount = printed["large-order"]["detail"]["data"]["object"]["amount_total"]
    assert amount == [{"numeric": [">=", 50000]}]


# ---- examples/events: the demo story a user replays -----------------------------------------

STORY = {
    "01-card-order-paid.json": ["paid-order", "payment-activity"],
    "02-konbini-order-placed.json": ["awaiting-payment", "payment-activity"],
    "03-konbini-order-paid.json": ["paid-order", "payment-activity"],
    "04-payment-failed.json": [
        "checkout-payment-failed", "customer-dunning", "payment-activity", "payment-failed",
    ],
    "05-large-order-paid.json": [
        "coupon-qualifying-order", "large-order", "paid-order", "payment-activity",
    ],
    # created incomplete: not started yet
    "06-subscription-created.json": ["access-changed", "customer-changed", "payment-activity"],
    "07-subscription-updated-active.json": [
        "access-changed", "customer-changed", "payment-activity", "subscription-started",
    ],
    "08-subscription-deleted.json": [
        "access-changed", "customer-changed", "payment-activity", "subscription-ended",
    ],
    "09-duplicate-delivery.json": ["paid-order", "payment-activity"],
    "10-payment-link-order-paid.json": ["paid-order", "payment-activity"],
    "11-payment-link-order-redelivered.json": ["paid-order", "payment-activity"],
}  # fmt: skip


def _example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def test_examples_are_bare_stripe_events_in_replay_order() -> None:
    assert sorted(path.name for path in EXAMPLES.glob("*.json")) == list(STORY)
    events = [_example(name) for name in STORY]
    assert all(is_stripe_event(e) and not is_envelope(e) for e in events)
    # Redeliveries (09, 11) repeat an earlier event; the others are in the order they happened.
    created = [e["created"] for name, e in zip(STORY, events, strict=True) if "redeliver" not in
               name and "duplicate" not in name]  # fmt: skip
    assert created == sorted(created)


@pytest.mark.parametrize("ingress", MODES)
def test_example_story_matches_the_expected_rules(ingress: str) -> None:
    loaded = load_events(EXAMPLES, settings(ingress))
    verdicts = {Path(e.label).name: matching(catalogue(ingress), e.envelope) for e in loaded}
    assert verdicts == STORY


def test_example_story_is_consistent() -> None:
    ev = {name: _example(name) for name in STORY}
    obj = {name: event["data"]["object"] for name, event in ev.items()}
    assert ev["09-duplicate-delivery.json"] == ev["01-card-order-paid.json"]  # a redelivery
    assert obj["01-card-order-paid.json"]["amount_total"] == 4980
    assert obj["01-card-order-paid.json"]["metadata"]["product_id"] == "ebook-aws-patterns"
    assert obj["05-large-order-paid.json"]["amount_total"] == 36000
    # The konbini order is paid later: same session, same customer.
    assert obj["03-konbini-order-paid.json"]["id"] == obj["02-konbini-order-placed.json"]["id"]
    assert obj["04-payment-failed.json"]["id"] != obj["02-konbini-order-placed.json"]["id"]
    subscription_ids = {obj[name]["id"] for name in list(STORY)[5:8]}
    assert len(subscription_ids) == 1
    # The card buyer is the one who subscribes, under one Stripe customer id.
    assert (
        obj["06-subscription-created.json"]["customer"]
        == obj["01-card-order-paid.json"]["customer"]
    )
    # A Payment Link order: what was bought is only in Stripe (its line items), not the event.
    link_order = obj["10-payment-link-order-paid.json"]
    assert link_order["metadata"] == {} and link_order["payment_link"].startswith("plink_")
    assert ev["11-payment-link-order-redelivered.json"] == ev["10-payment-link-order-paid.json"]
    assert len({event["id"] for event in ev.values()}) == len(STORY) - 2


@pytest.mark.parametrize("ingress", MODES)
def test_the_stacks_own_sources_match_like_stripes_and_nothing_else_does(ingress: str) -> None:
    """issue 16: events the reconciliation re-injects and hydrated thin events carry the stack's
    own sources; every rule takes them as it takes Stripe's, and no other source."""
    rules = catalogue(ingress)
    for name in ("checkout.session.completed.payment-link.json", "invoice.paid.jpy-5000.json"):
        envelope = delivered(name, ingress)
        for source in OWN_SOURCES:
            assert matching(rules, {**envelope, "source": source}) == sorted(EXPECTED[name])
        assert matching(rules, {**envelope, "source": "payops.someone-else"}) == []


def test_cli_match_takes_reconciliation_envelopes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    envelope = {**fixture("checkout.session.completed.payment-link.json"),
                "source": "payops.reconciliation"}  # fmt: skip
    (tmp_path / "reinjected.json").write_text(json.dumps(envelope))
    assert main(["match", "--json", str(tmp_path / "reinjected.json")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rules"] == sorted(EXPECTED["checkout.session.completed.payment-link.json"])
