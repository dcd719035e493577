"""Live status in the template (issue 15): the AppSync API, its auth, the rule targets and the
role EventBridge signs with; nothing of it without a user pool."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import PARTNER_SOURCE, synthesize

from stacks.live_status import MUTATIONS, ORDER_STATUS_RULES, RULES, SCHEMA_FILE, operation

POOL = "ap-northeast-1_Example1"
RESOLVERS = Path(SCHEMA_FILE).parent / "resolvers"


@pytest.fixture(scope="module")
def live() -> Any:
    from aws_cdk.assertions import Template

    from payops.app_factory import build_app

    context = {"ingress": "webhook", "stripeEventSourceName": PARTNER_SOURCE,
               "cognitoUserPoolId": POOL}  # fmt: skip
    app, stack = build_app(context, nag=False)
    return app, stack, Template.from_stack(stack).to_json()["Resources"]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def test_clients_sign_in_with_the_user_pool_and_eventbridge_with_iam(live: Any) -> None:
    _, _, resources = live
    (api,) = of_type(resources, "AWS::AppSync::GraphQLApi").values()
    props = api["Properties"]
    assert props["AuthenticationType"] == "AMAZON_COGNITO_USER_POOLS"
    assert props["UserPoolConfig"]["UserPoolId"] == POOL
    assert props["UserPoolConfig"]["DefaultAction"] == "ALLOW"
    assert props["AdditionalAuthenticationProviders"] == [{"AuthenticationType": "AWS_IAM"}]
    (schema,) = of_type(resources, "AWS::AppSync::GraphQLSchema").values()
    assert schema["Properties"]["Definition"] == SCHEMA_FILE.read_text()


def test_resolvers_are_the_repositorys_templates_on_a_none_source(live: Any) -> None:
    _, _, resources = live
    (source,) = of_type(resources, "AWS::AppSync::DataSource").values()
    assert source["Properties"]["Type"] == "NONE"
    resolvers = {
        (r["Properties"]["TypeName"], r["Properties"]["FieldName"]): r["Properties"]
        for r in of_type(resources, "AWS::AppSync::Resolver").values()
    }
    assert set(resolvers) == {
        ("Mutation", "publishAccessChange"), ("Mutation", "publishOrderStatus"),
        ("Subscription", "onAccessChanged"), ("Subscription", "onOrderStatus"),
    }  # fmt: skip
    for (type_name, _), props in resolvers.items():
        name = "publish" if type_name == "Mutation" else "own-updates"
        assert props["RequestMappingTemplate"] == (RESOLVERS / f"{name}.request.vtl").read_text()
        assert props["ResponseMappingTemplate"] == (RESOLVERS / f"{name}.response.vtl").read_text()
        assert props["Kind"] == "UNIT"


def _targets(resources: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    (found,) = [
        r for r in of_type(resources, "AWS::Events::Rule").values()
        if r["Properties"].get("Name") == f"StripePayOps-{rule}"
    ]  # fmt: skip
    return [t for t in found["Properties"]["Targets"] if "AppSyncParameters" in t]


def test_each_live_status_rule_calls_its_mutation_with_a_dlq(live: Any) -> None:
    _, _, resources = live
    for rule in RULES:
        (target,) = _targets(resources, rule)
        field = "publishAccessChange" if rule == "live-access-changed" else "publishOrderStatus"
        assert target["AppSyncParameters"]["GraphQLOperation"] == operation(field)
        assert target["Arn"] == {"Fn::GetAtt": [_logical(resources, "AWS::AppSync::GraphQLApi"),
                                                "GraphQLEndpointArn"]}  # fmt: skip
        assert "DeadLetterConfig" in target and "RetryPolicy" in target
        variables = target["InputTransformer"]["InputTemplate"]
        assert variables.startswith('{"input": {')
        if rule in ORDER_STATUS_RULES:
            assert f'"status": "{ORDER_STATUS_RULES[rule]}"' in variables


def test_eventbridge_may_call_the_two_publish_mutations_and_nothing_else(live: Any) -> None:
    _, _, resources = live
    (role_id,) = [k for k in of_type(resources, "AWS::IAM::Role") if "LiveStatusPublishRole" in k]
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    (statements,) = policies
    (statement,) = statements
    assert statement["Action"] == "appsync:GraphQL"
    fields = sorted(
        json.dumps(r)[-60:].split("/fields/")[1].rstrip('"]}') for r in statement["Resource"]
    )
    assert fields == sorted(MUTATIONS)
    trust = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert "aws:SourceArn" in trust["Condition"]["ArnLike"]


def test_cdk_nag_is_clean_with_live_status(live: Any) -> None:
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    app, stack, _ = live
    findings = [
        f"{v.rule_name}: {v.description}"
        for pack in (AwsSolutionsChecks, ServerlessChecks)
        for v in pack(app).validate_scope(stack).violations
    ]
    assert findings == []


def test_without_a_user_pool_there_is_no_api_and_its_own_rules_are_left_out() -> None:
    synth = synthesize("partner")
    assert not of_type(synth.json["Resources"], "AWS::AppSync::GraphQLApi")
    assert set(synth.stack.catalogue.dropped) == {
        "live-access-changed",
        "checkout-payment-failed",
        "order-fulfilled",
    }
    assert all("AppSyncParameters" not in json.dumps(r) for r in synth.json["Resources"].values())


def _logical(resources: dict[str, Any], kind: str) -> str:
    (logical,) = of_type(resources, kind)
    return logical


def test_the_live_status_diagram_and_its_readme_copy_are_current(live: Any) -> None:
    from payops import diagram_live

    _, _, resources = live
    root = Path(__file__).resolve().parent.parent
    doc = diagram_live.document({"Resources": resources})
    assert (root / diagram_live.LIVE_STATUS_DOC).read_text() == doc, "run `make diagrams`"
    readme = (root / "README.md").read_text()
    assert diagram_live.with_readme_diagram(readme, doc) == readme, "run `make diagrams`"
    assert "publishOrderStatus FULFILLED" in doc and "onAccessChanged(appUserId)" in doc


def test_fulfilment_may_put_only_its_own_source_on_the_app_bus() -> None:
    resources = synthesize("partner").json["Resources"]
    statements = [
        s
        for p in of_type(resources, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "events:PutEvents" and "Condition" in s
    ]
    (statement,) = [s for s in statements if "payops.fulfilment" in json.dumps(s)]
    assert statement["Condition"] == {"StringEquals": {"events:source": "payops.fulfilment"}}
    assert statement["Resource"] == {"Fn::GetAtt": [_logical_bus(resources), "Arn"]}


def _logical_bus(resources: dict[str, Any]) -> str:
    """The app event bus (the stack's own events; PutEvents cannot target the partner bus)."""
    (logical,) = [
        k for k in of_type(resources, "AWS::Events::EventBus") if k.startswith("AppEvents")
    ]
    return logical


def test_cfn_lint_passes_and_every_new_role_trusts_only_this_account(live: Any) -> None:
    from test_operational_security import cfn_lint

    _, _, resources = live
    assert cfn_lint({"Resources": resources}) == []
    roles = {k: v for k, v in of_type(resources, "AWS::IAM::Role").items() if "LiveStatus" in k}
    assert len(roles) == 2  # the API's log role, EventBridge's publish role
    for logical, role in roles.items():
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        keys = {k for block in statement["Condition"].values() for k in block}
        assert "aws:SourceAccount" in keys, logical
