"""`payops serve`: the stack in the local AWS (webhook mode), its receiver on a local HTTP port.

`stripe listen --forward-to localhost:4242/` forwards real test-mode events here. Each request is
handed to the receiver's Lambda handler as a function URL would hand it (payload format 2.0:
method, lower-cased headers, body, base64 flag), the receiver's status and body go back to the
caller, and once the stack has settled the event's trace is printed as `payops replay` prints it.
"""

from __future__ import annotations

import argparse
import base64
import json
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl

from payops.localaws.cli import format_trace
from payops.localaws.runtime import EventTrace, LocalAws, LocalAwsError, Since

DEFAULT_PORT = 4242
DEFAULT_HOST = "127.0.0.1"
# A function URL refuses request payloads over 6 MB before the function runs.
FUNCTION_URL_MAX_BYTES = 6 * 1024 * 1024
# Bodies a function URL passes as text; anything else arrives base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Received:
    """A request handed to the receiver, and where the system was before it."""

    response: HttpResponse
    stripe_event: dict[str, Any]
    since: Since


def function_url_event(
    method: str, target: str, headers: Message, body: bytes, source_ip: str
) -> dict[str, Any]:
    """The event a Lambda function URL builds from an HTTP request (payload format 2.0)."""
    path, _, query = target.partition("?")
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers.items():
        key = name.lower()
        if key == "cookie":  # function URLs move cookies out of the headers
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    content_type = joined.get("content-type", "")
    try:
        text = body.decode("utf-8") if content_type.startswith(_TEXT_TYPES) else None
    except UnicodeDecodeError:
        text = None
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path or "/",
        "rawQueryString": query,
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": joined.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": text if text is not None else base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": text is None,
    }
    if query:
        params: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    if cookies:
        event["cookies"] = cookies
    return event


def http_response(result: dict[str, Any] | Any, function_error: bool) -> HttpResponse:
    """The HTTP response a function URL makes of what the function returned."""
    if function_error:
        return HttpResponse(502, {"content-type": "application/json"}, b'{"Message":null}')
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: the function URL sends the whole result as a JSON 200.
        return HttpResponse(200, {"content-type": "application/json"}, json.dumps(result).encode())
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    return HttpResponse(int(result["statusCode"]), headers, raw)


class ServedAws(LocalAws):
    """The local AWS in webhook mode, its receiver keyed with the user's signing secret."""

    def __init__(
        self,
        context: dict[str, Any],
        *,
        signing_secret: str,
        stripe_data: Path | None = None,
    ):
        context = {**context, "ingress": "webhook"}
        super().__init__(context, stripe_data=stripe_data, signing_secret=signing_secret)

    def receive(self, request: dict[str, Any]) -> Received:
        """Hand a function URL event to the receiver; the response is ready, the stack is not."""
        since = self.since()
        stripe_event = _stripe_event(request)
        if stripe_event and self._signed(request):
            # Stripe knows the objects its events describe; only a genuine event teaches the
            # fake Stripe API, so a forged request cannot change what workflows read back.
            self.fake_stripe.observe(stripe_event)
        result = self.call_receiver(request)
        response = http_response(result.payload, result.function_error)
        return Received(response, stripe_event or {}, since)

    def trace(self, received: Received, label: str) -> EventTrace:
        """Wait until the stack is at rest, then what the request made happen."""
        status = received.response.status
        delivery = "accepted" if status == 200 else f"refused: HTTP {status}"
        if status != 200:
            delivery += f" {received.response.body.decode('utf-8', 'replace')}"
        return self.trace_since(
            received.since,
            label=label,
            event_id=str(received.stripe_event.get("id", "(no event id)")),
            event_type=str(received.stripe_event.get("type", "(not a Stripe event)")),
            delivery=delivery,
        )

    def _signed(self, request: dict[str, Any]) -> bool:
        import stripe

        header = next((v for k, v in request["headers"].items() if k == "stripe-signature"), None)
        try:
            stripe.WebhookSignature.verify_header(
                _body_text(request), header or "", self.signing_secret, 300
            )
        except (stripe.SignatureVerificationError, ValueError):
            return False
        return True


