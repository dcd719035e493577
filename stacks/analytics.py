"""Analytics export (issue 16): every Stripe event on the bus -> Firehose -> S3, a Glue table over
it, and the Athena named queries kept in analytics/*.sql.

Layout of the analytics bucket (S3-managed encryption, TLS only, no public access):

- `events/dt=YYYY-MM-DD/type=<event type>/<stream>-<version>-<time>-<uuid>.gz`: gzipped JSON
  lines, one EventBridge event each (envelope + `detail`, the Stripe event). `dt` is the day
  (UTC) Firehose received the event, `type` its detail-type (Firehose dynamic partitioning with
  a JQ query). Kept `analyticsRetentionDays`.
- `errors/<error type>/dt=YYYY-MM-DD/...`: records Firehose could not deliver or partition;
  kept 30 days.
- `athena-results/`: the workgroup's query results; kept 7 days.

The Glue table `stripe_events` reads `events/` with partition projection (no crawler, no
partition to add): `dt` is a projected date, `type` is injected (every query names its types,
which also keeps the bytes scanned down). The queries deduplicate by Stripe event id, so an event
delivered twice, re-injected by reconciliation or hydrated from a thin payload counts once.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_events as events
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from payops.analytics.queries import ANALYTICS_DIR, EVENTS_PREFIX, TABLE, load_queries
from payops.rules import load_rule, recovered_pattern
from payops.settings import Settings
from stacks.nag import acknowledge
from stacks.targets import RETRY_POLICY, from_this_stacks_rules

_Stream = firehose.CfnDeliveryStream
EXPORT_RULE = ANALYTICS_DIR / "export-rule.json"
ERRORS_PREFIX = "errors/"
RESULTS_PREFIX = "athena-results/"
# Firehose's prefix expressions: the UTC day it received the record, the record's detail-type.
PARTITIONED_PREFIX = (
    EVENTS_PREFIX + "dt=!{timestamp:yyyy-MM-dd}/type=!{partitionKeyFromQuery:type}/"
)
ERROR_OUTPUT_PREFIX = ERRORS_PREFIX + "!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
# Firehose buffers up to this long (or 64 MiB, dynamic partitioning's minimum) per partition.
BUFFER_SECONDS = 300
ERRORS_KEPT_DAYS = 30
RESULTS_KEPT_DAYS = 7
# A runaway query stops at this many bytes scanned ($5 per TB scanned in most regions).
BYTES_SCANNED_CUTOFF = 10 * 1024**3
PROJECTION_START = "2020-01-01"


def export_pattern(settings: Settings) -> dict[str, object]:
    """The export rule's deployed pattern: the rule file through the same effective_pattern as
    rules/*.json, so the ingress mode (and any source every rule accepts) applies to it too."""
    return load_rule(EXPORT_RULE, settings).pattern


class AnalyticsExport(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        bus_name: str,
        app_bus_name: str,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # As the downloads bucket: no auto_delete_objects (its Node.js custom resource cannot
            # run in the local AWS); `cdk destroy` stops at a non-empty bucket instead of
            # deleting the business's history (the README says how to empty it first).
            removal_policy=RemovalPolicy.DESTROY,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireEvents",
                    prefix=EVENTS_PREFIX,
                    expiration=Duration.days(settings.analytics_retention_days),
                ),
                s3.LifecycleRule(
                    id="ExpireErrors",
                    prefix=ERRORS_PREFIX,
                    expiration=Duration.days(ERRORS_KEPT_DAYS),
                ),
                s3.LifecycleRule(
                    id="ExpireQueryResults",
                    prefix=RESULTS_PREFIX,
                    expiration=Duration.days(RESULTS_KEPT_DAYS),
                ),
                s3.LifecycleRule(
                    id="AbortIncompleteUploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
            ],
        )
        acknowledge(
            self.bucket,
            "S1",
            "Written only by the export's Firehose stream and read by Athena, both through "
            "least-privilege roles; CloudTrail data events are the audit trail if one is "
            "needed. Server access logs would need a second bucket and add nothing.",
        )
        stream_name = f"{stack.stack_name}-stripe-events"[:64]
        stream_arn = stack.format_arn(
            service="firehose", resource="deliverystream", resource_name=stream_name
        )
        self.stream_name = stream_name
        log_group = logs.LogGroup(
            self,
            "DeliveryLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        log_stream = logs.LogStream(
            self,
            "DeliveryErrors",
            log_group=log_group,
            removal_policy=RemovalPolicy.DESTROY,
        )
        delivery_role = iam.Role(
            self,
            "DeliveryRole",
            # Only this account's stream of this name may assume it (the confused deputy).
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": stream_arn},
                },
            ),
            description="Lets the analytics Firehose stream write the Stripe events to S3",
        )
        delivery_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                resources=[self.bucket.bucket_arn],
            )
        )
        delivery_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[
                    self.bucket.arn_for_objects(f"{EVENTS_PREFIX}*"),
                    self.bucket.arn_for_objects(f"{ERRORS_PREFIX}*"),
                ],
            )
        )
        log_group.grant_write(delivery_role)
        bucket_id = stack.resolve(stack.get_logical_id(self.bucket.node.default_child))
        for prefix in (EVENTS_PREFIX, ERRORS_PREFIX):
            acknowledge(
                delivery_role,
                f"IAM5[Resource::<{bucket_id}.Arn>/{prefix}*]",
                "Firehose names each object itself (partition, time, random suffix): the "
                "grant is limited to the prefix it writes.",
            )

        encryption = _Stream.DeliveryStreamEncryptionConfigurationInputProperty(
            key_type="AWS_OWNED_CMK"
        )
        self.stream = _Stream(
            self,
            "Stream",
            delivery_stream_name=stream_name,
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=encryption,
            extended_s3_destination_configuration=_Stream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=self.bucket.bucket_arn,
                role_arn=delivery_role.role_arn,
                prefix=PARTITIONED_PREFIX,
                error_output_prefix=ERROR_OUTPUT_PREFIX,
                compression_format="GZIP",
                buffering_hints=_Stream.BufferingHintsProperty(
                    interval_in_seconds=BUFFER_SECONDS, size_in_m_bs=64
                ),
                dynamic_partitioning_configuration=_Stream.DynamicPartitioningConfigurationProperty(
                    enabled=True,
                    retry_options=_Stream.RetryOptionsProperty(duration_in_seconds=300),
                ),
                processing_configuration=_Stream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        _Stream.ProcessorProperty(
                            type="MetadataExtraction",
                            parameters=[
                                _parameter("MetadataExtractionQuery", '{type: ."detail-type"}'),
                                _parameter("JsonParsingEngine", "JQ-1.6"),
                            ],
                        ),
                        # One event per line: what the JSON SerDe and DuckDB read.
                        _Stream.ProcessorProperty(
                            type="AppendDelimiterToRecord",
                            parameters=[_parameter("Delimiter", "\\n")],
                        ),
                    ],
                ),
                cloud_watch_logging_options=_Stream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
            ),
        )
        self.stream.node.add_dependency(delivery_role)

        # EventBridge -> Firehose: its own role, assumable by this stack's rules only.
        put_role = iam.Role(
            self,
            "PutRole",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com", conditions=from_this_stacks_rules(self)
            ),
            description="Lets the analytics export rule put Stripe events into Firehose",
        )
        put_role.add_to_policy(
            iam.PolicyStatement(
                actions=["firehose:PutRecord", "firehose:PutRecordBatch"],
                resources=[self.stream.attr_arn],
            )
        )
        target = events.CfnRule.TargetProperty(
            id="Firehose",
            arn=self.stream.attr_arn,
            role_arn=put_role.role_arn,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dead_letters.queue_arn),
            retry_policy=RETRY_POLICY,
        )
        self.rule = events.CfnRule(
            self,
            "Rule",
            name=f"{stack.stack_name}-analytics-export"[:64],
            description=load_rule(EXPORT_RULE, settings).description,
            event_bus_name=bus_name,
            event_pattern=export_pattern(settings),
            state="ENABLED",
            targets=[target],
        )
        # The Stripe events the stack puts back itself (reconciliation, hydrated thin events)
        # arrive on the app event bus, as for every rule's twin (stacks/rule_catalogue.py).
        self.recovered_rule = events.CfnRule(
            self,
            "RecoveredRule",
            name=f"{stack.stack_name}-analytics-export-recovered"[:64],
            description="Stripe events the stack put back (reconciliation, thin events) to S3",
            event_bus_name=app_bus_name,
            event_pattern=recovered_pattern(export_pattern(settings)),
            state="ENABLED",
            targets=[target],
        )

        self._catalogue(stack, settings)

    def _catalogue(self, stack: Stack, settings: Settings) -> None:
        """The Glue database and table, the Athena workgroup and its named queries."""
        self.database_name = f"{stack.stack_name.lower()}_analytics"
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="Stripe events exported by stripe-payops (see the README)",
            ),
        )
        location = f"s3://{self.bucket.bucket_name}/{EVENTS_PREFIX}"
        self.table = glue.CfnTable(
            self,
            "Table",
            catalog_id=stack.account,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=TABLE,
                description="One row per Stripe event: the EventBridge envelope, detail as JSON",
                table_type="EXTERNAL_TABLE",
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name="dt", type="string"),
                    glue.CfnTable.ColumnProperty(name="type", type="string"),
                ],
                parameters={
                    "classification": "json",
                    "compressionType": "gzip",
                    "projection.enabled": "true",
                    "projection.dt.type": "date",
                    "projection.dt.format": "yyyy-MM-dd",
                    "projection.dt.range": f"{PROJECTION_START},NOW",
                    "projection.dt.interval": "1",
                    "projection.dt.interval.unit": "DAYS",
                    "projection.type.type": "injected",
                    "storage.location.template": location + "dt=${dt}/type=${type}/",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        # OpenX reads a nested object into a string column as its JSON text.
                        serialization_library="org.openx.data.jsonserde.JsonSerDe",
                        parameters={"ignore.malformed.json": "true"},
                    ),
                    columns=[
                        glue.CfnTable.ColumnProperty(name=name, type="string")
                        for name in ("version", "id", "source", "account", "time", "region")
                    ]
                    + [
                        glue.CfnTable.ColumnProperty(
                            name="detail", type="string", comment="the Stripe event (JSON)"
                        )
                    ],
                ),
            ),
        )
        self.table.node.add_dependency(database)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=f"{stack.stack_name}-analytics",
            description="Stripe payment analytics (stripe-payops named queries)",
            state="ENABLED",
            # Its named queries and saved results go with it on `cdk destroy`.
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=BYTES_SCANNED_CUTOFF,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.bucket.bucket_name}/{RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        for query in load_queries():
            named = athena.CfnNamedQuery(
                self,
                "Query" + "".join(part.capitalize() for part in query.name.split("_")),
                name=query.name,
                description=query.description[:1024],
                database=self.database_name,
                work_group=self.workgroup.ref,
                query_string=query.sql,
            )
            named.node.add_dependency(database)


def _parameter(name: str, value: str) -> _Stream.ProcessorParameterProperty:
    return _Stream.ProcessorParameterProperty(parameter_name=name, parameter_value=value)
