"""The local AppSync without a stack: schema validation, the resolver subset, clear errors."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from payops.localaws.core import registry
from payops.localaws.core.account import REGION
from payops.localaws.services.appsync import APIS, vtl
from payops.localaws.services.appsync.engine import (
    GraphQLRequestError,
    LocalApi,
    SchemaError,
    build,
)

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = (ROOT / "graphql" / "schema.graphql").read_text()
RESOLVERS = ROOT / "graphql" / "resolvers"


def _api() -> LocalApi:
    api = LocalApi("api", "AMAZON_COGNITO_USER_POOLS", ["AWS_IAM"])
    api.set_schema(SCHEMA)
    api.add_data_source("Passthrough", "NONE")
    for type_name, field, template in [
        ("Mutation", "publishAccessChange", "publish"),
        ("Subscription", "onAccessChanged", "own-updates"),
    ]:
        api.add_resolver(
            type_name,
            field,
            "Passthrough",
            (RESOLVERS / f"{template}.request.vtl").read_text(),
            (RESOLVERS / f"{template}.response.vtl").read_text(),
        )
    return api


PUBLISH = """mutation P($input: AccessChangeInput!) {
  publishAccessChange(input: $input) { appUserId access }
}"""


def test_the_repository_schema_builds_with_appsyncs_directives() -> None:
    schema = build(SCHEMA)
    assert set(schema.subscription_type.fields) == {"onAccessChanged", "onOrderStatus"}


def test_an_invalid_schema_names_what_and_where() -> None:
    broken = SCHEMA.replace("access: Access!\n  until", "access: Acess!\n  until", 1)
    with pytest.raises(SchemaError, match=r"Unknown type 'Acess'.*schema line \d+, column \d+"):
        build(broken)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("#foreach($x in $ctx.args.items)$x#end", "#foreach is not supported"),
        ('#set($x = "a")', "#set is not supported"),
        ("$util.dynamodb.toDynamoDBJson($ctx.args)", "is not supported by the local AppSync"),
        ("$util.time.nowISO8601()", "is not supported by the local AppSync"),
        ("$ctx.prev.result", r"\$context.prev is not supported"),
        ("#if($ctx.args.a)\nyes", "line 1: #if without #end"),
    ],
)
def test_resolver_constructs_outside_the_subset_are_refused_by_name(
    template: str, message: str
) -> None:
    api = _api()
    with pytest.raises(vtl.TemplateError, match=message):
        api.add_resolver("Subscription", "onOrderStatus", "Passthrough", "{}", template)


def test_a_resolver_for_a_field_the_schema_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="the schema has no field Mutation.publishNothing"):
        _api().add_resolver("Mutation", "publishNothing", "Passthrough", "{}", "{}")


def test_only_none_data_sources_run_locally() -> None:
    with pytest.raises(ValueError, match="type AMAZON_DYNAMODB is not supported"):
        _api().add_data_source("Table", "AMAZON_DYNAMODB")


def test_the_publish_mutation_is_for_iam_callers_only() -> None:
    api = _api()
    variables = {"input": {"appUserId": "hanako", "access": "full"}}
    assert api.mutate(PUBLISH, variables, "AWS_IAM", {}) == {
        "data": {"publishAccessChange": {"appUserId": "hanako", "access": "full"}}
    }
    with pytest.raises(GraphQLRequestError, match="Not Authorized to access publishAccessChange"):
        api.mutate(PUBLISH, variables, "AMAZON_COGNITO_USER_POOLS", {"username": "hanako"})


def test_a_bad_mutation_is_refused_with_graphqls_message() -> None:
    with pytest.raises(GraphQLRequestError, match="Value 'maybe' does not exist in 'Access' enum"):
        _api().mutate(PUBLISH, {"input": {"appUserId": "x", "access": "maybe"}}, "AWS_IAM", {})


def test_subscribers_get_only_results_whose_fields_equal_their_arguments() -> None:
    api = _api()
    got: dict[str, list] = {"hanako": [], "taro": []}
    query = "subscription S($u: ID!) { onAccessChanged(appUserId: $u) { access } }"
    for user in got:
        api.subscribe(
            query, {"u": user}, "AMAZON_COGNITO_USER_POOLS", {"username": user}, got[user].append
        )
    api.mutate(PUBLISH, {"input": {"appUserId": "hanako", "access": "grace"}}, "AWS_IAM", {})
    assert got == {"hanako": [{"data": {"onAccessChanged": {"access": "grace"}}}], "taro": []}


def test_a_schema_with_an_unknown_type_fails_the_deploy_clearly() -> None:
    """Through CloudFormation: the GraphQLSchema bridge names the API and the schema's line."""
    template = {
        "Resources": {
            "Api": {
                "Type": "AWS::AppSync::GraphQLApi",
                "Properties": {"Name": "broken", "AuthenticationType": "AWS_IAM"},
            },
            "Schema": {
                "Type": "AWS::AppSync::GraphQLSchema",
                "Properties": {
                    "ApiId": {"Fn::GetAtt": ["Api", "ApiId"]},
                    "Definition": "type Query {\n  a: Nope\n}",
                },
            },
        }
    }
    import json

    before = set(APIS)
    with mock_aws():
        registry.install()
        try:
            cfn = boto3.client("cloudformation", region_name=REGION)
            cfn.create_stack(StackName="broken", TemplateBody=json.dumps(template))
            stack = cfn.describe_stacks(StackName="broken")["Stacks"][0]
            events = cfn.describe_stack_events(StackName="broken")["StackEvents"]
        finally:
            registry.uninstall()
            for api_id in set(APIS) - before:  # the local engine's state of this throwaway API
                del APIS[api_id]
    reasons = " ".join(e.get("ResourceStatusReason", "") for e in events)
    assert stack["StackStatus"] != "CREATE_COMPLETE" or "Nope" in reasons, stack
    assert "Unknown type 'Nope'" in reasons and "schema line 2" in reasons, reasons


def test_the_subscription_resolver_refuses_another_users_id() -> None:
    api = _api()
    query = 'subscription { onAccessChanged(appUserId: "hanako") { access } }'
    with pytest.raises(GraphQLRequestError, match="Not Authorized to access onAccessChanged"):
        api.subscribe(query, None, "AMAZON_COGNITO_USER_POOLS", {"username": "taro"}, print)
    assert api.subscribers == {}


def test_without_chromium_the_page_test_is_skipped_but_fails_in_ci(monkeypatch) -> None:
    import chromium

    monkeypatch.setattr(chromium, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make browser"):
        chromium.require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="never skipped in CI"):
        chromium.require_chromium()
