"""Where Stripe events enter AWS: the partner event bus, or a webhook receiver and a custom bus."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from payops.settings import Settings
from stacks.bundling import python_function_code
from stacks.nag import acknowledge, acknowledge_synchronous_function


@dataclass(frozen=True)
class AlarmSpec:
    """An alarm a capability asks Operations to create (to the staff topic)."""

    construct_id: str
    name: str  # the alarm name after "<stack>-"
    metric: cloudwatch.IMetric
    threshold: float
    what: str
    evaluation_periods: int = 1


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
        self.alarm_specs: list[AlarmSpec] = []  # Operations creates them
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
            self._only_the_receiver_puts(bus_l2)
            self._receiver_alarms()

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
                # Embedded metrics (EMF) in each request's log line, for the 4xx/5xx alarms.
                "METRICS_NAMESPACE": self.metrics_namespace,
            },
            # A flood of anonymous requests to the public URL is throttled here (429, which
            # Stripe retries like any non-2xx) instead of taking the account's concurrency.
            reserved_concurrent_executions=self.settings.receiver_reserved_concurrency,
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
        acknowledge_synchronous_function(function)
        self.signing_secret = secret

    @property
    def metrics_namespace(self) -> str:
        return f"{Stack.of(self).stack_name}/WebhookReceiver"

    def _only_the_receiver_puts(self, bus: events.EventBus) -> None:
        """Whoever may PutEvents on the bus could forge Stripe events (a paid order mints a coupon,
        a subscription.deleted removes a customer's stack). In one account an identity policy
        alone would let any IAM principal put, so the bus policy denies PutEvents to every IAM
        principal but the receiver's role, whatever their own policies allow. AWS services
        (aws:PrincipalIsAWSService) are left alone: an archive replay must still reach the bus."""
        assert self.receiver is not None and self.receiver.role is not None
        stack = Stack.of(self)
        bus_arn = stack.format_arn(
            service="events", resource="event-bus", resource_name=f"{stack.stack_name}-stripe"
        )
        cfn_bus: events.CfnEventBus = bus.node.default_child  # type: ignore[assignment]
        cfn_bus.policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OnlyTheWebhookReceiverPutsStripeEvents",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "events:PutEvents",
                    "Resource": bus_arn,
                    "Condition": {
                        "ArnNotEquals": {"aws:PrincipalArn": self.receiver.role.role_arn},
                        "Bool": {"aws:PrincipalIsAWSService": "false"},
                    },
                }
            ],
        }

    def _receiver_alarms(self) -> None:
        """A wrong signing secret means 400s for every delivery while Stripe retries for 3 days;
        an AWS fault means 500s. Both as rates over the receiver's embedded metrics, plus Lambda's
        own errors and throttles (the reserved concurrency reached)."""
        assert self.receiver is not None
        window = Duration.minutes(15)

        def count(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=self.metrics_namespace, metric_name=name, statistic="Sum", period=window
            )

        def rate(status: str, metric: str) -> cloudwatch.MathExpression:
            # Only with at least 3 requests in the window: one scanner's GET is not an outage.
            return cloudwatch.MathExpression(
                expression="IF(requests >= 3, 100 * bad / requests, 0)",
                using_metrics={"requests": count("Requests"), "bad": count(metric)},
                label=f"receiver {status} responses (% of requests)",
                period=window,
            )

        runbook = "README: How Stripe events get in"
        self.alarm_specs += [
            AlarmSpec("Receiver4xxRate", "receiver-4xx-rate", rate("4xx", "Rejected4xx"), 50,
                      "At least half of the webhook requests got a 4xx for 15 minutes: most "
                      "likely the signing secret in Secrets Manager is not the endpoint's. Stripe "
                      f"retries for up to 3 days ({runbook})."),
            AlarmSpec("Receiver5xxRate", "receiver-5xx-rate", rate("5xx", "Failed5xx"), 5,
                      "The webhook receiver answered 5xx to at least 5% of requests for 15 "
                      "minutes: events are not reaching the bus (PutEvents or Secrets Manager "
                      f"failing). Stripe retries them ({runbook})."),
            AlarmSpec("ReceiverErrors", "receiver-errors",
                      self.receiver.metric_errors(period=Duration.minutes(5), statistic="Sum"), 1,
                      "The webhook receiver crashed or timed out (Lambda Errors); Stripe got a "
                      f"5xx and retries ({runbook})."),
            AlarmSpec("ReceiverThrottles", "receiver-throttles",
                      self.receiver.metric_throttles(period=Duration.minutes(5), statistic="Sum"),
                      1, "Requests to the webhook URL were throttled at its reserved concurrency "
                      "(receiverReservedConcurrency): a flood, or more Stripe traffic than it "
                      f"allows. Stripe retries throttled deliveries ({runbook})."),
        ]  # fmt: skip
