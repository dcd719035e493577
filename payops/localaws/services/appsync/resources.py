"""CloudFormation bridges for the AppSync resources the stack uses (the pinned moto has an AppSync
backend for APIs and schemas, but no CloudFormation models, data sources or resolvers).

Each bridge creates moto's object where moto has one (the API, its schema) and the local
engine's state (engine.APIS) that executes requests. Anything the local AppSync cannot run
(a data source other than NONE, a pipeline resolver, code resolvers, VTL outside the subset)
fails the deploy with a message naming the resource and the construct.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.resources import BridgedResource, validation_error
from payops.localaws.services.appsync import engine


def _backend(account_id: str, region_name: str) -> Any:
    from moto.appsync.models import appsync_backends

    return appsync_backends[account_id][region_name]


def endpoint_id(api_id: str) -> str:
    """The first label of the API's DNS names (AppSync's 26-character endpoint id)."""
    return api_id.replace("-", "")[:26]


def api_attributes(api_id: str, arn: str, region: str, account: str) -> dict[str, str]:
    endpoint = endpoint_id(api_id)
    graphql_dns = f"{endpoint}.appsync-api.{region}.amazonaws.com"
    realtime_dns = f"{endpoint}.appsync-realtime-api.{region}.amazonaws.com"
    return {
        "ApiId": api_id,
        "Arn": arn,
        "GraphQLDns": graphql_dns,
        "GraphQLUrl": f"https://{graphql_dns}/graphql",
        "RealtimeDns": realtime_dns,
        "RealtimeUrl": f"wss://{realtime_dns}/graphql",
        "GraphQLEndpointArn": (
            f"arn:aws:appsync:{region}:{account}:endpoints/graphql-api/{endpoint}"
        ),
    }


def api_by_endpoint(endpoint: str) -> engine.LocalApi:
    """The deployed API whose endpoint id (or DNS name's first label) is `endpoint`."""
    for api_id, local in engine.APIS.items():
        if endpoint_id(api_id) == endpoint.split(".", 1)[0]:
            return local
    raise engine.GraphQLRequestError(
        "NotFoundException", f"no GraphQL API with endpoint {endpoint!r} is deployed"
    )


def _api_id(properties: dict[str, Any], where: str) -> str:
    api_id = properties.get("ApiId")
    if api_id not in engine.APIS:
        raise validation_error(f"{where}: ApiId {api_id!r} is not a deployed GraphQL API")
    return str(api_id)


class GraphQLApi(BridgedResource):
    TYPE = "AWS::AppSync::GraphQLApi"
    NAME_PROPERTY = "Name"
    NAME_LIMIT = 65536
    ATTRIBUTES = tuple(api_attributes("x", "x", "x", "x"))

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        modes = [properties.get("AuthenticationType", "")] + [
            p.get("AuthenticationType", "")
            for p in properties.get("AdditionalAuthenticationProviders") or []
        ]
        unknown = [m for m in modes if m not in engine.AUTH_DIRECTIVES]
        if unknown:
            raise validation_error(f"AWS::AppSync::GraphQLApi {name}: auth mode {unknown[0]!r}")
        backend = _backend(account_id, region_name)
        model = backend.create_graphql_api(
            name=name,
            log_config=properties.get("LogConfig"),
            authentication_type=modes[0],
            user_pool_config=properties.get("UserPoolConfig"),
            open_id_connect_config=properties.get("OpenIDConnectConfig"),
            additional_authentication_providers=properties.get("AdditionalAuthenticationProviders"),
            xray_enabled=bool(properties.get("XrayEnabled")),
            lambda_authorizer_config=properties.get("LambdaAuthorizerConfig"),
            tags={},
            visibility=properties.get("Visibility", "GLOBAL"),
        )
        engine.APIS[model.api_id] = engine.LocalApi(
            model.api_id,
            modes[0],
            modes[1:],
            user_pool_id=(properties.get("UserPoolConfig") or {}).get("UserPoolId"),
            account=account_id,
        )

        def delete() -> None:
            engine.APIS.pop(model.api_id, None)
            backend.graphql_apis.pop(model.api_id, None)

        attributes = api_attributes(model.api_id, model.arn, region_name, account_id)
        return cls(model.arn, attributes, delete, model)


class GraphQLSchema(BridgedResource):
    TYPE = "AWS::AppSync::GraphQLSchema"

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        where = "AWS::AppSync::GraphQLSchema"
        api_id = _api_id(properties, where)
        if "Definition" not in properties:
            raise validation_error(f"{where}: only an inline Definition is supported locally")
        try:
            engine.APIS[api_id].set_schema(properties["Definition"])
        except engine.SchemaError as err:
            raise validation_error(f"{where} of API {api_id}: {err}") from None
        _backend(account_id, region_name).start_schema_creation(
            api_id, properties["Definition"].encode("utf-8")
        )
        return cls(f"{api_id}GraphQLSchema", {})


class DataSource(BridgedResource):
    TYPE = "AWS::AppSync::DataSource"
    ATTRIBUTES = ("DataSourceArn", "Name")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        api_id = _api_id(properties, "AWS::AppSync::DataSource")
        source = str(properties.get("Name"))
        try:
            engine.APIS[api_id].add_data_source(source, str(properties.get("Type")))
        except ValueError as err:
            raise validation_error(str(err)) from None
        arn = f"arn:aws:appsync:{region_name}:{account_id}:apis/{api_id}/datasources/{source}"
        return cls(arn, {"DataSourceArn": arn, "Name": source})


class Resolver(BridgedResource):
    TYPE = "AWS::AppSync::Resolver"
    ATTRIBUTES = ("ResolverArn", "TypeName", "FieldName")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        type_name, field = properties.get("TypeName"), properties.get("FieldName")
        where = f"AWS::AppSync::Resolver {type_name}.{field}"
        api_id = _api_id(properties, where)
        unsupported = [
            key
            for key in (
                "Code",
                "CodeS3Location",
                "Runtime",
                "PipelineConfig",
                "SyncConfig",
                "CachingConfig",
                "RequestMappingTemplateS3Location",
                "ResponseMappingTemplateS3Location",
            )  # fmt: skip
            if properties.get(key)
        ]
        if properties.get("Kind", "UNIT") != "UNIT" or unsupported:
            what = unsupported[0] if unsupported else f"Kind {properties.get('Kind')}"
            raise validation_error(
                f"{where}: {what} is not supported by the local AppSync (UNIT resolvers with "
                "inline VTL mapping templates on a NONE data source only)"
            )
        local = engine.APIS[api_id]
        try:
            local.add_resolver(
                str(type_name),
                str(field),
                str(properties.get("DataSourceName")),
                str(properties.get("RequestMappingTemplate", "")),
                str(properties.get("ResponseMappingTemplate", "")),
            )
        except ValueError as err:  # vtl.TemplateError is one
            raise validation_error(f"{where}: {err}") from None
        arn = (
            f"arn:aws:appsync:{region_name}:{account_id}:apis/{api_id}/types/{type_name}"
            f"/resolvers/{field}"
        )

        def delete() -> None:
            local.resolvers.pop((str(type_name), str(field)), None)

        return cls(arn, {"ResolverArn": arn, "TypeName": type_name, "FieldName": field}, delete)


GAPS: dict[str, str] = {
    "AWS::AppSync::GraphQLApi": (
        "created in moto's AppSync backend, with its endpoint ARN and DNS names (moto: skipped)"
    ),
    "AWS::AppSync::GraphQLSchema": (
        "validated with graphql-core (AppSync's scalars and directives predefined); an invalid "
        "schema fails the deploy with its line and column (moto: skipped)"
    ),
    "AWS::AppSync::DataSource": "NONE data sources (moto: no data sources at all)",
    "AWS::AppSync::Resolver": (
        "UNIT resolvers with inline VTL in a documented subset, executed (moto: no resolvers)"
    ),
}

RESOURCES = (GraphQLApi, GraphQLSchema, DataSource, Resolver)
