"""EventBridge -> AppSync rule targets: run the target's GraphQLOperation with the target input
as its variables, as the target's IAM role (which must allow appsync:GraphQL on each field)."""

from __future__ import annotations

import json
from typing import Any

from payops.localaws.services.appsync import auth, engine
from payops.localaws.services.appsync.resources import api_by_endpoint


def deliver_from_eventbridge(target: dict[str, Any], text: str) -> dict[str, Any]:
    """Raises GraphQLRequestError for a refused or failed mutation (the target then fails and
    the event goes to the target's dead-letter queue)."""
    from graphql import OperationDefinitionNode, parse

    arn = target["Arn"]
    _, _, _, region, account, resource = arn.split(":", 5)
    api = api_by_endpoint(resource.rsplit("/", 1)[-1])
    operation = (target.get("AppSyncParameters") or {}).get("GraphQLOperation")
    if not operation:
        raise engine.GraphQLRequestError(
            "BadRequestException",
            f"target {target.get('Id')}: no AppSyncParameters.GraphQLOperation",
        )
    if not target.get("RoleArn"):
        raise engine.GraphQLRequestError("UnauthorizedException", "AppSync targets need a RoleArn")
    try:
        variables = json.loads(text)
    except ValueError:
        raise engine.GraphQLRequestError(
            "BadRequestException", "the target input (the operation's variables) is not JSON"
        ) from None
    api_arn = f"arn:aws:appsync:{region}:{account}:apis/{api.api_id}"
    for definition in parse(operation).definitions:
        if isinstance(definition, OperationDefinitionNode):
            type_name = definition.operation.value.capitalize()
            for selection in definition.selection_set.selections:
                auth.role_may(
                    target["RoleArn"],
                    "appsync:GraphQL",
                    f"{api_arn}/types/{type_name}/fields/{selection.name.value}",
                    account,
                )
    identity = {"accountId": account, "userArn": target["RoleArn"], "sourceIp": []}
    return api.mutate(operation, variables, "AWS_IAM", identity)
