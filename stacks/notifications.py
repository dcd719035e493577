"""Staff notifications: SNS topics, readable messages, SNS->SQS fan-out, audit trail.

Each notice rule starts the Express notice workflow, which formats the message from
functions/notices/templates.json, claims (notice, Stripe event id) in the idempotency table and
publishes it to the rule's staff topic: one notice however often the event is delivered. Raw
payment events go to a fan-out topic with one SQS queue per independent consumer (chat, ticket,
audit), each with its own DLQ; the audit queue feeds an EventBridge Pipe that starts an Express
workflow writing one DynamoDB item per Stripe event. The chat and ticket queues feed the pipes of
stacks/outbound.py when `chatProvider` / `ticketProvider` is set.
"""

from __future__ import annotations

import json
import re

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

from stacks.bundling import FUNCTIONS_DIR
from stacks.functions import python_function
from stacks.idempotency import CLAIM_TTL_SECONDS
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


# Which topic each staff notice rule publishes to (attribute name on Notifications). The
# message is formatted by the notice workflow from functions/notices/templates.json (one entry
# per rule here).
TOPIC_OF_RULE = {
    "paid-order": "orders",
    "free-order": "orders",
    "large-order": "large_orders",
    "large-invoice": "large_orders",
    "awaiting-payment": "payment_problems",
    "payment-failed": "payment_problems",
    "refund": "payment_problems",
    "dispute": "payment_problems",
    "refund-failed": "payment_problems",
    "payment-intent-failed": "payment_problems",
}
NOTICE_TEMPLATES = FUNCTIONS_DIR / "notices" / "templates.json"
NOTICE_WHY = (
    "Express: one formatting call, a claim and one publish per notice, well within a minute; "
    "the claim per (notice, event id) makes at-least-once runs and redeliveries notify once"
)
# A claim still SENDING after this long belongs to a run that died (the workflow's
# TimeoutSeconds is 60): a later copy of the event may take it and notify.
NOTICE_LEASE_SECONDS = 120
NOTICE_CLAIM_PREFIX = "notice#"


def notice_fields(rule_name: str) -> list[str]:
    """The paths into the Stripe object that the rule's notice template reads."""
    template = json.loads(NOTICE_TEMPLATES.read_text(encoding="utf-8"))[rule_name]
    paths = {"id"}
    for how in template["fields"].values():
        if isinstance(how, str):
            paths.add(how)
        elif "money" in how:
            paths |= {how["money"], "currency"}
        elif "date" in how:
            paths.add(how["date"])
        elif "dashboard" in how:
            paths |= set(re.findall(r"\{(\w+)\}", how["dashboard"])) - {"event"}
    return sorted(paths)


def notice_input(rule_name: str, topic_arn: str) -> events.CfnRule.InputTransformerProperty:
    """{notice, topic, event}: the event cut down to the fields its template reads.

    A whole Stripe event can be near EventBridge's 1 MiB, over Step Functions' 256 KiB input; a
    notice must still go out for it. A path missing from the event arrives empty, which the
    formatter leaves out like null.
    """
    paths_map = {"eventId": "$.detail.id", "eventType": "$.detail.type"}
    obj: dict = {}
    for index, path in enumerate(notice_fields(rule_name)):
        *parents, leaf = path.split(".")
        node = obj
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = f"@p{index}@"
        paths_map[f"p{index}"] = f"$.detail.data.object.{path}"
    event = {"id": "@eventId@", "type": "@eventType@", "data": {"object": obj}}
    template = json.dumps({"notice": rule_name, "topic": topic_arn, "event": event})
    for name in paths_map:
        template = template.replace(f'"@{name}@"', f"<{name}>")
    return events.CfnRule.InputTransformerProperty(
        input_paths_map=paths_map, input_template=template
    )


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

        self._notices()

        self._fan_out()
        self._audit_trail()

    def _notices(self) -> None:
        """Each notice rule -> the notice workflow (format, then publish to the rule's topic)."""
        self.format_function = python_function(
            self,
            "FormatNotice",
            folder="notices",
            handler="handler.handler",
            description="Formats a staff notice for a Stripe event (no null text, amounts)",
            environment={"DASHBOARD_URL": self.shared.settings.stripe_dashboard_url},
        )
        self.notice = Workflow(
            self,
            "Notice",
            asl="notice",
            kind="EXPRESS",
            why=NOTICE_WHY,
            substitutions={
                "FormatFunctionArn": self.format_function.function_arn,
                "IdempotencyTable": self.shared.idempotency.table.table_name,
                "LeaseSeconds": str(NOTICE_LEASE_SECONDS),
                "ClaimTtlSeconds": str(CLAIM_TTL_SECONDS),
            },
        )
        # Claim, mark sent, give back: its own "notice#..." items only.
        self.notice.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                resources=[self.shared.idempotency.table.table_arn],
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{NOTICE_CLAIM_PREFIX}*"]}
                },
            )
        )
        # The unqualified ARN only (the ASL calls it so), not grant_invoke's "<arn>:*".
        self.notice.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.format_function.function_arn]
            )
        )
        for attribute in sorted(set(TOPIC_OF_RULE.values())):
            self.notice.grant_alerts(getattr(self, attribute))
        for rule_name, attribute in TOPIC_OF_RULE.items():
            topic: sns.Topic = getattr(self, attribute)
            self.shared.catalogue.add_target(
                rule_name,
                self.shared.targets.state_machine(
                    self.notice.state_machine,
                    input_transformer=notice_input(rule_name, topic.topic_arn),
                ),
            )

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
                conditions={"ArnEquals": {"aws:SourceArn": self.shared.catalogue.arns(rule_name)}},
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
