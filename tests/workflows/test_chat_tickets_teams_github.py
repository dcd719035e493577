"""Chat posts and tickets through Teams (Workflows webhook) and GitHub, in the local AWS (own
module: its own deploy, as a LocalAws holds the one local account)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator

import pytest
from test_chat_tickets import deliver, running

from payops.localaws.runtime import LocalAws


@pytest.fixture(scope="module")
def teams_github() -> Iterator[LocalAws]:
    yield from running(
        chatProvider="teams",
        ticketProvider="github",
        githubRepository="example-shop/payops-tickets",
    )


def test_teams_gets_an_adaptive_card_and_github_an_issue(teams_github: LocalAws) -> None:
    fake = teams_github.fake_partners
    (trace,) = deliver(teams_github, "charge.dispute.created.json")
    assert trace.failed == []
    (post,) = fake.of("teams")
    (card,) = post["body"]["attachments"]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["body"][0]["text"].startswith("🚨 不審請求の申し立て ")
    assert post["authorized"]  # the sig query parameter came from the connection
    (issue,) = fake.of("github")
    assert issue["path"] == "/repos/example-shop/payops-tickets/issues" and issue["authorized"]
    assert issue["body"]["title"].startswith("不審請求の申し立て / Dispute: ")
    assert issue["body"]["labels"] == ["payops"]
    assert "Stripe event: evt_" in issue["body"]["body"]
    teams_url = next(c["url"] for c in trace.http_calls if "teams" in c["url"])
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(teams_url).query)["sig"] == ["****"]


def test_no_secret_reaches_the_template(teams_github: LocalAws) -> None:
    template = json.dumps(teams_github.deployed.template)
    for value in teams_github.client("secretsmanager").list_secrets()["SecretList"]:
        secret = teams_github.client("secretsmanager").get_secret_value(SecretId=value["ARN"])
        assert secret["SecretString"] not in template
    assert "{{resolve:secretsmanager:payops/chat:SecretString:sig::}}" in template
