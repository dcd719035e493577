"""The Firehose bridge: the delivery stream from CloudFormation, and delivery to S3 as configured
(dynamic partitioning, delimiter, GZIP, error prefix), also from an EventBridge rule target."""

from __future__ import annotations

import base64
import gzip
import json

import boto3
import pytest
from moto import mock_aws

from payops.localaws.core.account import REGION
from payops.localaws.services.firehose import DeliveryError, parse_jq, render_prefix

PREFIX = "events/dt=!{timestamp:yyyy-MM-dd}/type=!{partitionKeyFromQuery:type}/"
ERRORS = "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"


def stream_template(bucket: str) -> str:
    return json.dumps({
        "Resources": {"Stream": {
            "Type": "AWS::KinesisFirehose::DeliveryStream",
            "Properties": {
                "DeliveryStreamName": "events", "DeliveryStreamType": "DirectPut",
                "ExtendedS3DestinationConfiguration": {
                    "BucketARN": f"arn:aws:s3:::{bucket}",
                    "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                    "Prefix": PREFIX, "ErrorOutputPrefix": ERRORS, "CompressionFormat": "GZIP",
                    "DynamicPartitioningConfiguration": {"Enabled": True},
                    "ProcessingConfiguration": {"Enabled": True, "Processors": [
                        {"Type": "MetadataExtraction", "Parameters": [
                            {"ParameterName": "MetadataExtractionQuery",
                             "ParameterValue": '{type: ."detail-type"}'},
                            {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]},
                        {"Type": "AppendDelimiterToRecord", "Parameters": [
                            {"ParameterName": "Delimiter", "ParameterValue": "\\n"}]}]},
                },
            },
        }},
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Stream", "Arn"]}}},
    })  # fmt: skip


@pytest.fixture
def aws(bridged: None):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="exports")
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName="s", TemplateBody=stream_template("exports"))
    return {"s3": s3, "cfn": cfn, "firehose": boto3.client("firehose", region_name=REGION)}


def objects(s3) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket="exports").get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket="exports", Key=o["Key"])["Body"].read() for o in listed}


def test_cloudformation_creates_the_stream(aws) -> None:
    description = aws["firehose"].describe_delivery_stream(DeliveryStreamName="events")
    stream = description["DeliveryStreamDescription"]
    assert stream["DeliveryStreamStatus"] == "ACTIVE"
    outputs = aws["cfn"].describe_stacks(StackName="s")["Stacks"][0]["Outputs"]
    assert outputs[0]["OutputValue"] == stream["DeliveryStreamARN"]


def test_records_land_partitioned_by_day_and_type_gzipped_one_per_line(aws) -> None:
    records = [
        {"Data": json.dumps({"detail-type": kind, "detail": {"id": i}}).encode()}
        for i, kind in enumerate(["charge.refunded", "invoice.paid", "charge.refunded"])
    ]
    aws["firehose"].put_record_batch(DeliveryStreamName="events", Records=records)
    found = objects(aws["s3"])
    assert sorted(key.split("/")[2] for key in found) == [
        "type=charge.refunded",
        "type=invoice.paid",
    ]
    for key, body in found.items():
        assert key.startswith("events/dt=20") and key.endswith(".gz")
        assert key.split("/")[3].startswith("events-1-")  # <stream>-<version>-<time>-<uuid>
        lines = gzip.decompress(body).decode().splitlines()
        kinds = {json.loads(line)["detail-type"] for line in lines}
        assert kinds == {key.split("/")[2].removeprefix("type=")}
    refunded = next(b for k, b in found.items() if "charge.refunded" in k)
    assert [json.loads(x)["detail"]["id"] for x in gzip.decompress(refunded).splitlines()] == [0, 2]


def test_a_record_without_the_partition_key_goes_to_the_error_prefix(aws) -> None:
    aws["firehose"].put_record(DeliveryStreamName="events", Record={"Data": b'{"no": "type"}'})
    ((key, body),) = objects(aws["s3"]).items()
    assert key.startswith("errors/processing-failed/dt=")
    error = json.loads(gzip.decompress(body))
    assert error["errorCode"] == "DynamicPartitioning.MetadataExtractionFailed"
    assert json.loads(base64.b64decode(error["rawData"])) == {"no": "type"}


def test_without_the_bridge_moto_ignores_partitioning_and_compression() -> None:
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket="exports")
        firehose = boto3.client("firehose", region_name=REGION)
        firehose.create_delivery_stream(
            DeliveryStreamName="plain",
            ExtendedS3DestinationConfiguration={
                "BucketARN": "arn:aws:s3:::exports", "RoleARN": "arn:aws:iam::1:role/r",
                "Prefix": PREFIX, "CompressionFormat": "GZIP",
                "DynamicPartitioningConfiguration": {"Enabled": True},
            },
        )  # fmt: skip
        firehose.put_record(DeliveryStreamName="plain", Record={"Data": b'{"detail-type": "x"}'})
        (key,) = objects(boto3.client("s3", region_name=REGION))
        assert "!{partitionKeyFromQuery:type}" in key and not key.endswith(".gz")


def test_an_eventbridge_rule_delivers_to_a_firehose_target(aws) -> None:
    events = boto3.client("events", region_name=REGION)
    arn = aws["firehose"].describe_delivery_stream(DeliveryStreamName="events")[
        "DeliveryStreamDescription"
    ]["DeliveryStreamARN"]
    events.put_rule(Name="export", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="export", Targets=[{"Id": "1", "Arn": arn}])
    events.put_events(Entries=[{"Source": "shop", "DetailType": "invoice.paid", "Detail": "{}"}])
    ((key, body),) = objects(aws["s3"]).items()
    assert "/type=invoice.paid/" in key
    assert json.loads(gzip.decompress(body))["source"] == "shop"


def test_only_an_object_of_paths_is_understood_as_jq() -> None:
    assert parse_jq('{type: ."detail-type", day: .detail.created}') == {
        "type": ["detail-type"],
        "day": ["detail", "created"],
    }
    with pytest.raises(DeliveryError, match="unsupported JQ"):
        parse_jq("{type: .x | ascii_downcase}")


def test_prefix_expressions() -> None:
    from datetime import UTC, datetime

    now = datetime(2024, 8, 1, 23, 5, tzinfo=UTC)
    assert render_prefix(PREFIX, {"type": "a.b"}, now) == "events/dt=2024-08-01/type=a.b/"
    assert render_prefix(ERRORS, {}, now, "processing-failed").startswith("errors/processing")
    with pytest.raises(DeliveryError, match="'type', not extracted"):
        render_prefix(PREFIX, {}, now)
