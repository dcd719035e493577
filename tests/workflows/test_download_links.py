"""Download links: a per-grant download limit, re-issue by the customer (from the expired link's
page) and by staff, and the wiring in the synthesized template.

The handler runs against moto (DynamoDB, S3, SES v2); the emails it sends are read from moto's
SES backend, so "to the order's address only" is checked on what was really sent.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from conftest import ROOT, Synthesized
from harness import sent_emails
from kept_session import use_kept_session
from moto import mock_aws

REGION = "us-east-1"
FUNCTION_DIR = ROOT / "functions" / "download_link"
ORDER = "cs_test_a1OrderWithTwoProducts"
BUYER = "hanako.sato@example.jp"
SENDER = "orders@example.com"
URL = "https://abc123.lambda-url.us-east-1.on.aws/"
TOKEN_IN = re.compile(r"\?token=([0-9a-f-]{36})")


def _load() -> Any:
    spec = importlib.util.spec_from_file_location(
        "download_links_under_test", FUNCTION_DIR / "handler.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop("download_links_under_test", None)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def links(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in {
        "GRANTS_TABLE": "grants",
        "ORDERS_TABLE": "orders",
        "BUCKET_NAME": "downloads",
        "DOWNLOAD_LIMIT": "3",
        "REISSUES_PER_DAY": "3",
        "SENDER_EMAIL": SENDER,
        "LINK_TTL_SECONDS": str(72 * 3600),
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DOWNLOAD_URL", raising=False)
    with mock_aws():
        use_kept_session()  # the handler's boto3 clients too: models read once
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName="grants",
            KeySchema=[{"AttributeName": "token", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "token", "AttributeType": "S"},
                {"AttributeName": "orderId", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[{
                "IndexName": "byOrder",
                "KeySchema": [{"AttributeName": "orderId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
            BillingMode="PAY_PER_REQUEST",
        )  # fmt: skip
        ddb.create_table(
            TableName="orders",
            KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="downloads")
        s3.put_object(Bucket="downloads", Key="products/ebook", Body=b"ebook")
        s3.put_object(Bucket="downloads", Key="products/audio", Body=b"audio")
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        yield _load()


def put_grant(
    key: str = "products/ebook", *, expires_in: int = 3600, email: str | None = BUYER
) -> str:
    token = str(uuid.uuid4())
    item = {
        "token": {"S": token},
        "orderId": {"S": ORDER},
        "objectKey": {"S": key},
        "expiresAt": {"N": str(int(time.time()) + expires_in)},
    }
    if email:
        item["email"] = {"S": email}
    boto3.client("dynamodb", region_name=REGION).put_item(TableName="grants", Item=item)
    return token


def request(handler: Any, method: str, token: str, body: str = "") -> dict[str, Any]:
    event = {
        "requestContext": {"http": {"method": method}, "domainName": URL[8:-1]},
        "queryStringParameters": {"token": token, "email": "attacker@example.net"},
        "body": body,
    }
    return handler.handler(event, None)


def emails() -> list[Any]:
    return sent_emails()


def tokens_in(message: Any) -> list[str]:
    return TOKEN_IN.findall(message.body)


# ------------------------------------------------------------------------------ the limit


def test_a_link_downloads_at_most_the_limit_and_head_does_not_count(links: Any) -> None:
    token = put_grant()
    assert request(links, "HEAD", token)["statusCode"] == 302  # link scanners: not counted
    statuses = [request(links, "GET", token)["statusCode"] for _ in range(5)]
    assert statuses == [302, 302, 302, 410, 410]  # DOWNLOAD_LIMIT=3
    used_up = request(links, "GET", token)
    assert "maximum number of times" in used_up["body"]
    assert '<form method="post"' in used_up["body"]  # and offers a new link
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName="grants", Key={"token": {"S": token}}
    )["Item"]
    assert item["downloads"] == {"N": "3"}


# ------------------------------------------------------------------------------ customer re-issue


def test_expired_link_page_offers_a_new_link(links: Any) -> None:
    token = put_grant(expires_in=-1)
    page = request(links, "GET", token)
    assert page["statusCode"] == 410
    assert page["headers"]["Content-Type"].startswith("text/html")
    assert "expired" in page["body"] and f'action="?token={token}"' in page["body"]
    assert "Send me a new link" in page["body"]
    assert emails() == []  # nothing is sent without asking


def test_new_link_goes_to_the_orders_address_only_and_works(links: Any) -> None:
    token = put_grant(expires_in=-1)

    response = request(links, "POST", token, body="email=attacker%40example.net")

    assert response["statusCode"] == 202
    (message,) = emails()
    assert message.destinations["ToAddresses"] == [BUYER]  # never the address in the request
    assert "attacker" not in json.dumps(message.destinations)
    (new_token,) = tokens_in(message)
    assert message.body.count(URL) == 1 and new_token != token
    assert request(links, "GET", new_token)["statusCode"] == 302
    assert request(links, "GET", token)["statusCode"] == 410  # the old one stays expired


def test_new_link_falls_back_to_the_order_record_for_the_address(links: Any) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName="orders",
        Item={"orderId": {"S": ORDER}, "customerEmail": {"S": "kenji.suzuki@example.jp"}},
    )
    token = put_grant(expires_in=-1, email=None)  # a grant written before grants had an email
    assert request(links, "POST", token)["statusCode"] == 202
    (message,) = emails()
    assert message.destinations["ToAddresses"] == ["kenji.suzuki@example.jp"]


def test_a_working_link_is_not_re_issued(links: Any) -> None:
    token = put_grant()
    assert request(links, "POST", token)["statusCode"] == 409
    assert emails() == []


def test_customer_re_issues_are_rate_limited_per_order(links: Any) -> None:
    first, second = put_grant(expires_in=-1), put_grant("products/audio", expires_in=-1)
    statuses = [request(links, "POST", t)["statusCode"] for t in (first, second, first, second)]
    assert statuses == [202, 202, 202, 429]  # REISSUES_PER_DAY=3, per order, any of its links
    assert len(emails()) == 3
    # A day later the order may ask again.
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName="grants",
        Key={"token": {"S": f"reissue#{ORDER}"}},
        UpdateExpression="SET windowStart = :old",
        ExpressionAttributeValues={":old": {"N": str(int(time.time()) - 24 * 3600 - 1)}},
    )
    assert request(links, "POST", first)["statusCode"] == 202
    assert request(links, "GET", f"reissue#{ORDER}")["statusCode"] == 404  # never a grant


# ------------------------------------------------------------------------------ staff re-issue


def test_staff_re_issue_emails_every_product_of_the_order(
    links: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOWNLOAD_URL", URL)
    put_grant("products/ebook", expires_in=-3600)
    put_grant("products/audio", expires_in=-3600)

    result = links.reissue({"orderId": ORDER})

    assert result == {"orderId": ORDER, "links": 2}
    (message,) = emails()
    assert message.destinations["ToAddresses"] == [BUYER]
    new = tokens_in(message)
    assert len(new) == 2
    s3 = boto3.client("s3", region_name=REGION)
    served = set()
    for token in new:
        response = request(links, "GET", token)
        assert response["statusCode"] == 302
        key = response["headers"]["Location"].split("?", 1)[0].rsplit("/products/", 1)[1]
        served.add(s3.get_object(Bucket="downloads", Key=f"products/{key}")["Body"].read())
    assert served == {b"ebook", b"audio"}


def test_staff_re_issue_of_an_unknown_order_names_it(links: Any) -> None:
    with pytest.raises(ValueError, match="cs_test_nope: no download grant"):
        links.reissue({"orderId": "cs_test_nope"})
    with pytest.raises(ValueError, match="orderId"):
        links.reissue({})


# ------------------------------------------------------------------------------ template


def test_grants_are_kept_after_expiry_and_indexed_by_order(partner: Synthesized) -> None:
    t = partner.template
    t.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "token", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "purgeAt", "Enabled": True},
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "byOrder",
                    "KeySchema": [{"AttributeName": "orderId", "KeyType": "HASH"}],
                }
            ],
        },
    )
    functions = {
        k: v["Properties"]
        for k, v in partner.json["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function"
    }
    (download,) = [p for k, p in functions.items() if k.startswith("FulfilmentDownload")]
    assert download["Environment"]["Variables"]["DOWNLOAD_LIMIT"] == "5"  # the default setting
    (reissue,) = [p for k, p in functions.items() if k.startswith("DownloadLinksReissue")]
    assert reissue["Handler"] == "handler.reissue"
    assert "ReissueDownloadFunctionName" in partner.json["Outputs"]
    # The fulfilment workflow writes what re-issue needs on every grant.
    definition = json.dumps(partner.json["Resources"])
    assert "purgeAt" in definition and "customer_details.email" in definition


def test_download_limit_is_a_setting() -> None:
    from payops.settings import Settings, SettingsError

    assert Settings.load({"downloadLimit": "2"}, env={}).download_limit == 2
    with pytest.raises(SettingsError, match="downloadLimit"):
        Settings.load({"downloadLimit": "0"}, env={})


# ------------------------------------------------------------------------------ deployed


def test_deployed_stack_limits_and_re_issues_a_real_order_link() -> None:
    """The real template in the local AWS: the emailed link counts downloads up to the limit,
    the used-up page re-issues to the buyer, and staff re-issue through the output's function."""
    from payops.envelope import load_events
    from payops.localaws.runtime import LocalAws

    example = ROOT / "examples" / "events" / "01-card-order-paid.json"
    with LocalAws({"downloadLimit": "2"}, stripe_data=ROOT / "examples" / "stripe-data") as local:
        (event,) = load_events(example, local.settings)
        trace = local.send(event)
        assert trace.failed == []
        messages = emails_since(local, 0)
        (first,) = messages
        buyer = first.destinations["ToAddresses"]
        token = TOKEN_IN.search(first.body).group(1)  # type: ignore[union-attr]
        functions = local.deployed.resources_of("AWS::Lambda::Function")
        download = next(p for k, p in functions.items() if k.startswith("FulfilmentDownload"))

        def call(function: str, payload: dict[str, Any]) -> dict[str, Any]:
            result = local.client("lambda").invoke(
                FunctionName=function, Payload=json.dumps(payload)
            )
            return json.loads(result["Payload"].read())

        http = {"requestContext": {"http": {"method": "GET"}, "domainName": "dl.example"},
                "queryStringParameters": {"token": token}}  # fmt: skip
        assert [call(download, http)["statusCode"] for _ in range(3)] == [302, 302, 410]
        post = {**http, "requestContext": {**http["requestContext"], "http": {"method": "POST"}}}
        assert call(download, post)["statusCode"] == 202
        (reissued,) = emails_since(local, 1)
        assert reissued.destinations["ToAddresses"] == buyer

        staff = local.deployed.outputs["ReissueDownloadFunctionName"]
        order = event.envelope["detail"]["data"]["object"]["id"]
        assert call(staff, {"orderId": order}) == {"orderId": order, "links": 1}
        (by_staff,) = emails_since(local, 2)
        assert by_staff.destinations["ToAddresses"] == buyer
        fresh = TOKEN_IN.search(by_staff.body).group(1)  # type: ignore[union-attr]
        again = {**http, "queryStringParameters": {"token": fresh}}
        assert call(download, again)["statusCode"] == 302


def emails_since(local: Any, start: int) -> list[Any]:
    return local._sent_emails(start)
