"""core/direct_client.py (sfn.direct_calls, the pipes' receives): a call skips
botocore's request pipeline but answers exactly as the client does, errors included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError
from executions import ended
from moto import mock_aws

from payops.localaws.core.account import REGION
from payops.localaws.core.direct_client import DirectClient, direct


def _table() -> Any:
    """The DynamoDB client, with the table "direct" (key pk) created."""
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName="direct",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield _table()


def _without_request_ids(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def test_answers_equal_the_clients_binary_and_numbers_included(dynamodb: Any) -> None:
    fast = direct(dynamodb)
    assert isinstance(fast, DirectClient)
    item = {"pk": {"S": "a"}, "n": {"N": "1.50"}, "blob": {"B": b"\x00\xffbytes"}}
    for client, key in ((dynamodb, "via-client"), (fast, "direct")):
        client.put_item(TableName="direct", Item={**item, "pk": {"S": key}})
    got = {
        key: _without_request_ids(client.get_item(TableName="direct", Key={"pk": {"S": key}}))
        for client, key in ((dynamodb, "via-client"), (fast, "direct"))
    }
    assert got["direct"]["Item"]["blob"] == {"B": b"\x00\xffbytes"}  # blobs decoded, as botocore
    assert got["direct"]["Item"] == {**got["via-client"]["Item"], "pk": {"S": "direct"}}
    updated = {
        key: client.update_item(
            TableName="direct",
            Key={"pk": {"S": key}},
            UpdateExpression="SET n = n + :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )
        for client, key in ((dynamodb, "via-client"), (fast, "direct"))
    }
    assert updated["direct"]["Attributes"]["n"] == updated["via-client"]["Attributes"]["n"]
    updated = updated["direct"]
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert updated["ResponseMetadata"]["RequestId"]  # the error cause names it


def test_errors_are_the_clients_modeled_exceptions(dynamodb: Any) -> None:
    fast = direct(dynamodb)
    dynamodb.put_item(TableName="direct", Item={"pk": {"S": "taken"}})
    raised = {}
    for label, client in (("client", dynamodb), ("direct", fast)):
        with pytest.raises(ClientError) as caught:
            client.put_item(
                TableName="direct",
                Item={"pk": {"S": "taken"}},
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        raised[label] = caught.value
    assert type(raised["direct"]) is type(raised["client"])
    assert type(raised["direct"]).__name__ == "ConditionalCheckFailedException"
    assert raised["direct"].response["Error"] == raised["client"].response["Error"]
    assert raised["direct"].response["Item"] == {"pk": {"S": "taken"}}
    assert raised["direct"].response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as missing:
        fast.get_item(TableName="no-such-table", Key={"pk": {"S": "x"}})
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_http_client_is_not_used_and_other_protocols_keep_it(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = direct(dynamodb)
    sent: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
        sent.append(operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    fast.put_item(TableName="direct", Item={"pk": {"S": "quiet"}})
    assert sent == []
    assert fast.meta is dynamodb.meta and fast.exceptions is dynamodb.exceptions
    s3 = boto3.client("s3", region_name=REGION)  # REST-XML: left to botocore
    assert direct(s3) is s3


def test_query_and_rest_json_services_answer_as_their_clients() -> None:
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)  # query protocol (XML answers)
        topic = direct(sns).create_topic(Name="direct")["TopicArn"]
        assert topic == sns.create_topic(Name="direct")["TopicArn"]
        published = direct(sns).publish(TopicArn=topic, Message="hello", Subject="s")
        assert published["MessageId"] and published["ResponseMetadata"]["HTTPStatusCode"] == 200
        with pytest.raises(sns.exceptions.NotFoundException):
            direct(sns).publish(TopicArn=topic + "-gone", Message="x")
        sesv2 = boto3.client("sesv2", region_name=REGION)  # REST-JSON: path and query string
        direct(sesv2).create_email_identity(EmailIdentity="shop@example.com")
        listed = direct(sesv2).list_email_identities(PageSize=5)["EmailIdentities"]
        assert [i["IdentityName"] for i in listed] == ["shop@example.com"]
        assert listed == sesv2.list_email_identities(PageSize=5)["EmailIdentities"]


def test_a_workflow_sees_the_same_outputs_and_error_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Step Functions DynamoDB integration through the installed speed-ups: a conditional
    put that fails is caught under DynamoDB.ConditionalCheckFailedException."""

    definition = {
        "StartAt": "Claim",
        "States": {
            "Claim": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {
                    "TableName": "direct",
                    "Item": {"pk": {"S.$": "$.id"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                },
                "Catch": [
                    {
                        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                        "ResultPath": "$.error",
                        "Next": "Taken",
                    }
                ],
                "ResultPath": "$.put",
                "End": True,
            },
            "Taken": {"Type": "Pass", "End": True},
        },
    }
    from payops.localaws.core import registry

    through_botocore: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            through_botocore.append(operation)
        return real(self, operation, params)

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        registry.install()
        try:
            _table()
            sfn = boto3.client("stepfunctions", region_name=REGION)
            monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
            machine = sfn.create_state_machine(
                name="direct",
                definition=json.dumps(definition),
                roleArn="arn:aws:iam::123456789012:role/r",
            )["stateMachineArn"]
            outputs = []
            for run in ("first", "second"):
                arn = sfn.start_execution(
                    stateMachineArn=machine, name=run, input=json.dumps({"id": "same"})
                )["executionArn"]
                done = ended(sfn, arn, within_s=10)
                assert done["status"] == "SUCCEEDED"
                outputs.append(json.loads(done["output"]))
        finally:
            registry.uninstall()
    assert through_botocore == []  # both Task calls went straight to moto's handler
    assert "error" not in outputs[0] and outputs[0]["put"] == {}
    assert outputs[1]["error"]["Error"] == "DynamoDB.ConditionalCheckFailedException"
    assert "Error Code: ConditionalCheckFailedException" in outputs[1]["error"]["Cause"]


def test_the_clients_own_parameter_and_after_call_hooks_still_run() -> None:
    """botocore's handlers that change a call's meaning run as for the client: IAM's policy
    documents come back decoded (after-call), idempotency tokens are filled in
    (before-parameter-build), and SQS errors keep their query-compatible codes."""
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        }
        iam.create_role(RoleName="direct", AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName="direct", PolicyName="p", PolicyDocument=json.dumps(trust))
        fast_iam = direct(iam)
        assert isinstance(fast_iam, DirectClient)
        got = fast_iam.get_role_policy(RoleName="direct", PolicyName="p")["PolicyDocument"]
        assert (
            got == trust == iam.get_role_policy(RoleName="direct", PolicyName="p")["PolicyDocument"]
        )
        assert fast_iam.get_role(RoleName="direct")["Role"]["AssumeRolePolicyDocument"] == trust

        secrets = boto3.client("secretsmanager", region_name=REGION)
        seen: list[dict[str, Any]] = []  # after botocore's own handlers
        secrets.meta.events.register_last(
            "before-parameter-build", lambda params, **_: seen.append(dict(params))
        )
        created = direct(secrets).create_secret(Name="direct", SecretString="x")
        token = seen[0].get("ClientRequestToken")
        assert token and created["VersionId"] == token  # moto keeps the token as the version

        sqs = boto3.client("sqs", region_name=REGION)
        codes = []
        for client in (sqs, direct(sqs)):
            with pytest.raises(ClientError) as missing:
                client.get_queue_url(QueueName="no-such-queue")
            codes.append(missing.value.response["Error"]["Code"])
        assert codes[0] == codes[1]
