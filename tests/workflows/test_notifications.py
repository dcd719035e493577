"""Staff notifications, the SNS->SQS fan-out and the audit trail.

Notice messages are tested in test_notices.py (the notice workflow formats them). Audit: the
real `audit-record` state machine runs in moto, fed through the Pipes bridge from an SQS queue
subscribed to the raw-events topic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from conftest import FIXTURES, PARTNER_SOURCE, Synthesized, load_fixture
from harness import fresh_aws

from payops.asl import render
from payops.envelope import wrap
from payops.localaws.services import events as events_bridge
from payops.localaws.services import pipes as pipes_bridge
from payops.settings import Settings
from stacks.notifications import MAX_RECEIVE_COUNT

REGION = "us-east-1"
ACCOUNT = "123456789012"
DASHBOARD = Settings().stripe_dashboard_url  # the session templates use the default settings
EXPECTED_MATCHES = json.loads((FIXTURES / "expected_matches.json").read_text())
_TEMPLATES: dict[int, dict[str, Any]] = {}


def resources(synth: Synthesized, kind: str, prefix: str = "") -> dict[str, dict[str, Any]]:
    if id(synth) not in _TEMPLATES:  # Template.to_json() crosses into jsii: once per synthesis
        _TEMPLATES[id(synth)] = synth.json
    return {
        key: value
        for key, value in _TEMPLATES[id(synth)]["Resources"].items()
        if value["Type"] == kind and key.startswith(prefix)
    }


def rule_named(synth: Synthesized, name: str) -> dict[str, Any]:
    (rule,) = [
        r["Properties"]
        for r in resources(synth, "AWS::Events::Rule").values()
        if r["Properties"]["Name"].split("-", 1)[1] == name
    ]
    return rule


def ref(value: dict[str, Any]) -> str:
    """The logical id behind a Ref or Fn::GetAtt."""
    return value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]


def topic_target(synth: Synthesized, name: str) -> dict[str, Any]:
    """The rule's target that is one of our topics (other capabilities add their own)."""
    (target,) = [
        t for t in rule_named(synth, name)["Targets"] if ref(t["Arn"]).startswith("Notifications")
    ]
    return target


# ------------------------------------------------------------------------------ local AWS


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    """One local AWS for the module (starting moto per test costs ~1 s); tests drain what they
    read, and use their own names."""
    with fresh_aws("notifications", events_bridge):
        boto3.client("events", region_name=REGION).create_event_bus(
            Name=PARTNER_SOURCE, EventSourceName=PARTNER_SOURCE
        )
        yield


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def subscribed_queue(topic_arn: str, name: str) -> str:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    client("sns").subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    return url


def bodies(url: str) -> list[str]:
    found: list[str] = []
    while (
        batch := client("sqs")
        .receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        .get("Messages", [])
    ):
        found += [m["Body"] for m in batch]
        client("sqs").delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    return found


def deploy_rule(synth: Synthesized, name: str, arn_of: dict[str, str]) -> None:
    """The synthesized rule in moto, its targets pointed at the local resources."""
    rule = rule_named(synth, name)
    events = client("events")
    events.put_rule(
        Name=name, EventBusName=PARTNER_SOURCE, EventPattern=json.dumps(rule["EventPattern"])
    )
    targets = []
    for target in rule["Targets"]:
        if ref(target["Arn"]) not in arn_of:
            continue  # another capability's target
        local = {"Id": target["Id"], "Arn": arn_of[ref(target["Arn"])]}
        if "InputTransformer" in target:
            local["InputTransformer"] = target["InputTransformer"]
        targets.append(local)
    events.put_targets(Rule=name, EventBusName=PARTNER_SOURCE, Targets=targets)


def put(envelope: dict[str, Any]) -> None:
    """Stripe's delivery onto its partner bus (PutEvents refuses a partner bus name)."""
    from payops.localaws.services.events import deliver_partner_event

    entry = {
        "Source": envelope["source"],
        "DetailType": envelope["detail-type"],
        "Detail": json.dumps(envelope["detail"]),
        "EventBusName": PARTNER_SOURCE,
    }
    assert deliver_partner_event(entry, ACCOUNT, REGION) == "accepted"


