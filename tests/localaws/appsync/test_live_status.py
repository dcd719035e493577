"""Live status end to end, in one deploy: events on the bus -> AppSync rule targets ->
mutations -> gql AppSync clients over the real-time WebSocket protocol, and
examples/order-status/ in headless Chromium."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from appsync_live import (
    ACCESS_QUERY,
    EXAMPLES,
    ORDER_QUERY,
    ROOT,
    Live,
    request,
    start_live,
    take_until,
    transport,
)
from chromium import Browser, require_chromium

from payops.envelope import load_events
from payops.localaws.services.appsync import deliver_from_eventbridge
from payops.localaws.services.appsync.engine import GraphQLRequestError

KONBINI_SESSION = "cs_test_a1x7wYWCarUJnQgivL2dIYY2SuaWwMlnLZOkgnU04iROmjIla5b1MbHHBtlb"
CARD_SESSION = "cs_test_a1rfC313SyucPIE9BmyQnNOyzszoj11c51cLNYHuYDx2ngdiOTtzfDqrhg5e"
PAGE = ROOT / "examples" / "order-status"
SCREENSHOT = ROOT / "docs" / "order-status.png"
# Resolves once the page's subscription is acknowledged (start_ack).
WAIT_FOR_PAGE = (
    "new Promise(r => { const t = () => window.orderStatus ? "
    "r(window.orderStatus.subscribed) : setTimeout(t, 10); t(); })"
)
UNTIL_THREE_UPDATES = (
    "new Promise(r => { const t = () => window.orderStatus.history.length >= 3 ? "
    "r(window.orderStatus.history) : setTimeout(t, 10); t(); })"
)


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    """One deploy with live status on, for every test here."""
    running = start_live()
    yield running
    running.realtime.stop()
    running.aws.stop()


def test_each_user_receives_their_own_access_changes_once_in_order(live: Live) -> None:
    from gql import Client

    async def scenario() -> tuple[list, list]:
        async with (
            Client(transport=transport(live, "hanako")) as hanako,
            Client(transport=transport(live, "taro")) as taro,
        ):
            before = len(live.api.subscribers)
            mine = hanako.subscribe(request(ACCESS_QUERY, appUserId="hanako"))
            theirs = taro.subscribe(request(ACCESS_QUERY, appUserId="taro"))
            first_mine = asyncio.ensure_future(mine.__anext__())
            first_theirs = asyncio.ensure_future(theirs.__anext__())
            await live.wait_subscribed(before + 2)
            # The story of issue 15: active -> payment failed -> paid again -> cancelled.
            for access, event in [("full", "evt_a1"), ("grace", "evt_a2"), ("full", "evt_a3"),
                                  ("none", "evt_a4")]:  # fmt: skip
                await asyncio.to_thread(live.put_access_change, "hanako", access, event)
            # A marker for each: whatever arrives before it was delivered before it.
            await asyncio.to_thread(live.put_access_change, "hanako", "none", "evt_end")
            await asyncio.to_thread(live.put_access_change, "taro", "full", "evt_taro")
            got_mine = [await asyncio.wait_for(first_mine, 15)]
            got_mine += await take_until(
                mine, lambda u: u["onAccessChanged"]["stripeEventId"] == "evt_end"
            )
            got_theirs = [await asyncio.wait_for(first_theirs, 15)]
            await mine.aclose()  # stop -> complete, as an app leaving the page
            await theirs.aclose()
            return got_mine, got_theirs

    mine, theirs = asyncio.run(scenario())
    changes = [
        (u["onAccessChanged"]["access"], u["onAccessChanged"]["stripeEventId"]) for u in mine
    ]
    assert changes == [
        ("full", "evt_a1"), ("grace", "evt_a2"), ("full", "evt_a3"), ("none", "evt_a4"),
        ("none", "evt_end"),
    ]  # fmt: skip
    assert mine[1]["onAccessChanged"] == {
        "appUserId": "hanako",
        "plan": "pro",
        "access": "grace",
        "until": 1796688000,
        "stripeEventId": "evt_a2",
    }
    # Taro's first update is his own: none of Hanako's five reached him.
    assert [u["onAccessChanged"]["stripeEventId"] for u in theirs] == ["evt_taro"]


def test_the_access_projection_reaches_the_users_subscription(live: Live) -> None:
    """End to end across issue 15's two halves: replayed subscription events -> the access
    workflow (reads Stripe, projects, puts Access changed on the app bus) -> the rule's AppSync
    target -> the user's gql subscription. Each change once, in order."""
    from gql import Client

    labels = ("06-subscription-created.json", "07-subscription-updated-active.json",
              "08-subscription-deleted.json")  # fmt: skip
    events = [load_events(EXAMPLES / label, live.aws.settings)[0] for label in labels]
    last_event_id = events[-1].envelope["detail"]["id"]

    async def scenario() -> list:
        async with Client(transport=transport(live, "u_1001")) as user:
            before = len(live.api.subscribers)
            updates = user.subscribe(request(ACCESS_QUERY, appUserId="u_1001"))
            first = asyncio.ensure_future(updates.__anext__())
            await live.wait_subscribed(before + 1)
            for event in events:
                await asyncio.to_thread(live.aws.send, event)
            seen = [await asyncio.wait_for(first, 30)]
            seen += await take_until(
                updates, lambda u: u["onAccessChanged"]["stripeEventId"] == last_event_id, 30
            )
            await updates.aclose()
            return seen

    seen = [u["onAccessChanged"] for u in asyncio.run(scenario())]
    assert {u["appUserId"] for u in seen} == {"u_1001"}
    assert [u["access"] for u in seen][-2:] == ["full", "none"]
    assert isinstance(seen[-2]["until"], int) and seen[-2]["until"] > 0
    ids = [u["stripeEventId"] for u in seen]
    assert len(ids) == len(set(ids))  # once each


