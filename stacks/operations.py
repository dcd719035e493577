"""Operating it: nothing silently lost (DLQ depth and failed-execution alarms, the event archive)."""

from __future__ import annotations

from constructs import Construct

from stacks.shared import Shared


class Operations(Construct):
    """Created last: it looks at what the other capabilities built."""

    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
