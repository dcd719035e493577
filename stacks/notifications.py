"""Staff notifications: SNS topics, readable messages, SNS->SQS fan-out, audit trail."""

from __future__ import annotations

from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.shared import Shared


class Notifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
        # Topic attributes other capabilities rely on (payment_problems = staff alerts).
        self.orders = sns.Topic(self, "Orders", enforce_ssl=True)
        self.large_orders = sns.Topic(self, "LargeOrders", enforce_ssl=True)
        self.payment_problems = sns.Topic(self, "PaymentProblems", enforce_ssl=True)
