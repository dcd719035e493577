"""Deploy checks: the delivery stream exists with the template's S3 destination."""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn, Getter


def check_delivery_stream(c: Check) -> None:
    description = c.client("firehose").describe_delivery_stream(DeliveryStreamName=c.physical_id)[
        "DeliveryStreamDescription"
    ]
    c.same("DeliveryStreamStatus", "ACTIVE", description["DeliveryStreamStatus"])
    c.same_if_set("DeliveryStreamType", description["DeliveryStreamType"])
    expected = c.props.get("ExtendedS3DestinationConfiguration")
    if expected is None:
        return
    actual = description["Destinations"][0].get("ExtendedS3DestinationDescription") or {}
    for key in (
        "BucketARN",
        "RoleARN",
        "Prefix",
        "ErrorOutputPrefix",
        "CompressionFormat",
        "DynamicPartitioningConfiguration",
        "ProcessingConfiguration",
    ):
        if key in expected:
            c.same(f"ExtendedS3DestinationConfiguration.{key}", expected[key], actual.get(key))


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::KinesisFirehose::DeliveryStream", "Arn"): lambda r, name, _: r.clients(
        "firehose"
    ).describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
        "DeliveryStreamARN"
    ],
}

CHECKS: dict[str, CheckFn] = {
    "AWS::KinesisFirehose::DeliveryStream": check_delivery_stream,
}
