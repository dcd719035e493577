"""Download links: check a grant and redirect to a short-lived presigned S3 URL.

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
from typing import Any

import boto3
from botocore.config import Config

# Grant tokens are States.UUID() values; anything else is never looked up.
TOKEN_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
OBJECT_PREFIX = "products/"


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
    """Function URL: GET /?token=<grant token>."""
    method = event.get("requestContext", {}).get("http", {}).get("method", "GET")
    if method not in ("GET", "HEAD"):
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
    if int(item["expiresAt"]["N"]) <= int(time.time()):
        return _json(410, "this download link has expired", order=order)
    key = item["objectKey"]["S"]
    if not key.startswith(OBJECT_PREFIX):  # the role may read nothing else anyway
        return _json(404, "unknown download link", order=order)
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


def clock(event: Any = None, context: Any = None) -> dict[str, int]:
    """Step Functions task: the current time in epoch seconds."""
    return {"epochSeconds": int(time.time())}
