"""SQS speed-ups.

- `sqs.send_message_attributes`: while SendMessage runs, a queue's `attributes` gives only
  ContentBasedDeduplication (nothing for a standard queue), the one attribute a send reads,
  instead of computing them all, which counts every message in the queue.
- `sqs.receive_retention`: ReceiveMessage checks each message it hands out against the queue's
  retention period, and moto read that period through GetQueueAttributes, which computes every
  attribute (three times), counting every message in the queue each time: O(depth) per message
  received. The check now reads the one number it needs.
"""

from __future__ import annotations

import threading
from typing import Any

from payops.localaws.core.patch import Patch


def sqs_send_message_patches() -> list[Patch]:
    found: list[Patch] = []
    from moto.sqs.models import Queue, SQSBackend

    sending = threading.local()
    original_send = SQSBackend.send_message
    original_attributes = Queue.__dict__["attributes"]

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        sending.active = True
        try:
            return original_send(self, *args, **kwargs)
        finally:
            sending.active = False

    def attributes(self: Any) -> dict[str, Any]:
        if getattr(sending, "active", False):
            # All send_message (and add_message) read is ContentBasedDeduplication, which only
            # a FIFO queue has: the same value moto's full attribute dict would give.
            if not self.fifo_queue:
                return {}
            value = getattr(self, "content_based_deduplication", "false")
            return {"ContentBasedDeduplication": str(value).lower()}
        return original_attributes.fget(self)

    found.append(Patch(SQSBackend, "send_message", send_message))
    found.append(Patch(Queue, "attributes", property(attributes)))
    return found


def sqs_receive_retention_patches() -> list[Patch]:
    from moto.sqs import models

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        # moto's own test, with the value its get_queue_attributes gives for the name: the queue's
        # message_retention_period (an int, set at creation and by SetQueueAttributes).
        retention_period = self.get_queue(queue_name).message_retention_period
        return retention_period + message.sent_timestamp / 1000 > models.unix_time()

    return [
        Patch(
            models.SQSBackend,
            "is_message_valid_based_on_retention_period",
            is_message_valid_based_on_retention_period,
        )
    ]


SPEEDUPS: dict[str, str] = {
    "sqs.send_message_attributes": (
        "SendMessage computed every queue attribute, counting all messages in the queue, to read "
        "ContentBasedDeduplication: O(queue depth) per send, so queues without a local consumer "
        "made long replays quadratic."
    ),
    "sqs.receive_retention": (
        "ReceiveMessage read the queue's retention period through GetQueueAttributes for every "
        "message it returned, computing every attribute three times and counting the whole queue "
        "each time: a backlog of n messages cost O(n) per message received."
    ),
}
