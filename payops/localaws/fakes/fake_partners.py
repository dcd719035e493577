"""Fake Slack, Teams (Workflows webhook), Backlog and GitHub APIs for the chat and ticket pipes.

One local HTTP server answers as each API does for the one call the stack makes, checks what that
API would reject (no credential, a required field missing), and records every call (`calls`):
the provider, the path, the parsed body, and whether the credential was there (never its value).

- Slack `POST /api/chat.postMessage`: 200 `{"ok": true, ...}`; Slack answers 200 with
  `{"ok": false, "error": "not_authed"}` without a bot token (so do we).
- Teams Workflows `POST .../triggers/manual/paths/invoke?...&sig=...`: 202, 401 without `sig`.
- Backlog `POST /api/v2/issues?apiKey=...` (form): 201 with the issue, 401 without apiKey, 400
  without projectId, summary, issueTypeId or priorityId.
- GitHub `POST /repos/{owner}/{repo}/issues` (JSON): 201 with the issue, 401 without a token, 422
  without a title.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any

from payops.localaws.fakes.local_http import LocalHttpServer
from payops.settings import Settings

# The Teams endpoint the local secret names (the real one is the user's Workflows URL).
LOCAL_TEAMS_ENDPOINT = (
    "https://teams.local.invalid/workflows/payops/triggers/manual/paths/invoke?api-version=1"
)
PROVIDERS = ("slack", "teams", "backlog", "github")


def local_secrets(settings: Settings) -> dict[str, str]:
    """Secret name -> a throwaway value, for each provider turned on (what the user creates)."""
    values: dict[str, str] = {}
    if settings.chat_provider == "slack":
        values[settings.chat_secret_name] = "xoxb-local-" + secrets.token_hex(8)
    elif settings.chat_provider == "teams":
        sig = secrets.token_urlsafe(16)
        values[settings.chat_secret_name] = json.dumps(
            {"endpoint": LOCAL_TEAMS_ENDPOINT, "sig": sig}
        )
    if settings.ticket_provider == "backlog":
        values[settings.ticket_secret_name] = "local" + secrets.token_hex(12)
    elif settings.ticket_provider == "github":
        values[settings.ticket_secret_name] = "github_pat_local_" + secrets.token_hex(12)
    return values


class FakePartners(LocalHttpServer):
    """Context manager: `with FakePartners() as fake: ... fake.routes(settings) ...`."""

    thread_name = "fake-partners"

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self._lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []
        # provider -> [HTTP status, how many more calls get it] (fault tests)
        self._failures: dict[str, list[int]] = {}

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    def routes(self, settings: Settings) -> dict[str, str]:
        """HTTP Task / API destination routes: each real API's root -> this server."""
        teams_root = urllib.parse.urlsplit(LOCAL_TEAMS_ENDPOINT)
        return {
            "https://slack.com": f"{self.url}/slack",
            f"{teams_root.scheme}://{teams_root.netloc}": f"{self.url}/teams",
            settings.backlog_space_url: f"{self.url}/backlog",
            "https://api.github.com": f"{self.url}/github",
        }

    def of(self, provider: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c for c in self.calls if c["provider"] == provider]

    def fail_next(self, provider: str, status: int = 500, times: int = 1) -> None:
        """Answer the provider's next `times` calls with `status` (still recorded)."""
        with self._lock:
            self._failures[provider] = [status, times]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._failures.clear()

    # -- the APIs
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: str
    ) -> tuple[int, Any]:
        provider, _, rest = raw_path.lstrip("/").partition("/")
        split = urllib.parse.urlsplit("/" + rest)
        query = dict(urllib.parse.parse_qsl(split.query))
        form = "application/x-www-form-urlencoded" in headers.get("content-type", "")
        parsed: Any = dict(urllib.parse.parse_qsl(body)) if form else _json(body)
        bearer = headers.get("authorization", "").startswith("Bearer ")
        call = {
            "provider": provider,
            "method": method,
            "path": split.path,
            "body": parsed,
            "authorized": {"slack": bearer, "github": bearer}.get(
                provider, bool(query.get("sig") or query.get("apiKey"))
            ),
        }
        with self._lock:
            self.calls.append(call)
            number = len([c for c in self.calls if c["provider"] == provider])
            failure = self._failures.get(provider)
            status = failure[0] if failure and failure[1] > 0 else None
            if failure and status:
                failure[1] -= 1
        if status:
            call["status"] = status
            return status, {"message": "injected failure (FakePartners.fail_next)"}
        if method != "POST" or provider not in PROVIDERS:
            return 404, {"message": f"no fake for {method} {raw_path}"}
        return getattr(self, f"_{provider}")(split.path, call, number)

    def _slack(self, path: str, call: dict[str, Any], number: int) -> tuple[int, Any]:
        if path != "/api/chat.postMessage":
            return 404, {"ok": False, "error": "unknown_method"}
        if not call["authorized"]:
            return 200, {"ok": False, "error": "not_authed"}
        body = call["body"] if isinstance(call["body"], dict) else {}
        if not body.get("channel") or not body.get("text"):
            return 200, {"ok": False, "error": "no_text" if body.get("channel") else "no_channel"}
        return 200, {"ok": True, "channel": body["channel"], "ts": f"1700000000.{number:06d}"}

    def _teams(self, path: str, call: dict[str, Any], number: int) -> tuple[int, Any]:
        if not call["authorized"]:
            return 401, {"error": {"code": "DirectApiAuthorizationRequired"}}
        return 202, ""

    def _backlog(self, path: str, call: dict[str, Any], number: int) -> tuple[int, Any]:
        if path != "/api/v2/issues":
            return 404, {"errors": [{"message": "No such API", "code": 6}]}
        if not call["authorized"]:
            return 401, {"errors": [{"message": "Authentication failure.", "code": 11}]}
        body = call["body"] if isinstance(call["body"], dict) else {}
        missing = [
            k for k in ("projectId", "summary", "issueTypeId", "priorityId") if not body.get(k)
        ]
        if missing:
            return 400, {"errors": [{"message": f"missing {', '.join(missing)}", "code": 7}]}
        return 201, {"id": number, "issueKey": f"PAYOPS-{number}", "summary": body["summary"]}

    def _github(self, path: str, call: dict[str, Any], number: int) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "repos" or parts[3] != "issues":
            return 404, {"message": "Not Found"}
        if not call["authorized"]:
            return 401, {"message": "Requires authentication"}
        body = call["body"] if isinstance(call["body"], dict) else {}
        if not body.get("title"):
            return 422, {"message": "Validation Failed"}
        url = f"https://github.com/{parts[1]}/{parts[2]}/issues/{number}"
        return 201, {"number": number, "html_url": url, "title": body["title"]}


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


class _Handler(BaseHTTPRequestHandler):
    owner: FakePartners
    protocol_version = "HTTP/1.1"
    server_version = "FakePartners/1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, response = self.owner.handle(self.command, self.path, headers, body)
        payload = json.dumps(response).encode() if response != "" else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_DELETE = do_POST

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass
