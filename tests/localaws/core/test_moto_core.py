"""moto's core speed-ups (core/moto_core.py): moto's answers, without its per-request scans."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from payops.localaws.core import moto_core
from payops.localaws.core.account import ACCOUNT, REGION
from payops.localaws.core.patch import restored

SPEEDUPS = moto_core.SERVICE.speedup_patches
assert SPEEDUPS is not None


@pytest.fixture
def core() -> Iterator[None]:
    with restored(SPEEDUPS):
        SPEEDUPS.install()
        with mock_aws():
            yield


def test_action_names_are_moto_s_listed_once_per_class_and_again_when_it_changes(
    core: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.core import responses, utils
    from moto.sqs.responses import SQSResponse

    listings = {"n": 0}
    getmembers = inspect.getmembers

    def counting(obj: Any, predicate: Any = None) -> Any:
        listings["n"] += 1
        return getmembers(obj, predicate)

    monkeypatch.setattr(inspect, "getmembers", counting)
    assert responses.method_names_from_class(SQSResponse) == utils.method_names_from_class(
        SQSResponse
    )
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.create_queue(QueueName="q0")  # the first request: Python adds __annotations__ to the class
    listings["n"] = 0
    for i in range(1, 5):
        sqs.create_queue(QueueName=f"q{i}")
    assert len(sqs.list_queues()["QueueUrls"]) == 5
    assert listings["n"] == 0  # five requests, the class already listed

    # A class that gains a function is listed again: the new action is found.
    def made_up_action(self: Any) -> str:
        return "{}"

    monkeypatch.setattr(SQSResponse, "made_up_action", made_up_action, raising=False)
    assert "made_up_action" in responses.method_names_from_class(SQSResponse)
    assert listings["n"] == 1
    monkeypatch.undo()
    assert "made_up_action" not in responses.method_names_from_class(SQSResponse)


def test_backend_lookups_are_moto_s_without_scanning_and_a_reset_still_empties(
    core: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.core.base_backend import BackendDict
    from moto.sqs.models import sqs_backends

    compared = {"n": 0}
    equals = BackendDict.__eq__

    def counting(self: Any, other: Any) -> bool:
        compared["n"] += 1
        return equals(self, other)

    monkeypatch.setattr(BackendDict, "__eq__", counting)
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.create_queue(QueueName="before-reset")
    first = sqs_backends[ACCOUNT]
    assert sqs_backends in BackendDict._instances  # registered by moto's own lookup
    compared["n"] = 0
    for _ in range(20):
        assert sqs_backends[ACCOUNT] is first
    assert compared["n"] == 0

    other = sqs_backends["111111111111"]  # an account not seen yet: moto's own code
    assert other is not first and sqs_backends["111111111111"] is other

    BackendDict.reset()  # what mock_aws does between tests
    assert sqs_backends not in BackendDict._instances and not dict(sqs_backends)
    fresh = sqs_backends[ACCOUNT]
    assert fresh is not first and sqs_backends in BackendDict._instances
    assert sqs.list_queues().get("QueueUrls") is None  # the reset's empty account answers

    # As moto's lookup does, any lookup after a reset puts the dict back in the reset list, even
    # of an account that arrived some other way (answered directly only once it is back).
    BackendDict.reset()
    dict.__setitem__(sqs_backends, ACCOUNT, fresh)
    assert sqs_backends[ACCOUNT] is fresh and sqs_backends in BackendDict._instances


def _prepared(method: str, url: str, headers: dict[str, Any], body: Any) -> Any:
    from botocore.awsrequest import AWSRequest

    return AWSRequest(method=method, url=url, headers=headers, data=body).prepare()


# Requests shaped as the in-process clients send them: JSON (bytes), query (text), REST-JSON
# with an encoded path and a query string, header values given as bytes, an S3 user-metadata
# header whose underscore moto preserves.
_REQUESTS = [
    (
        "POST",
        "https://dynamodb.us-east-1.amazonaws.com/",
        {"X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": "application/x-amz-json-1.0"},
        [b'{"TableName": "t", "Item": {"pk": {"S": "a"}}}', b'{"TableName": "t2"}'],
    ),
    (
        "POST",
        "https://sqs.us-east-1.amazonaws.com/",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        ["Action=ListQueues&Version=2012-11-05", "Action=ListQueues&QueueNamePrefix=%C3%A9"],
    ),
    (
        "POST",
        "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/f%3A1/invocations?Qualifier=x",
        {"X-Amz-Invocation-Type": b"RequestResponse", "x-amz-meta-my_key": "v"},
        [b'{"a": 1}', '{"é": "ü"}'],
    ),
]


def _environ(request: Any) -> dict[str, Any]:
    environ = dict(request.environ)
    assert environ.pop("werkzeug.request") is request
    environ["wsgi.input"] = request.get_data()
    return environ


@pytest.mark.parametrize(("method", "url", "headers", "bodies"), _REQUESTS)
def test_a_request_s_environ_is_moto_s_with_its_own_body(
    core: None, method: str, url: str, headers: dict[str, Any], bodies: list[Any]
) -> None:
    import io
    import sys

    from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY, normalize_request

    made = []
    for body in bodies * 2:  # the second of each (method, URL, headers) is copied
        stderr = sys.stderr
        sys.stderr = io.StringIO()  # EnvironBuilder reads it per request
        try:
            fast = normalize_request(_prepared(method, url, headers, body))
            with SPEEDUPS.lifted("Request.from_primitives"):
                plain = normalize_request(_prepared(method, url, headers, body))
        finally:
            sys.stderr = stderr
        assert _environ(fast) == _environ(plain)
        assert fast.get_data(as_text=True) == plain.get_data(as_text=True)
        assert list(fast.headers.items()) == list(plain.headers.items())
        assert (fast.url, fast.raw_url, fast.args, fast.content_length) == (
            plain.url,
            plain.raw_url,
            plain.args,
            plain.content_length,
        )
        made.append(fast)
    preserved = {id(r.environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY]) for r in made}
    assert len({id(r.environ) for r in made}) == len(preserved) == len(made)  # none shared


def test_requests_differing_only_in_url_or_headers_are_not_given_each_other_s_environ(
    core: None,
) -> None:
    from moto.core.request import normalize_request

    base, other = "https://sqs.us-east-1.amazonaws.com/", "https://sqs.us-east-1.amazonaws.com/q"
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    target = {**form, "X-Amz-Target": "AmazonSQS.X"}
    shapes = [("POST", base, form), ("POST", other, form), ("POST", base, target)]
    shapes.append(("PUT", base, form))
    for round_ in range(2):  # the second round is served from what the first kept
        for method, url, headers in shapes:
            body = f"Action=ListQueues&Round={round_}"
            fast = normalize_request(_prepared(method, url, headers, body))
            with SPEEDUPS.lifted("Request.from_primitives"):
                plain = normalize_request(_prepared(method, url, headers, body))
            assert _environ(fast) == _environ(plain), (method, url, headers)


def test_responses_are_moto_s_with_fewer_alias_providers(
    core: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Query/XML (CloudFormation with its Meta aliases, CloudWatch, SQS) and JSON (DynamoDB,
    EventBridge, Step Functions) responses, each served with the speed-up and without."""
    from moto.core import serialize

    made = {"n": 0}
    init = serialize.AttributeAliasProvider.__init__

    def counting(self: Any, context: Any) -> None:
        made["n"] += 1
        init(self, context)

    monkeypatch.setattr(serialize.AttributeAliasProvider, "__init__", counting)
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
    cloudformation.create_stack(StackName="s", TemplateBody=json.dumps(template))
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName="a", MetricName="m", Namespace="n", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="q", Attributes={"DelaySeconds": "2"})["QueueUrl"]
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )  # fmt: skip
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["x"]}))
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="m", roleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]  # fmt: skip
    calls = [
        lambda: cloudformation.describe_stacks(StackName="s"),
        lambda: cloudformation.describe_stack_resources(StackName="s"),
        lambda: cloudwatch.describe_alarms(AlarmNames=["a"]),
        lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]),
        lambda: dynamodb.describe_table(TableName="t"),
        lambda: events.list_rules(),
        lambda: sfn.describe_state_machine(stateMachineArn=machine),
    ]
    for round_ in range(2):  # the second round is served from what the first kept
        for call in calls:
            made["n"] = 0
            fast = call()
            fast_made = made["n"]
            with SPEEDUPS.lifted("AttributePicker.get_possible_keys"):
                made["n"] = 0
                plain = call()
                plain_made = made["n"]
            fast.pop("ResponseMetadata"), plain.pop("ResponseMetadata")
            assert fast == plain
            if round_:
                assert fast_made * 3 <= plain_made, (fast_made, plain_made)
    assert cloudformation.describe_stacks(StackName="s")["Stacks"][0]["StackStatus"]


