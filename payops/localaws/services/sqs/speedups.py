"""SQS speed-up `sqs.send_message_attributes`: while SendMessage runs, a queue's `attributes` gives
only ContentBasedDeduplication (nothing for a standard queue), the one attribute a send reads,
instead of computing them all, which counts every message in the queue.
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


SPEEDUPS: dict[str, str] = {
    "sqs.send_message_attributes": (
        "SendMessage computed every queue attribute, counting all messages in the queue, to read "
        "ContentBasedDeduplication: O(queue depth) per send, so queues without a local consumer "
        "made long replays quadratic."
    ),
}
