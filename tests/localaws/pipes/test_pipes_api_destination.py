"""The Pipes bridge's SQS -> filter -> Express enrichment -> API destination path, and its input
templates, against the fake Slack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from test_pipes_bridge import queue_with_dlq

from payops.localaws.core.account import REGION
from payops.localaws.fakes.fake_partners import FakePartners
from payops.localaws.services import pipes as pipes_bridge
from payops.localaws.services.pipes.transform import TransformError, kept, render
from payops.localaws.services.stepfunctions import set_http_routes

# [] when the record says skip (Pipes then calls nothing), else the record itself, in an array.
ENRICH = {
    "StartAt": "First",
    "States": {
        "First": {"Type": "Pass", "InputPath": "$[0]", "Next": "Skip?"},
        "Skip?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.skip", "BooleanEquals": True, "Next": "Nothing"}],
            "Default": "Send",
        },
        "Nothing": {"Type": "Pass", "Result": [], "End": True},
        "Send": {
            "Type": "Pass",
            "Parameters": {"send.$": "States.Array($)"},
            "OutputPath": "$.send",
            "End": True,
        },
    },
}


class Pipe:
    name = "p"
    arn = "arn:aws:pipes:us-east-1:123456789012:pipe/p"
    source = "arn:aws:sqs:us-east-1:123456789012:q"
    enrichment = None
    target = "arn:aws:events:us-east-1:123456789012:api-destination/d/x"
    source_parameters: dict[str, Any] = {}


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        FakePartners() as fake,
    ):
        pipes_bridge.install()
        set_http_routes({"https://slack.com": f"{fake.url}/slack"})
        sqs = boto3.client("sqs", region_name=REGION)
        queue, dlq, queue_arn = queue_with_dlq(sqs, "chat")
        events = boto3.client("events", region_name=REGION)
        connection = events.create_connection(
            Name="slack",
            AuthorizationType="API_KEY",
            AuthParameters={
                "ApiKeyAuthParameters": {"ApiKeyName": "Authorization", "ApiKeyValue": "Bearer x"}
            },
        )["ConnectionArn"]
        destination = events.create_api_destination(
            Name="slack",
            ConnectionArn=connection,
            InvocationEndpoint="https://slack.com/api/chat.postMessage",
            HttpMethod="POST",
            InvocationRateLimitPerSecond=1,
        )["ApiDestinationArn"]
        machine = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name="enrich", definition=json.dumps(ENRICH),
            roleArn="arn:aws:iam::123456789012:role/sfn", type="EXPRESS",
        )["stateMachineArn"]  # fmt: skip
        boto3.client("pipes", region_name=REGION).create_pipe(
            Name="chat-pipe",
            RoleArn="arn:aws:iam::123456789012:role/pipe",
            Source=queue_arn["Attributes"]["QueueArn"],
            SourceParameters={
                "FilterCriteria": {
                    "Filters": [{"Pattern": json.dumps({"body": {"post": [True]}})}]
                },
                "SqsQueueParameters": {"BatchSize": 1},
            },
            Enrichment=machine,
            EnrichmentParameters={
                "InputTemplate": '{"text": "<$.body.text>", "skip": <$.body.skip>, '
                '"id": "<$.messageId>"}'
            },
            Target=destination,
            TargetParameters={"InputTemplate": '{"channel": "C1", "text": "<$.text>"}'},
        )
        yield {"sqs": sqs, "queue": queue, "dlq": dlq, "fake": fake}
        set_http_routes({})


def send(aws: dict[str, Any], **body: Any) -> None:
    aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(body))
    pipes_bridge.drain()


def depth(aws: dict[str, Any], queue: str) -> int:
    attrs = aws["sqs"].get_queue_attributes(
        QueueUrl=aws[queue], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def test_the_target_gets_the_enriched_text_intact_through_its_input_template(aws) -> None:
    text = 'Payment failed: ¥3,980 from "Yuki" \\ 高橋\nhttps://dashboard.stripe.com/events/evt_1'
    send(aws, post=True, skip=False, text=text)
    (call,) = aws["fake"].of("slack")
    assert call["body"] == {"channel": "C1", "text": text}
    assert call["authorized"] and call["path"] == "/api/chat.postMessage"
    assert depth(aws, "queue") == 0 and depth(aws, "dlq") == 0


def test_a_record_no_filter_keeps_is_deleted_and_calls_nothing(aws) -> None:
    send(aws, post=False, skip=False, text="not worth a post")
    assert aws["fake"].calls == []
    assert depth(aws, "queue") == 0 and depth(aws, "dlq") == 0


def test_an_empty_enrichment_response_calls_nothing(aws) -> None:
    send(aws, post=True, skip=True, text="already posted")
    assert aws["fake"].calls == []
    assert depth(aws, "queue") == 0 and depth(aws, "dlq") == 0


def test_a_refused_call_is_retried_then_dead_lettered(aws) -> None:
    aws["fake"].fail_next("slack", 500, times=10)
    send(aws, post=True, skip=False, text="the API is down")
    assert [c["status"] for c in aws["fake"].calls] == [500, 500]  # maxReceiveCount 2
    assert depth(aws, "queue") == 0 and depth(aws, "dlq") == 1


def test_a_call_that_fails_once_succeeds_on_the_redelivery(aws) -> None:
    aws["fake"].fail_next("slack", 503)
    send(aws, post=True, skip=False, text="try again")
    assert [c.get("status") for c in aws["fake"].calls] == [503, None]
    assert depth(aws, "queue") == 0 and depth(aws, "dlq") == 0


# ------------------------------------------------------------------------ input templates


def test_a_string_inside_quotes_is_escaped_and_an_object_outside_is_inserted_as_json() -> None:
    data = {"body": {"text": 'a "b"\nc', "detail": {"id": "evt_1", "n": 2}}}
    out = render('{"t": "say <$.body.text>", "d": <$.body.detail>}', data, Pipe())
    assert out == {"t": 'say a "b"\nc', "d": {"id": "evt_1", "n": 2}}


def test_a_free_text_template_inserts_strings_as_they_are() -> None:
    out = render("a=1&summary=<$.s>&n=<$.n>", {"s": "x%20y", "n": 3}, Pipe())
    assert out == "a=1&summary=x%20y&n=3"


def test_a_missing_path_is_null_outside_quotes_and_empty_inside() -> None:
    assert render('{"a": <$.nope>, "b": "<$.x.y>"}', {}, Pipe()) == {"a": None, "b": ""}


def test_reserved_variables_name_the_pipe() -> None:
    assert render("<aws.pipes.pipe-name> <aws.pipes.target-arn>", {}, Pipe()) == (
        f"p {Pipe.target}"
    )


def test_a_template_that_cannot_give_json_is_an_error_naming_the_pipe() -> None:
    with pytest.raises(TransformError, match="pipe p: input template gave invalid JSON"):
        render('{"a": <$.x>', {"x": 1}, Pipe())


def test_filters_read_a_json_body_parsed_and_keep_a_record_any_pattern_matches() -> None:
    pipe = Pipe()
    pipe.source_parameters = {
        "FilterCriteria": {
            "Filters": [
                {"Pattern": json.dumps({"body": {"detail-type": ["invoice.payment_failed"]}})},
                {"Pattern": json.dumps({"body": {"detail-type": ["charge.dispute.created"]}})},
            ]
        }
    }
    body = {"detail-type": "charge.dispute.created"}
    assert kept(pipe, {"body": json.dumps(body)})
    assert not kept(pipe, {"body": json.dumps({"detail-type": "charge.dispute.updated"})})
    assert not kept(pipe, {"body": "not json"})
    assert kept(Pipe(), {"body": "anything"})  # no filter keeps everything
