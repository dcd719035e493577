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
import time
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import pytest
from conftest import PARTNER_SOURCE, ROOT, Synthesized, load_fixture

from payops.envelope import LoadedEvent
from payops.localaws.runtime import EventTrace, LocalAws
from payops.rules import Rule
from payops.settings import HYDRATION_SOURCE, RECONCILIATION_SOURCE
from stacks.idempotency import CLAIM_TTL_SECONDS
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


@pytest.mark.parametrize("due_by", [10**20, -(10**20), 2**63])
def test_a_date_no_calendar_holds_is_left_out_not_a_failure(due_by: int) -> None:
    """Such an event stays unreadable however often the notice is retried: no exception."""
    event = load_fixture("events/charge.dispute.created.json")["detail"]
    event["data"]["object"]["evidence_details"]["due_by"] = due_by
    notice = notices.format_notice("dispute", event, DASHBOARD)
    assert (
        "evidence due by" not in notice["message"]
        and event["data"]["object"]["id"] in notice["message"]
    )


def test_the_handler_gives_the_notice_workflow_its_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_URL", DASHBOARD)
    event = load_fixture(f"events/{EXAMPLE_OF_RULE['paid-order']}")["detail"]
    before = int(time.time())
    result = notices.handler({"notice": "paid-order", "event": event})
    assert set(result) == {"subject", "message", "now"}
    assert before <= result["now"] <= time.time() and isinstance(result["now"], int)


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


# ------------------------------------------------------------------------------ once per event

PAID = "checkout.session.completed.card-paid.json"
LARGE = "checkout.session.completed.jpy-36000.json"


def fresh(fixture: str, event_id: str) -> dict[str, Any]:
    """A fixture's envelope under an event id (and session id) of this test's own."""
    envelope = load_fixture(f"events/{fixture}")
    envelope["detail"]["id"] = event_id
    envelope["detail"]["data"]["object"]["id"] = "cs_test_" + event_id.removeprefix("evt_")
    return envelope


def topics(traces: list[EventTrace]) -> list[str]:
    return sorted(n["topic"] for trace in traces for n in trace.notices)


def notice_ends(trace: EventTrace) -> list[str]:
    """The last state of each notice run, sorted."""
    return sorted(e["states"][-1] for e in trace.executions if e["state_machine"] == "notice")


def claim(local: LocalAws, notice: str, event_id: str) -> dict[str, Any] | None:
    tables = local.deployed.resources_of("AWS::DynamoDB::Table")
    (table,) = [t for logical, t in tables.items() if logical.startswith("IdempotencyTable")]
    key = {"pk": {"S": f"notice#{notice}#{event_id}"}}
    return local.client("dynamodb").get_item(TableName=table, Key=key).get("Item")


def test_three_deliveries_of_a_paid_order_send_one_staff_notice(local: LocalAws) -> None:
    envelope = fresh(PAID, "evt_notice_three_deliveries")

    traces = [local.send(LoadedEvent("delivery", envelope)) for _ in range(3)]

    assert topics(traces) == ["NotificationsOrders"]
    # Each delivery ran the workflow; the claim, not upstream luck, stopped the later two.
    assert [notice_ends(t) for t in traces] == [["Sent"], ["AlreadySent"], ["AlreadySent"]]
    item = claim(local, "paid-order", "evt_notice_three_deliveries")
    assert item is not None and item["status"] == {"S": "SENT"} and "leaseUntil" not in item
    assert int(item["expiresAt"]["N"]) >= time.time() + CLAIM_TTL_SECONDS - 60


@pytest.mark.parametrize("source", [RECONCILIATION_SOURCE, HYDRATION_SOURCE])
def test_a_copy_the_stack_puts_back_after_the_original_sends_no_second_notice(
    local: LocalAws, source: str
) -> None:
    """Reconciliation's re-injected copy and a thin event's hydrated copy keep Stripe's event id
    and run through the rule's twin on the app bus (<stack>-paid-order-recovered)."""
    envelope = fresh(PAID, f"evt_notice_put_back_{source.rsplit('.', 1)[1].replace('-', '_')}")
    first = local.send(LoadedEvent("original", envelope))
    assert topics([first]) == ["NotificationsOrders"]

    since = local.since()
    put = local.client("events").put_events(
        Entries=[
            {
                "EventBusName": local.deployed.outputs["AppEventBusName"],
                "Source": source,
                "DetailType": envelope["detail-type"],
                "Detail": json.dumps(envelope["detail"]),
            }
        ]
    )
    assert put["FailedEntryCount"] == 0
    copy_ = local.trace_since(
        since, label="copy", event_id=envelope["detail"]["id"],
        event_type=envelope["detail-type"], delivery="accepted",
    )  # fmt: skip

    assert "paid-order-recovered" in copy_.rules
    assert notice_ends(copy_) == ["AlreadySent"]
    assert topics([copy_]) == [] and copy_.failed == []


