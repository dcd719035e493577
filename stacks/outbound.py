"""Chat posts and tickets: the Chat and Ticket fan-out queues -> Pipes -> API destinations.

Each consumer is one EventBridge Pipe: its filter keeps the events worth a post or a ticket, its
enrichment (the `outbound-message` Express workflow) claims the Stripe event and formats the text,
and its target is an API destination (Slack, Teams, Backlog or GitHub) whose input template
shapes the provider's request. The token or URL reaches AWS only through a Secrets Manager secret
the user creates and an EventBridge connection (see the README), never the template.

Why an enrichment and not just an input template: an input template cannot format an amount per
currency (¥4,800 but $12.50) nor leave out a null field, and the Stripe event's redeliveries need
a claim so that one event gives one post and one ticket. The enrichment reuses the staff notice
formatter (functions/notices), so no new Lambda.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import SecretValue, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from payops.settings import Settings
from stacks.idempotency import CLAIM_TTL_SECONDS, IdempotencyTable
from stacks.notifications import MAX_RECEIVE_COUNT
from stacks.workflow import Workflow

WHY = (
    "Express: a Pipes enrichment must be a synchronous Express workflow; one claim and one "
    "formatting call, within seconds; the claim makes at-least-once runs harmless"
)
SLACK_POST_MESSAGE = "https://slack.com/api/chat.postMessage"
GITHUB_API = "https://api.github.com"
# Slack allows about one message per second per channel; Teams Workflows, Backlog and GitHub take
# more, but a burst of tickets is better spread out too. Pipes keeps unsent messages in the queue.
RATE_LIMIT_PER_SECOND = {"slack": 1, "teams": 2, "backlog": 2, "github": 1}

_PAID = {"payment_status": ["paid"]}
# What is worth a chat post: paid orders (large ones read differently), failed payments, new
# disputes and refunds. Pipes filters on the SQS body, parsed as JSON (raw SNS delivery).
CHAT_FILTERS = (
    {
        "detail-type": ["checkout.session.completed", "checkout.session.async_payment_succeeded"],
        "detail": {"data": {"object": _PAID}},
    },
    {"detail-type": ["invoice.payment_failed", "checkout.session.async_payment_failed"]},
    {"detail-type": ["charge.dispute.created", "charge.refunded"]},
)
# What needs a person to act: failed payments, new disputes, and a subscription whose resources
# could not be created (the provisioning workflow refunds it with metadata reason
# provisioning_failed, and Stripe sends refund.created for that refund).
TICKET_FILTERS = (
    {"detail-type": ["invoice.payment_failed", "checkout.session.async_payment_failed"]},
    {"detail-type": ["charge.dispute.created"]},
    {
        "detail-type": ["refund.created"],
        "detail": {"data": {"object": {"metadata": {"reason": ["provisioning_failed"]}}}},
    },
)


@dataclass(frozen=True)
class Provider:
    """One API: where the pipe posts, how the connection authenticates, how the body looks."""

    name: str
    endpoint: str
    authorization: events.Authorization
    body: str  # the pipe target's input template, over the formatter's output
    headers: dict[str, str]
    query: dict[str, events.HttpParameter]


def _bearer(secret_name: str) -> events.Authorization:
    token = SecretValue.secrets_manager(secret_name)
    return events.Authorization.api_key(
        "Authorization", SecretValue(f"Bearer {token.unsafe_unwrap()}")
    )


def chat_provider(settings: Settings) -> Provider | None:
    name, secret = settings.chat_provider, settings.chat_secret_name
    if name == "slack":
        # chat.postMessage with a bot token (xoxb-...), scope chat:write, bot in the channel.
        body = {"channel": settings.slack_channel, "text": "<$.text>", "unfurl_links": False}
        return Provider(name, SLACK_POST_MESSAGE, _bearer(secret), json.dumps(body), {}, {})
    if name == "teams":
        # A Teams Workflows webhook URL carries its credential in the `sig` query parameter: the
        # secret holds {"endpoint": URL without sig, "sig": ...}; only the connection sees sig.
        # Connections need an authorization; the Workflow reads only `sig` and ignores this one.
        sig = SecretValue.secrets_manager(secret, json_field="sig")
        card = {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4",
            "body": [{"type": "TextBlock", "text": "<$.text>", "wrap": True}],
        }
        body = {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            ],
        }
        return Provider(
            name,
            SecretValue.secrets_manager(secret, json_field="endpoint").unsafe_unwrap(),
            events.Authorization.api_key("X-Payops-Webhook", sig),
            json.dumps(body),
            {},
            {"sig": events.HttpParameter.from_secret(sig)},
        )
    return None


def ticket_provider(settings: Settings) -> Provider | None:
    name, secret = settings.ticket_provider, settings.ticket_secret_name
    if name == "backlog":
        # POST /api/v2/issues takes a form (application/x-www-form-urlencoded) and the API key as
        # the apiKey query parameter; the formatter URL-encodes the text (titleForm, bodyForm).
        key = SecretValue.secrets_manager(secret)
        form = (
            f"projectId={settings.backlog_project_id}"
            f"&issueTypeId={settings.backlog_issue_type_id}"
            f"&priorityId={settings.backlog_priority_id}"
            "&summary=<$.titleForm>&description=<$.bodyForm>"
        )
        return Provider(
            name,
            f"{settings.backlog_space_url}/api/v2/issues",
            events.Authorization.api_key("X-Payops-Api-Key", key),  # Backlog reads apiKey only
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
            {"apiKey": events.HttpParameter.from_secret(key)},
        )
    if name == "github":
        # POST /repos/{owner}/{repo}/issues with a fine-grained token (Issues: read and write).
        body = {"title": "<$.title>", "body": "<$.body>", "labels": ["payops"]}
        return Provider(
            name,
            f"{GITHUB_API}/repos/{settings.github_repository}/issues",
            _bearer(secret),
            json.dumps(body),
            {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
            {},
        )
    return None


class Outbound(Construct):
    """Nothing at all unless `chatProvider` or `ticketProvider` is set."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        queues: dict[str, sqs.Queue],
        format_function: lambda_.IFunction,
        idempotency: IdempotencyTable,
    ) -> None:
        super().__init__(scope, construct_id)
        wanted = {
            "Chat": (chat_provider(settings), CHAT_FILTERS),
            "Ticket": (ticket_provider(settings), TICKET_FILTERS),
        }
        self.pipes: dict[str, pipes.CfnPipe] = {}
        if all(provider is None for provider, _ in wanted.values()):
            return
        self.workflow = Workflow(
            self,
            "Message",
            asl="outbound-message",
            kind="EXPRESS",
            why=WHY,
            substitutions={
                "IdempotencyTable": idempotency.table.table_name,
                "ClaimTtlSeconds": str(CLAIM_TTL_SECONDS),
                "FormatFunctionArn": format_function.function_arn,
                "LargeOrderThresholdJpy": str(settings.large_order_threshold_jpy),
                "MaxReceiveCount": str(MAX_RECEIVE_COUNT),
            },
        )
        idempotency.table.grant(self.workflow.role, "dynamodb:PutItem", "dynamodb:DeleteItem")
        # The unqualified ARN only (the ASL calls it so), not grant_invoke's "<arn>:*".
        self.workflow.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[format_function.function_arn]
            )
        )
        for consumer, (provider, filters) in wanted.items():
            if provider is not None:
                self.pipes[consumer] = self._pipe(consumer, provider, filters, queues[consumer])

    def _pipe(
        self, consumer: str, provider: Provider, filters: tuple[dict, ...], queue: sqs.Queue
    ) -> pipes.CfnPipe:
        connection = events.Connection(
            self,
            f"{consumer}Connection",
            description=f"{provider.name} for the {consumer.lower()} pipe (credential from "
            "Secrets Manager)",
            authorization=provider.authorization,
            query_string_parameters=provider.query or None,
        )
        destination = events.ApiDestination(
            self,
            f"{consumer}Destination",
            connection=connection,
            endpoint=provider.endpoint,
            http_method=events.HttpMethod.POST,
            rate_limit_per_second=RATE_LIMIT_PER_SECOND[provider.name],
            description=f"{provider.name}: one {consumer.lower()} per Stripe event",
        )
        role = iam.Role(
            self,
            f"{consumer}PipeRole",
            assumed_by=iam.ServicePrincipal(
                "pipes.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description=f"Lets the {consumer.lower()} pipe read its queue, run the enrichment "
            "and call its API destination",
        )
        queue.grant_consume_messages(role)
        self.workflow.state_machine.grant_start_sync_execution(role)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:InvokeApiDestination"], resources=[destination.api_destination_arn]
            )
        )
        enrichment_input = json.dumps(
            {
                "consumer": consumer.lower(),
                "messageId": "<$.messageId>",
                "receiveCount": "<$.attributes.ApproximateReceiveCount>",
                "event": "@event@",
            }
        ).replace('"@event@"', "<$.body.detail>")
        pipe = pipes.CfnPipe(
            self,
            f"{consumer}Pipe",
            description=f"Payment events from the {consumer.lower()} queue to {provider.name}",
            role_arn=role.role_arn,
            source=queue.queue_arn,
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                filter_criteria=pipes.CfnPipe.FilterCriteriaProperty(
                    filters=[
                        pipes.CfnPipe.FilterProperty(pattern=json.dumps({"body": f}))
                        for f in filters
                    ]
                ),
                # One message per batch: the enrichment reads one, and a message that keeps
                # failing reaches the queue's DLQ (alarmed by Operations) alone.
                sqs_queue_parameters=pipes.CfnPipe.PipeSourceSqsQueueParametersProperty(
                    batch_size=1
                ),
            ),
            enrichment=self.workflow.state_machine.state_machine_arn,
            enrichment_parameters=pipes.CfnPipe.PipeEnrichmentParametersProperty(
                input_template=enrichment_input
            ),
            target=destination.api_destination_arn,
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
                input_template=provider.body,
                http_parameters=pipes.CfnPipe.PipeTargetHttpParametersProperty(
                    header_parameters=provider.headers or None
                ),
            ),
        )
        pipe.node.add_dependency(role)
        return pipe