def test_a_user_cannot_subscribe_to_another_users_updates(live: Live) -> None:
    from gql import Client
    from gql.transport.exceptions import TransportQueryError

    async def scenario() -> None:
        async with Client(transport=transport(live, "taro")) as taro:
            updates = taro.subscribe(request(ACCESS_QUERY, appUserId="hanako"))
            await asyncio.wait_for(updates.__anext__(), 15)

    with pytest.raises(TransportQueryError, match="Not Authorized to access onAccessChanged"):
        asyncio.run(scenario())


def test_a_forged_token_is_refused_at_connection(live: Live) -> None:
    from gql import Client
    from gql.transport.appsync_auth import AppSyncJWTAuthentication
    from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
    from gql.transport.exceptions import TransportServerError

    token = live.sign_in("hanako")
    head, payload, _ = token.split(".")
    forged = f"{head}.{payload}.c2lnbmF0dXJl"
    auth = AppSyncJWTAuthentication(host=live.host, jwt=forged)

    async def scenario() -> None:
        async with Client(transport=AppSyncWebsocketsTransport(url=live.realtime.url, auth=auth)):
            pass

    with pytest.raises(TransportServerError, match="not a valid user pool token"):
        asyncio.run(scenario())


def test_the_checkout_page_sees_awaiting_payment_then_paid_then_fulfilled(live: Live) -> None:
    from gql import Client

    async def scenario() -> list:
        async with Client(transport=transport(live, "hanako")) as hanako:
            before = len(live.api.subscribers)
            updates = hanako.subscribe(
                request(ORDER_QUERY, appUserId="hanako", checkoutSessionId=KONBINI_SESSION)
            )
            first = asyncio.ensure_future(updates.__anext__())
            await live.wait_subscribed(before + 1)
            for label in ("02-konbini-order-placed.json", "03-konbini-order-paid.json"):
                await asyncio.to_thread(live.aws.send, live.send_as(label, "hanako"))
            seen = [await asyncio.wait_for(first, 15)]
            seen += await take_until(updates, lambda u: u["onOrderStatus"]["status"] == "FULFILLED")
            await updates.aclose()
            return seen

    seen = asyncio.run(scenario())
    assert [u["onOrderStatus"]["status"] for u in seen] == [
        "AWAITING_PAYMENT",
        "PAID",
        "FULFILLED",
    ]
    assert {u["onOrderStatus"]["checkoutSessionId"] for u in seen} == {KONBINI_SESSION}
    assert seen[0]["onOrderStatus"]["stripeEventId"].startswith("evt_")
    assert seen[2]["onOrderStatus"]["stripeEventId"] is None  # the workflow's own event


def test_eventbridge_may_call_only_the_publish_mutations(live: Live) -> None:
    rules = live.aws.client("events").list_targets_by_rule(
        Rule="StripePayOps-live-access-changed",
        EventBusName=live.aws.deployed.outputs["AppEventBusName"],
    )["Targets"]
    (target,) = [t for t in rules if "appsync" in t["Arn"]]
    sneaky = {**target, "AppSyncParameters": {"GraphQLOperation": "query Q { ping }"}}
    with pytest.raises(GraphQLRequestError, match="not authorized to perform: appsync:GraphQL"):
        deliver_from_eventbridge(sneaky, "{}")