def _body_text(request: dict[str, Any]) -> str:
    body = request.get("body") or ""
    if request.get("isBase64Encoded"):
        return base64.b64decode(body).decode("utf-8", "replace")
    return str(body)


def _stripe_event(request: dict[str, Any]) -> dict[str, Any] | None:
    try:
        data = json.loads(_body_text(request))
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("object") == "event" else None


class ReceiverServer(ThreadingHTTPServer):
    """Connections in threads (`stripe listen` may keep several open), requests one at a time:
    each trace is read from the whole system once it has settled."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], local: ServedAws, out: TextIO):
        super().__init__(address, _Handler)
        self.local = local
        self.out = out
        self.count = 0
        self.lock = threading.Lock()
        self.traces: list[EventTrace] = []  # in order; read by tests and by whoever embeds this

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/"

    def stop(self) -> None:
        """Stop serving from any thread (shutdown() waits for the current request)."""
        threading.Thread(target=self.shutdown, daemon=True).start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that drops its connection mid-request (a reset, a closed pipe) is not a
        # fault of this server: no traceback for it, as for a finished request.
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: ReceiverServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection is closed, its thread ends

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > FUNCTION_URL_MAX_BYTES:
            self._send(HttpResponse(413, {"content-type": "text/plain"}, b"Request too large"))
            self.close_connection = True
            return
        body = self.rfile.read(length)
        request = function_url_event(
            self.command, self.path, self.headers, body, self.client_address[0]
        )
        with self.server.lock:
            self.server.count += 1
            self._process(request, self.server.count, f"{self.command} {self.path}")

    def _process(self, request: dict[str, Any], index: int, label: str) -> None:
        local, out = self.server.local, self.server.out
        try:
            received = local.receive(request)
        except Exception as err:  # the function URL's answer to a function that cannot run
            self._send(HttpResponse(502, {"content-type": "application/json"}, b"{}"))
            print(f"[{index}] {label}\n  receiver failed: {err!r}", file=out, flush=True)
            return
        self._send(received.response)  # answered before settling: Stripe's timeout is short
        try:
            trace = local.trace(received, label)
        except LocalAwsError as err:  # e.g. not settled: say so, keep serving
            print(f"[{index}] {label}\n  {err}", file=out, flush=True)
            return
        self.server.traces.append(trace)
        lines = format_trace(trace, index, index).splitlines()
        lines[0] = f"[{index}] {label}"
        print("\n".join(lines), file=out, flush=True)

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:  # the trace is the log
        pass


def cmd_serve(args: argparse.Namespace, context: dict[str, str]) -> int:
    with ServedAws(
        context, signing_secret=args.signing_secret, stripe_data=args.stripe_data
    ) as local:
        server = ReceiverServer((args.host, args.port), local, sys.stdout)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: server.stop())
        print(
            f"deployed {local.deployed.stack_name} (webhook ingress) into the local AWS in "
            f"{local.synth_seconds + local.deploy_seconds:.1f} s\n"
            f"receiver listening on {server.url} (Ctrl-C to stop); forward events with\n"
            f"  stripe listen --forward-to {server.url.removeprefix('http://')}",
            flush=True,
        )
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            server.server_close()
            with server.lock:  # a request being traced finishes before the local AWS stops
                pass
        print(f"stopped after {server.count} requests", flush=True)
    return 0


def _signing_secret(value: str) -> str:
    if not value.startswith("whsec_") or len(value) <= len("whsec_"):
        raise argparse.ArgumentTypeError("expected the whsec_... secret `stripe listen` prints")
    return value


def add_command(sub: Any, common: argparse.ArgumentParser, stripe_data: Any) -> None:
    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="run the stack in the local AWS with its webhook receiver on a local HTTP port",
    )
    serve.add_argument(
        "--signing-secret",
        required=True,
        type=_signing_secret,
        help="the webhook signing secret (whsec_...) `stripe listen` prints",
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    serve.add_argument("--host", default=DEFAULT_HOST, help="default: %(default)s")
    stripe_data(serve)
    serve.set_defaults(local_func=cmd_serve)
