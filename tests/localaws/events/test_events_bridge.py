"""The EventBridge bridges: each test shows the pinned moto's gap, then the bridged behaviour."""

from __future__ import annotations

import functools
import io
import json
import socket
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws

from payops.localaws.core.account import ACCOUNT, REGION
from payops.localaws.core.moto_pin import MOTO_VERSION
from payops.localaws.core.recorder import RECORDER
from payops.localaws.services import events as events_bridge

PARTNER = "aws.partner/stripe.com/ed_test_61LocalBridge"
SOURCE = "payops.test"


class Bridge:
    """Switch the events bridge off (plain moto) and on inside one test."""

    def off(self) -> None:
        events_bridge.uninstall()

    def on(self) -> None:
        events_bridge.install()


@pytest.fixture
def bridge() -> Iterator[Bridge]:
    was_installed = events_bridge.is_installed()
    events_bridge.install()
    yield Bridge()
    if was_installed:
        events_bridge.install()
    else:
        events_bridge.uninstall()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@functools.cache
def client(service: str) -> Any:
    """One client per service for the module (creating clients is the slow part of these tests)."""
    return boto3.client(service, region_name=REGION)


def queue(name: str) -> tuple[str, str]:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def messages(url: str, with_attributes: bool = False) -> list[dict[str, Any]]:
    response = client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    found = response.get("Messages", [])
    return found if with_attributes else [json.loads(m["Body"]) for m in found]


def rule(
    name: str,
    pattern: dict[str, Any],
    targets: list[dict[str, Any]],
    bus: str = "default",
    **kwargs: Any,
) -> str:
    events = client("events")
    arn = events.put_rule(Name=name, EventPattern=json.dumps(pattern), EventBusName=bus, **kwargs)[
        "RuleArn"
    ]
    events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    return arn


def put(
    detail: dict[str, Any],
    detail_type: str = "checkout.session.completed",
    bus: str = "default",
    source: str = SOURCE,
    **kwargs: Any,
) -> dict[str, Any]:
    entry = {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
        "EventBusName": bus,
        **kwargs,
    }
    return client("events").put_events(Entries=[entry])


SESSION = {
    "id": "evt_1",
    "data": {
        "object": {
            "id": "cs_1",
            "payment_status": "paid",
            "amount_total": 0,
            "line_items": [{"price": {"id": "price_gold"}, "quantity": 1}],
        }
    },
}
ANY_SOURCE = {"source": [SOURCE]}


# ---------------------------------------------------------------------------------------------
# 1. Matching and TestEventPattern


def test_matching_inside_arrays_of_objects(aws: None, bridge: Bridge) -> None:
    url, arn = queue("gold")
    pattern = {"detail": {"data": {"object": {"line_items": {"price": {"id": ["price_gold"]}}}}}}
    bridge.off()
    rule("gold", pattern, [{"Id": "q", "Arn": arn}])
    put(SESSION)
    assert messages(url) == []  # moto never looks inside arrays of objects
    bridge.on()
    mark = RECORDER.mark()
    event_id = put(SESSION)["Entries"][0]["EventId"]
    assert [m["detail"]["id"] for m in messages(url)] == ["evt_1"]
    assert [f.data for f in RECORDER.since(mark, "rule_matched")] == [
        {
            "bus": "default",
            "rule": "gold",
            "event_id": event_id,
            "detail_type": "checkout.session.completed",
            "source": SOURCE,
        }
    ]


