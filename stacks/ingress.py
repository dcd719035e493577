"""Where Stripe events enter AWS: the partner event bus, or a webhook receiver and a custom bus."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from payops.settings import Settings
from stacks.bundling import python_function_code
from stacks.nag import acknowledge


class StripeIngress(Construct):
    """The bus that Stripe events arrive on, in the shape of the native partner path.

    partner: Stripe's EventBridge event destination created the partner event source; the bus
             must carry exactly that name to receive it.
    webhook: a function URL takes Stripe webhooks, verifies `Stripe-Signature`, and puts each
             event on a custom bus with detail-type = Stripe type and detail = the Stripe Event.
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.receiver: lambda_.Function | None = None
        self.receiver_url: lambda_.FunctionUrl | None = None
        self.signing_secret: secretsmanager.Secret | None = None
        if settings.ingress == "partner":
            name = settings.stripe_event_source_name
            bus = events.CfnEventBus(self, "PartnerBus", name=name, event_source_name=name)
            self.bus_name: str = bus.attr_name
            self.bus_arn: str = bus.attr_arn
            self.bus_resource = bus
        else:
            bus_l2 = events.EventBus(
                self, "WebhookBus", event_bus_name=f"{Stack.of(self).stack_name}-stripe"
            )
            self.bus_name = bus_l2.event_bus_name
            self.bus_arn = bus_l2.event_bus_arn
            self.bus_resource = bus_l2.node.default_child
            self._build_receiver(bus_l2)

    def _build_receiver(self, bus: events.EventBus) -> None:
        secret = secretsmanager.Secret(
            self,
            "SigningSecret",
            description="Stripe webhook signing secret (whsec_...). Set it after deploy with "
            "`aws secretsmanager put-secret-value`; the generated value only reserves the name.",
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            secret,
            "SMG4",
            "Stripe issues and rolls webhook signing secrets in its dashboard; AWS cannot "
            "rotate them. The receiver accepts the old and new signature while Stripe rolls.",
        )
        log_group = logs.LogGroup(
            self,
            "ReceiverLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # An explicit role instead of AWSLambdaBasicExecutionRole: logs go to this group only.
        role = iam.Role(
            self, "ReceiverRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            "Receiver",
            description="Verifies Stripe-Signature and puts Stripe events on the bus",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=python_function_code("webhook_receiver"),
            memory_size=256,
            timeout=Duration.seconds(10),
            log_group=log_group,
            role=role,
            environment={
                "EVENT_BUS_NAME": bus.event_bus_name,
                "SIGNING_SECRET_ARN": secret.secret_arn,
                "EVENT_SOURCE": self.settings.event_source,
                "TOLERANCE_SECONDS": str(self.settings.webhook_tolerance_seconds),
            },
        )
        # Least privilege: only this bus, only this secret (not the wildcard grants of samples).
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["events:PutEvents"], resources=[bus.event_bus_arn])
        )
        secret.grant_read(function)
        # Stripe cannot sign requests with SigV4: the URL is public and every request is
        # authenticated by its Stripe-Signature instead (checked before anything else happens).
        self.receiver_url = function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        self.receiver = function
        self.signing_secret = secret
