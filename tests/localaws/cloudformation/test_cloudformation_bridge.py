"""The CloudFormation bridges: each test shows the pinned moto's gap (bridge off) and the fix
(on)."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from payops.localaws.core import registry
from payops.localaws.core.account import ACCOUNT, REGION
from payops.localaws.core.conditions import condition_holds
from payops.localaws.core.moto_pin import MOTO_VERSION
from payops.localaws.core.patch import restored
from payops.localaws.services import cloudformation as bridge

ROLE_DOC = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "states.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
PASS_DEFINITION = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


class Aws:
    """boto3 clients inside one mock_aws, plus CloudFormation helpers."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)
        return self._clients[service]

    def create(self, resources: dict[str, Any], name: str = "S", **template: Any) -> dict:
        body = json.dumps({"Resources": resources, **template})
        self("cloudformation").create_stack(
            StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"]
        )
        return self.stack(name)

    def stack(self, name: str = "S") -> dict:
        return self("cloudformation").describe_stacks(StackName=name)["Stacks"][0]

    def physical(self, logical_id: str, name: str = "S") -> str:
        summaries = self("cloudformation").list_stack_resources(StackName=name)
        for summary in summaries["StackResourceSummaries"]:
            if summary["LogicalResourceId"] == logical_id:
                return summary["PhysicalResourceId"]
        raise KeyError(logical_id)

    def outputs(self, name: str = "S") -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.stack(name).get("Outputs") or []}


@contextlib.contextmanager
def local_aws(bridged: bool) -> Iterator[Aws]:
    """A fresh mock_aws with the CloudFormation bridge on or off (restored afterwards)."""
    with restored(bridge):
        (bridge.install if bridged else bridge.uninstall)()
        with (
            warnings.catch_warnings(),
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        ):
            if not bridged:
                warnings.simplefilter("ignore")  # moto warns about every type it skips
            yield Aws()


def sqs_queue(name: str | None = None) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": name} if name else {}}


