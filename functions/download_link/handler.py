"""Download links: check a grant, count the download, redirect to a short-lived presigned S3 URL.

A grant allows `DOWNLOAD_LIMIT` downloads (an atomic counter, conditionally incremented) until
it expires. An expired or used-up link's page offers "send me a new link": a fresh grant for the
same order and product, emailed to the order's own address (never one the requester types),
at most `REISSUES_PER_DAY` times a day per order. Staff re-issue with `reissue` (a separate
function, invoked with `aws lambda invoke`; see the README).

A Lambda is needed here because presigning an S3 URL is a local signing computation with no
Step Functions or API Gateway service integration. `clock` serves the fulfilment workflow: its
JSONPath has no epoch clock (JSONata's $millis() has, but the local AWS cannot run JSONata), and
DynamoDB TTL needs epoch seconds.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
import uuid
from html import escape
from typing import Any

import boto3
from botocore.config import Config

# Grant tokens are States.UUID() values; anything else is never looked up.
TOKEN_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
OBJECT_PREFIX = "products/"
# Expired grants are kept this long (DynamoDB TTL on purgeAt) so that their page can re-issue.
GRANT_RETENTION_SECONDS = 30 * 24 * 3600
DAY = 24 * 3600


@functools.cache
def _ses() -> Any:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client("sesv2", region_name=region)


@functools.cache
def _clients() -> tuple[Any, Any]:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    dynamodb = boto3.client("dynamodb", region_name=region)
    # SigV4 on the regional virtual-hosted endpoint: the URL works without an S3 redirect.
    s3 = boto3.client(
        "s3",
        region_name=region,
        config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}),
    )
    return dynamodb, s3


def _log(status: int, **fields: Any) -> None:
    # One line per request (status, order, object; never the token) for the S3 access audit.
    print(json.dumps({"status": status, **fields}))


def _json(status: int, message: str, **fields: Any) -> dict[str, Any]:
    _log(status, **fields)
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps({"error": message}),
    }


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Function URL: GET /?token=<grant token> downloads; POST asks for a new link."""
    method = event.get("requestContext", {}).get("http", {}).get("method", "GET")
    if method not in ("GET", "HEAD", "POST"):
        return _json(405, "use GET")
    token = (event.get("queryStringParameters") or {}).get("token", "").strip()
    if not token:
        return _json(400, "missing token")
    if not TOKEN_RE.match(token.lower()):
        return _json(404, "unknown download link")
    dynamodb, s3 = _clients()
    item = dynamodb.get_item(
        TableName=os.environ["GRANTS_TABLE"],
        Key={"token": {"S": token.lower()}},
        ConsistentRead=True,  # the link is emailed moments after the grant is written
    ).get("Item")
    if item is None:
        return _json(404, "unknown download link")
    order = item.get("orderId", {}).get("S")
    key = item["objectKey"]["S"]
    if not key.startswith(OBJECT_PREFIX):  # the role may read nothing else anyway
        return _json(404, "unknown download link", order=order)
    if method == "POST":
        return _reissue_page(item, event)
    if int(item["expiresAt"]["N"]) <= int(time.time()):
        return _page(410, EXPIRED, token=token, order=order)
    if method == "GET" and not _count_download(dynamodb, token):
        return _page(410, USED_UP, token=token, order=order)
    url = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": os.environ["BUCKET_NAME"], "Key": key},
        ExpiresIn=int(os.environ.get("URL_TTL_SECONDS", "300")),
    )
    _log(302, order=order, key=key)
    return {
        "statusCode": 302,
        "headers": {"Location": url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        "body": "",
    }


def _limit() -> int:
    return int(os.environ.get("DOWNLOAD_LIMIT", "5"))


def _count_download(dynamodb: Any, token: str) -> bool:
    """One more download, atomically: False when the grant has expired or is used up.

    A conditional update is the whole check-and-count, so concurrent requests cannot together
    download more than the limit. HEAD (link scanners, previews) does not count.
    """
    try:
        dynamodb.update_item(
            TableName=os.environ["GRANTS_TABLE"],
            Key={"token": {"S": token}},
            UpdateExpression="ADD downloads :one",
            ConditionExpression=(
                "attribute_exists(#token) AND expiresAt > :now "
                "AND (attribute_not_exists(downloads) OR downloads < :limit)"
            ),
            ExpressionAttributeNames={"#token": "token"},
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":now": {"N": str(int(time.time()))},
                ":limit": {"N": str(_limit())},
            },
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


EXPIRED = "This download link has expired. / このダウンロードリンクは有効期限切れです。"
USED_UP = (
    "This download link has been used the maximum number of times. / "
    "このダウンロードリンクはダウンロード回数の上限に達しました。"
)


def _page(status: int, message: str, *, token: str | None, order: str | None) -> dict[str, Any]:
    """A small HTML page; with a token, a button that emails a new link to the order's address."""
    _log(status, order=order)
    form = ""
    if token:
        form = (
            f'<form method="post" action="?token={escape(token)}">'
            "<p>We can email a new link to the address you ordered with. / "
            "ご注文時のメールアドレスに新しいリンクをお送りします。</p>"
            '<button type="submit">Send me a new link / 新しいリンクを送る</button></form>'
        )
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width"><title>Download</title></head>'
        f"<body><p>{escape(message)}</p>{form}</body></html>"
    )
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'none'; form-action 'self'",
        },
        "body": body,
    }


