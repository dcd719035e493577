"""The chat and ticket consumers in the template (issue 14): nothing by default; with providers
on, least privilege, no secret, the filters and bodies as designed, cdk-nag clean."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import PARTNER_SOURCE, ROOT

from payops.patterns import matches
from payops.settings import Settings, SettingsError

ON = {
    "stripeEventSourceName": PARTNER_SOURCE,
    "chatProvider": "slack",
    "ticketProvider": "backlog",
}
_CACHE: dict[str, Any] = {}


def synth(**context: str) -> tuple[Any, Any, dict[str, Any]]:
    key = json.dumps(context, sort_keys=True)
    if key not in _CACHE:
        from aws_cdk.assertions import Template

        from payops.app_factory import build_app

        app, stack = build_app(context, nag=False)
        _CACHE[key] = (app, stack, Template.from_stack(stack).to_json())
    return _CACHE[key]


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_defaults_add_no_pipe_destination_or_workflow_for_chat_and_tickets(partner) -> None:
    template = partner.json
    assert not [k for k in template["Resources"] if k.startswith("Outbound")]
    assert of_type(template, "AWS::Events::ApiDestination") == {}
    assert list(of_type(template, "AWS::Pipes::Pipe")) == ["NotificationsAuditPipe02C85D0D"]


def test_cdk_nag_has_no_unacknowledged_findings_with_both_providers_on() -> None:
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    app, stack, _ = synth(**ON)
    for pack in (AwsSolutionsChecks(app), ServerlessChecks(app)):
        report = pack.validate_scope(stack)
        assert [f"{v.rule_name}: {v.description}" for v in report.violations] == []


def test_each_pipe_role_reads_its_queue_runs_the_enrichment_and_calls_its_destination() -> None:
    _, _, template = synth(**ON)
    pipes = of_type(template, "AWS::Pipes::Pipe")
    policies = of_type(template, "AWS::IAM::Policy")
    for consumer in ("Chat", "Ticket"):
        (pipe,) = [p for k, p in pipes.items() if k.startswith(f"Outbound{consumer}Pipe")]
        props = pipe["Properties"]
        role = props["RoleArn"]["Fn::GetAtt"][0]
        statements = [
            s
            for p in policies.values()
            if {"Ref": role} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        ]
        actions = {
            a
            for s in statements
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
        invoke = [s for s in statements if s["Action"] == "events:InvokeApiDestination"]
        assert [s["Resource"] for s in invoke] == [props["Target"]]
        start = [s for s in statements if s["Action"] == "states:StartSyncExecution"]
        assert [s["Resource"] for s in start] == [props["Enrichment"]]
        assert not [a for a in actions if a.endswith(":*") or a == "*"]
        assert props["SourceParameters"]["SqsQueueParameters"] == {"BatchSize": 1}


def test_credentials_are_dynamic_references_only() -> None:
    _, _, template = synth(**ON)
    text = json.dumps(of_type(template, "AWS::Events::Connection"))
    values = re.findall(r'"(?:ApiKeyValue|Value)": "([^"]*)"', text)
    assert values and all("{{resolve:secretsmanager:" in v for v in values)
    assert "payops/chat" in text and "payops/ticket" in text


def filters(consumer: str) -> list[dict[str, Any]]:
    _, _, template = synth(**ON)
    (pipe,) = [p for k, p in of_type(template, "AWS::Pipes::Pipe").items() if consumer in k]
    return [
        json.loads(f["Pattern"])
        for f in pipe["Properties"]["SourceParameters"]["FilterCriteria"]["Filters"]
    ]


def envelope(event_type: str, **obj: Any) -> dict[str, Any]:
    return {"body": {"detail-type": event_type, "detail": {"data": {"object": obj}}}}


@pytest.mark.parametrize(
    ("record", "chat", "ticket"),
    [
        (envelope("checkout.session.completed", payment_status="paid"), True, False),
        (envelope("checkout.session.completed", payment_status="unpaid"), False, False),
        (envelope("invoice.payment_failed"), True, True),
        (envelope("checkout.session.async_payment_failed"), True, True),
        (envelope("charge.dispute.created"), True, True),
        (envelope("charge.dispute.updated"), False, False),
        (envelope("charge.refunded"), True, False),
        (envelope("refund.created", metadata={"reason": "provisioning_failed"}), False, True),
        (envelope("refund.created", metadata={}), False, False),
        (envelope("invoice.paid"), False, False),
    ],
)
def test_filters_keep_what_is_worth_a_post_or_a_ticket(
    record: dict[str, Any], chat: bool, ticket: bool
) -> None:
    assert any(matches(p, record) for p in filters("Chat")) is chat
    assert any(matches(p, record) for p in filters("Ticket")) is ticket


def test_outbound_message_timeout_is_in_the_readme_table() -> None:
    _, _, template = synth(**ON)
    (machine,) = [
        m
        for m in of_type(template, "AWS::StepFunctions::StateMachine").values()
        if m["Properties"]["StateMachineName"].endswith("-outbound-message")
    ]
    timeout = json.loads(machine["Properties"]["DefinitionString"])["TimeoutSeconds"]
    readme = (ROOT / "README.md").read_text()
    assert re.search(rf"^\| `outbound-message` \| Express \| {timeout} s \|", readme, re.M)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("chatProvider", "discord", "setting 'chatProvider': expected one of none, slack, teams"),
        ("ticketProvider", "jira", "setting 'ticketProvider': expected one of none, backlog, "),
        ("githubRepository", "just-a-name", "setting 'githubRepository': expected a GitHub"),
        ("backlogSpaceUrl", "https://example.com", "setting 'backlogSpaceUrl': expected a Backlog"),
        ("backlogProjectId", "0", "setting 'backlogProjectId': expected a positive whole number"),
        ("slackChannel", "#two words", "setting 'slackChannel': expected a Slack channel"),
        ("chatSecretName", "bad name!", "setting 'chatSecretName': expected a Secrets Manager"),
    ],
)
def test_bad_provider_settings_give_one_line_errors(key: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load({key: value})
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
