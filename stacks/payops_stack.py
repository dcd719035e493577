"""The thin stack that wires the capabilities together."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from payops.rules import load_catalogue
from payops.settings import Settings
from stacks.ingress import StripeIngress
from stacks.rule_catalogue import RuleCatalogue


class PayOpsStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        self.ingress = StripeIngress(self, "Ingress", settings=settings)
        self.catalogue = RuleCatalogue(
            self, "Rules", rules=load_catalogue(settings), bus_name=self.ingress.bus_name
        )
        CfnOutput(self, "EventBusName", value=self.ingress.bus_name)
        if self.ingress.receiver_url is not None:
            CfnOutput(
                self,
                "WebhookUrl",
                value=self.ingress.receiver_url.url,
                description="Give this URL to Stripe as the webhook endpoint",
            )