def test_a_rules_pattern_is_compiled_once_and_a_new_pattern_replaces_it(
    aws: None, bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every rule on a bus sees every event: its pattern is compiled once (by its text), and
    PutRule with another pattern is what the rule matches from then on."""
    from payops import patterns

    url, arn = queue("compiled")
    compiled: list[Any] = []
    compile_pattern = patterns.compile_pattern

    def counting(pattern: Any, **kwargs: Any) -> Any:
        compiled.append(pattern)
        return compile_pattern(pattern, **kwargs)

    monkeypatch.setattr(patterns, "compile_pattern", counting)
    gold = {"detail": {"data": {"object": {"id": ["cs_gold_once"]}}}}
    rule("compiled", gold, [{"Id": "q", "Arn": arn}])
    compiled.clear()  # PutRule validated it; delivery is what is counted
    for _ in range(3):
        put({"id": "evt_c", "data": {"object": {"id": "cs_gold_once"}}})
    assert compiled == [gold] and len(messages(url)) == 3
    silver = {"detail": {"data": {"object": {"id": ["cs_silver_once"]}}}}
    client("events").put_rule(Name="compiled", EventPattern=json.dumps(silver))
    compiled.clear()
    put({"id": "evt_c", "data": {"object": {"id": "cs_gold_once"}}})
    put({"id": "evt_d", "data": {"object": {"id": "cs_silver_once"}}})
    assert compiled == [silver]
    assert [m["detail"]["id"] for m in messages(url)] == ["evt_d"]


def test_zero_is_not_false(aws: None, bridge: Bridge) -> None:
    url, arn = queue("free")
    bridge.off()
    rule(
        "unpaid",
        {"detail": {"data": {"object": {"amount_total": [False]}}}},
        [{"Id": "q", "Arn": arn}],
    )
    put(SESSION)
    assert len(messages(url)) == 1  # moto: 0 matches false
    bridge.on()
    put(SESSION)
    assert messages(url) == []


def test_misspelt_operators_are_rejected(aws: None, bridge: Bridge) -> None:
    bad = json.dumps({"source": [{"prefx": "payops"}]})
    bridge.off()
    client("events").put_rule(Name="typo", EventPattern=bad)  # moto accepts it (and matches all)
    bridge.on()
    with pytest.raises(ClientError) as caught:
        client("events").put_rule(Name="typo2", EventPattern=bad)
    assert caught.value.response["Error"]["Code"] == "InvalidEventPatternException"


def test_test_event_pattern_returns_a_result(aws: None, bridge: Bridge) -> None:
    event = {
        "id": "1",
        "account": ACCOUNT,
        "source": SOURCE,
        "time": "2026-11-01T00:00:00Z",
        "region": REGION,
        "resources": [],
        "detail-type": "x",
        "detail": SESSION,
    }
    pattern = {
        "detail": {"data": {"object": {"line_items": {"quantity": [{"numeric": [">", 0]}]}}}}
    }
    events = client("events")
    bridge.off()
    plain = events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))
    assert "Result" not in plain  # moto's stub
    bridge.on()
    call = events.test_event_pattern
    assert call(EventPattern=json.dumps(pattern), Event=json.dumps(event))["Result"] is True
    other = dict(event, detail={"data": {"object": {"line_items": [{"quantity": 0}]}}})
    assert call(EventPattern=json.dumps(pattern), Event=json.dumps(other))["Result"] is False
    with pytest.raises(ClientError, match="InvalidEventPattern"):
        call(EventPattern=json.dumps({"source": [{"suffx": "t"}]}), Event=json.dumps(event))
    with pytest.raises(ClientError, match="ValidationException"):
        call(EventPattern=json.dumps(pattern), Event=json.dumps({"detail": {}}))


# ---------------------------------------------------------------------------------------------
# 2. Delivery to SNS, Step Functions, Lambda and other buses


def test_sns_target_fans_out_raw_and_enveloped(aws: None, bridge: Bridge) -> None:
    sns = client("sns")
    topic = sns.create_topic(Name="paid")["TopicArn"]
    raw_url, raw_arn = queue("raw")
    env_url, env_arn = queue("enveloped")
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"}
    )
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=env_arn)
    rule("to-sns", ANY_SOURCE, [{"Id": "t", "Arn": topic}])
    bridge.off()
    with pytest.raises(NotImplementedError):
        put(SESSION)
    bridge.on()
    mark = RECORDER.mark()
    event_id = put(SESSION)["Entries"][0]["EventId"]
    raw = messages(raw_url)
    assert [(m["id"], m["detail"]) for m in raw] == [(event_id, SESSION)]
    assert raw[0]["account"] == ACCOUNT and raw[0]["time"].endswith("Z")
    (envelope,) = messages(env_url)
    assert envelope["Type"] == "Notification" and json.loads(envelope["Message"]) == raw[0]
    assert [f.data["target_kind"] for f in RECORDER.since(mark, "target_invoked")] == ["sns"]


def test_step_functions_target_starts_one_execution_per_rule(aws: None, bridge: Bridge) -> None:
    sfn = client("stepfunctions")
    role = client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = sfn.create_state_machine(
        name="fulfil",
        roleArn=role,
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    rule("a", ANY_SOURCE, [{"Id": "m", "Arn": machine, "RoleArn": role}])
    rule(
        "b",
        ANY_SOURCE,
        [{"Id": "m", "Arn": machine, "RoleArn": role, "InputPath": "$.detail.data.object"}],
    )
    bridge.off()
    with pytest.raises(NotImplementedError):
        put(SESSION)
    bridge.on()
    put(SESSION)
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(executions) == 2
    inputs = [
        json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
        for e in executions
    ]
    assert SESSION["data"]["object"] in inputs
    assert any(i.get("detail") == SESSION for i in inputs)


def test_lambda_target_runs_the_handler_in_process(aws: None, bridge: Bridge) -> None:
    url, _ = queue("lambda-out")
    handler = (
        "import json, os, boto3\n"
        "def handler(event, context):\n"
        "    sqs = boto3.client('sqs', region_name=os.environ['AWS_REGION'])\n"
        "    sqs.send_message(QueueUrl=os.environ['OUT'], MessageBody=json.dumps(event))\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", handler)
    role = client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    function = client("lambda").create_function(
        FunctionName="notify",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": buffer.getvalue()},
        Environment={"Variables": {"OUT": url}},
    )["FunctionArn"]
    rule("to-fn", ANY_SOURCE, [{"Id": "f", "Arn": function}])
    bridge.off()
    with pytest.raises(NotImplementedError):
        put(SESSION)
    bridge.on()
    mark = RECORDER.mark()
    put(SESSION)
    assert [m["detail"] for m in messages(url)] == [SESSION]
    assert RECORDER.since(mark, "lambda_invoked")[0].data == {"function": "notify", "error": None}


def test_bus_target_forwards_the_same_event(aws: None, bridge: Bridge) -> None:
    events = client("events")
    ops_bus = events.create_event_bus(Name="ops")["EventBusArn"]
    url, arn = queue("ops-queue")
    rule("forward", ANY_SOURCE, [{"Id": "b", "Arn": ops_bus}])
    rule("ops", ANY_SOURCE, [{"Id": "q", "Arn": arn}], bus="ops")
    resources = ["arn:aws:stripe:::checkout/cs_1"]
    bridge.off()
    sent = put(SESSION, Resources=resources)["Entries"][0]["EventId"]
    (plain,) = messages(url)
    assert plain["id"] != sent and plain["resources"] == []  # moto re-puts a stripped event
    bridge.on()
    sent = put(SESSION, Resources=resources)["Entries"][0]["EventId"]
    (forwarded,) = messages(url)
    assert (forwarded["id"], forwarded["resources"], forwarded["detail"]) == (
        sent,
        resources,
        SESSION,
    )


# ---------------------------------------------------------------------------------------------
# 3. Target input


def test_input_and_input_path_are_honoured(aws: None, bridge: Bridge) -> None:
    const_url, const_arn = queue("const")
    path_url, path_arn = queue("path")
    whole_url, whole_arn = queue("whole")
    rule(
        "inputs",
        ANY_SOURCE,
        [
            {"Id": "c", "Arn": const_arn, "Input": '{"fixed": true}'},
            {"Id": "p", "Arn": path_arn, "InputPath": "$.detail.data.object.line_items[0]"},
            {"Id": "w", "Arn": whole_arn},
        ],
    )
    bridge.off()
    put(SESSION)
    assert messages(const_url)[0] != {"fixed": True}  # moto ignores Input and InputPath
    assert "detail" in messages(path_url)[0]
    assert "account" not in messages(whole_url)[0]  # and its default drops `account`
    bridge.on()
    put(SESSION)
    assert messages(const_url) == [{"fixed": True}]
    assert messages(path_url) == [SESSION["data"]["object"]["line_items"][0]]
    (whole,) = messages(whole_url)
    assert list(whole) == [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ]


def test_input_transformer(aws: None, bridge: Bridge) -> None:
    json_url, json_arn = queue("json")
    text_url, text_arn = queue("text")
    event_url, event_arn = queue("event")
    paths = {
        "session": "$.detail.data.object.id",
        "status": "$.detail.data.object.payment_status",
        "items": "$.detail.data.object.line_items",
        "nothing": "$.detail.nope",
    }
    rule_arn = rule(
        "shape",
        ANY_SOURCE,
        [
            {
                "Id": "j",
                "Arn": json_arn,
                "InputTransformer": {
                    "InputPathsMap": paths,
                    "InputTemplate": '{"session": <session>, "items": <items>, "gone": <nothing>,'
                    ' "rule": <aws.events.rule-name>, "original": <aws.events.event.json>}',
                },
            },
            {
                "Id": "t",
                "Arn": text_arn,
                "InputTransformer": {
                    "InputPathsMap": paths,
                    "InputTemplate": '"session <session> is <status> (<aws.events.rule-arn>)"',
                },
            },
            {
                "Id": "e",
                "Arn": event_arn,
                "InputTransformer": {
                    "InputPathsMap": {},
                    "InputTemplate": '{"envelope": <aws.events.event>}',
                },
            },
        ],
    )
    bridge.off()
    with pytest.raises(json.JSONDecodeError):  # moto: no <aws.events.event>, no string templates
        put(SESSION)
    bridge.on()
    put(SESSION)
    (shaped,) = messages(json_url)
    assert (
        shaped["session"] == "cs_1" and shaped["items"] == SESSION["data"]["object"]["line_items"]
    )
    assert shaped["gone"] == "" and shaped["rule"] == "shape"
    assert shaped["original"]["detail"] == SESSION
    (text,) = client("sqs").receive_message(QueueUrl=text_url)["Messages"]
    assert text["Body"] == f'"session cs_1 is paid ({rule_arn})"'
    (envelope,) = messages(event_url)
    assert "detail" not in envelope["envelope"] and envelope["envelope"]["source"] == SOURCE


# ---------------------------------------------------------------------------------------------
# 4. Rule state


def test_a_disabled_rule_does_not_fire(aws: None, bridge: Bridge) -> None:
    url, arn = queue("off")
    rule("sleeping", ANY_SOURCE, [{"Id": "q", "Arn": arn}], State="DISABLED")
    bridge.off()
    put(SESSION)
    assert len(messages(url)) == 1  # moto fires it anyway
    bridge.on()
    put(SESSION)
    assert messages(url) == []
    client("events").enable_rule(Name="sleeping")
    put(SESSION)
    assert len(messages(url)) == 1


# ---------------------------------------------------------------------------------------------
# 5. Dead letters


def test_failed_deliveries_go_to_the_targets_dlq(aws: None, bridge: Bridge) -> None:
    dlq_url, dlq_arn = queue("dlq")
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:deleted-queue"
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:deleted"
    rule_arn = rule(
        "fragile",
        ANY_SOURCE,
        [
            {"Id": "q", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn}},
            {"Id": "m", "Arn": machine, "DeadLetterConfig": {"Arn": dlq_arn}},
            {"Id": "lost", "Arn": missing},
        ],
    )
    bridge.off()
    with pytest.raises(ClientError):  # moto fails the PutEvents call itself
        put(SESSION)
    bridge.on()
    mark = RECORDER.mark()
    response = put(SESSION)
    assert response["FailedEntryCount"] == 0  # delivery is asynchronous in AWS
    letters = messages(dlq_url, with_attributes=True)
    assert sorted(m["MessageAttributes"]["TARGET_ARN"]["StringValue"] for m in letters) == sorted(
        [missing, machine]
    )
    for letter in letters:
        attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
        assert attributes["RULE_ARN"] == rule_arn and attributes["ERROR_CODE"] == "NO_RESOURCE"
        assert attributes["ERROR_MESSAGE"] and attributes["RETRY_ATTEMPTS"] == "0"
        assert json.loads(letter["Body"])["id"] == response["Entries"][0]["EventId"]
    dlq_facts = [f.data for f in RECORDER.since(mark, "dlq")]
    assert sorted(f["target"] for f in dlq_facts) == sorted([missing, machine])
    assert all(f["queue"] == dlq_arn and f["rule"] == "fragile" for f in dlq_facts)
    assert len(RECORDER.since(mark, "target_failed")) == 3  # the one without a DLQ is dropped


# ---------------------------------------------------------------------------------------------
# 6. Partner buses and reserved sources


def test_partner_bus_is_created_with_its_event_source(aws: None, bridge: Bridge) -> None:
    events = client("events")
    bridge.off()
    with pytest.raises(ClientError, match="ResourceNotFound"):
        events.create_event_bus(Name=PARTNER, EventSourceName=PARTNER)
    bridge.on()
    bus_arn = events.create_event_bus(Name=PARTNER, EventSourceName=PARTNER)["EventBusArn"]
    assert bus_arn.endswith(f":event-bus/{PARTNER}")
    with pytest.raises(ClientError, match="must match"):
        events.create_event_bus(Name="aws.partner/stripe.com/ed_other", EventSourceName=PARTNER)


def test_partner_bus_found_by_name_or_arn_and_stripe_delivery(aws: None, bridge: Bridge) -> None:
    events = client("events")
    bridge.on()
    bus_arn = events.create_event_bus(Name=PARTNER, EventSourceName=PARTNER)["EventBusArn"]
    url, arn = queue("partner")
    bridge.off()
    with pytest.raises(ClientError, match="ResourceNotFound"):  # moto looks up "ed_..." only
        events.put_rule(Name="x", EventPattern="{}", EventBusName=PARTNER)
    bridge.on()
    rule(
        "by-name",
        {"source": [{"prefix": "aws.partner/stripe.com"}]},
        [{"Id": "q", "Arn": arn}],
        bus=PARTNER,
    )
    rule(
        "by-arn",
        {"source": [{"prefix": "aws.partner/stripe.com"}]},
        [{"Id": "q", "Arn": arn}],
        bus=bus_arn,
    )
    assert {r["Name"] for r in events.list_rules(EventBusName=bus_arn)["Rules"]} == {
        "by-name",
        "by-arn",
    }
    # Only the partner puts onto a partner bus: PutEvents refuses its name and its ARN, as AWS's
    # NonPartnerEventBusNameOrArn pattern does, for the whole request.
    for named in (PARTNER, bus_arn):
        with pytest.raises(ClientError) as refused:
            put(SESSION, bus=named, source=PARTNER)
        error = refused.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert error["Message"].startswith(
            f"1 validation error detected: Value '{named}' at 'entries.1.member.eventBusName' "
            "failed to satisfy constraint: Member must satisfy regular expression pattern: "
        )
    assert messages(url) == []
    entry = {"Source": PARTNER, "DetailType": "x", "Detail": json.dumps(SESSION)}
    delivered = events_bridge.deliver_partner_event(
        {**entry, "EventBusName": bus_arn}, ACCOUNT, REGION
    )
    assert delivered == "accepted"
    assert [m["source"] for m in messages(url)] == [PARTNER, PARTNER]
    events.put_partner_events(
        Entries=[{"Source": PARTNER, "DetailType": "x", "Detail": json.dumps(SESSION)}]
    )
    assert len(messages(url)) == 2


def test_aws_sources_are_reserved(aws: None, bridge: Bridge) -> None:
    events = client("events")
    events.create_event_bus(Name=PARTNER, EventSourceName=PARTNER)
    bridge.off()
    assert put(SESSION, source="aws.partner/stripe.com/ed_x")["FailedEntryCount"] == 0
    bridge.on()
    entries = [
        {"Source": PARTNER, "DetailType": "x", "Detail": "{}"},  # default bus
        {"Source": "aws.s3", "DetailType": "x", "Detail": "{}"},
        {"Source": SOURCE, "DetailType": "x", "Detail": "{}"},
    ]
    result = events.put_events(Entries=entries)
    codes = [e.get("ErrorCode") for e in result["Entries"]]
    assert codes == ["NotAuthorizedForSourceException", "NotAuthorizedForSourceException", None]
    assert result["FailedEntryCount"] == 2
    # On its own bus the partner's delivery may use its source, and no other aws.* source.
    on_partner_bus = {"DetailType": "x", "Detail": "{}", "EventBusName": PARTNER}
    deliver = events_bridge.deliver_partner_event
    assert deliver({**on_partner_bus, "Source": PARTNER}, ACCOUNT, REGION) == "accepted"
    assert deliver({**on_partner_bus, "Source": "aws.s3"}, ACCOUNT, REGION) == (
        "refused: Not authorized for the source."
    )


def test_cloudformation_partner_bus(aws: None, bridge: Bridge) -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.events.models import EventBus

    # What CloudFormation's create_stack calls for AWS::Events::EventBus (a whole stack is slow).
    properties = {"Properties": {"Name": PARTNER, "EventSourceName": PARTNER}}
    bridge.off()
    with pytest.raises(JsonRESTError, match="ResourceNotFound"):
        EventBus.create_from_cloudformation_json(PARTNER, properties, ACCOUNT, REGION)
    bridge.on()
    EventBus.create_from_cloudformation_json(PARTNER, properties, ACCOUNT, REGION)
    assert client("events").describe_event_bus(Name=PARTNER)["Name"] == PARTNER


# ---------------------------------------------------------------------------------------------
# Install


def test_install_is_pinned_idempotent_and_described(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.events.models import Rule

    patched = Rule.send_to_targets
    events_bridge.install()
    assert Rule.send_to_targets is patched
    assert all(
        isinstance(v, str) and v and "\n" not in v for v in events_bridge.targets.GAPS.values()
    )
    monkeypatch.setattr(moto, "__version__", "5.3.0")
    with pytest.raises(RuntimeError, match=f"moto=={MOTO_VERSION}"):
        events_bridge.install()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def test_works_under_threaded_moto_server(bridge: Bridge) -> None:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="localhost", port=port)
    server.start()
    endpoint = f"http://localhost:{port}"
    try:
        sns = boto3.client("sns", region_name=REGION, endpoint_url=endpoint)
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
        events = boto3.client("events", region_name=REGION, endpoint_url=endpoint)
        topic = sns.create_topic(Name="srv")["TopicArn"]
        url = sqs.create_queue(QueueName="srv")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
            Attributes={"RawMessageDelivery": "true"},
        )
        events.create_event_bus(Name=PARTNER, EventSourceName=PARTNER)
        events.put_rule(
            Name="srv",
            EventBusName=PARTNER,
            EventPattern=json.dumps(
                {"detail": {"data": {"object": {"line_items": {"price": {"id": ["price_gold"]}}}}}}
            ),
        )
        events.put_targets(Rule="srv", EventBusName=PARTNER, Targets=[{"Id": "t", "Arn": topic}])
        # The partner's own API (Stripe's side of the event destination) reaches its bus.
        events.put_partner_events(
            Entries=[{"Source": PARTNER, "DetailType": "x", "Detail": json.dumps(SESSION)}]
        )
        body = sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"]
        assert json.loads(body)["detail"] == SESSION
        result = events.test_event_pattern(
            EventPattern=json.dumps({"source": [PARTNER]}),
            Event=json.dumps(
                {
                    "id": "1",
                    "account": ACCOUNT,
                    "source": PARTNER,
                    "time": "t",
                    "region": REGION,
                    "resources": [],
                    "detail-type": "x",
                }
            ),
        )
        assert result["Result"] is True
    finally:
        requests.post(f"{endpoint}/moto-api/reset", timeout=5)
        server.stop()