def test_aliases_are_moto_s_for_each_class_parent_and_object_s_own_meta(core: None) -> None:
    """What each alias provider reads: the object's class name, the shape's parent (moto sets it
    as it walks a structure), and aliases of the object's own Meta, which are never kept."""
    from moto.core import serialize
    from moto.core.model import StructureShape
    from moto.core.utils import get_service_model

    model = get_service_model("cloudwatch")  # the model moto serializes with
    alarm = model.operation_model("DescribeAlarms").output_shape.members["MetricAlarms"].member
    name_shape = alarm.members["AlarmName"]
    parents = [alarm, StructureShape("Alarm", {"type": "structure", "members": {}})]

    class Alarm:
        name = "by class prefix"

    class Other:
        name = "not an alarm"

    class Own:
        pass

    own = Own()
    own.Meta = type("Meta", (), {"serialization_aliases": {"AlarmName": "label"}})
    own.label = "by its own alias"
    objects = [Alarm(), Other(), {"AlarmName": "from a dict"}, own, Own()]
    for picker in (serialize.AttributePicker(), serialize.XFormedAttributePicker()):
        for _ in range(2):
            for parent in parents:
                name_shape.parent = parent
                for obj in objects:
                    context = serialize.AttributePickerContext(
                        obj=obj, key="AlarmName", shape=name_shape
                    )
                    fast = (list(picker.get_possible_keys(context)), picker(context))
                    with SPEEDUPS.lifted("AttributePicker.get_possible_keys"):
                        plain = (list(picker.get_possible_keys(context)), picker(context))
                    assert fast == plain, (type(picker).__name__, parent.name, obj)
