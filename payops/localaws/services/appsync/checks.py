"""Deploy checks: what the local AppSync holds is what the template asked for."""

from __future__ import annotations

from typing import Any

from payops.localaws.core.checking import Check, CheckFn, Getter
from payops.localaws.services.appsync import engine
from payops.localaws.services.appsync.resources import api_attributes


def _api_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def check_api(c: Check) -> None:
    api = c.client("appsync").get_graphql_api(apiId=_api_id(c.physical_id))["graphqlApi"]
    c.same("Name", c.props["Name"], api.get("name"))
    c.same("AuthenticationType", c.props["AuthenticationType"], api.get("authenticationType"))
    local = engine.APIS.get(_api_id(c.physical_id))
    if local is None:
        c.problem("the local AppSync engine does not know this API")
    elif "UserPoolConfig" in c.raw:
        c.same(
            "UserPoolConfig.UserPoolId", c.props["UserPoolConfig"]["UserPoolId"], local.user_pool_id
        )


def check_schema(c: Check) -> None:
    local = engine.APIS.get(str(c.props["ApiId"]))
    if local is None or local.schema is None:
        c.problem("no schema in the local AppSync engine")


def check_data_source(c: Check) -> None:
    local = engine.APIS.get(str(c.props["ApiId"]))
    c.same("Type", c.props["Type"], (local.data_sources if local else {}).get(c.props["Name"]))


def check_resolver(c: Check) -> None:
    local = engine.APIS.get(str(c.props["ApiId"]))
    key = (c.props["TypeName"], c.props["FieldName"])
    if local is None or key not in local.resolvers:
        c.problem(f"resolver {key[0]}.{key[1]} not in the local AppSync engine")


def _api_attribute(name: str) -> Getter:
    def get(r: Any, physical_id: str, _: str) -> Any:
        _, _, _, region, account, _ = physical_id.split(":", 5)
        return api_attributes(_api_id(physical_id), physical_id, region, account)[name]

    return get


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::AppSync::GraphQLApi", name): _api_attribute(name)
    for name in api_attributes("x", "x", "x", "x")
}
CHECKS: dict[str, CheckFn] = {
    "AWS::AppSync::GraphQLApi": check_api,
    "AWS::AppSync::GraphQLSchema": check_schema,
    "AWS::AppSync::DataSource": check_data_source,
    "AWS::AppSync::Resolver": check_resolver,
}