def arn_of(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


# ---------------------------------------------------------------------------------------------
# Installing


def test_install_is_pinned_to_moto_5_2_5(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto, "__version__", "5.2.6")
    bridge.uninstall()
    with pytest.raises(RuntimeError, match=f"moto=={MOTO_VERSION}"):
        bridge.install()
    assert not bridge.is_installed()


def test_install_is_idempotent_and_uninstall_restores_moto() -> None:
    from moto.cloudformation import parsing
    from moto.events.models import EventBus

    bridge.uninstall()
    moto_lookup = parsing.resource_class_from_type
    bridge.install()
    bridge.install()
    assert parsing.resource_class_from_type is not moto_lookup
    assert hasattr(EventBus, "physical_resource_id")
    bridge.uninstall()
    assert parsing.resource_class_from_type is moto_lookup
    assert not hasattr(EventBus, "physical_resource_id")
    bridge.install()


def test_every_bridge_is_described() -> None:
    for resource_type in registry.resource_bridges():
        assert resource_type in registry.gaps(), resource_type
    assert all(isinstance(text, str) and text for text in registry.gaps().values())


# ---------------------------------------------------------------------------------------------
# Stack level: refusing what cannot be created, failures, Rules, parameters


def test_uncreatable_types_are_refused_naming_each_resource() -> None:
    # (an uncreatable type: GameLift; Scheduler is bridged since issue 16)
    resources = {
        "Schedule": {"Type": "AWS::GameLift::Fleet", "Properties": {}},
        "Queue": sqs_queue(),
    }
    with local_aws(bridged=False) as aws:  # gap: skipped, the stack still completes
        assert aws.create(resources)["StackStatus"] == "CREATE_COMPLETE"
        listed = aws("cloudformation").list_stack_resources(StackName="S")
        types = {s["ResourceType"] for s in listed["StackResourceSummaries"]}
        assert "AWS::GameLift::Fleet" not in types
    resources["Custom"] = {"Type": "Custom::Thing", "Properties": {"ServiceToken": "arn:x"}}
    with local_aws(bridged=True) as aws:
        with pytest.raises(ClientError) as error:
            aws.create(resources)
        message = error.value.response["Error"]["Message"]
        assert error.value.response["Error"]["Code"] == "ValidationError"
        assert "Schedule (AWS::GameLift::Fleet)" in message
        assert "Custom (Custom::Thing)" in message
        assert "Queue" not in message
        assert aws("sqs").list_queues().get("QueueUrls") is None  # nothing was created


def test_output_of_an_uncreatable_type_fails_cleanly() -> None:
    resources = {"Schedule": {"Type": "AWS::GameLift::Fleet", "Properties": {}}}
    outputs = {"Out": {"Value": arn_of("Schedule")}}
    with local_aws(bridged=False) as aws:  # gap: moto crashes on None.has_cfn_attr
        with pytest.raises(AttributeError):
            aws.create(resources, Outputs=outputs)
    with local_aws(bridged=True) as aws:
        with pytest.raises(ClientError, match="AWS::GameLift::Fleet"):
            aws.create(resources, Outputs=outputs)


def test_a_failing_resource_sets_create_failed_naming_it() -> None:
    resources = {
        "Queue": sqs_queue(),
        "Rule": {
            "Type": "AWS::Events::Rule",
            "Properties": {"EventBusName": "no-such-bus", "EventPattern": {"source": ["x"]}},
        },
    }
    outputs = {"QueueUrl": {"Value": {"Ref": "Queue"}}}
    with local_aws(bridged=False) as aws:  # gap: CreateStack itself errors, stack hangs
        with pytest.raises(Exception):  # noqa: B017 - moto even answers with a JSON body
            aws.create(resources, Outputs=outputs)
        assert aws.stack()["StackStatus"] == "CREATE_IN_PROGRESS"
    with local_aws(bridged=True) as aws:
        stack = aws.create(resources, Outputs=outputs)
        assert stack["StackStatus"] == "CREATE_FAILED"
        assert "Outputs" not in stack
        events = aws("cloudformation").describe_stack_events(StackName="S")["StackEvents"]
        failed = [e for e in events if e["LogicalResourceId"] == "Rule"]
        assert failed[0]["ResourceStatus"] == "CREATE_FAILED"
        assert failed[0]["ResourceType"] == "AWS::Events::Rule"
        assert "no-such-bus" in failed[0]["ResourceStatusReason"]
        # Listing shows what was created and does not try the rule again.
        listed = aws("cloudformation").list_stack_resources(StackName="S")
        assert [s["LogicalResourceId"] for s in listed["StackResourceSummaries"]] == ["Queue"]


def test_a_stack_created_from_a_change_set_has_its_outputs() -> None:
    template = json.dumps(
        {"Resources": {"Queue": sqs_queue("q")}, "Outputs": {"Url": {"Value": {"Ref": "Queue"}}}}
    )

    def create(aws: Aws) -> dict:
        cloudformation = aws("cloudformation")
        cloudformation.create_change_set(
            StackName="S", ChangeSetName="c1", TemplateBody=template, ChangeSetType="CREATE"
        )
        cloudformation.execute_change_set(ChangeSetName="c1", StackName="S")
        return aws.stack()

    with local_aws(bridged=False) as aws:  # gap: cdk bootstrap's CDKToolkit has no outputs
        stack = create(aws)
        assert stack["StackStatus"] == "CREATE_COMPLETE" and "Outputs" not in stack
    with local_aws(bridged=True) as aws:
        stack = create(aws)
        assert aws.outputs() == {"Url": aws("sqs").get_queue_url(QueueName="q")["QueueUrl"]}


def test_a_resource_failing_in_a_change_set_is_named() -> None:
    template = json.dumps(
        {
            "Resources": {
                "Rule": {
                    "Type": "AWS::Events::Rule",
                    "Properties": {
                        "EventBusName": "no-such-bus",
                        "EventPattern": {"source": ["x"]},
                    },
                }
            }
        }
    )
    with local_aws(bridged=True) as aws:
        cloudformation = aws("cloudformation")
        cloudformation.create_change_set(
            StackName="S", ChangeSetName="c1", TemplateBody=template, ChangeSetType="CREATE"
        )
        with pytest.raises(ClientError, match=r"Rule \(AWS::Events::Rule\).*no-such-bus"):
            cloudformation.execute_change_set(ChangeSetName="c1", StackName="S")
        events = cloudformation.describe_stack_events(StackName="S")["StackEvents"]
        assert any(
            e["LogicalResourceId"] == "Rule" and e["ResourceStatus"] == "CREATE_FAILED"
            for e in events
        )


CDK_RULES = {
    "CheckBootstrapVersion": {
        "Assertions": [
            {
                "Assert": {
                    "Fn::Not": [
                        {"Fn::Contains": [["1", "2", "3", "4", "5"], {"Ref": "BootstrapVersion"}]}
                    ]
                },
                "AssertDescription": "CDK bootstrap stack version 6 required.",
            }
        ]
    }
}
CDK_PARAMETERS = {
    "BootstrapVersion": {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/cdk-bootstrap/hnb659fds/version",
    }
}


@pytest.mark.parametrize("version,passes", [("5", False), ("6", True), ("33", True)])
def test_template_rules_are_evaluated(version: str, passes: bool) -> None:
    template = {"Parameters": CDK_PARAMETERS, "Rules": CDK_RULES}
    with local_aws(bridged=False) as aws:  # gap: Rules ignored
        aws("ssm").put_parameter(
            Name="/cdk-bootstrap/hnb659fds/version", Value=version, Type="String"
        )
        assert aws.create({"Queue": sqs_queue()}, **template)["StackStatus"] == "CREATE_COMPLETE"
    with local_aws(bridged=True) as aws:
        aws("ssm").put_parameter(
            Name="/cdk-bootstrap/hnb659fds/version", Value=version, Type="String"
        )
        if passes:
            assert (
                aws.create({"Queue": sqs_queue()}, **template)["StackStatus"] == "CREATE_COMPLETE"
            )
        else:
            with pytest.raises(ClientError, match="CDK bootstrap stack version 6 required"):
                aws.create({"Queue": sqs_queue()}, **template)


def test_missing_bootstrap_parameter_fails_like_cloudformation() -> None:
    with local_aws(bridged=False) as aws:  # gap: moto's own error, not CloudFormation's
        with pytest.raises(Exception) as error:
            aws.create({"Queue": sqs_queue()}, Parameters=CDK_PARAMETERS)
        assert "Unable to fetch parameters" not in str(error.value)
    with local_aws(bridged=True) as aws:
        with pytest.raises(ClientError) as error:
            aws.create({"Queue": sqs_queue()}, Parameters=CDK_PARAMETERS)
        assert error.value.response["Error"]["Code"] == "ValidationError"
        assert "Unable to fetch parameters [/cdk-bootstrap/hnb659fds/version]" in str(error.value)


def test_dynamic_references_are_resolved() -> None:
    resources = {
        "Plain": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": "/out/plain",
                "Type": "String",
                "Value": "{{resolve:ssm:/in/colour}}",
            },
        },
        "FromSecret": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": "/out/secret",
                "Type": "String",
                "Value": {
                    "Fn::Join": [
                        "",
                        ["Bearer ", "{{resolve:secretsmanager:app/key:SecretString:token}}"],
                    ]
                },
            },
        },
    }

    def prepare(aws: Aws) -> None:
        aws("ssm").put_parameter(Name="/in/colour", Value="green", Type="String")
        aws("secretsmanager").create_secret(
            Name="app/key", SecretString=json.dumps({"token": "t0k"})
        )

    def value(aws: Aws, name: str) -> str:
        return aws("ssm").get_parameter(Name=name)["Parameter"]["Value"]

    with local_aws(bridged=False) as aws:  # gap: the reference text itself is stored
        prepare(aws)
        aws.create(resources)
        assert value(aws, "/out/plain") == "{{resolve:ssm:/in/colour}}"
    with local_aws(bridged=True) as aws:
        prepare(aws)
        aws.create(resources)
        assert value(aws, "/out/plain") == "green"
        assert value(aws, "/out/secret") == "Bearer t0k"