# --- examples/order-status/ in headless Chromium ---


@pytest.fixture
def site(live: Live, tmp_path: Path) -> Iterator[str]:
    """The page as a shop would serve it, with config.js pointing at the local AWS."""
    shutil.copytree(PAGE, tmp_path, dirs_exist_ok=True)
    config = {"realtimeUrl": live.realtime.url, "graphqlHost": live.host}
    (tmp_path / "config.js").write_text(f"window.PAYOPS_LIVE_STATUS = {json.dumps(config)};\n")
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("localhost", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}/index.html"
    server.shutdown()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass


def test_the_page_shows_the_order_go_from_paid_to_fulfilled(live: Live, site: str) -> None:
    require_chromium()
    token = live.sign_in("hanako")
    browser = Browser()
    try:
        browser.call(
            "Page.navigate", session=True, url=f"{site}?session={CARD_SESSION}#idToken={token}"
        )
        assert browser.evaluate(WAIT_FOR_PAGE) is True
        assert browser.evaluate("document.getElementById('status').dataset.status") == "WAITING"
        live.aws.send(live.send_as("01-card-order-paid.json", "hanako"))
        history = browser.evaluate("window.orderStatus.reached('FULFILLED')")
        assert history == ["PAID", "FULFILLED"]  # each once, in order
        assert browser.evaluate("document.getElementById('status').textContent") == "Sent!"
        image = browser.screenshot()
        # Stripe delivers the paid event again (at least once): the page lists the late PAID
        # but does not step back from FULFILLED.
        live.aws.send(live.send_as("01-card-order-paid.json", "hanako"))
        assert browser.evaluate(UNTIL_THREE_UPDATES) == ["PAID", "FULFILLED", "PAID"]
        assert browser.evaluate("document.getElementById('status').dataset.status") == "FULFILLED"
        assert browser.evaluate("location.hash") == ""  # the token left the address bar
    finally:
        browser.close()
    assert image.startswith(b"\x89PNG")
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.write_bytes(image)


# --- the protocol, message by message (a raw WebSocket client) ---


def test_the_realtime_protocol_acks_keeps_alive_starts_stops_and_names_errors(live: Live) -> None:
    import base64

    from payops.localaws.services.appsync import RealtimeServer

    auth = {"host": live.host, "Authorization": live.sign_in("hanako")}
    header = base64.b64encode(json.dumps(auth).encode()).decode()
    query = {"query": ACCESS_QUERY, "variables": {"appUserId": "hanako"}}

    def start(sub_id: str, data: dict) -> str:
        payload = {"data": json.dumps(data), "extensions": {"authorization": auth}}
        return json.dumps({"id": sub_id, "type": "start", "payload": payload})

    async def scenario(url: str) -> list[dict]:
        from websockets.asyncio.client import connect

        async with connect(
            f"{url}?header={header}&payload=e30=", subprotocols=["graphql-ws"]
        ) as ws:
            assert ws.subprotocol == "graphql-ws"
            got = []
            await ws.send(json.dumps({"type": "connection_init"}))
            got.append(json.loads(await ws.recv()))  # connection_ack
            got.append(json.loads(await ws.recv()))  # ka (every 50 ms here)
            await ws.send(start("1", query))
            await ws.send(start("2", {"query": "subscription { nope }"}))
            await ws.send(json.dumps({"id": "1", "type": "stop"}))
            while len(got) < 5:
                message = json.loads(await ws.recv())
                if message["type"] != "ka":
                    got.append(message)
            return got

    with RealtimeServer(keep_alive_s=0.05) as server:
        ack, ka, started, error, complete = asyncio.run(scenario(server.url))
    assert ack == {"type": "connection_ack", "payload": {"connectionTimeoutMs": 300000}}
    assert ka == {"type": "ka"}
    assert started == {"type": "start_ack", "id": "1"}
    assert error["type"] == "error" and error["id"] == "2"
    (problem,) = error["payload"]["errors"]
    assert problem["errorType"] == "ValidationError"
    assert "Cannot query field 'nope' on type 'Subscription'" in problem["message"]
    assert complete == {"type": "complete", "id": "1"}
