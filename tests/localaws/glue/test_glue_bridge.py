"""The Glue bridge: database and table from CloudFormation, deleted with the stack."""

from __future__ import annotations

import json

import boto3
import pytest

from payops.localaws.core.account import REGION

PARAMETERS = {"projection.enabled": "true", "projection.type.type": "injected"}
TEMPLATE = json.dumps({
    "Resources": {
        "Database": {"Type": "AWS::Glue::Database", "Properties": {
            "CatalogId": "123456789012", "DatabaseInput": {"Name": "shop_analytics"}}},
        "Table": {"Type": "AWS::Glue::Table", "DependsOn": "Database", "Properties": {
            "CatalogId": "123456789012", "DatabaseName": "shop_analytics",
            "TableInput": {
                "Name": "stripe_events", "TableType": "EXTERNAL_TABLE", "Parameters": PARAMETERS,
                "PartitionKeys": [{"Name": "type", "Type": "string"}],
                "StorageDescriptor": {"Location": "s3://b/events/",
                                      "Columns": [{"Name": "detail", "Type": "string"}]}}}},
    },
    "Outputs": {"Table": {"Value": {"Ref": "Table"}}},
})  # fmt: skip


@pytest.fixture
def cfn(bridged: None):
    return boto3.client("cloudformation", region_name=REGION)


def test_cloudformation_creates_and_deletes_the_database_and_table(cfn) -> None:
    cfn.create_stack(StackName="s", TemplateBody=TEMPLATE)
    glue = boto3.client("glue", region_name=REGION)
    table = glue.get_table(DatabaseName="shop_analytics", Name="stripe_events")["Table"]
    assert table["Parameters"] == PARAMETERS
    assert table["StorageDescriptor"]["Location"] == "s3://b/events/"
    outputs = cfn.describe_stacks(StackName="s")["Stacks"][0]["Outputs"]
    assert outputs[0]["OutputValue"] == "stripe_events"
    cfn.delete_stack(StackName="s")
    assert glue.get_databases()["DatabaseList"] == []
