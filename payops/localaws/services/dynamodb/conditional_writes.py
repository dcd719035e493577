"""Observation hooks: what the workflows did, recorded for traces.

Successful DynamoDB writes and SNS publishes are recorded as facts ("table_write",
"sns_published"); a write refused by its condition is not a write and is not recorded.

One behaviour is changed, in the same hook: DynamoDB writes run one at a time. moto 5.2.5 reads
the item, evaluates the ConditionExpression and writes without a lock, so two threads (two
executions claiming one Stripe event) can both pass `attribute_not_exists(pk)`; DynamoDB's
conditional writes are atomic per item.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.sns.models import SNSBackend

from payops.localaws.recorder import RECORDER

BRIDGES: dict[str, str] = {
    "dynamodb.atomic_conditional_writes": (
        "PutItem/UpdateItem/DeleteItem with a condition are atomic (moto checks and writes "
        "without a lock: concurrent conditional puts of one key can both succeed)"
    ),
}

_installed = False
_table_writes = threading.RLock()


def _recording(
    kind: str,
    original: Callable[..., Any],
    describe: Callable[..., dict],
    lock: Any = None,
) -> Any:
    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if lock is None:
            result = original(self, *args, **kwargs)  # raises on a failed condition: not recorded
        else:
            with lock:  # check-and-write as one step, as DynamoDB does
                result = original(self, *args, **kwargs)
        RECORDER.record(kind, **describe(*args, **kwargs))
        return result

    wrapper.__payops_original__ = original  # type: ignore[attr-defined]
    return wrapper


def _table(op: str) -> Callable[..., dict]:
    def describe(table_name: str, *_: Any, **__: Any) -> dict:
        return {"table": table_name, "op": op}

    return describe


def _topic(message: str, arn: str | None = None, *_: Any, **kwargs: Any) -> dict:
    return {
        "topic": (arn or "").rsplit(":", 1)[-1],
        "subject": kwargs.get("subject"),
        "message": message,
    }


def install() -> None:
    global _installed
    if _installed:
        return
    for name, op in (("put_item", "put"), ("update_item", "update"), ("delete_item", "delete")):
        setattr(
            DynamoDBBackend,
            name,
            _recording("table_write", getattr(DynamoDBBackend, name), _table(op), _table_writes),
        )
    SNSBackend.publish = _recording("sns_published", SNSBackend.publish, _topic)
    _installed = True
