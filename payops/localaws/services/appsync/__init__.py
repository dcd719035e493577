"""AppSync: GraphQL APIs that run (schema, NONE data sources, VTL resolvers in a documented
subset: vtl.py), EventBridge AppSync targets (delivery.py) and the real-time WebSocket endpoint
(realtime.py), with Cognito user pool tokens checked against moto's keys (auth.py).

moto gaps bridged here (`SERVICE.gaps`):
- AWS::AppSync::GraphQLApi
- AWS::AppSync::GraphQLSchema
- AWS::AppSync::DataSource
- AWS::AppSync::Resolver
- appsync.execution
- appsync.realtime
- appsync.eventbridge_target

Not supported locally (a clear deploy error): data sources other than NONE, pipeline and
APPSYNC_JS resolvers, caching, VTL outside the subset; API keys, OIDC and Lambda authorizers on
the real-time endpoint; enhanced subscription filters.
"""

from __future__ import annotations

from payops.localaws.core.registry import Service
from payops.localaws.services.appsync import checks, resources
from payops.localaws.services.appsync.delivery import deliver_from_eventbridge
from payops.localaws.services.appsync.engine import APIS, GraphQLRequestError, SchemaError
from payops.localaws.services.appsync.realtime import RealtimeServer
from payops.localaws.services.appsync.users import ensure_user_pool
from payops.localaws.services.appsync.vtl import TemplateError

GAPS = {
    **resources.GAPS,
    "appsync.execution": (
        "queries and mutations execute against the schema through the configured resolvers, "
        "with the API's auth modes (moto executes nothing)"
    ),
    "appsync.realtime": (
        "the real-time WebSocket endpoint (AppSync's protocol) on localhost: subscriptions get "
        "each matching mutation result once, in order (moto has no real-time endpoint)"
    ),
    "appsync.eventbridge_target": (
        "an EventBridge rule's AppSync target runs its GraphQLOperation as the target's role, "
        "which must allow appsync:GraphQL on each field (moto's events cannot deliver to AppSync)"
    ),
}

SERVICE = Service(
    name="appsync",
    gaps=GAPS,
    resources=resources.RESOURCES,
    checks=checks.CHECKS,
    attributes=checks.ATTRIBUTES,
    provides=("deliver_from_eventbridge", "ensure_user_pool", "RealtimeServer"),
)

__all__ = [
    "APIS",
    "SERVICE",
    "GraphQLRequestError",
    "RealtimeServer",
    "SchemaError",
    "TemplateError",
    "deliver_from_eventbridge",
    "ensure_user_pool",
]
