"""AWS::KinesisFirehose::DeliveryStream (moto has the API, no CloudFormation model)."""

from __future__ import annotations

from typing import Any

from payops.localaws.core.resources import BridgedResource

GAPS: dict[str, str] = {
    "AWS::KinesisFirehose::DeliveryStream": (
        "a DirectPut stream with an ExtendedS3 (or S3) destination (moto: no CloudFormation model)"
    ),
}

_DESTINATIONS = {
    "ExtendedS3DestinationConfiguration": "extended_s3_destination_configuration",
    "S3DestinationConfiguration": "s3_destination_configuration",
}


_UNUSED = (
    "s3_destination_configuration",
    "extended_s3_destination_configuration",
    "redshift_destination_configuration",
    "elasticsearch_destination_configuration",
    "splunk_destination_configuration",
    "http_endpoint_destination_configuration",
    "snowflake_destination_configuration",
    "iceberg_destination_configuration",
)


class DeliveryStream(BridgedResource):
    TYPE = "AWS::KinesisFirehose::DeliveryStream"
    NAME_PROPERTY = "DeliveryStreamName"
    NAME_LIMIT = 64
    ATTRIBUTES = ("Arn",)

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.firehose.models import firehose_backends

        from payops.localaws.core.resources import validation_error

        backend = firehose_backends[account_id][region_name]
        destinations = {
            argument: properties[key]
            for key, argument in _DESTINATIONS.items()
            if key in properties
        }
        if len(destinations) != 1:
            raise validation_error(
                f"{name}: the local AWS delivers to one S3 or ExtendedS3 destination, got "
                f"{sorted(k for k in properties if k.endswith('DestinationConfiguration'))}"
            )
        arn = backend.create_delivery_stream(
            region=region_name,
            delivery_stream_name=name,
            delivery_stream_type=properties.get("DeliveryStreamType", "DirectPut"),
            kinesis_stream_source_configuration=properties.get("KinesisStreamSourceConfiguration"),
            delivery_stream_encryption_configuration_input=properties.get(
                "DeliveryStreamEncryptionConfigurationInput"
            ),
            tags=properties.get("Tags") or [],
            **{**dict.fromkeys(_UNUSED), **destinations},
        )
        return cls(name, {"Arn": arn}, lambda: backend.delete_delivery_stream(name))


RESOURCES = (DeliveryStream,)
