"""Customer mirror: app user id <-> Stripe customer, latest subscription state."""

from __future__ import annotations

from constructs import Construct

from stacks.shared import Shared


class CustomerMirror(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
