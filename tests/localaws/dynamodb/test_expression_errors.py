"""dynamodb.expression_errors (services/dynamodb/expression_errors.py): an expression DynamoDB
refuses is a ValidationException naming what is wrong, where moto let a bare Python error out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from executions import ended
from moto import mock_aws

from payops.localaws.core.account import REGION
from payops.localaws.core.patch import restored
from payops.localaws.services.dynamodb import PATCHES

GAP = "ConditionExpressionParser.parse"


@pytest.fixture
def table() -> Iterator[Any]:
    with restored(PATCHES):
        PATCHES.install()
        with mock_aws():
            client = boto3.client("dynamodb", region_name=REGION)
            client.create_table(
                TableName="claims",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            yield client


CASES = {
    "syntax": (
        {"ConditionExpression": "pk = :v AND ?", "ExpressionAttributeValues": {":v": {"S": "x"}}},
        "Syntax error; Cannot parse condition starting at:?",
    ),
    "undefined value": (
        {
            "ConditionExpression": "attribute_not_exists(pk) OR lease_until < :now",
            "ExpressionAttributeValues": {":v": {"S": "x"}},
        },
        "An expression attribute value used in expression is not defined; attribute value: :now",
    ),
    "undefined name": (
        {"ConditionExpression": "#s <> :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
        "An expression attribute name used in the document path is not defined; attribute name: #s",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_condition_dynamodb_refuses_is_a_validation_error_naming_it(
    table: Any, case: str
) -> None:
    request, detail = CASES[case]
    with pytest.raises(table.exceptions.ClientError) as refused:
        table.put_item(TableName="claims", Item={"pk": {"S": "a"}}, **request)
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == f'Invalid expression "{request["ConditionExpression"]}": {detail}'
    assert "Item" not in table.get_item(TableName="claims", Key={"pk": {"S": "a"}})  # not written

    with PATCHES.lifted(GAP), pytest.raises((ValueError, KeyError)):  # moto: a bare Python error
        table.put_item(TableName="claims", Item={"pk": {"S": "a"}}, **request)


def test_a_query_filter_and_a_scan_filter_are_refused_the_same_way(table: Any) -> None:
    with pytest.raises(table.exceptions.ClientError) as query:
        table.query(
            TableName="claims",
            KeyConditionExpression="pk = :v",
            FilterExpression="attempts > :max",
            ExpressionAttributeValues={":v": {"S": "a"}},
        )
    assert query.value.response["Error"]["Code"] == "ValidationException"
    assert "attribute value: :max" in query.value.response["Error"]["Message"]
    with pytest.raises(table.exceptions.ClientError) as scan:
        table.scan(
            TableName="claims",
            FilterExpression="(attempts > :max",
            ExpressionAttributeValues={":max": {"N": "3"}},
        )
    assert scan.value.response["Error"]["Message"] == (  # moto's own Scan answer, around ours
        'Bad Filter Expression: Invalid expression "(attempts > :max": '
        "Syntax error; Unmatched ( at attempts > :max"
    )


def test_a_good_condition_still_decides_the_write(table: Any) -> None:
    claim = {
        "ConditionExpression": "attribute_not_exists(pk) OR #s <> :done",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":done": {"S": "done"}},
    }
    table.put_item(TableName="claims", Item={"pk": {"S": "b"}, "status": {"S": "done"}}, **claim)
    with pytest.raises(table.exceptions.ConditionalCheckFailedException):
        table.put_item(TableName="claims", Item={"pk": {"S": "b"}}, **claim)


def _claim_in_a_workflow() -> dict[str, Any]:
    """A Step Functions Task claiming with an undefined :now, its error caught: what it caught."""
    import json
    import time

    sfn = boto3.client("stepfunctions", region_name=REGION)
    claim = {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:putItem",
        "Parameters": {
            "TableName": "claims",
            "Item": {"pk": {"S": "a"}},
            "ConditionExpression": "attribute_not_exists(pk) OR lease_until < :now",
        },
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Told", "ResultPath": "$.error"}],
        "End": True,
    }
    definition = {
        "StartAt": "Claim",
        "States": {"Claim": claim, "Told": {"Type": "Pass", "End": True}},
    }
    machine = sfn.create_state_machine(
        name=f"claim-{time.monotonic_ns()}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/local-sfn",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    described = ended(sfn, execution)
    return json.loads(described.get("output") or "{}").get("error", {})


def test_a_workflow_task_gets_dynamodb_s_validation_error() -> None:
    from payops.localaws.core import registry

    with restored(registry):
        registry.install()  # the Step Functions interpreter runs the Task (the tests' usual state)
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            boto3.client("dynamodb", region_name=REGION).create_table(
                TableName="claims",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            caught = _claim_in_a_workflow()
            with PATCHES.lifted(GAP):
                plain = _claim_in_a_workflow()
    assert caught["Error"] == "DynamoDB.ValidationException"
    assert "attribute value: :now" in caught["Cause"]
    # moto: {"Error": "DynamoDB.AmazonDynamoDBException", "Cause": "':now'"}, its KeyError's text
    assert plain.get("Error") != "DynamoDB.ValidationException" and plain.get("Cause") == "':now'"
