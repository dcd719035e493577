"""The one account, region and credentials of the local AWS (moto's default account)."""

from __future__ import annotations

ACCOUNT = "123456789012"
REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}
