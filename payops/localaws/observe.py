"""Observation hooks: what the workflows did, recorded for traces (no behaviour is changed).

Successful DynamoDB writes and SNS publishes are recorded as facts ("table_write",
"sns_published"); a write refused by its condition is not a write and is not recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.sns.models import SNSBackend

from payops.localaws.recorder import RECORDER

_installed = False


def _recording(kind: str, original: Callable[..., Any], describe: Callable[..., dict]) -> Any:
    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)  # raises on a failed condition: not recorded
        RECORDER.record(kind, **describe(*args, **kwargs))
        return result

    wrapper.__payops_original__ = original  # type: ignore[attr-defined]
    return wrapper


def _table(op: str) -> Callable[..., dict]:
    def describe(table_name: str, *_: Any, **__: Any) -> dict:
        return {"table": table_name, "op": op}

    return describe


def _topic(message: str, arn: str | None = None, *_: Any, **kwargs: Any) -> dict:
    return {"topic": (arn or "").rsplit(":", 1)[-1], "subject": kwargs.get("subject")}


def install() -> None:
    global _installed
    if _installed:
        return
    for name, op in (("put_item", "put"), ("update_item", "update"), ("delete_item", "delete")):
        setattr(
            DynamoDBBackend,
            name,
            _recording("table_write", getattr(DynamoDBBackend, name), _table(op)),
        )
    SNSBackend.publish = _recording("sns_published", SNSBackend.publish, _topic)
    _installed = True
