"""`payops serve`: signed HTTP requests, as `stripe listen` forwards them, through the stack."""

from __future__ import annotations

import http.client
import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from payops.serve import ReceiverServer, ServedAws
from tests.stripe_signing import make_signing_secret, sign

ROOT = Path(__file__).resolve().parents[1]
CARD_ORDER = ROOT / "examples" / "events" / "01-card-order-paid.json"
DOWNLOAD = "Your download is ready / ダウンロードのご案内"


class Served:
    def __init__(self, server: ReceiverServer, out: io.StringIO, secret: str):
        self.server, self.out, self.secret = server, out, secret

    def post(self, body: str, signature: str | None, timeout: float = 60) -> tuple[int, dict]:
        """POST as `stripe listen` does; returns the status and JSON body once the trace is out."""
        seen = len(self.server.traces)
        host, port = self.server.server_address[:2]
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        connection.request("POST", "/", body=body.encode("utf-8"), headers=headers)
        response = connection.getresponse()
        status, payload = response.status, json.loads(response.read())
        connection.close()
        self.wait_for(seen + 1)  # the trace is printed after the response
        return status, payload

    def wait_for(self, traces: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.server.traces) < traces:
            assert time.monotonic() < deadline, "no trace printed"
            time.sleep(0.02)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    secret = make_signing_secret()
    local = ServedAws(
        {}, signing_secret=secret, stripe_data=ROOT / "examples" / "stripe-data"
    ).start()
    out = io.StringIO()
    server = ReceiverServer(("127.0.0.1", 0), local, out)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Served(server, out, secret)
    finally:
        server.stop()
        thread.join(timeout=30)
        server.server_close()
        local.stop()


def test_signed_paid_order_runs_the_fulfilment_and_prints_its_trace(served: Served) -> None:
    body = CARD_ORDER.read_text()
    status, payload = served.post(body, sign(body, served.secret))
    assert status == 200
    assert payload == {"received": True, "id": "evt_1PoPjYk2LmQQSarNMDg8p0Pb"}
    trace = served.server.traces[-1]
    assert trace.delivery == "accepted" and trace.failed == []
    assert "paid-order" in trace.rules
    fulfilment = [e for e in trace.executions if e["state_machine"] == "fulfilment"]
    assert [e["status"] for e in fulfilment] == ["SUCCEEDED"]
    assert trace.emails == [{"to": "hanako.sato@example.jp", "subject": DOWNLOAD}]
    printed = served.out.getvalue()
    assert "[1] POST /" in printed
    assert "event      checkout.session.completed evt_1PoPjYk2LmQQSarNMDg8p0Pb (accepted" in printed
    assert f"email      to hanako.sato@example.jp: {DOWNLOAD}" in printed


def _forged(body: str, secret: str) -> str:
    return sign(body, make_signing_secret())


def _stale(body: str, secret: str) -> str:
    return sign(body, secret, timestamp=int(time.time()) - 3600)


def _unsigned(body: str, secret: str) -> None:
    return None


@pytest.mark.parametrize("signature", [_forged, _stale, _unsigned])
def test_unverified_request_is_refused_and_runs_nothing(served: Served, signature) -> None:
    # Another event id, so that "nothing ran" is not the idempotency claim's doing.
    event = json.loads(CARD_ORDER.read_text())
    event["id"] = "evt_1ForgedOrStale" + signature.__name__
    body = json.dumps(event, indent=2)
    status, payload = served.post(body, signature(body, served.secret))
    assert status == 400
    assert "error" in payload
    trace = served.server.traces[-1]
    assert trace.delivery.startswith("refused: HTTP 400")
    assert trace.rules == [] and trace.executions == [] and trace.emails == []
    assert "(refused: HTTP 400" in served.out.getvalue().rsplit("\n[", 1)[-1]


def test_get_is_refused_as_the_function_url_would(served: Served) -> None:
    host, port = served.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    connection.request("GET", "/")
    response = connection.getresponse()
    assert response.status == 405 and response.getheader("allow") == "POST"
    response.read()
    connection.close()


def test_a_connection_kept_open_does_not_hold_up_another(served: Served) -> None:
    # `stripe listen` keeps connections alive and may open several at once.
    host, port = served.server.server_address[:2]
    event = json.loads(CARD_ORDER.read_text())
    event["id"] = "evt_1KeptOpenConnection0"
    body = json.dumps(event)
    seen = len(served.server.traces)
    kept = http.client.HTTPConnection(host, port, timeout=60)
    kept.request("POST", "/", body.encode(), {"Stripe-Signature": sign(body, served.secret)})
    response = kept.getresponse()
    assert response.status == 200 and response.read()
    served.wait_for(seen + 1)
    event["id"] = "evt_1KeptOpenConnection1"
    body = json.dumps(event)
    # Another connection, answered while the first is still open: well before the server would
    # drop that idle connection (30 s), which is all a one-connection-at-a-time server does.
    status, payload = served.post(body, sign(body, served.secret), timeout=20)
    assert status == 200 and payload["id"] == "evt_1KeptOpenConnection1"
    kept.close()


class Output:
    """The lines a subprocess prints, read in a thread (select() misses what a buffer holds)."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen = ""
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put("")  # end of output

    def until(self, marker: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while marker not in self.seen:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"{marker!r} not printed; output:\n{self.seen}") from None
            assert line, f"exited before printing {marker!r}; output:\n{self.seen}"
            self.seen += line
        return self.seen

    def rest(self) -> str:
        while (line := self.lines.get(timeout=60)) != "":
            self.seen += line
        return self.seen


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_until_interrupted_then_stops_cleanly(signum: int) -> None:
    secret = make_signing_secret()
    process = subprocess.Popen(
        [sys.executable, "-m", "payops", "serve", "--port", "0", "--signing-secret", secret],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        output = Output(process)
        banner = output.until("stripe listen --forward-to", 240)
        url = banner.split("receiver listening on ", 1)[1].split()[0]
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        body = CARD_ORDER.read_text()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request(  # no Content-Type: the function URL passes the body base64-encoded
            "POST", "/", body=body.encode(), headers={"Stripe-Signature": sign(body, secret)}
        )
        response = connection.getresponse()
        assert response.status == 200
        response.read()  # closing with the body unread resets the connection (a server traceback)
        connection.close()
        output.until("paid-order", 60)
        process.send_signal(signum)
        process.wait(timeout=60)
        rest = output.rest()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, rest
    assert "stopped after 1 requests" in rest
    assert "Traceback" not in rest
    with pytest.raises(ConnectionRefusedError):  # the port is closed
        http.client.HTTPConnection("127.0.0.1", port, timeout=5).request("GET", "/")


def test_a_client_that_drops_the_connection_mid_request_leaves_no_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A client resetting its connection (a reset mid-body) is its own business: the server
    prints nothing for it and keeps serving; a real fault in a handler still prints."""
    import socket
    import struct

    out = io.StringIO()
    server = ReceiverServer(("127.0.0.1", 0), None, out)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = socket.create_connection(server.server_address[:2])
        client.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"id":')
        time.sleep(0.2)  # the handler is reading the body
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # linger 0: a reset, not a clean close
        time.sleep(0.3)
        try:
            raise ConnectionResetError("peer reset")
        except ConnectionResetError:
            server.handle_error(None, ("127.0.0.1", 1))  # the path the reset takes: silent
        try:
            raise ValueError("a real fault")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.shutdown()
        server.server_close()
    err = capfd.readouterr().err
    assert "ConnectionResetError" not in err and "Traceback" in err and "a real fault" in err
    assert out.getvalue() == ""
