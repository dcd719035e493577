"""Coupon issuance through the Stripe API, emailed to the buyer."""

from __future__ import annotations

from constructs import Construct

from stacks.shared import Shared


class Coupons(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