def _reissue_page(item: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The customer's "send me a new link": only for a link that no longer works."""
    order = item["orderId"]["S"]
    now = int(time.time())
    used_up = int(item.get("downloads", {}).get("N", "0")) >= _limit()
    if int(item["expiresAt"]["N"]) > now and not used_up:
        return _page(409, "This link still works: open it again to download.", token=None,
                     order=order)  # fmt: skip
    if not _take_reissue_slot(order, now):
        return _page(
            429,
            "A new link was sent recently; please check your inbox (and spam folder) or try "
            "again tomorrow. / 新しいリンクを送信済みです。メールをご確認ください。",
            token=None,
            order=order,
        )
    domain = event.get("requestContext", {}).get("domainName")
    base = os.environ.get("DOWNLOAD_URL") or (f"https://{domain}/" if domain else "")
    issue_links(order, [item], base_url=base)
    return _page(
        202,
        "A new download link is on its way to the email address of your order. / "
        "ご注文時のメールアドレスに新しいリンクをお送りしました。",
        token=None,
        order=order,
    )


def _take_reissue_slot(order: str, now: int) -> bool:
    """At most REISSUES_PER_DAY customer re-issues per order in a rolling day (conditional)."""
    dynamodb, _ = _clients()
    table, limit = os.environ["GRANTS_TABLE"], int(os.environ.get("REISSUES_PER_DAY", "3"))
    key = {"token": {"S": f"reissue#{order}"}}  # never a UUID: never served as a grant
    attempts = (
        # The current window has room: count one more.
        ("ADD issued :one", "windowStart > :dayAgo AND issued < :limit"),
        # No window, or it is over: start a new one.
        (
            "SET windowStart = :now, issued = :one, purgeAt = :purge",
            "attribute_not_exists(windowStart) OR windowStart <= :dayAgo",
        ),
    )
    values = {
        ":one": {"N": "1"},
        ":now": {"N": str(now)},
        ":dayAgo": {"N": str(now - DAY)},
        ":limit": {"N": str(limit)},
        ":purge": {"N": str(now + 2 * DAY)},
    }
    for update, condition in attempts:
        try:
            dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression=update,
                ConditionExpression=condition,
                # DynamoDB refuses values an expression does not use.
                ExpressionAttributeValues={
                    k: v for k, v in values.items() if k in update or k in condition
                },
            )
            return True
        except dynamodb.exceptions.ConditionalCheckFailedException:
            continue
    return False


