"""DynamoDB writes: recorded for traces, and conditional writes made atomic.

Successful writes are recorded as "table_write" facts; a write refused by its condition is not a
write and is not recorded. One behaviour is changed, in the same hook: writes run one at a time.
the pinned moto reads the item, evaluates the ConditionExpression and writes without a lock, so two
threads (two executions claiming one Stripe event) can both pass `attribute_not_exists(pk)`;
DynamoDB's conditional writes are atomic per item. Idempotency depends on this.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from payops.localaws.core.patch import Patch
from payops.localaws.core.recorder import recording

GAPS: dict[str, str] = {
    "dynamodb.atomic_conditional_writes": (
        "PutItem/UpdateItem/DeleteItem with a condition are atomic (moto checks and writes "
        "without a lock: concurrent conditional puts of one key can both succeed)"
    ),
}

_table_writes = threading.RLock()


def _table(op: str) -> Callable[..., dict]:
    def describe(table_name: str, *_: Any, **__: Any) -> dict:
        return {"table": table_name, "op": op}

    return describe


def write_patches() -> list[Patch]:
    from moto.dynamodb.models import DynamoDBBackend

    return [
        Patch(
            DynamoDBBackend,
            name,
            recording("table_write", vars(DynamoDBBackend)[name], _table(op), _table_writes),
        )
        for name, op in (("put_item", "put"), ("update_item", "update"), ("delete_item", "delete"))
    ]