def test_a_dynamic_reference_to_a_missing_secret_fails_the_resource() -> None:
    resources = {
        "P": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Type": "String", "Value": "{{resolve:secretsmanager:nope}}"},
        }
    }
    with local_aws(bridged=True) as aws:
        assert aws.create(resources)["StackStatus"] == "CREATE_FAILED"
        events = aws("cloudformation").describe_stack_events(StackName="S")["StackEvents"]
        reasons = [
            e.get("ResourceStatusReason", "") for e in events if e["LogicalResourceId"] == "P"
        ]
        assert "{{resolve:secretsmanager:nope}}" in reasons[0]


def test_cdk_metadata_is_accepted_and_creates_nothing() -> None:
    resources = {
        "CDKMetadata": {
            "Type": "AWS::CDK::Metadata",
            "Properties": {"Analytics": "v2:deflate64:x"},
        },
        "Queue": sqs_queue(),
    }
    with local_aws(bridged=True) as aws:
        assert aws.create(resources)["StackStatus"] == "CREATE_COMPLETE"
        assert aws.physical("CDKMetadata")
        assert bridge.creatable("AWS::CDK::Metadata")


# ---------------------------------------------------------------------------------------------
# EventBridge


def test_ref_to_an_event_bus_is_its_name() -> None:
    resources = {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "orders"}},
        "Rule": {
            "Type": "AWS::Events::Rule",
            "Properties": {"EventBusName": {"Ref": "Bus"}, "EventPattern": {"source": ["shop"]}},
        },
    }
    with local_aws(bridged=False) as aws:  # gap: Ref gives moto's object; the rule crashes
        with pytest.raises(Exception):  # noqa: B017 - whatever moto raises, it is not a stack
            aws.create(resources)
    with local_aws(bridged=True) as aws:
        assert aws.create(resources)["StackStatus"] == "CREATE_COMPLETE"
        assert aws.physical("Bus") == "orders"
        rules = aws("events").list_rules(EventBusName="orders")["Rules"]
        assert [r["Name"] for r in rules] == [aws.physical("Rule")]


def test_archive_takes_an_object_pattern_and_is_referable() -> None:
    resources = {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "orders"}},
        "Archive": {
            "Type": "AWS::Events::Archive",
            "Properties": {
                "SourceArn": arn_of("Bus"),
                "EventPattern": {"source": ["shop"]},
                "RetentionDays": 3,
            },
        },
    }
    outputs = {"Name": {"Value": {"Ref": "Archive"}}, "Arn": {"Value": arn_of("Archive")}}
    with local_aws(bridged=False) as aws:  # gap: the object pattern crashes moto
        with pytest.raises(Exception):  # noqa: B017
            aws.create(resources, Outputs=outputs)
    with local_aws(bridged=True) as aws:
        aws.create(resources, Outputs=outputs)
        name = aws.outputs()["Name"]
        assert len(name) <= 48
        archive = aws("events").describe_archive(ArchiveName=name)
        assert archive["ArchiveArn"] == aws.outputs()["Arn"]
        assert json.loads(archive["EventPattern"]) == {"source": ["shop"]}
        assert archive["RetentionDays"] == 3


CONNECTION = {
    "Connection": {
        "Type": "AWS::Events::Connection",
        "Properties": {
            "AuthorizationType": "API_KEY",
            "AuthParameters": {
                "ApiKeyAuthParameters": {
                    "ApiKeyName": "Authorization",
                    "ApiKeyValue": "Bearer {{resolve:secretsmanager:stripe/key}}",
                }
            },
        },
    },
    "Destination": {
        "Type": "AWS::Events::ApiDestination",
        "Properties": {
            "ConnectionArn": arn_of("Connection"),
            "InvocationEndpoint": "https://api.example.com/v1/coupons",
            "HttpMethod": "POST",
            "InvocationRateLimitPerSecond": 5,
        },
    },
}