def _order_email(order: str, grants: list[dict[str, Any]]) -> str | None:
    """The order's own address: on the grant, else the order record."""
    for grant in grants:
        if grant.get("email", {}).get("S"):
            return grant["email"]["S"]
    if os.environ.get("ORDERS_TABLE"):
        dynamodb, _ = _clients()
        row = dynamodb.get_item(
            TableName=os.environ["ORDERS_TABLE"], Key={"orderId": {"S": order}}
        ).get("Item", {})
        return row.get("customerEmail", {}).get("S")
    return None


def issue_links(order: str, grants: list[dict[str, Any]], *, base_url: str) -> list[str]:
    """A fresh grant per product of `grants`, emailed in one message to the order's address."""
    email = _order_email(order, grants)
    if not email:
        raise ValueError(f"order {order}: no email address on its grants or order record")
    dynamodb, _ = _clients()
    now = int(time.time())
    ttl = int(os.environ.get("LINK_TTL_SECONDS", str(72 * 3600)))
    tokens = []
    for grant in {g["objectKey"]["S"]: g for g in grants}.values():
        token = str(uuid.uuid4())
        dynamodb.put_item(
            TableName=os.environ["GRANTS_TABLE"],
            Item={
                "token": {"S": token},
                "orderId": {"S": order},
                "objectKey": grant["objectKey"],
                "email": {"S": email},
                "expiresAt": {"N": str(now + ttl)},
                "purgeAt": {"N": str(now + ttl + GRANT_RETENTION_SECONDS)},
                "reissuedFrom": grant["token"],
            },
            ConditionExpression="attribute_not_exists(#token)",
            ExpressionAttributeNames={"#token": "token"},
        )
        tokens.append(token)
    links = "\n".join(
        f"{g['objectKey']['S'].removeprefix(OBJECT_PREFIX)}: {base_url}?token={t}"
        for g, t in zip({g["objectKey"]["S"]: g for g in grants}.values(), tokens, strict=True)
    )
    hours = ttl // 3600
    _ses().send_email(
        FromEmailAddress=os.environ["SENDER_EMAIL"],
        Destination={"ToAddresses": [email]},
        Content={
            "Simple": {
                "Subject": {
                    "Data": "Your new download link / 新しいダウンロードリンク",
                    "Charset": "UTF-8",
                },
                "Body": {
                    "Text": {
                        "Charset": "UTF-8",
                        "Data": (
                            "Here is a new download link for your order. / "
                            "新しいダウンロードリンクをお送りします。\n\n"
                            f"{links}\n\nThe link is valid for {hours} hours and "
                            f"{_limit()} downloads.\nOrder reference: {order}\n"
                        ),
                    }
                },
            }
        },
    )
    _log(201, order=order, reissued=len(tokens))
    return tokens


def reissue(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Staff: {"orderId": "cs_..."} -> fresh links for every product of the order, emailed to
    the order's address. Invoked directly (aws lambda invoke), never through a URL."""
    order = str(event.get("orderId") or "").strip()
    if not order:
        raise ValueError('expected {"orderId": "<checkout session id>"}')
    dynamodb, _ = _clients()
    grants = dynamodb.query(
        TableName=os.environ["GRANTS_TABLE"],
        IndexName="byOrder",
        KeyConditionExpression="orderId = :order",
        ExpressionAttributeValues={":order": {"S": order}},
    )["Items"]
    if not grants:
        raise ValueError(f"order {order}: no download grant found (was it fulfilled?)")
    tokens = issue_links(order, grants, base_url=os.environ["DOWNLOAD_URL"])
    return {"orderId": order, "links": len(tokens)}


def clock(event: Any = None, context: Any = None) -> dict[str, int]:
    """Step Functions task: the current time in epoch seconds."""
    return {"epochSeconds": int(time.time())}
