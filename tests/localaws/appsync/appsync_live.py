"""The stack with live status in the local AWS, signed-in users, and gql AppSync clients."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payops.envelope import LoadedEvent, load_events
from payops.localaws.runtime import LocalAws
from payops.localaws.services.appsync import RealtimeServer
from payops.localaws.services.appsync.resources import api_by_endpoint

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "events"
POOL = "us-east-1_PayOpsLive1"
CONTEXT = {
    "ingress": "partner",
    "stripeEventSourceName": "aws.partner/stripe.com/ed_test_61SampleDestination",
    "cognitoUserPoolId": POOL,
}
ACCESS_QUERY = """subscription OnAccess($appUserId: ID!) {
  onAccessChanged(appUserId: $appUserId) { appUserId plan access until stripeEventId }
}"""
ORDER_QUERY = """subscription OnOrder($appUserId: ID!, $checkoutSessionId: ID!) {
  onOrderStatus(appUserId: $appUserId, checkoutSessionId: $checkoutSessionId) {
    checkoutSessionId status stripeEventId
  }
}"""


@dataclass
class Live:
    aws: LocalAws
    realtime: RealtimeServer
    tokens: dict[str, str] = field(default_factory=dict)  # username -> ID token

    @property
    def api(self) -> Any:
        return api_by_endpoint(self.host)

    @property
    def host(self) -> str:
        """The API's GraphQL DNS name: what a client puts in its auth header's `host`."""
        return self.aws.deployed.outputs["LiveStatusGraphQLUrl"].split("/")[2]

    def sign_in(self, username: str) -> str:
        idp = self.aws.client("cognito-idp")
        if username not in self.tokens:
            idp.admin_create_user(UserPoolId=POOL, Username=username)
            idp.admin_set_user_password(
                UserPoolId=POOL, Username=username, Password="Local-Only-1!", Permanent=True
            )
            client_id = idp.create_user_pool_client(UserPoolId=POOL, ClientName="app")[
                "UserPoolClient"
            ]["ClientId"]
            auth = idp.admin_initiate_auth(
                UserPoolId=POOL,
                ClientId=client_id,
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": "Local-Only-1!"},
            )
            self.tokens[username] = auth["AuthenticationResult"]["IdToken"]
        return self.tokens[username]

    def put_access_change(self, app_user_id: str, access: str, event_id: str) -> None:
        """What the access projection puts on the bus (the contract with its workflow)."""
        detail = {
            "appUserId": app_user_id,
            "customer": "cus_Q1AbCdEfGhIjKl",
            "subscription": "sub_1PRPjYk2LmQv8B1E",
            "plan": "pro",
            "access": access,
            "until": 1796688000 if access == "grace" else None,  # Unix seconds (2026-12-08)
            "features": ["downloads"],
            "stripeEventId": event_id,
        }
        entry = {
            "EventBusName": self.aws.deployed.outputs["AppEventBusName"],
            "Source": "payops.access",
            "DetailType": "Access changed",
            "Detail": json.dumps(detail),
        }
        result = self.aws.client("events").put_events(Entries=[entry])
        assert result["FailedEntryCount"] == 0, result

    def send_as(self, label: str, app_user_id: str) -> LoadedEvent:
        """An example Stripe event whose checkout session belongs to `app_user_id` (Checkout's
        client_reference_id), as the app sets it when it creates the session."""
        (event,) = load_events(EXAMPLES / label, self.aws.settings)
        envelope = copy.deepcopy(event.envelope)
        envelope["detail"]["data"]["object"]["client_reference_id"] = app_user_id
        return LoadedEvent(event.label, envelope)

    async def wait_subscribed(self, count: int, timeout: float = 10.0) -> None:
        """Until `count` subscriptions are registered (start_ack is not awaited by gql)."""
        deadline = time.monotonic() + timeout
        while len(self.api.subscribers) < count:
            assert time.monotonic() < deadline, f"{len(self.api.subscribers)} subscribed"
            await asyncio.sleep(0.005)


def request(query: str, **variables: Any) -> Any:
    from gql import gql

    document = gql(query)
    document.variable_values = variables
    return document


def transport(live: Live, username: str) -> Any:
    from gql.transport.appsync_auth import AppSyncJWTAuthentication
    from gql.transport.appsync_websockets import AppSyncWebsocketsTransport

    auth = AppSyncJWTAuthentication(host=live.host, jwt=live.sign_in(username))
    return AppSyncWebsocketsTransport(url=live.realtime.url, auth=auth)


async def take_until(
    updates: AsyncIterator[dict[str, Any]], done: Any, timeout: float = 15.0
) -> list[dict[str, Any]]:
    """Every update up to and including the first for which done(update) holds."""
    seen: list[dict[str, Any]] = []
    while not seen or not done(seen[-1]):
        seen.append(await asyncio.wait_for(updates.__anext__(), timeout))
    return seen


def start_live() -> Live:
    aws = LocalAws(CONTEXT, stripe_data=ROOT / "examples" / "stripe-data").start()
    try:
        realtime = RealtimeServer().start()
    except BaseException:
        aws.stop()
        raise
    return Live(aws, realtime)