def test_connection_and_api_destination_are_created() -> None:
    outputs = {
        "Connection": {"Value": arn_of("Connection")},
        "Dest": {"Value": arn_of("Destination")},
    }
    with local_aws(bridged=False) as aws:  # gap: both skipped
        aws("secretsmanager").create_secret(Name="stripe/key", SecretString="k")
        aws.create(CONNECTION)
        assert aws("events").list_connections()["Connections"] == []
        assert aws("events").list_api_destinations()["ApiDestinations"] == []
    with local_aws(bridged=True) as aws:
        aws("secretsmanager").create_secret(Name="stripe/key", SecretString="k")
        aws.create(CONNECTION, Outputs=outputs)
        connection = aws("events").describe_connection(Name=aws.physical("Connection"))
        assert connection["ConnectionArn"] == aws.outputs()["Connection"]
        assert connection["AuthorizationType"] == "API_KEY"
        api_key = connection["AuthParameters"]["ApiKeyAuthParameters"]
        assert api_key["ApiKeyName"] == "Authorization"
        assert "{{resolve" not in json.dumps(connection, default=str)
        destination = aws("events").describe_api_destination(Name=aws.physical("Destination"))
        assert destination["ApiDestinationArn"] == aws.outputs()["Dest"]
        assert destination["ConnectionArn"] == connection["ConnectionArn"]
        assert destination["HttpMethod"] == "POST"


# ---------------------------------------------------------------------------------------------
# SNS, SQS, S3 policies


SUBSCRIBED = {
    "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
    "Queue": sqs_queue("audit"),
    "ToQueue": {
        "Type": "AWS::SNS::Subscription",
        "Properties": {
            "TopicArn": {"Ref": "Topic"},
            "Protocol": "sqs",
            "Endpoint": arn_of("Queue"),
            "RawMessageDelivery": True,
            "FilterPolicy": {"kind": ["paid"]},
        },
    },
    "ToStaff": {
        "Type": "AWS::SNS::Subscription",
        "Properties": {
            "TopicArn": {"Ref": "Topic"},
            "Protocol": "email",
            "Endpoint": "ops@example.com",
        },
    },
}


def test_sns_subscriptions_are_created_with_their_attributes() -> None:
    with local_aws(bridged=False) as aws:  # gap: skipped
        aws.create(SUBSCRIBED)
        assert aws("sns").list_subscriptions()["Subscriptions"] == []
    with local_aws(bridged=True) as aws:
        aws.create(SUBSCRIBED)
        attributes = aws("sns").get_subscription_attributes(SubscriptionArn=aws.physical("ToQueue"))
        assert attributes["Attributes"]["Protocol"] == "sqs"
        assert attributes["Attributes"]["RawMessageDelivery"] == "true"
        assert json.loads(attributes["Attributes"]["FilterPolicy"]) == {"kind": ["paid"]}
        staff = aws("sns").get_subscription_attributes(SubscriptionArn=aws.physical("ToStaff"))
        assert staff["Attributes"]["Endpoint"] == "ops@example.com"
        # The subscription really delivers: raw, and only what the filter lets through.
        topic = aws.physical("Topic")
        aws("sns").publish(
            TopicArn=topic,
            Message="m1",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "paid"}},
        )
        aws("sns").publish(
            TopicArn=topic,
            Message="m2",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "refund"}},
        )
        url = aws.physical("Queue")
        bodies = [
            m["Body"]
            for m in aws("sqs")
            .receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            .get("Messages", [])
        ]
        assert bodies == ["m1"]


POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Events",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": "*",
        }
    ],
}


def test_topic_and_queue_policies_are_set() -> None:
    resources = {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Queue": sqs_queue("q"),
        "TopicPolicy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": POLICY},
        },
        "QueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": POLICY},
        },
    }

    def policies(aws: Aws) -> tuple[Any, Any]:
        topic = aws("sns").get_topic_attributes(TopicArn=aws.physical("Topic"))["Attributes"]
        queue = aws("sqs").get_queue_attributes(
            QueueUrl=aws.physical("Queue"), AttributeNames=["Policy"]
        )
        return json.loads(topic["Policy"]), queue.get("Attributes", {}).get("Policy")

    with local_aws(bridged=False) as aws:  # gap: both skipped
        aws.create(resources)
        topic_policy, queue_policy = policies(aws)
        assert topic_policy["Id"] == "__default_policy_ID" and queue_policy is None
    with local_aws(bridged=True) as aws:
        aws.create(resources)
        topic_policy, queue_policy = policies(aws)
        assert topic_policy == POLICY
        assert json.loads(queue_policy) == POLICY


ENFORCE_SSL = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::downloads", "arn:aws:s3:::downloads/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}


