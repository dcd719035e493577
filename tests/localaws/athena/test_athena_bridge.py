"""The Athena bridge: workgroup and named queries from CloudFormation; RecursiveDeleteOption
takes the named queries with the workgroup."""

from __future__ import annotations

import json

import boto3
import pytest

from payops.localaws.core.account import REGION


def template(recursive: bool) -> str:
    return json.dumps({
        "Resources": {
            "Group": {"Type": "AWS::Athena::WorkGroup", "Properties": {
                "Name": "analytics", "RecursiveDeleteOption": recursive,
                "WorkGroupConfiguration": {"ResultConfiguration": {
                    "OutputLocation": "s3://b/athena-results/"}}}},
            "Query": {"Type": "AWS::Athena::NamedQuery", "Properties": {
                "Name": "mrr", "Database": "shop", "QueryString": "SELECT 1",
                "WorkGroup": {"Ref": "Group"}}},
        },
        "Outputs": {"Id": {"Value": {"Ref": "Query"}}},
    })  # fmt: skip


@pytest.fixture
def cfn(bridged: None):
    return boto3.client("cloudformation", region_name=REGION)


def test_cloudformation_creates_the_workgroup_and_its_named_query(cfn) -> None:
    cfn.create_stack(StackName="s", TemplateBody=template(True))
    athena = boto3.client("athena", region_name=REGION)
    query_id = cfn.describe_stacks(StackName="s")["Stacks"][0]["Outputs"][0]["OutputValue"]
    query = athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]
    assert (query["Name"], query["QueryString"], query["WorkGroup"]) == (
        "mrr",
        "SELECT 1",
        "analytics",
    )
    assert athena.list_named_queries(WorkGroup="analytics")["NamedQueryIds"] == [query_id]
    cfn.delete_stack(StackName="s")
    names = [g["Name"] for g in athena.list_work_groups()["WorkGroups"]]
    assert "analytics" not in names
    assert athena.list_named_queries(WorkGroup="analytics")["NamedQueryIds"] == []