# ------------------------------------------------------------------------------ topics


def test_topics_enforce_ssl_and_use_the_customer_managed_key(partner: Synthesized) -> None:
    topics = resources(partner, "AWS::SNS::Topic", "Notifications")
    assert len(topics) == 4  # orders, large orders, payment problems, raw payment activity
    (key_id,) = resources(partner, "AWS::KMS::Key", "Notifications")
    policies = resources(partner, "AWS::SNS::TopicPolicy", "Notifications").values()
    for topic_id, topic in topics.items():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
        (policy,) = [p for p in policies if p["Properties"]["Topics"] == [{"Ref": topic_id}]]
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert {
            "Effect": "Deny",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }.items() <= next(s for s in statements if s["Effect"] == "Deny").items()
        # CloudWatch may publish alarms to the staff alerts topic (stacks/operations.py).
        publishers = [
            s
            for s in statements
            if s["Effect"] == "Allow" and s["Principal"] != {"Service": "cloudwatch.amazonaws.com"}
        ]
        # Only rules publish through the topic policy (the raw-events fan-out); the notice
        # workflow publishes with its role.
        assert all(
            s["Principal"] == {"Service": "events.amazonaws.com"}
            # the rules of rules/*.json, and the workflow backstop on the alerts topic
            and all(
                arn["Fn::GetAtt"][0].startswith(("RulesRule", "BackstopRule"))
                for arn in _as_list(s["Condition"]["ArnEquals"]["aws:SourceArn"])
            )
            for s in publishers
        )
    key_policy = resources(partner, "AWS::KMS::Key")[key_id]["Properties"]["KeyPolicy"]
    assert any(
        s.get("Principal") == {"Service": "events.amazonaws.com"} for s in key_policy["Statement"]
    )


@pytest.fixture(scope="module")
def staffed() -> Synthesized:
    """One extra synthesis with staff emails and a test-mode dashboard URL set."""
    return Synthesized(
        "partner",
        staffEmails="ops@shop.example.jp, owner@shop.example.jp",
        stripeDashboardUrl="https://dashboard.stripe.com/test",
    )


def test_staff_email_subscriptions_come_from_settings(
    partner: Synthesized, staffed: Synthesized
) -> None:
    def email_subscriptions(synth: Synthesized) -> set[tuple[str, str]]:
        return {
            (ref(s["Properties"]["TopicArn"]), s["Properties"]["Endpoint"])
            for s in resources(synth, "AWS::SNS::Subscription").values()
            if s["Properties"]["Protocol"] == "email"
        }

    assert email_subscriptions(partner) == set()
    staff_topics = [
        key
        for key in resources(staffed, "AWS::SNS::Topic", "Notifications")
        if "PaymentActivity" not in key
    ]
    assert email_subscriptions(staffed) == {
        (topic, email)
        for topic in staff_topics
        for email in ("ops@shop.example.jp", "owner@shop.example.jp")
    }
    (formatter,) = resources(staffed, "AWS::Lambda::Function", "NotificationsFormatNotice").values()
    variables = formatter["Properties"]["Environment"]["Variables"]
    assert variables["DASHBOARD_URL"] == "https://dashboard.stripe.com/test"


# ------------------------------------------------------------------------------ fan-out


def test_fan_out_queues_each_have_a_dlq_and_accept_only_the_topic(partner: Synthesized) -> None:
    target = topic_target(partner, "payment-activity")
    topic_id = ref(target["Arn"])
    assert "InputTransformer" not in target and "Arn" in target["DeadLetterConfig"]
    subscriptions = [
        s["Properties"]
        for s in resources(partner, "AWS::SNS::Subscription").values()
        if ref(s["Properties"]["TopicArn"]) == topic_id
    ]
    assert len(subscriptions) == 3
    queues = resources(partner, "AWS::SQS::Queue")
    queue_policies = resources(partner, "AWS::SQS::QueuePolicy").values()
    dead_letters = set()
    for sub in subscriptions:
        assert sub["Protocol"] == "sqs" and sub["RawMessageDelivery"] is True
        queue_id = ref(sub["Endpoint"])
        redrive = queues[queue_id]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == MAX_RECEIVE_COUNT
        dead_letters.add(ref(redrive["deadLetterTargetArn"]))
        (policy,) = [p for p in queue_policies if p["Properties"]["Queues"] == [{"Ref": queue_id}]]
        allows = [
            s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
        ]
        assert allows == [{
            "Action": "sqs:SendMessage",
            "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": topic_id}}},
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
        }]  # fmt: skip
    assert len(dead_letters) == 3  # each consumer has its own DLQ