def test_bucket_policy_is_put_and_its_conditions_are_evaluated() -> None:
    resources = {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "downloads"}},
        "Policy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": ENFORCE_SSL},
        },
    }
    with local_aws(bridged=False) as aws:  # gap: skipped; put by hand, it denies everything
        aws.create(resources)
        with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
            aws("s3").get_bucket_policy(Bucket="downloads")
        aws("s3").put_bucket_policy(Bucket="downloads", Policy=json.dumps(ENFORCE_SSL))
        with pytest.raises(ClientError, match="AccessDenied|403"):
            aws("s3").put_object(Bucket="downloads", Key="k", Body=b"x")
    with local_aws(bridged=True) as aws:
        aws.create(resources)
        assert json.loads(aws("s3").get_bucket_policy(Bucket="downloads")["Policy"]) == ENFORCE_SSL
        aws("s3").put_object(Bucket="downloads", Key="k", Body=b"x")  # HTTPS stands in: allowed
        # A Deny whose condition does hold still denies.
        holding = json.loads(json.dumps(ENFORCE_SSL).replace('"false"', '"true"'))
        aws("s3").put_bucket_policy(Bucket="downloads", Policy=json.dumps(holding))
        with pytest.raises(ClientError, match="AccessDenied|403"):
            aws("s3").put_object(Bucket="downloads", Key="k2", Body=b"x")


