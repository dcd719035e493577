"""Who calls the local AppSync: Cognito user pool tokens (checked against moto's own signing
keys) and IAM roles (EventBridge's rule targets, checked against the role's policies).
"""

from __future__ import annotations

import fnmatch
import json
import time
from typing import Any
from urllib.parse import unquote

from payops.localaws.services.appsync.engine import GraphQLRequestError


def _unauthorized(why: str) -> GraphQLRequestError:
    return GraphQLRequestError("UnauthorizedException", why)


def _moto_public_keys() -> Any:
    from joserfc.jwk import KeySet
    from moto.utilities.utils import load_resource

    # moto signs every user pool's tokens with this key pair (kid "dummy").
    return KeySet.import_key_set(load_resource("cognitoidp/resources/jwks-public.json"))


def cognito_identity(token: str, user_pool_id: str, account: str) -> dict[str, Any]:
    """The `$context.identity` of a valid ID or access token of `user_pool_id`, as AppSync
    builds it; UnauthorizedException for a token that is forged, expired or another pool's."""
    from joserfc import jwt
    from joserfc.errors import JoseError
    from moto.cognitoidp.models import cognitoidp_backends

    region = user_pool_id.split("_", 1)[0]
    if user_pool_id not in cognitoidp_backends[account][region].user_pools:
        raise _unauthorized(f"the API's user pool {user_pool_id} does not exist")
    try:
        claims = jwt.decode(token.removeprefix("Bearer "), _moto_public_keys()).claims
    except (JoseError, ValueError) as err:
        raise _unauthorized(f"not a valid user pool token ({type(err).__name__})") from None
    issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
    if claims.get("iss") != issuer:
        raise _unauthorized("the token was issued by another user pool")
    if claims.get("token_use") not in ("id", "access"):
        raise _unauthorized("neither an ID nor an access token")
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= time.time():
        raise _unauthorized("the token has expired")
    username = claims.get("cognito:username") or claims.get("username")
    return {
        "sub": claims.get("sub"),
        "username": username,
        "issuer": issuer,
        "claims": claims,
        "defaultAuthStrategy": "ALLOW",
        "groups": claims.get("cognito:groups"),
        "sourceIp": ["127.0.0.1"],
    }


def role_may(role_arn: str, action: str, resource: str, account: str) -> None:
    """AccessDenied unless one of the role's policies allows `action` on `resource` (and none
    denies it). Conditions are not evaluated (the roles here put none on appsync:GraphQL)."""
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[account]["global"].get_role_by_arn(role_arn)
    except Exception:
        raise _unauthorized(f"role {role_arn} does not exist") from None
    documents = [
        json.loads(unquote(d)) if isinstance(d, str) else d for d in role.policies.values()
    ]
    documents += [json.loads(p.document) for p in role.managed_policies.values()]
    verdicts = set()
    for document in documents:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if _matches(statement.get("Action"), action) and _matches(
                statement.get("Resource"), resource
            ):
                verdicts.add(statement.get("Effect"))
    if "Deny" in verdicts or "Allow" not in verdicts:
        raise GraphQLRequestError(
            "AccessDeniedException",
            f"{role_arn} is not authorized to perform: {action} on resource: {resource}",
        )


def _matches(patterns: Any, value: str) -> bool:
    items = patterns if isinstance(patterns, list) else [patterns]
    return any(isinstance(p, str) and fnmatch.fnmatchcase(value, p) for p in items)
