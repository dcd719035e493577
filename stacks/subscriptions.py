"""Subscriptions: provision per-customer resources on start, remove on end."""

from __future__ import annotations

from constructs import Construct

from stacks.shared import Shared


class Subscriptions(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