@pytest.mark.parametrize(
    "condition,holds",
    [
        ({"Bool": {"aws:SecureTransport": "false"}}, False),
        ({"Bool": {"aws:SecureTransport": ["true"]}}, True),
        ({"NumericLessThan": {"s3:TlsVersion": "1.2"}}, False),
        ({"NumericGreaterThanEquals": {"s3:TlsVersion": 1.2}}, True),
        ({"StringEquals": {"aws:SourceVpce": "vpce-1"}}, False),
        ({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}, True),
        ({"Null": {"aws:SourceVpce": "true"}}, True),
        # A key the request does not carry: false, but true for a negated operator, IfExists
        # and ForAllValues (IAM's rules).
        ({"ForAnyValue:StringLike": {"aws:TagKeys": "x*"}}, False),
        ({"ForAllValues:StringLike": {"aws:TagKeys": "x*"}}, True),
        ({"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}, True),
        ({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*"}}, True),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*"}}, False),
        ({"StringEqualsIgnoreCase": {"aws:SecureTransport": "TRUE"}}, True),
        ({"StringNotEqualsIgnoreCase": {"aws:SecureTransport": "TRUE"}}, False),
        ({"NumericNotEquals": {"s3:TlsVersion": "1.3"}}, False),
    ],
)
def test_condition_evaluation(condition: dict[str, Any], holds: bool) -> None:
    assert condition_holds(condition) is holds


def test_an_operator_the_local_aws_does_not_evaluate_is_an_error_naming_it() -> None:
    """Never read as if the condition were not there (a Deny that silently stops applying)."""
    from payops.localaws.core.conditions import UnsupportedCondition

    with pytest.raises(UnsupportedCondition, match="'DateLessThan' is not evaluated"):
        condition_holds({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})
    with pytest.raises(UnsupportedCondition, match="'Sometimes:StringLike': unknown qualifier"):
        condition_holds({"Sometimes:StringLike": {"aws:TagKeys": "x*"}})
    arn = {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:123456789012:rule/*"}}
    context = {"aws:sourcearn": "arn:aws:events:us-east-1:123456789012:rule/r"}
    assert condition_holds(arn, context) and not condition_holds(arn, {"aws:sourcearn": "x"})


def test_bucket_properties_moto_ignores_are_applied() -> None:
    resources = {
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": "downloads",
                "VersioningConfiguration": {"Status": "Enabled"},
                "LifecycleConfiguration": {
                    "Rules": [{"Id": "expire", "Status": "Enabled", "ExpirationInDays": 7}]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
            },
        }
    }
    with local_aws(bridged=False) as aws:  # gap: only encryption and tags are applied
        aws.create(resources)
        assert "Status" not in aws("s3").get_bucket_versioning(Bucket="downloads")
    with local_aws(bridged=True) as aws:
        aws.create(resources)
        s3 = aws("s3")
        assert s3.get_bucket_versioning(Bucket="downloads")["Status"] == "Enabled"
        rules = s3.get_bucket_lifecycle_configuration(Bucket="downloads")["Rules"]
        assert [(r["ID"], r["Expiration"]["Days"]) for r in rules] == [("expire", 7)]
        block = s3.get_public_access_block(Bucket="downloads")["PublicAccessBlockConfiguration"]
        assert all(block.values())


# ---------------------------------------------------------------------------------------------
# Secrets, Lambda URL, alarms, SES, KMS, logs, IAM


def test_secrets_are_created_and_generated() -> None:
    resources = {
        "Given": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {"Name": "given", "SecretString": "v1"},
        },
        "Generated": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "Description": "generated",
                "GenerateSecretString": {
                    "SecretStringTemplate": json.dumps({"user": "shop"}),
                    "GenerateStringKey": "password",
                    "PasswordLength": 20,
                    "ExcludeCharacters": 'abc/@"',
                },
            },
        },
        "Bare": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {}}},
    }
    outputs = {"Arn": {"Value": {"Ref": "Generated"}}}
    with local_aws(bridged=False) as aws:  # gap: skipped
        aws.create(resources, Outputs=outputs)
        assert aws("secretsmanager").list_secrets()["SecretList"] == []
    with local_aws(bridged=True) as aws:
        aws.create(resources, Outputs=outputs)
        client = aws("secretsmanager")
        assert client.get_secret_value(SecretId="given")["SecretString"] == "v1"
        arn = aws.outputs()["Arn"]
        assert arn.startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:")
        generated = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
        assert generated["user"] == "shop"
        assert len(generated["password"]) == 20 and not set('abc/@"') & set(generated["password"])
        bare = client.get_secret_value(SecretId=aws.physical("Bare"))["SecretString"]
        assert len(bare) == 32


def test_generate_secret_string_needs_template_and_key_together() -> None:
    with local_aws(bridged=True) as aws:
        resources = {
            "S": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"GenerateSecretString": {"GenerateStringKey": "password"}},
            }
        }
        assert aws.create(resources)["StackStatus"] == "CREATE_FAILED"


FUNCTION = {
    "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": ROLE_DOC}},
    "Fn": {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.12",
            "Handler": "index.handler",
            "Role": arn_of("Role"),
            "Code": {"ZipFile": "def handler(event, context):\n    return event\n"},
            "Architectures": ["arm64"],
            "Timeout": 9,
        },
    },
}


def test_function_url_is_created() -> None:
    resources = {
        **FUNCTION,
        "Url": {
            "Type": "AWS::Lambda::Url",
            "Properties": {"AuthType": "NONE", "TargetFunctionArn": arn_of("Fn")},
        },
    }
    outputs = {"Url": {"Value": {"Fn::GetAtt": ["Url", "FunctionUrl"]}}}
    with local_aws(bridged=False) as aws:  # gap: skipped (and the output crashes moto)
        aws.create(resources)
        with pytest.raises(ClientError, match="ResourceNotFound"):
            aws("lambda").get_function_url_config(FunctionName=aws.physical("Fn"))
    with local_aws(bridged=True) as aws:
        aws.create(resources, Outputs=outputs)
        config = aws("lambda").get_function_url_config(FunctionName=aws.physical("Fn"))
        assert config["AuthType"] == "NONE"
        assert config["FunctionUrl"] == aws.outputs()["Url"]
        assert config["FunctionUrl"].startswith("https://")


def test_function_properties_moto_drops_are_kept() -> None:
    with local_aws(bridged=False) as aws:  # gap: architecture dropped
        aws.create(FUNCTION)
        config = aws("lambda").get_function(FunctionName=aws.physical("Fn"))["Configuration"]
        assert config["Architectures"] == ["x86_64"]
    with local_aws(bridged=True) as aws:
        aws.create(FUNCTION)
        config = aws("lambda").get_function(FunctionName=aws.physical("Fn"))["Configuration"]
        assert config["Architectures"] == ["arm64"]
        assert config["Timeout"] == 9


def test_alarms_are_created() -> None:
    resources = {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Alarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Namespace": "AWS/SQS",
                "Dimensions": [{"Name": "QueueName", "Value": "dlq"}],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "AlarmActions": [{"Ref": "Topic"}],
                "TreatMissingData": "notBreaching",
            },
        },
    }
    outputs = {"Arn": {"Value": arn_of("Alarm")}}
    with local_aws(bridged=False) as aws:  # gap: skipped
        aws.create(resources)
        assert aws("cloudwatch").describe_alarms()["MetricAlarms"] == []
    with local_aws(bridged=True) as aws:
        aws.create(resources, Outputs=outputs)
        (alarm,) = aws("cloudwatch").describe_alarms(AlarmNames=[aws.physical("Alarm")])[
            "MetricAlarms"
        ]
        assert alarm["AlarmArn"] == aws.outputs()["Arn"]
        assert alarm["AlarmActions"] == [aws.physical("Topic")]
        assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": "dlq"}]
        assert alarm["Threshold"] == 1.0 and alarm["TreatMissingData"] == "notBreaching"


def test_ses_identity_and_configuration_set_are_created() -> None:
    resources = {
        "Config": {"Type": "AWS::SES::ConfigurationSet", "Properties": {"Name": "payops"}},
        "Sender": {
            "Type": "AWS::SES::EmailIdentity",
            "Properties": {
                "EmailIdentity": "shop@example.com",
                "ConfigurationSetAttributes": {"ConfigurationSetName": {"Ref": "Config"}},
            },
        },
    }

    def send(aws: Aws) -> None:
        aws("sesv2").send_email(
            FromEmailAddress="shop@example.com",
            Destination={"ToAddresses": ["buyer@example.com"]},
            Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
        )

    with local_aws(bridged=False) as aws:  # gap: skipped, so SES refuses the sender
        aws.create(resources)
        with pytest.raises(ClientError, match="MessageRejected"):
            send(aws)
    with local_aws(bridged=True) as aws:
        aws.create(resources)
        aws("sesv2").get_configuration_set(ConfigurationSetName="payops")
        send(aws)


def test_kms_key_policy_is_stored_as_json() -> None:
    resources = {
        "Key": {
            "Type": "AWS::KMS::Key",
            "Properties": {"Description": "topics", "EnableKeyRotation": True, "KeyPolicy": POLICY},
        }
    }
    outputs = {"KeyId": {"Value": {"Fn::GetAtt": ["Key", "KeyId"]}}}
    with local_aws(bridged=False) as aws:  # gap: the policy object breaks DescribeKey
        aws.create(resources)
        with pytest.raises(TypeError):
            aws("kms").describe_key(KeyId=aws.physical("Key"))
    with local_aws(bridged=True) as aws:
        aws.create(resources, Outputs=outputs)
        key = aws("kms").describe_key(KeyId=aws.physical("Key"))["KeyMetadata"]
        assert key["KeyId"] == aws.outputs()["KeyId"] and key["Description"] == "topics"
        policy = aws("kms").get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
        assert json.loads(policy) == POLICY
        assert aws("kms").get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]


def test_log_group_arn_ends_with_a_wildcard() -> None:
    resources = {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "flow"}}}
    outputs = {"Arn": {"Value": arn_of("Logs")}}
    with local_aws(bridged=False) as aws:  # gap: IAM grants on the group miss its streams
        aws.create(resources, Outputs=outputs)
        assert aws.outputs()["Arn"].endswith(":log-group:flow")
    with local_aws(bridged=True) as aws:
        aws.create(resources, Outputs=outputs)
        described = aws("logs").describe_log_groups(logGroupNamePrefix="flow")["logGroups"][0]
        assert (
            aws.outputs()["Arn"]
            == described["arn"]
            == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:flow:*"
        )


def test_role_managed_policies_are_attached() -> None:
    resources = {
        "Custom": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
                }
            },
        },
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": ROLE_DOC,
                "ManagedPolicyArns": [
                    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                    {"Ref": "Custom"},
                ],
            },
        },
    }

    def attached(aws: Aws) -> set[str]:
        policies = aws("iam").list_attached_role_policies(RoleName=aws.physical("Role"))
        return {p["PolicyArn"] for p in policies["AttachedPolicies"]}

    with local_aws(bridged=False) as aws:  # gap: ManagedPolicyArns ignored
        aws.create(resources)
        assert attached(aws) == set()
    with local_aws(bridged=True) as aws:
        aws.create(resources)
        assert attached(aws) == {
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            aws.physical("Custom"),
        }


def test_unknown_managed_policy_fails_the_role() -> None:
    resources = {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": ROLE_DOC,
                "ManagedPolicyArns": ["arn:aws:iam::aws:policy/NoSuchPolicyAnywhere"],
            },
        }
    }
    with local_aws(bridged=True) as aws:
        assert aws.create(resources)["StackStatus"] == "CREATE_FAILED"


# ---------------------------------------------------------------------------------------------
# DynamoDB, Step Functions, FIFO names


def test_dynamodb_ttl_and_point_in_time_recovery_are_applied() -> None:
    resources = {
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": [{"AttributeName": "eventId", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "eventId", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
                "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            },
        }
    }

    def ttl(aws: Aws) -> dict[str, Any]:
        table = aws.physical("Table")
        return aws("dynamodb").describe_time_to_live(TableName=table)["TimeToLiveDescription"]

    with local_aws(bridged=False) as aws:  # gap: TTL ignored
        aws.create(resources)
        assert ttl(aws)["TimeToLiveStatus"] == "DISABLED"
    with local_aws(bridged=True) as aws:
        aws.create(resources)
        assert ttl(aws) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}
        backups = aws("dynamodb").describe_continuous_backups(TableName=aws.physical("Table"))
        pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


STATE_MACHINE = {
    "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": ROLE_DOC}},
    "Table": {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    },
    "Flow": {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "StateMachineType": "EXPRESS",
            "RoleArn": arn_of("Role"),
            "DefinitionString": {
                "Fn::Join": [
                    "",
                    [
                        '{"StartAt":"Put","States":{"Put":{"Type":"Task","Resource":'
                        '"arn:aws:states:::dynamodb:putItem","Parameters":{"TableName":"',
                        {"Ref": "Table"},
                        '","Item":{"pk":{"S.$":"$.id"},"by":{"S":"${Who}"}}},"End":true}}}',
                    ],
                ]
            },
            "DefinitionSubstitutions": {"Who": "payops"},
        },
    },
}


def test_state_machines_land_where_the_api_finds_them() -> None:
    with local_aws(bridged=False) as aws:  # gap: invisible under execute_state_machine
        aws.create(STATE_MACHINE)
        assert aws("stepfunctions").list_state_machines()["stateMachines"] == []
    with local_aws(bridged=True) as aws:
        aws.create(STATE_MACHINE)
        sfn = aws("stepfunctions")
        machine = sfn.describe_state_machine(stateMachineArn=aws.physical("Flow"))
        assert machine["type"] == "EXPRESS"
        definition = json.loads(machine["definition"])
        parameters = definition["States"]["Put"]["Parameters"]
        assert parameters["TableName"] == aws.physical("Table")
        assert parameters["Item"]["by"] == {"S": "payops"}
        # It runs: the put lands in the stack's table.
        arn = sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"], name="e1", input='{"id": "evt_1"}'
        )["executionArn"]
        for _ in range(200):
            status = sfn.describe_execution(executionArn=arn)["status"]
            if status != "RUNNING":
                break
            __import__("time").sleep(0.02)
        assert status == "SUCCEEDED"
        item = aws("dynamodb").get_item(TableName=aws.physical("Table"), Key={"pk": {"S": "evt_1"}})
        assert item["Item"]["by"] == {"S": "payops"}


def test_state_machine_definition_from_s3() -> None:
    resources = {
        "Role": STATE_MACHINE["Role"],
        "Flow": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "RoleArn": arn_of("Role"),
                "DefinitionS3Location": {"Bucket": "assets", "Key": "flow.asl.json"},
            },
        },
    }
    with local_aws(bridged=True) as aws:
        aws("s3").create_bucket(Bucket="assets")
        aws("s3").put_object(Bucket="assets", Key="flow.asl.json", Body=PASS_DEFINITION.encode())
        aws.create(resources)
        machine = aws("stepfunctions").describe_state_machine(stateMachineArn=aws.physical("Flow"))
        assert json.loads(machine["definition"]) == json.loads(PASS_DEFINITION)
        assert machine["type"] == "STANDARD"


def test_generated_fifo_names_end_in_fifo() -> None:
    resources = {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"FifoTopic": True}},
    }
    with local_aws(bridged=False) as aws:  # gap: moto's generated names lack .fifo
        with pytest.raises(ClientError):
            aws.create(resources)
    with local_aws(bridged=True) as aws:
        aws.create(resources)
        assert aws.physical("Queue").endswith(".fifo")
        assert aws.physical("Topic").endswith(".fifo")


def test_uncreatable_resources_lists_logical_ids_and_types() -> None:
    template = {
        "Resources": {
            "A": {"Type": "AWS::SQS::Queue"},
            "B": {"Type": "AWS::GameLift::Fleet"},
            "C": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
            "D": {"Type": "AWS::CDK::Metadata"},
        }
    }
    assert bridge.uncreatable_resources(template) == [
        ("B", "AWS::GameLift::Fleet"),
        ("C", "AWS::CloudFormation::WaitConditionHandle"),
    ]


def test_bridged_resources_follow_stack_updates_and_deletion() -> None:
    def template(kind: str, description: str) -> str:
        resources = {
            **{k: v for k, v in SUBSCRIBED.items() if k != "ToStaff"},
            "Secret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"Name": "s", "Description": description, "GenerateSecretString": {}},
            },
        }
        resources["ToQueue"] = json.loads(
            json.dumps(resources["ToQueue"]).replace('"paid"', json.dumps(kind))
        )
        return json.dumps({"Resources": resources})

    with local_aws(bridged=True) as aws:
        cloudformation, sns = aws("cloudformation"), aws("sns")
        cloudformation.create_stack(StackName="S", TemplateBody=template("paid", "one"))
        cloudformation.update_stack(StackName="S", TemplateBody=template("refund", "two"))
        assert aws.stack()["StackStatus"] == "UPDATE_COMPLETE"
        (subscription,) = sns.list_subscriptions()["Subscriptions"]
        attributes = sns.get_subscription_attributes(
            SubscriptionArn=subscription["SubscriptionArn"]
        )
        assert json.loads(attributes["Attributes"]["FilterPolicy"]) == {"kind": ["refund"]}
        assert aws("secretsmanager").describe_secret(SecretId="s")["Description"] == "two"
        cloudformation.delete_stack(StackName="S")
        assert sns.list_subscriptions()["Subscriptions"] == []
        assert aws("secretsmanager").list_secrets()["SecretList"] == []


def test_a_key_disabled_by_a_string_false_is_checked_as_disabled() -> None:
    """CloudFormation passes `Enabled: "false"` as a string: the bridge disables the key and the
    deploy check expects Disabled (a plain truth test read "false" as enabled)."""
    from payops.localaws.deploy import assert_deployed

    template = {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {"Enabled": "false"}}}}
    was_installed = registry.is_installed()
    with local_aws(bridged=True) as aws:
        registry.install()
        try:
            aws.create(template["Resources"])
            key = aws("kms").describe_key(KeyId=aws.physical("Key"))["KeyMetadata"]
            assert key["KeyState"] == "Disabled"
            assert set(assert_deployed(template, "S")) == {"Key"}
        finally:
            if not was_installed:
                registry.uninstall()


def test_the_deploy_check_reads_each_lifecycle_rules_prefix_and_days() -> None:
    """A rule applied to the wrong prefix (7-day expiry on every object instead of on the query
    results) is a difference the deploy check names."""
    from payops.localaws.deploy import DeployError, assert_deployed

    rules = [
        {"Id": "ExpireEvents", "Prefix": "events/", "ExpirationInDays": 1095, "Status": "Enabled"},
        {"Id": "ExpireResults", "Prefix": "results/", "ExpirationInDays": 7, "Status": "Enabled"},
        {"Id": "Abort", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
         "Status": "Enabled"},
    ]  # fmt: skip
    template = {
        "Resources": {
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"LifecycleConfiguration": {"Rules": rules}},
            }
        }
    }
    was_installed = registry.is_installed()
    with local_aws(bridged=True) as aws:
        registry.install()
        try:
            aws.create(template["Resources"])
            assert set(assert_deployed(template, "S")) == {"Bucket"}
            applied = aws("s3").get_bucket_lifecycle_configuration(Bucket=aws.physical("Bucket"))
            wrong = applied["Rules"]
            wrong[1]["Filter"] = {"Prefix": ""}
            aws("s3").put_bucket_lifecycle_configuration(
                Bucket=aws.physical("Bucket"), LifecycleConfiguration={"Rules": wrong}
            )
            with pytest.raises(DeployError, match="LifecycleConfiguration"):
                assert_deployed(template, "S")
        finally:
            if not was_installed:
                registry.uninstall()
