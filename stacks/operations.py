"""Operating it: nothing silently lost (DLQ depth and failed-execution alarms, the event archive).

Created last, it walks the stack for what the other capabilities built, so a new workflow or
queue is covered without touching this file:

- every dead-letter queue (a rule target's DeadLetterConfig or a queue's redrive policy) gets an
  alarm on ApproximateNumberOfMessagesVisible >= 1;
- every rule gets an alarm on InvocationsFailedToBeSentToDlq >= 1 (the DLQ itself refused the
  event, e.g. too big or gone: the one way a failed delivery vanishes);
- every state machine gets an alarm on ExecutionsFailed >= 1 and one on ExecutionsTimedOut >= 1;
- all alarms notify the staff alerts topic (KMS-encrypted: CloudWatch is allowed to use its key
  and to publish, for this stack's alarms only);
- the bus gets an archive of every Stripe event, kept ARCHIVE_RETENTION_DAYS, for replay
  (README, "What the system guarantees": how to re-drive).
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import ArnFormat, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct

from payops.settings import RECONCILIATION_SOURCE
from stacks.nag import acknowledge
from stacks.shared import Shared

RUNBOOK = "README: What the system guarantees"
# Longer than Stripe's 3-day retry window and the 4-day idempotency claims, so a problem found
# on a Monday can still be replayed from the previous week; archive storage is $0.10/GB-month.
ARCHIVE_RETENTION_DAYS = 30
ALARM_PERIOD = Duration.minutes(5)


class Operations(Construct):
    """Created last: it looks at what the other capabilities built."""

    def __init__(self, scope: Construct, construct_id: str, *, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
        if shared.alerts is None:
            raise ValueError("Operations needs shared.alerts (the staff alert topic)")
        stack = Stack.of(self)
        self.alarm_prefix = f"{stack.stack_name}-"
        self.alarms: list[cloudwatch.Alarm] = []
        self._action = cw_actions.SnsAction(shared.alerts)
        self._allow_cloudwatch(shared.alerts)

        constructs = stack.node.find_all()
        self.dead_letter_queues = _dead_letter_queues(stack, constructs)
        for queue in self.dead_letter_queues:
            self._dead_letter_alarm(queue)
            acknowledge(
                queue,
                "SQSRedrivePolicy",
                "This queue is itself a dead-letter queue: its messages wait, alarmed, for a "
                "person to read and re-drive them; a dead-letter queue of it would only move them.",
                pack="Serverless",
            )
        self.rules = [c for c in constructs if isinstance(c, events.CfnRule)]
        for rule in self.rules:
            self._undeliverable_alarm(rule)
        self.state_machines = [c for c in constructs if isinstance(c, sfn.StateMachine)]
        for machine in self.state_machines:
            self._execution_alarms(machine)
        # Alarms a capability specified itself (e.g. the webhook receiver's 4xx/5xx rates).
        for construct in constructs:
            for spec in getattr(construct, "alarm_specs", ()):
                self._alarm(spec.construct_id, spec.name, spec.metric, spec.what,
                            spec.threshold, spec.evaluation_periods)  # fmt: skip

        self.archive = events.CfnArchive(
            self,
            "Archive",
            archive_name=f"{self.alarm_prefix}stripe-events"[:48],
            source_arn=shared.bus_arn,
            description=f"Every Stripe event on the bus, kept {ARCHIVE_RETENTION_DAYS} days for "
            f"replay ({RUNBOOK})",
            # issue 16: and the missed events the reconciliation re-injects (Stripe's own copy
            # of them lasts 30 days; thin events are archived as they arrived).
            event_pattern={"source": [shared.settings.event_source, RECONCILIATION_SOURCE]},
            retention_days=ARCHIVE_RETENTION_DAYS,
        )
        CfnOutput(
            self,
            "EventArchiveArn",
            value=self.archive.attr_arn,
            description="Re-drive Stripe events with `aws events start-replay` from this archive",
        )

    # -- alarms ------------------------------------------------------------------------------
    def _alarm(
        self,
        construct_id: str,
        name: str,
        metric: cloudwatch.IMetric,
        what: str,
        threshold: float = 1,
        evaluation_periods: int = 1,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{self.alarm_prefix}{name}",
            alarm_description=what,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # No data means no message and no execution: nothing is wrong.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)

    def _dead_letter_alarm(self, queue: sqs.IQueue) -> None:
        label = _label(queue)
        self._alarm(
            f"{label}Depth",
            f"dlq-{label}",
            queue.metric_approximate_number_of_messages_visible(
                period=ALARM_PERIOD, statistic="Maximum"
            ),
            f"Messages are waiting in the dead-letter queue {label}: events that could not be "
            f"delivered or processed. Read them, fix the cause, then re-drive ({RUNBOOK}).",
        )

    def _undeliverable_alarm(self, rule: events.CfnRule) -> None:
        short = str(rule.name).removeprefix(self.alarm_prefix)
        self._alarm(
            f"{_label(rule)}DeadLetterSendFailed",
            f"dlq-send-failed-{short}",
            cloudwatch.Metric(
                namespace="AWS/Events",
                metric_name="InvocationsFailedToBeSentToDlq",
                # Rules on a custom or partner bus publish with both dimensions, on the default
                # bus with RuleName only.
                dimensions_map={"RuleName": rule.name}
                if rule.event_bus_name == "default"
                else {"EventBusName": rule.event_bus_name, "RuleName": rule.name},
                period=ALARM_PERIOD,
                statistic="Sum",
            ),
            f"Rule {rule.name} could not put failed deliveries into its dead-letter queue: those "
            f"events are only in the archive now. Replay them from there ({RUNBOOK}).",
        )

    def _execution_alarms(self, machine: sfn.StateMachine) -> None:
        label = _label(machine)
        self._alarm(
            f"{label}Failed",
            f"failed-{label}",
            machine.metric_failed(period=ALARM_PERIOD, statistic="Sum"),
            f"Executions of {label} failed. Their error path released the idempotency claim "
            "(check: a failure outside it leaves the claim); fix the cause, then replay the event "
            f"from the archive ({RUNBOOK}).",
        )
        self._alarm(
            f"{label}TimedOut",
            f"timed-out-{label}",
            machine.metric_timed_out(period=ALARM_PERIOD, statistic="Sum"),
            f"Executions of {label} timed out; their claims may still be IN_PROGRESS. Check the "
            f"execution history before replaying ({RUNBOOK}).",
        )

    def _allow_cloudwatch(self, topic: sns.ITopic) -> None:
        """CloudWatch publishes alarm notifications as a service: the topic policy and, for an
        encrypted topic, the key policy must let it (the AWS managed SNS key never would)."""
        stack = Stack.of(self)
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        of_this_stacks_alarms = {
            "ArnLike": {
                "aws:SourceArn": stack.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name=f"{self.alarm_prefix}*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            },
            "StringEquals": {"aws:SourceAccount": stack.account},
        }
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisStackPublish",
                principals=[cloudwatch_principal],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=of_this_stacks_alarms,
            )
        )
        key = getattr(topic, "master_key", None)
        if key is not None:
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="CloudWatchAlarmsUseTheTopicKey",
                    principals=[cloudwatch_principal],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],  # in a key policy "*" means this key
                    conditions=of_this_stacks_alarms,
                )
            )


def _dead_letter_queues(stack: Stack, constructs: list[IConstruct]) -> list[sqs.IQueue]:
    """Queues that are some rule target's or some queue's dead-letter queue, in tree order."""
    queues = [c for c in constructs if isinstance(c, sqs.Queue)]
    by_arn = {_key(stack, q.queue_arn): q for q in queues}
    wanted: set[str] = set()
    for construct in constructs:
        if isinstance(construct, events.CfnRule):
            for target in _as_list(construct.targets):
                config = getattr(target, "dead_letter_config", None)
                if config is not None and getattr(config, "arn", None):
                    wanted.add(_key(stack, config.arn))
        elif isinstance(construct, sqs.Queue) and construct.dead_letter_queue is not None:
            wanted.add(_key(stack, construct.dead_letter_queue.queue.queue_arn))
        elif isinstance(construct, sns.CfnSubscription) and construct.redrive_policy:
            # An SNS subscription's redrive policy: {"deadLetterTargetArn": <queue ARN>}.
            wanted.add(_key(stack, stack.resolve(construct.redrive_policy)["deadLetterTargetArn"]))
    unknown = wanted - by_arn.keys()
    if unknown:
        raise ValueError(f"dead-letter queues not built in this stack: {sorted(unknown)}")
    return [q for q in queues if _key(stack, q.queue_arn) in wanted]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _key(stack: Stack, value: str) -> str:
    return repr(stack.resolve(value))


def _label(construct: IConstruct) -> str:
    """'Notifications/ChatDeadLetters' -> 'NotificationsChatDeadLetters' (readable, stable)."""
    parts = [p for p in construct.node.path.split("/")[1:] if p not in ("StateMachine", "Resource")]
    return re.sub(r"[^A-Za-z0-9]", "", "".join(parts))
