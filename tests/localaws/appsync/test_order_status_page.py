"""examples/order-status/ in headless Chromium against the local AWS: the page subscribes over
AppSync's real-time protocol and shows a card order go PAID -> FULFILLED without a reload."""

from __future__ import annotations

import functools
import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from appsync_live import ROOT, Live
from chromium import Browser, require_chromium

PAGE = ROOT / "examples" / "order-status"
SCREENSHOT = ROOT / "docs" / "order-status.png"
CARD_SESSION = "cs_test_a1rfC313SyucPIE9BmyQnNOyzszoj11c51cLNYHuYDx2ngdiOTtzfDqrhg5e"
# Resolves once the page's subscription is acknowledged (start_ack).
WAIT_FOR_PAGE = (
    "new Promise(r => { const t = () => window.orderStatus ? "
    "r(window.orderStatus.subscribed) : setTimeout(t, 10); t(); })"
)


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
        assert browser.evaluate("location.hash") == ""  # the token left the address bar
        image = browser.screenshot()
    finally:
        browser.close()
    assert image.startswith(b"\x89PNG")
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.write_bytes(image)
