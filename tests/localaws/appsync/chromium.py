"""Headless Chromium (Debian's /usr/bin/chromium) driven over the Chrome DevTools protocol."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0", "--window-size=720,640", "--hide-scrollbars",
)  # fmt: skip


def require_chromium() -> None:
    """Skip (with how to get it) where Chromium is missing, but never in CI: there it fails."""
    if os.access(CHROMIUM, os.X_OK):
        return
    message = (
        f"{CHROMIUM} is missing: `make browser` installs Debian's chromium (needs root and "
        "apt-get); the order-status page test needs it"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: the browser test is never skipped in CI)")
    pytest.skip(message)


class Browser:
    """One Chromium process with a fresh profile and one page, attached in flat mode."""

    def __init__(self) -> None:
        from websockets.sync.client import connect

        self._profile = tempfile.mkdtemp(prefix="payops-chromium-")
        self._process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            self._ws = connect(self._devtools_url(), max_size=None, open_timeout=30).__enter__()
            self._next = 0
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self._session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
                "sessionId"
            ]
            self.call("Page.enable", session=True)
        except BaseException:
            self.close()
            raise

    def _devtools_url(self, timeout: float = 30.0) -> str:
        assert self._process.stderr is not None
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            line = self._process.stderr.readline()  # Chromium prints the URL at start-up
            if not line and self._process.poll() is not None:
                break
            lines.append(line)
            if match := re.search(r"DevTools listening on (ws://\S+)", line):
                return match.group(1)
        raise RuntimeError("chromium did not start:\n" + "".join(lines[-20:]))

    def call(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        self._ws.send(json.dumps(message))
        while True:
            reply = json.loads(self._ws.recv(timeout=60))
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression: str) -> Any:
        """The value of `expression` on the page (a promise is awaited)."""
        result = self.call(
            "Runtime.evaluate",
            session=True,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        import base64

        return base64.b64decode(self.call("Page.captureScreenshot", session=True)["data"])

    def close(self) -> None:
        if getattr(self, "_ws", None) is not None:
            self._ws.close()
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        shutil.rmtree(self._profile, ignore_errors=True)
