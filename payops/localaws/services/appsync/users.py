"""The user pool the API names (`cognitoUserPoolId`), in moto, for a local run.

A real deployment names an existing pool. moto makes up pool ids, so a local run creates one and
files it under the configured id: tokens it issues then carry that pool as their issuer, and
the API accepts them. The custom attributes are the ones the access projection writes.
"""

from __future__ import annotations

CUSTOM_ATTRIBUTES = ("plan", "access", "access_until")


def ensure_user_pool(user_pool_id: str, account: str) -> str:
    """Create the pool under `user_pool_id` unless it exists; its id."""
    from moto.cognitoidp.models import cognitoidp_backends

    region = user_pool_id.split("_", 1)[0]
    backend = cognitoidp_backends[account][region]
    if user_pool_id in backend.user_pools:
        return user_pool_id
    pool = backend.create_user_pool(
        "payops-local-users",
        {
            "Schema": [
                {"Name": name, "AttributeDataType": "String", "Mutable": True}
                for name in CUSTOM_ATTRIBUTES
            ]
        },
    )
    del backend.user_pools[pool.id]
    pool.id = user_pool_id
    pool.arn = f"arn:aws:cognito-idp:{region}:{account}:userpool/{user_pool_id}"
    backend.user_pools[user_pool_id] = pool
    return user_pool_id