def test_audit_pipe_reads_the_audit_queue_into_an_express_workflow(partner: Synthesized) -> None:
    ((pipe_id, pipe),) = resources(partner, "AWS::Pipes::Pipe").items()
    props = pipe["Properties"]
    queue = resources(partner, "AWS::SQS::Queue")[ref(props["Source"])]
    assert "RedrivePolicy" in queue["Properties"]  # the pipe's DLQ is its queue's
    machine_id = ref(props["Target"])
    machine = resources(partner, "AWS::StepFunctions::StateMachine")[machine_id]
    assert machine["Properties"]["StateMachineType"] == "EXPRESS"
    assert props["TargetParameters"] == {
        "StepFunctionStateMachineParameters": {"InvocationType": "REQUEST_RESPONSE"}
    }
    assert props["SourceParameters"] == {"SqsQueueParameters": {"BatchSize": 1}}
    role_id = ref(props["RoleArn"])
    statements = [
        s
        for p in resources(partner, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert {json.dumps(s["Action"]) for s in statements} >= {'"states:StartSyncExecution"'}
    for statement in statements:
        target = ref(statement["Resource"])
        assert target in (ref(props["Source"]), machine_id), statement


# ------------------------------------------------------------------------------ audit trail


@pytest.fixture(scope="module")
def audit_machine(aws: None) -> str:
    """The audit table and workflow, as the stack makes them, in moto."""
    client("dynamodb").create_table(
        TableName="audit",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    machine = client("stepfunctions").create_state_machine(
        name="audit-record",
        definition=render("audit-record", {"AuditTable": "audit"}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/audit",
        type="EXPRESS",
    )["stateMachineArn"]
    return machine


@pytest.fixture
def audit(audit_machine: str) -> dict[str, str]:
    """The audit workflow with an empty table."""
    ddb = client("dynamodb")
    for item in ddb.scan(TableName="audit")["Items"]:
        ddb.delete_item(TableName="audit", Key={"pk": item["pk"]})
    return {"machine": audit_machine}


def run_audit(machine: str, *envelopes: dict[str, Any]) -> str:
    """One run with a Pipe-shaped batch of SQS records; returns the final status."""
    records = [{"messageId": str(i), "body": json.dumps(e)} for i, e in enumerate(envelopes)]
    sfn = client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=machine, name=f"a{time.monotonic_ns()}", input=json.dumps(records)
    )["executionArn"]
    deadline = time.monotonic() + 10
    while (run := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return run["status"]


def audit_items() -> dict[str, dict[str, Any]]:
    return {i["pk"]["S"]: i for i in client("dynamodb").scan(TableName="audit")["Items"]}


@pytest.mark.parametrize(
    ("fixture", "amount_field"),
    [
        ("checkout.session.completed.card-paid.json", "amount_total"),
        ("charge.refunded.json", "amount"),
        ("invoice.paid.jpy-5000.json", "total"),
        ("customer.subscription.created.incomplete.json", None),
    ],
)
def test_audit_record_of_a_payment_event(
    audit: dict[str, str], fixture: str, amount_field: str | None
) -> None:
    envelope = load_fixture(f"events/{fixture}")
    event, obj = envelope["detail"], envelope["detail"]["data"]["object"]
    assert run_audit(audit["machine"], envelope) == "SUCCEEDED"
    assert audit_items() == {
        event["id"]: {
            "pk": {"S": event["id"]},
            "type": {"S": event["type"]},
            "created": {"N": str(event["created"])},
            "objectId": {"S": obj["id"]},
            "objectType": {"S": obj["object"]},
            "amount": {"N": str(obj[amount_field])} if amount_field else {"NULL": True},
            "currency": {"S": obj["currency"]},
            "livemode": {"BOOL": event["livemode"]},
            "receivedAt": {"S": envelope["time"]},
        }
    }


def test_an_object_without_id_is_recorded_under_its_event_id(audit: dict[str, str]) -> None:
    """invoice.upcoming previews an invoice that has no id yet (real event, unchanged): the run
    must still succeed, keyed on the event id, with objectId NULL (no retry could give it one)."""
    stripe_event = load_fixture("real/stripe-sync-engine__invoice_upcoming.json")
    assert "id" not in stripe_event["data"]["object"]
    envelope = wrap(stripe_event, Settings.load({"ingress": "partner"}, env={}))
    assert run_audit(audit["machine"], envelope) == "SUCCEEDED"
    item = audit_items()[stripe_event["id"]]
    assert item["objectId"] == {"NULL": True}
    assert item["objectType"] == {"S": "invoice"}
    assert item["amount"] == {"N": str(stripe_event["data"]["object"]["total"])}
    # Redelivered, it keeps its first record like any other event.
    assert run_audit(audit["machine"], envelope) == "SUCCEEDED"
    assert list(audit_items()) == [stripe_event["id"]]


def test_the_same_event_twice_is_recorded_once(audit: dict[str, str]) -> None:
    first = load_fixture("events/charge.refunded.json")
    again = json.loads(json.dumps(first))
    again["id"], again["time"] = "b7a0a6f4-0000-4000-8000-000000000001", "2024-07-09T00:00:00Z"
    other = load_fixture("events/invoice.paid.jpy-5000.json")
    assert run_audit(audit["machine"], first) == "SUCCEEDED"
    assert run_audit(audit["machine"], again, other) == "SUCCEEDED"
    items = audit_items()
    assert sorted(items) == sorted([first["detail"]["id"], other["detail"]["id"]])
    assert items[first["detail"]["id"]]["receivedAt"] == {"S": first["time"]}  # the first kept


def test_payment_activity_fans_out_and_the_pipe_writes_the_audit_trail(
    audit: dict[str, str], partner: Synthesized
) -> None:
    sqs = client("sqs")
    topic_id = ref(topic_target(partner, "payment-activity")["Arn"])
    topic = client("sns").create_topic(Name=topic_id)["TopicArn"]
    urls = {}
    for name in ("chat", "ticket", "audit"):
        dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
        redrive = {
            "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
            "maxReceiveCount": MAX_RECEIVE_COUNT,
        }
        url = subscribed_queue(topic, name)
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(redrive)})
        urls[name], urls[f"{name}-dlq"] = url, dlq
    audit_arn = sqs.get_queue_attributes(QueueUrl=urls["audit"], AttributeNames=["QueueArn"])
    client("pipes").create_pipe(
        Name="audit",
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/pipe",
        Source=audit_arn["Attributes"]["QueueArn"],
        SourceParameters={"SqsQueueParameters": {"BatchSize": 1}},
        Target=audit["machine"],
        TargetParameters={
            "StepFunctionStateMachineParameters": {"InvocationType": "REQUEST_RESPONSE"}
        },
    )
    deploy_rule(partner, "payment-activity", {topic_id: topic})
    envelope = load_fixture("events/checkout.session.completed.card-paid.json")
    put(envelope)
    put(envelope)  # Stripe delivers at least once
    client("sns").publish(TopicArn=topic, Message="not an event")  # a poison message

    for name in ("chat", "ticket"):
        delivered = [json.loads(body) for body in bodies(urls[name]) if body != "not an event"]
        assert [e["detail"] for e in delivered] == [envelope["detail"]] * 2
    pipes_bridge.drain()
    assert list(audit_items()) == [envelope["detail"]["id"]]
    assert bodies(urls["audit"]) == []
    assert bodies(urls["audit-dlq"]) == ["not an event"]  # retried 5 times, then dead-lettered