def test_two_notices_of_one_event_both_go_out_once(local: LocalAws) -> None:
    """A large order is also a paid order: two notices, two claims, each sent once."""
    envelope = fresh(LARGE, "evt_notice_large_and_paid")

    traces = [local.send(LoadedEvent("delivery", envelope)) for _ in range(2)]

    assert topics(traces) == ["NotificationsLargeOrders", "NotificationsOrders"]
    assert notice_ends(traces[0]) == ["Sent", "Sent"]
    assert notice_ends(traces[1]) == ["AlreadySent", "AlreadySent"]


def test_a_claim_whose_run_died_is_taken_again_after_its_lease(local: LocalAws) -> None:
    """A run that timed out between claim and publish leaves a SENDING claim: within its lease
    a copy stays quiet (that run may still publish), past it the copy notifies."""
    tables = local.deployed.resources_of("AWS::DynamoDB::Table")
    (table,) = [t for logical, t in tables.items() if logical.startswith("IdempotencyTable")]
    now = int(time.time())
    for event_id, lease in (
        ("evt_notice_lease_held", now + 100),
        ("evt_notice_lease_past", now - 5),
    ):
        local.client("dynamodb").put_item(
            TableName=table,
            Item={
                "pk": {"S": f"notice#paid-order#{event_id}"},
                "status": {"S": "SENDING"},
                "owner": {"S": "arn:aws:states:::execution:notice:died"},
                "leaseUntil": {"N": str(lease)},
                "expiresAt": {"N": str(now + CLAIM_TTL_SECONDS)},
            },
        )

    held = local.send(LoadedEvent("lease held", fresh(PAID, "evt_notice_lease_held")))
    past = local.send(LoadedEvent("lease past", fresh(PAID, "evt_notice_lease_past")))

    assert notice_ends(held) == ["AlreadySent"] and topics([held]) == []
    assert notice_ends(past) == ["Sent"] and topics([past]) == ["NotificationsOrders"]


def test_a_publish_failure_gives_the_claim_back_and_a_redelivery_notifies(
    local: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sns.exceptions import InternalError
    from moto.sns.models import SNSBackend

    envelope = fresh(PAID, "evt_notice_publish_fails")
    session = envelope["detail"]["data"]["object"]["id"]
    refused: list[str] = []
    original = SNSBackend.publish

    def publish(backend: Any, message: str, arn: str | None, *args: Any, **kwargs: Any) -> str:
        if session in message and "Orders" in (arn or "") and "Large" not in (arn or ""):
            refused.append(message)
            raise InternalError("SNS is down (injected)")
        return original(backend, message, arn, *args, **kwargs)

    monkeypatch.setattr(SNSBackend, "publish", publish)
    failed = local.send(LoadedEvent("SNS down", envelope))
    monkeypatch.undo()

    assert topics([failed]) == []
    # Every retry of the publish was tried, then the run failed (the failed-notice alarm's cue).
    assert len(refused) == 1 + asl_retries("Publish")
    assert [(f["workflow"], f["state"]) for f in failed.failed] == [("notice", "NoticeNotSent")]
    assert claim(local, "paid-order", "evt_notice_publish_fails") is None  # given back

    redelivered = local.send(LoadedEvent("Stripe retries", envelope))

    assert topics([redelivered]) == ["NotificationsOrders"] and redelivered.failed == []
    assert notice_ends(redelivered) == ["Sent"]


def asl_retries(state: str) -> int:
    definition = json.loads((ROOT / "statemachines" / "notice.asl.json").read_text())
    return sum(r.get("MaxAttempts", 3) for r in definition["States"][state]["Retry"])


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


def test_the_notice_role_writes_only_its_own_claims(partner: Synthesized) -> None:
    resources = partner.json["Resources"]
    statements = [
        statement
        for logical, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Policy" and logical.startswith("NotificationsNotice")
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]
    (claims,) = [s for s in statements if "dynamodb" in json.dumps(s["Action"])]
    assert claims["Action"] == ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    assert claims["Resource"]["Fn::GetAtt"][0].startswith("IdempotencyTable")
    assert claims["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["notice#*"]}
    }
    (machine,) = [
        r["Properties"] for logical, r in resources.items()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
        and logical.startswith("NotificationsNotice")
    ]  # fmt: skip
    # A SENDING claim is taken again only once the run that made it is surely over.
    timeout = json.loads(machine["DefinitionString"])["TimeoutSeconds"]
    assert int(machine["DefinitionSubstitutions"]["LeaseSeconds"]) > timeout
    assert int(machine["DefinitionSubstitutions"]["ClaimTtlSeconds"]) >= 3 * 24 * 3600


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
