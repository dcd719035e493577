"""Order fulfilment: record the order, expiring download grant, email the link."""

from __future__ import annotations

from constructs import Construct

from stacks.shared import Shared


class Fulfilment(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
