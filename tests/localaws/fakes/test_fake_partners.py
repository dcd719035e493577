"""The fake Slack, Teams, Backlog and GitHub refuse what the real APIs refuse, and record calls."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from payops.localaws.fakes.fake_partners import FakePartners, local_secrets
from payops.settings import Settings


@pytest.fixture
def fake() -> Iterator[FakePartners]:
    with FakePartners() as running:
        yield running


def post(url: str, body: str, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


JSON = {"Content-Type": "application/json"}
BEARER = {**JSON, "Authorization": "Bearer t"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_slack_answers_200_with_ok_false_without_a_token(fake: FakePartners) -> None:
    url = f"{fake.url}/slack/api/chat.postMessage"
    body = json.dumps({"channel": "C1", "text": "hi"})
    assert post(url, body, JSON) == (200, {"ok": False, "error": "not_authed"})
    status, answer = post(url, body, BEARER)
    assert status == 200 and answer["ok"] is True
    assert [c["authorized"] for c in fake.of("slack")] == [False, True]


def test_backlog_needs_its_api_key_and_the_required_fields(fake: FakePartners) -> None:
    url = f"{fake.url}/backlog/api/v2/issues"
    full = "projectId=1&summary=s&issueTypeId=2&priorityId=3"
    assert post(url, full, FORM)[0] == 401
    assert post(f"{url}?apiKey=k", "projectId=1&summary=s", FORM)[0] == 400
    status, issue = post(f"{url}?apiKey=k", full, FORM)
    assert status == 201 and issue["summary"] == "s"


def test_github_needs_a_token_and_a_title(fake: FakePartners) -> None:
    url = f"{fake.url}/github/repos/o/r/issues"
    assert post(url, json.dumps({"title": "t"}), JSON)[0] == 401
    assert post(url, json.dumps({"body": "no title"}), BEARER)[0] == 422
    status, issue = post(url, json.dumps({"title": "t"}), BEARER)
    assert status == 201 and issue["html_url"].startswith("https://github.com/o/r/issues/")


def test_teams_needs_its_sig_and_answers_202(fake: FakePartners) -> None:
    url = f"{fake.url}/teams/workflows/x/triggers/manual/paths/invoke?api-version=1"
    assert post(url, "{}", JSON)[0] == 401
    assert post(f"{url}&sig=s", "{}", JSON) == (202, None)


def test_fail_next_answers_the_given_status_that_many_times(fake: FakePartners) -> None:
    fake.fail_next("github", 503, times=1)
    url = f"{fake.url}/github/repos/o/r/issues"
    assert post(url, json.dumps({"title": "t"}), BEARER)[0] == 503
    assert post(url, json.dumps({"title": "t"}), BEARER)[0] == 201


def test_local_secrets_exist_only_for_the_providers_turned_on() -> None:
    assert local_secrets(Settings()) == {}
    on = local_secrets(Settings(chat_provider="teams", ticket_provider="github"))
    assert set(json.loads(on["payops/chat"])) == {"endpoint", "sig"}
    assert on["payops/ticket"].startswith("github_pat_local_")
