"""A deployed GraphQL API, run locally: the schema (graphql-core), the resolvers as configured
(NONE data sources, VTL templates: vtl.py), auth modes, and the subscriptions a mutation feeds.

What AppSync does and this follows:
- a field is callable in an auth mode when the field names that mode's directive (@aws_iam,
  @aws_cognito_user_pools), or, with no directive on the field, its type does, or, with none on
  either, the mode is the API's default;
- a mutation result goes to the subscriptions whose field lists the mutation in
  `@aws_subscribe(mutations: [...])` and whose arguments all equal the result's fields of the
  same name; each gets the fields it selected out of those the mutation selected;
- a subscription's resolver runs once, when the client subscribes (its check may refuse it).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from payops.localaws.services.appsync import vtl

# The scalars and directives AppSync predefines: a schema uses them without declaring them.
PRELUDE = """
scalar AWSDate
scalar AWSTime
scalar AWSDateTime
scalar AWSTimestamp
scalar AWSEmail
scalar AWSJSON
scalar AWSURL
scalar AWSPhone
scalar AWSIPAddress
directive @aws_subscribe(mutations: [String!]!) on FIELD_DEFINITION
directive @aws_iam on OBJECT | FIELD_DEFINITION
directive @aws_cognito_user_pools(cognito_groups: [String]) on OBJECT | FIELD_DEFINITION
directive @aws_api_key on OBJECT | FIELD_DEFINITION
directive @aws_oidc on OBJECT | FIELD_DEFINITION
directive @aws_lambda on OBJECT | FIELD_DEFINITION
"""
AUTH_DIRECTIVES = {
    "AWS_IAM": "aws_iam",
    "AMAZON_COGNITO_USER_POOLS": "aws_cognito_user_pools",
    "API_KEY": "aws_api_key",
    "OPENID_CONNECT": "aws_oidc",
    "AWS_LAMBDA": "aws_lambda",
}
SUPPORTED_DATA_SOURCES = ("NONE",)


class SchemaError(ValueError):
    """The schema is not valid GraphQL (as AppSync's schema creation would report)."""


class GraphQLRequestError(Exception):
    """A request AppSync refuses: `error_type` as AppSync names it (Unauthorized, ...)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message

    def as_error(self) -> dict[str, str]:
        return {"errorType": self.error_type, "message": self.message}


def build(definition: str) -> Any:
    """The executable schema, or SchemaError with graphql-core's message (line, column)."""
    from graphql.validation.validate import validate_sdl

    from graphql import GraphQLError, build_ast_schema, parse

    offset = PRELUDE.count("\n")  # the schema's own line numbers, without the prelude

    def located(err: GraphQLError) -> str:
        where = [
            f"schema line {loc.line - offset}, column {loc.column}" for loc in err.locations or []
        ]
        return f"{err.message}" + (f" ({'; '.join(where)})" if where else "")

    try:
        document = parse(PRELUDE + definition)
    except GraphQLError as err:
        raise SchemaError(f"invalid GraphQL schema: {located(err)}") from None
    errors = validate_sdl(document)
    if errors:
        raise SchemaError(f"invalid GraphQL schema: {located(errors[0])}")
    try:
        return build_ast_schema(document, assume_valid_sdl=True)
    except (GraphQLError, TypeError) as err:
        raise SchemaError(f"invalid GraphQL schema: {err}") from None


@dataclass
class Resolver:
    type_name: str
    field_name: str
    data_source: str
    request: list[Any]
    response: list[Any]


@dataclass
class Subscriber:
    field: str  # the Subscription field
    arguments: dict[str, Any]
    document: Any
    variables: dict[str, Any]
    send: Callable[[dict[str, Any]], None]  # gets {"data": ...} for each matching mutation


@dataclass
class LocalApi:
    api_id: str
    default_auth: str
    extra_auth: list[str]
    user_pool_id: str | None = None
    account: str = ""
    schema: Any = None
    data_sources: dict[str, str] = field(default_factory=dict)  # name -> type
    resolvers: dict[tuple[str, str], Resolver] = field(default_factory=dict)
    subscribers: dict[int, Subscriber] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- configuration -----------------------------------------------------------------------
    def set_schema(self, definition: str) -> None:
        self.schema = build(definition)

    def add_data_source(self, name: str, kind: str) -> None:
        if kind not in SUPPORTED_DATA_SOURCES:
            raise ValueError(
                f"AppSync data source {name!r}: type {kind} is not supported by the local AppSync "
                f"(supported: {', '.join(SUPPORTED_DATA_SOURCES)})"
            )
        self.data_sources[name] = kind

    def add_resolver(
        self, type_name: str, field_name: str, data_source: str, request: str, response: str
    ) -> None:
        where = f"resolver {type_name}.{field_name}"
        if data_source not in self.data_sources:
            raise ValueError(f"{where}: no data source named {data_source!r} in this API")
        if self.schema is not None:
            gql_type = self.schema.get_type(type_name)
            if gql_type is None or field_name not in getattr(gql_type, "fields", {}):
                raise ValueError(f"{where}: the schema has no field {type_name}.{field_name}")
        self.resolvers[(type_name, field_name)] = Resolver(
            type_name,
            field_name,
            data_source,
            vtl.parse(request, f"{where} request mapping template"),
            vtl.parse(response, f"{where} response mapping template"),
        )

    # -- auth --------------------------------------------------------------------------------
    def _modes(self) -> list[str]:
        return [self.default_auth, *self.extra_auth]

    def allowed(self, type_name: str, field_name: str, mode: str) -> bool:
        if mode not in self._modes():
            return False
        gql_type = self.schema.get_type(type_name)
        field_def = gql_type.fields[field_name]
        names = {AUTH_DIRECTIVES[m]: m for m in AUTH_DIRECTIVES}
        on_field = [d.name.value for d in field_def.ast_node.directives if d.name.value in names]
        if on_field:
            return AUTH_DIRECTIVES[mode] in on_field
        on_type = [
            d.name.value
            for node in [gql_type.ast_node, *(gql_type.extension_ast_nodes or ())]
            if node is not None
            for d in node.directives
            if d.name.value in names
        ]
        if on_type:
            return AUTH_DIRECTIVES[mode] in on_type
        return mode == self.default_auth

    def _check(self, type_name: str, field_name: str, mode: str) -> None:
        if not self.allowed(type_name, field_name, mode):
            raise GraphQLRequestError(
                "Unauthorized", f"Not Authorized to access {field_name} on type {type_name}"
            )

    # -- execution ---------------------------------------------------------------------------
    def _operation(self, query: str, variables: dict[str, Any] | None, kind: str) -> Any:
        from graphql import GraphQLError, OperationDefinitionNode, parse, validate

        if self.schema is None:
            raise GraphQLRequestError("BadRequestException", "the API has no schema")
        try:
            document = parse(query)
        except GraphQLError as err:
            raise GraphQLRequestError("MalformedHttpRequestException", str(err)) from None
        errors = validate(self.schema, document)
        if errors:
            raise GraphQLRequestError("ValidationError", "; ".join(e.message for e in errors))
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or operations[0].operation.value != kind:
            raise GraphQLRequestError(
                "BadRequestException", f"expected exactly one {kind} operation"
            )
        return document, operations[0]

    def _resolve(self, resolver: Resolver, arguments: dict[str, Any], identity: Any) -> Any:
        context = {"arguments": arguments, "identity": identity, "source": None, "stash": {}}
        request = json.loads(vtl.render(resolver.request, context))
        if not isinstance(request, dict) or "payload" not in request and "version" not in request:
            raise GraphQLRequestError(
                "MappingTemplate", f"{resolver.type_name}.{resolver.field_name}: bad request"
            )
        context["result"] = request.get("payload")  # a NONE data source returns its payload
        text = vtl.render(resolver.response, context).strip()
        return json.loads(text) if text else None

    def _field_resolver(self, identity: Any) -> Callable[..., Any]:
        def resolve(source: Any, info: Any, **arguments: Any) -> Any:
            resolver = self.resolvers.get((info.parent_type.name, info.field_name))
            if resolver is None:  # no resolver: the parent's field of that name (or null)
                return source.get(info.field_name) if isinstance(source, dict) else None
            try:
                return self._resolve(resolver, _plain(arguments), identity)
            except vtl.Unauthorized:
                raise GraphQLRequestError(
                    "Unauthorized",
                    f"Not Authorized to access {info.field_name} on type {info.parent_type.name}",
                ) from None
            except vtl.ResolverError as err:
                raise GraphQLRequestError("CustomTemplateException", str(err)) from None

        return resolve

    def mutate(
        self, query: str, variables: dict[str, Any] | None, mode: str, identity: Any
    ) -> dict[str, Any]:
        """Run a mutation as AppSync would for a caller in auth `mode`; publish its results."""
        from graphql import execute_sync

        document, operation = self._operation(query, variables, "mutation")
        selections = operation.selection_set.selections
        for selection in selections:
            self._check("Mutation", selection.name.value, mode)
        with self.lock:  # one mutation's results reach each subscriber before the next one's
            result = execute_sync(
                self.schema,
                document,
                variable_values=variables or {},
                field_resolver=self._field_resolver(identity),
            )
            if result.errors:
                raise _request_error(result.errors)
            for selection in selections:
                key = selection.alias.value if selection.alias else selection.name.value
                if result.data and result.data.get(key) is not None:
                    self._publish(selection.name.value, result.data[key])
        return {"data": result.data}

    def subscribe(
        self,
        query: str,
        variables: dict[str, Any] | None,
        mode: str,
        identity: Any,
        send: Callable[[dict[str, Any]], None],
    ) -> int:
        """Register a subscription (its resolver runs now and may refuse it); its id."""
        from graphql import value_from_ast_untyped

        document, operation = self._operation(query, variables, "subscription")
        (selection,) = operation.selection_set.selections
        name = selection.name.value
        self._check("Subscription", name, mode)
        # The document is validated: each argument is a literal or a declared variable.
        arguments = _plain(
            {a.name.value: value_from_ast_untyped(a.value, variables) for a in selection.arguments}
        )
        resolver = self.resolvers.get(("Subscription", name))
        if resolver is not None:
            try:
                self._resolve(resolver, arguments, identity)
            except vtl.Unauthorized:
                raise GraphQLRequestError(
                    "Unauthorized", f"Not Authorized to access {name} on type Subscription"
                ) from None
        with self.lock:
            key = next(_IDS)
            self.subscribers[key] = Subscriber(name, arguments, document, variables or {}, send)
        return key

    def unsubscribe(self, key: int) -> None:
        with self.lock:
            self.subscribers.pop(key, None)

    def subscription_fields(self, mutation: str) -> list[str]:
        from graphql import value_from_ast_untyped

        fields = []
        for name, field_def in self.schema.subscription_type.fields.items():
            for directive in field_def.ast_node.directives:
                if directive.name.value == "aws_subscribe":
                    (argument,) = directive.arguments
                    if mutation in value_from_ast_untyped(argument.value):
                        fields.append(name)
        return fields

    def _publish(self, mutation: str, value: dict[str, Any]) -> None:
        from graphql import execute_sync

        fields = set(self.subscription_fields(mutation))
        for subscriber in list(self.subscribers.values()):
            if subscriber.field not in fields:
                continue
            if any(value.get(k) != v for k, v in subscriber.arguments.items() if v is not None):
                continue  # AppSync's argument filter: every argument equals the result's field
            out = execute_sync(
                self.schema,
                subscriber.document,
                root_value={subscriber.field: value},
                variable_values=subscriber.variables,
            )
            subscriber.send({"data": out.data})


_IDS = itertools.count(1)
APIS: dict[str, LocalApi] = {}


def api(api_id: str) -> LocalApi:
    if api_id not in APIS:
        raise GraphQLRequestError("NotFoundException", f"no GraphQL API {api_id!r} is deployed")
    return APIS[api_id]


def _plain(value: Any) -> Any:
    """graphql-core's coerced arguments as plain JSON values (enums as their names)."""
    return json.loads(json.dumps(value, default=str))


def _request_error(errors: list[Any]) -> GraphQLRequestError:
    original = getattr(errors[0], "original_error", None)
    if isinstance(original, GraphQLRequestError):
        return original
    return GraphQLRequestError("ExecutionError", "; ".join(e.message for e in errors))
