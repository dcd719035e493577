"""Staff notifications: SNS topics, readable messages, SNS->SQS fan-out, audit trail.

Messages are shaped by EventBridge input transformers (no Lambda). Raw payment events go to a
fan-out topic with one SQS queue per independent consumer (chat, ticket, audit), each with its
own DLQ; the audit queue feeds an EventBridge Pipe that starts an Express workflow writing one
DynamoDB item per Stripe event.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.nag import acknowledge
from stacks.shared import Shared
from stacks.targets import RETRY_POLICY, encrypted_queue, from_this_stacks_rules
from stacks.workflow import Workflow

# A message that failed this many receives goes to the consumer's DLQ.
MAX_RECEIVE_COUNT = 5
FAN_OUT_CONSUMERS = ("Chat", "Ticket", "Audit")
AUDIT_WHY = (
    "a short DynamoDB write per event, started synchronously by a Pipe; the conditional put on "
    "the event id makes Express's at-least-once runs harmless"
)


def message_templates(dashboard_url: str) -> dict[str, tuple[str, dict[str, str]]]:
    """rule name -> (input template, input paths): one readable line per notification.

    EventBridge requires quotes around a string template; values are inserted unescaped. A path
    missing from an event renders as nothing, which the payment-failed template relies on: its
    rule matches checkout sessions (amount_total, customer_details.email) and invoices
    (amount_due) -- two shapes, one target. Amounts are Stripe's, in the currency's smallest unit
    (yen for JPY, cents for USD).
    """
    session = {
        "id": "$.detail.data.object.id",
        "amount": "$.detail.data.object.amount_total",
        "currency": "$.detail.data.object.currency",
        "email": "$.detail.data.object.customer_details.email",
    }
    session_link = f"{dashboard_url}/checkout/sessions/<id>"
    return {
        "paid-order": (
            f'"Paid order <id>: <amount> <currency> (minor units) from <email> - {session_link}"',
            session,
        ),
        "free-order": (
            f'"Free order <id> (no payment required): <amount> <currency> from <email> - '
            f'{session_link}"',
            session,
        ),
        "large-order": (
            f'"Large order <id>: <amount> <currency> (minor units) from <email> - {session_link}"',
            session,
        ),
        "awaiting-payment": (
            f'"Awaiting payment for order <id>: <amount> <currency> (minor units) from <email>, '
            f'not paid yet (konbini or bank transfer) - {session_link}"',
            session,
        ),
        "payment-failed": (
            f'"Payment failed (<type>) on <id>: <amountTotal><amountDue> <currency> (minor units), '
            f'customer <customer> <email> - {dashboard_url}/events/<event>"',
            {
                "type": "$.detail.type",
                "event": "$.detail.id",
                "id": "$.detail.data.object.id",
                "amountTotal": "$.detail.data.object.amount_total",
                "amountDue": "$.detail.data.object.amount_due",
                "currency": "$.detail.data.object.currency",
                "customer": "$.detail.data.object.customer",
                "email": "$.detail.data.object.customer_details.email",
            },
        ),
        "refund": (
            f'"Refunded <refunded> of <amount> <currency> (minor units) on charge <id> for '
            f'<email> - {dashboard_url}/payments/<id>"',
            {
                "id": "$.detail.data.object.id",
                "amount": "$.detail.data.object.amount",
                "refunded": "$.detail.data.object.amount_refunded",
                "currency": "$.detail.data.object.currency",
                "email": "$.detail.data.object.billing_details.email",
            },
        ),
    }


# Which topic each staff notification rule publishes to (attribute name on Notifications).
TOPIC_OF_RULE = {
    "paid-order": "orders",
    "free-order": "orders",
    "large-order": "large_orders",
    "awaiting-payment": "payment_problems",
    "payment-failed": "payment_problems",
    "refund": "payment_problems",
}


class Notifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
        settings = shared.settings
        # One customer managed key for every topic: messages carry customer emails, and
        # EventBridge cannot publish to a topic under the AWS managed SNS key (its policy cannot
        # be changed). $1/month; destroyed with the stack (after KMS's waiting period).
        self.key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the payment ops SNS topics",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgePublishesToEncryptedTopics",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions=from_this_stacks_rules(self),
            )
        )
        # Topic attributes other capabilities rely on (payment_problems = staff alerts).
        self.orders = self._topic("Orders", "Payment ops: new orders")
        self.large_orders = self._topic("LargeOrders", "Payment ops: large orders")
        self.payment_problems = self._topic(
            "PaymentProblems", "Payment ops: awaiting payment, failed payments, refunds"
        )
        for topic in (self.orders, self.large_orders, self.payment_problems):
            for email in settings.staff_emails:
                topic.add_subscription(subs.EmailSubscription(email))

        templates = message_templates(settings.stripe_dashboard_url)
        for rule_name, attribute in TOPIC_OF_RULE.items():
            topic = getattr(self, attribute)
            template, paths = templates[rule_name]
            self._allow_rule(topic, rule_name)
            shared.catalogue.add_target(
                rule_name, shared.targets.topic(topic, template=template, paths=paths)
            )

        self._fan_out()
        self._audit_trail()

    def _topic(self, construct_id: str, display_name: str) -> sns.Topic:
        return sns.Topic(
            self, construct_id, display_name=display_name, enforce_ssl=True, master_key=self.key
        )

    def _allow_rule(self, topic: sns.Topic, rule_name: str) -> None:
        """SNS targets use the topic policy, not a role: let exactly this rule publish."""
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "ArnEquals": {"aws:SourceArn": self.shared.catalogue.rules[rule_name].attr_arn}
                },
            )
        )

    def _fan_out(self) -> None:
        """payment-activity rule -> raw events topic -> one queue (+ DLQ) per consumer."""
        self.payment_activity = self._topic("PaymentActivity", "Payment ops: raw payment events")
        self._allow_rule(self.payment_activity, "payment-activity")
        # No input transformer: consumers get the whole EventBridge envelope, as it arrived.
        self.shared.catalogue.add_target(
            "payment-activity",
            events.CfnRule.TargetProperty(
                id="PaymentActivityTopic",
                arn=self.payment_activity.topic_arn,
                dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                    arn=self.shared.targets.dead_letters.queue_arn
                ),
                retry_policy=RETRY_POLICY,
            ),
        )
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for name in FAN_OUT_CONSUMERS:
            dlq = encrypted_queue(self, f"{name}DeadLetters")
            queue = encrypted_queue(
                self,
                f"{name}Queue",
                # Longer than an audit run may take (the workflow times out at 30 s).
                visibility_timeout=Duration.seconds(60),
                dead_letter_queue=sqs.DeadLetterQueue(
                    max_receive_count=MAX_RECEIVE_COUNT, queue=dlq
                ),
            )
            # SNS drops a message it cannot deliver (queue deleted, policy or key wrong) unless
            # the subscription has its own DLQ. Both queue policies allow only this topic
            # (aws:SourceArn), added by the subscription.
            delivery_dlq = encrypted_queue(self, f"{name}DeliveryDeadLetters")
            acknowledge(
                delivery_dlq,
                "SQS3",
                f"This queue is the dead-letter queue of the SNS subscription of {name} (an SNS "
                "RedrivePolicy, which cdk-nag does not recognise as DLQ use).",
            )
            self.payment_activity.add_subscription(
                subs.SqsSubscription(
                    queue, raw_message_delivery=True, dead_letter_queue=delivery_dlq
                )
            )
            self.queues[name] = queue
            self.dead_letter_queues[name] = dlq

    def _audit_trail(self) -> None:
        """Audit queue -> Pipe -> Express workflow -> one Audit item per Stripe event."""
        self.audit_table = dynamodb.Table(
            self,
            "AuditTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # The mission asks for a clean `cdk destroy`; export the table first to keep it.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.audit = Workflow(
            self,
            "AuditRecord",
            asl="audit-record",
            kind="EXPRESS",
            why=AUDIT_WHY,
            substitutions={"AuditTable": self.audit_table.table_name},
        )
        self.audit_table.grant(self.audit.role, "dynamodb:PutItem")
        audit_queue = self.queues["Audit"]
        role = iam.Role(
            self,
            "AuditPipeRole",
            assumed_by=iam.ServicePrincipal(
                "pipes.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description="Lets the audit pipe read its queue and run the audit workflow",
        )
        audit_queue.grant_consume_messages(role)
        self.audit.state_machine.grant_start_sync_execution(role)
        sync_start = pipes.CfnPipe.PipeTargetStateMachineParametersProperty(
            invocation_type="REQUEST_RESPONSE"
        )
        # No DLQ setting on the pipe: for an SQS source, the queue's redrive policy is the DLQ.
        self.audit_pipe = pipes.CfnPipe(
            self,
            "AuditPipe",
            description="Payment events from the audit queue into the audit workflow",
            role_arn=role.role_arn,
            source=audit_queue.queue_arn,
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                # One message per run: a poison message fails alone and reaches the DLQ alone,
                # and a run's input stays under Step Functions' 256 KiB.
                sqs_queue_parameters=pipes.CfnPipe.PipeSourceSqsQueueParametersProperty(
                    batch_size=1
                )
            ),
            target=self.audit.state_machine.state_machine_arn,
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
                # Synchronous: a failed run fails the batch, so SQS retries and dead-letters it.
                step_function_state_machine_parameters=sync_start
            ),
        )
        self.audit_pipe.node.add_dependency(role)
