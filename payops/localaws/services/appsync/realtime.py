"""AppSync's real-time WebSocket endpoint on localhost, speaking AppSync's protocol
("Building a real-time WebSocket client in AWS AppSync"), so unchanged AppSync clients (gql's
AppSyncWebsocketsTransport, the examples/order-status page) subscribe to the local API.

- connect: `ws://localhost:<port>/graphql?header=<base64 JSON>&payload=e30=`, subprotocol
  `graphql-ws`; the header holds the API's `host` (its GraphQL DNS name, which picks the API)
  and `Authorization` (a Cognito user pool token, checked against moto's keys);
- `connection_init` -> `connection_ack` {connectionTimeoutMs}, then `ka` every `keep_alive_s`;
- `start` {id, payload: {data: JSON {query, variables}, extensions: {authorization: {...}}}}
  -> `start_ack`, then `data` {payload: {data}} for each matching mutation, in order, once;
  a refused subscription -> `error` {id, payload: {errors: [{errorType, message}]}};
- `stop` {id} -> `complete` {id}.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from payops.localaws.services.appsync import auth, engine
from payops.localaws.services.appsync.resources import api_by_endpoint

CONNECTION_TIMEOUT_MS = 300_000
MODE = "AMAZON_COGNITO_USER_POOLS"


def _identity(headers: dict[str, Any]) -> tuple[engine.LocalApi, dict[str, Any]]:
    host = str(headers.get("host", ""))
    api = api_by_endpoint(host)
    if MODE not in [api.default_auth, *api.extra_auth] or not api.user_pool_id:
        raise engine.GraphQLRequestError(
            "UnauthorizedException", "this local endpoint accepts Cognito user pool tokens only"
        )
    token = headers.get("Authorization")
    if not token:
        raise engine.GraphQLRequestError("UnauthorizedException", "no Authorization header")
    return api, auth.cognito_identity(str(token), api.user_pool_id, api.account)


def _decode(value: str) -> dict[str, Any]:
    padded = value + "=" * (-len(value) % 4)
    decoded = json.loads(base64.b64decode(padded.replace("-", "+").replace("_", "/")))
    if not isinstance(decoded, dict):
        raise ValueError("not a JSON object")
    return decoded


class RealtimeServer:
    """The endpoint, served from its own thread and event loop; `url` is what a client uses."""

    def __init__(self, host: str = "localhost", port: int = 0, keep_alive_s: float = 60.0):
        self.host, self.port, self.keep_alive_s = host, port, keep_alive_s
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/graphql"

    def start(self) -> RealtimeServer:
        from websockets.asyncio.server import serve

        async def open_server() -> Any:
            return await serve(self._connection, self.host, self.port, subprotocols=["graphql-ws"])

        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(open_server(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            asyncio.run_coroutine_threadsafe(self._server.wait_closed(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> RealtimeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _connection(self, websocket: Any) -> None:
        outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        subscriptions: dict[str, tuple[engine.LocalApi, int]] = {}

        async def writer() -> None:
            while True:
                await websocket.send(json.dumps(await outbox.get()))

        async def keep_alive() -> None:
            while True:
                await asyncio.sleep(self.keep_alive_s)
                outbox.put_nowait({"type": "ka"})

        tasks = [asyncio.create_task(writer())]
        try:
            refused = _refusal(websocket.request.path)
            async for raw in websocket:
                message = json.loads(raw)
                kind, sub_id = message.get("type"), message.get("id")
                if kind == "connection_init" and refused:
                    # As AppSync: the socket opens, the init is answered with the error.
                    await websocket.send(json.dumps(refused))
                    return
                if kind == "connection_init":
                    outbox.put_nowait(
                        {
                            "type": "connection_ack",
                            "payload": {"connectionTimeoutMs": CONNECTION_TIMEOUT_MS},
                        }
                    )
                    tasks.append(asyncio.create_task(keep_alive()))
                elif kind == "start":
                    self._start(message, outbox, loop, subscriptions)
                elif kind == "stop" and sub_id in subscriptions:
                    api, key = subscriptions.pop(sub_id)
                    api.unsubscribe(key)
                    outbox.put_nowait({"type": "complete", "id": sub_id})
                else:
                    outbox.put_nowait(_error(sub_id, "BadRequestException", f"unknown {kind!r}"))
        except Exception:  # the client went away (or sent garbage): end its subscriptions
            pass
        finally:
            for api, key in subscriptions.values():
                api.unsubscribe(key)
            for task in tasks:
                task.cancel()

    def _start(
        self,
        message: dict[str, Any],
        outbox: asyncio.Queue[dict[str, Any]],
        loop: asyncio.AbstractEventLoop,
        subscriptions: dict[str, tuple[engine.LocalApi, int]],
    ) -> None:
        sub_id = str(message.get("id"))
        payload = message.get("payload") or {}
        try:
            request = json.loads(payload.get("data") or "{}")
            headers = (payload.get("extensions") or {}).get("authorization") or {}
            api, identity = _identity(headers)

            def send(result: dict[str, Any]) -> None:  # called on the mutating thread
                loop.call_soon_threadsafe(
                    outbox.put_nowait, {"type": "data", "id": sub_id, "payload": result}
                )

            key = api.subscribe(
                request.get("query", ""), request.get("variables"), MODE, identity, send
            )
        except engine.GraphQLRequestError as err:
            outbox.put_nowait(_error(sub_id, err.error_type, err.message))
            return
        except ValueError as err:
            outbox.put_nowait(_error(sub_id, "BadRequestException", str(err)))
            return
        subscriptions[sub_id] = (api, key)
        outbox.put_nowait({"type": "start_ack", "id": sub_id})


def _refusal(path: str) -> dict[str, Any] | None:
    """The connection_error for a connection whose header does not authenticate, or None."""
    query = parse_qs(urlsplit(path).query)
    try:
        _identity(_decode(query.get("header", [""])[0]))
    except engine.GraphQLRequestError as err:
        return {"type": "connection_error", "payload": {"errors": [err.as_error()]}}
    except ValueError as err:
        error = {"errorType": "BadRequestException", "message": f"bad header parameter: {err}"}
        return {"type": "connection_error", "payload": {"errors": [error]}}
    return None


def _error(sub_id: Any, error_type: str, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "id": sub_id,
        "payload": {"errors": [{"errorType": error_type, "message": message}]},
    }
