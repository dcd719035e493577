"""The synthesized templates: resources, least privilege, snapshots and cdk-nag."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match
from conftest import PARTNER_SOURCE, Synthesized
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from payops.rules import load_catalogue
from payops.settings import OWN_SOURCES, WEBHOOK_SOURCE, Settings

SECRET_SHAPED = re.compile(r"(sk|rk)_(live|test)_[0-9A-Za-z]{16,}|whsec_[0-9A-Za-z]{16,}")


def resources_of(synth: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.json["Resources"].items() if v["Type"] == kind}


def stripe_buses(synthesized: Synthesized) -> dict[str, Any]:
    """The bus Stripe events arrive on (the access workflow's app event bus aside)."""
    buses = resources_of(synthesized, "AWS::Events::EventBus")
    (app_bus,) = [logical for logical in buses if logical.startswith("AppEvents")]
    assert buses[app_bus]["Properties"] == {"Name": "StripePayOps-app-events"}
    return {logical: bus for logical, bus in buses.items() if logical != app_bus}


def test_partner_bus_has_exactly_the_event_source_name(partner: Synthesized) -> None:
    assert len(stripe_buses(partner)) == 1
    partner.template.has_resource_properties(
        "AWS::Events::EventBus", {"Name": PARTNER_SOURCE, "EventSourceName": PARTNER_SOURCE}
    )
    functions = resources_of(partner, "AWS::Lambda::Function")
    assert not [logical for logical in functions if logical.startswith("IngressReceiver")]
    partner.template.resource_count_is("AWS::Lambda::Url", 1)  # the download link only


def test_every_rule_file_becomes_a_rule_with_its_effective_pattern(
    synthesized: Synthesized,
) -> None:
    settings = Settings.load(
        {"ingress": synthesized.ingress, "stripeEventSourceName": PARTNER_SOURCE}, env={}
    )
    rules = stripe_rules(synthesized)
    deployed = {r["Properties"]["Name"].split("-", 1)[1]: r["Properties"] for r in rules.values()}
    # Rules only an optional capability acts on are left out while it is off (live status).
    dropped = synthesized.stack.catalogue.dropped
    expected = {rule.name: rule for rule in load_catalogue(settings) if rule.name not in dropped}
    assert deployed.keys() == expected.keys()
    for name, props in deployed.items():
        assert props["EventPattern"] == expected[name].pattern, name
        assert props["Description"] == expected[name].description
        assert props["State"] == "ENABLED"


def stripe_rules(synthesized: Synthesized) -> dict[str, Any]:
    """The rules of rules/*.json (the rule catalogue's), without their twins on the app event bus:
    not the workflow backstop (default bus, tests/test_operational_security.py), the analytics
    export (tests/analytics/test_export_template.py) or the thin events' routing rule (issue 16,
    tests/workflows/test_missed_and_thin_events.py)."""
    return {
        logical: rule
        for logical, rule in resources_of(synthesized, "AWS::Events::Rule").items()
        if logical.startswith("RulesRule") and "Recovered" not in logical
    }


def twin_rules(synthesized: Synthesized) -> dict[str, Any]:
    return {
        logical: rule
        for logical, rule in resources_of(synthesized, "AWS::Events::Rule").items()
        if logical.startswith("RulesRule") and "Recovered" in logical
    }


def test_rules_sit_on_the_ingress_bus(synthesized: Synthesized) -> None:
    (bus_id,) = stripe_buses(synthesized)
    assert len(stripe_rules(synthesized)) >= 19
    for rule in stripe_rules(synthesized).values():
        ref = json.dumps(rule["Properties"]["EventBusName"])
        assert bus_id in ref


def test_every_stripe_rule_has_a_twin_on_the_app_bus_for_events_the_stack_puts_back(
    synthesized: Synthesized,
) -> None:
    """Reconciliation and thin-event hydration cannot put on the partner bus (PutEvents refuses
    it): each Stripe rule has a twin on the app event bus, same pattern under the stack's own
    sources, same targets."""
    rules = {r["Properties"]["Name"]: r["Properties"] for r in stripe_rules(synthesized).values()}
    twins = twin_rules(synthesized)
    assert len(twins) == len(rules)  # no rule of the stack's own events without a live API
    for twin in twins.values():
        props = twin["Properties"]
        original = rules[props["Name"].removesuffix("-recovered")]
        assert "AppEvents" in json.dumps(props["EventBusName"])
        assert props["EventPattern"] == {**original["EventPattern"], "source": list(OWN_SOURCES)}
        assert props["Targets"] == original["Targets"]


def test_webhook_mode_has_receiver_behind_function_url(webhook: Synthesized) -> None:
    t = webhook.template
    assert len(stripe_buses(webhook)) == 1
    t.has_resource_properties("AWS::Events::EventBus", {"Name": "StripePayOps-stripe"})
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Handler": "handler.handler",
            "Environment": {"Variables": Match.object_like({
                "EVENT_SOURCE": WEBHOOK_SOURCE,
                "TOLERANCE_SECONDS": "300",
                "SIGNING_SECRET_ARN": {"Ref": Match.string_like_regexp("SigningSecret")},
            })},
        },
    )  # fmt: skip
    t.has_resource_properties("AWS::Lambda::Url", {"AuthType": "NONE"})
    t.resource_count_is("AWS::SecretsManager::Secret", 1)
    for rule in stripe_rules(webhook).values():
        assert rule["Properties"]["EventPattern"]["source"] == [WEBHOOK_SOURCE]


def test_receiver_may_only_put_on_its_bus_and_read_its_secret(webhook: Synthesized) -> None:
    policies = [
        policy
        for logical, policy in resources_of(webhook, "AWS::IAM::Policy").items()
        if logical.startswith("IngressReceiverRole")
    ]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert len(statements) == 3  # its logs, its bus, its secret: nothing else
    put = [s for s in statements if s["Action"] == "events:PutEvents"]
    assert len(put) == 1 and "WebhookBus" in json.dumps(put[0]["Resource"])
    reads = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
    assert len(reads) == 1 and "SigningSecret" in json.dumps(reads[0]["Resource"])
    logs = [s for s in statements if s["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]]
    assert len(logs) == 1 and "ReceiverLogs" in json.dumps(logs[0]["Resource"])


def test_no_secret_value_in_templates(synthesized: Synthesized) -> None:
    text = json.dumps(synthesized.json)
    assert not SECRET_SHAPED.search(text)
    assert '"SecretString"' not in text  # generated at deploy, set by the user, never templated


def test_templates_match_snapshot(synthesized: Synthesized, snapshot: SnapshotAssertion) -> None:
    # JSON snapshots, so a template change reads as a plain diff in review.
    assert synthesized.json == snapshot.use_extension(JSONSnapshotExtension)


def test_the_sessions_template_is_what_the_stack_synthesizes(synthesized: Any) -> None:
    """The tests read each mode's template from the assembly the local AWS deploys
    (conftest.Synthesized): it is the one the stack itself gives."""
    from aws_cdk.assertions import Template

    assert Template.from_stack(synthesized.stack).to_json() == synthesized.json


@pytest.mark.parametrize("ingress", ["partner", "webhook"])
def test_cdk_nag_aws_solutions_has_no_unacknowledged_findings(ingress: str) -> None:
    from cdk_nag import AwsSolutionsChecks
    from conftest import synthesize

    synth = synthesize(ingress)
    report = AwsSolutionsChecks(synth.app).validate_scope(synth.stack)
    findings = [f"{v.rule_name}: {v.description}" for v in report.violations]
    assert findings == []
