"""The analytics export in the synthesized template: every Stripe event to Firehose, S3 laid out
by day and type, gzipped, encrypted, expiring; least-privilege roles; the Glue table and the
Athena named queries from analytics/*.sql; and the setting that turns it all off."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Synthesized

from payops.analytics.queries import load_queries
from payops.rules import INTERNAL_SOURCES
from payops.settings import Settings, SettingsError

ANALYTICS_TYPES = (
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::Glue::Database",
    "AWS::Glue::Table",
    "AWS::Athena::WorkGroup",
    "AWS::Athena::NamedQuery",
)


def of(synth: Synthesized, kind: str, prefix: str = "Analytics") -> dict[str, dict[str, Any]]:
    return {
        k: v
        for k, v in synth.json["Resources"].items()
        if v["Type"] == kind and k.startswith(prefix)
    }


def one(synth: Synthesized, kind: str, prefix: str = "Analytics") -> tuple[str, dict[str, Any]]:
    (item,) = of(synth, kind, prefix).items()
    return item


def test_the_bucket_is_encrypted_private_tls_only_and_expires_what_it_holds(
    partner: Synthesized,
) -> None:
    logical, bucket = one(partner, "AWS::S3::Bucket")
    props = bucket["Properties"]
    encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert bucket.get("DeletionPolicy", "Delete") == "Delete"  # cdk destroy leaves nothing
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert (rules["ExpireEvents"]["Prefix"], rules["ExpireEvents"]["ExpirationInDays"]) == (
        "events/",
        Settings().analytics_retention_days,
    )
    assert (rules["ExpireErrors"]["Prefix"], rules["ExpireErrors"]["ExpirationInDays"]) == (
        "errors/",
        30,
    )
    assert rules["ExpireQueryResults"]["Prefix"] == "athena-results/"
    assert rules["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    (policy,) = [
        p
        for p in of(partner, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logical}
    ]
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }


def test_the_retention_is_a_setting() -> None:
    from payops.app_factory import build_app

    _, stack = build_app({"analyticsRetentionDays": "400"}, nag=False)
    template = stack.node.root.synth().get_stack_by_name(stack.stack_name).template
    (bucket,) = [
        r
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::S3::Bucket" and k.startswith("Analytics")
    ]
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireEvents"]["ExpirationInDays"] == 400


def test_firehose_partitions_by_day_and_type_gzips_and_has_an_error_prefix(
    partner: Synthesized,
) -> None:
    bucket, _ = one(partner, "AWS::S3::Bucket")
    _, stream = one(partner, "AWS::KinesisFirehose::DeliveryStream")
    props = stream["Properties"]
    assert props["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}
    s3 = props["ExtendedS3DestinationConfiguration"]
    assert s3["BucketARN"] == {"Fn::GetAtt": [bucket, "Arn"]}
    assert s3["Prefix"] == "events/dt=!{timestamp:yyyy-MM-dd}/type=!{partitionKeyFromQuery:type}/"
    assert s3["ErrorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/")
    assert s3["CompressionFormat"] == "GZIP"
    assert s3["DynamicPartitioningConfiguration"]["Enabled"] is True
    processors = {p["Type"]: p["Parameters"] for p in s3["ProcessingConfiguration"]["Processors"]}
    assert {
        "ParameterName": "MetadataExtractionQuery",
        "ParameterValue": '{type: ."detail-type"}',
    } in (processors["MetadataExtraction"])
    assert processors["AppendDelimiterToRecord"] == [
        {"ParameterName": "Delimiter", "ParameterValue": "\\n"}
    ]
    assert s3["CloudWatchLoggingOptions"]["Enabled"] is True


def _trust(role: dict[str, Any]) -> dict[str, Any]:
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return statement


def _statements(synth: Synthesized, role_logical: str) -> list[dict[str, Any]]:
    return [
        s
        for policy in of(synth, "AWS::IAM::Policy").values()
        if {"Ref": role_logical} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_firehose_role_is_for_this_stream_of_this_account_and_writes_two_prefixes(
    partner: Synthesized,
) -> None:
    role_id, role = one(partner, "AWS::IAM::Role", "AnalyticsDeliveryRole")
    trust = _trust(role)
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = json.dumps(trust["Condition"]["ArnLike"]["aws:SourceArn"])
    assert "deliverystream/StripePayOps-stripe-events" in source_arn
    statements = _statements(partner, role_id)
    actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "s3:PutObject" in actions and not any(a.endswith("*") for a in actions)
    (put,) = [s for s in statements if "s3:PutObject" in s["Action"]]
    assert [r["Fn::Join"][1][-1] for r in put["Resource"]] == ["/events/*", "/errors/*"]


def test_the_rule_puts_into_firehose_with_its_own_conditioned_role_and_the_dlq(
    synthesized: Synthesized,
) -> None:
    _, stream = one(synthesized, "AWS::KinesisFirehose::DeliveryStream")
    _, rule = one(synthesized, "AWS::Events::Rule", "AnalyticsRule")
    _, twin = one(synthesized, "AWS::Events::Rule", "AnalyticsRecoveredRule")
    (target,) = rule["Properties"]["Targets"]
    assert twin["Properties"]["Targets"] == [target]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("AnalyticsStream")
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 185
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    trust = _trust(synthesized.json["Resources"][role_id])
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert set(trust["Condition"]) == {"ArnLike", "StringEquals"}
    (statement,) = _statements(synthesized, role_id)
    assert statement["Action"] == ["firehose:PutRecord", "firehose:PutRecordBatch"]
    assert statement["Resource"] == target["Arn"]
    assert stream["Properties"]["DeliveryStreamType"] == "DirectPut"


def test_the_export_rule_accepts_every_source_the_catalogues_rules_accept(
    synthesized: Synthesized,
) -> None:
    """Every Stripe event is exported: the export's source filter follows the rules' (the ingress
    mode, and any source other capabilities add to every rule, e.g. reconciled events)."""
    rules = synthesized.json["Resources"]
    for prefix, twins in (("AnalyticsRule", False), ("AnalyticsRecoveredRule", True)):
        _, export = one(synthesized, "AWS::Events::Rule", prefix)
        pattern = export["Properties"]["EventPattern"]
        assert set(pattern) == {"source"}  # every event of those sources, whatever its type
        # The catalogue's Stripe rules (or their twins on the app bus, for events the stack
        # put back: reconciliation, thin events); not the rules of the stack's own events.
        catalogue = [
            r["Properties"]
            for k, r in rules.items()
            if r["Type"] == "AWS::Events::Rule"
            and k.startswith("RulesRule")
            and ("Recovered" in k) == twins
            and str(r["Properties"]["EventPattern"]["source"][0]) not in INTERNAL_SOURCES
        ]
        assert len(catalogue) >= 19
        for rule in catalogue:
            assert rule["EventPattern"]["source"] == pattern["source"], rule["Name"]
            assert rule["EventBusName"] == export["Properties"]["EventBusName"]


def test_the_glue_table_projects_day_and_type_partitions_over_the_bucket(
    partner: Synthesized,
) -> None:
    bucket, _ = one(partner, "AWS::S3::Bucket")
    _, table = one(partner, "AWS::Glue::Table")
    table_input = table["Properties"]["TableInput"]
    assert table_input["Name"] == "stripe_events"
    assert [k["Name"] for k in table_input["PartitionKeys"]] == ["dt", "type"]
    parameters = table_input["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert (parameters["projection.dt.type"], parameters["projection.dt.format"]) == (
        "date",
        "yyyy-MM-dd",
    )
    assert parameters["projection.type.type"] == "injected"
    location = json.dumps(table_input["StorageDescriptor"]["Location"])
    assert bucket in location and location.endswith('/events/"]]}')
    assert "dt=${dt}/type=${type}/" in json.dumps(parameters["storage.location.template"])
    serde = table_input["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    assert serde == "org.openx.data.jsonserde.JsonSerDe"
    columns = [c["Name"] for c in table_input["StorageDescriptor"]["Columns"]]
    assert "detail" in columns and "id" in columns


def test_athena_keeps_the_sql_files_as_named_queries_in_an_encrypting_workgroup(
    partner: Synthesized,
) -> None:
    group_id, group = one(partner, "AWS::Athena::WorkGroup")
    configuration = group["Properties"]["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["ResultConfiguration"]["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_S3"
    }
    assert configuration["BytesScannedCutoffPerQuery"] > 0
    assert group["Properties"]["RecursiveDeleteOption"] is True  # cdk destroy takes the queries
    named = {
        q["Properties"]["Name"]: q["Properties"]
        for q in of(partner, "AWS::Athena::NamedQuery").values()
    }
    files = {q.name: q for q in load_queries()}
    assert (
        set(named)
        == set(files)
        == {
            "revenue_by_day",
            "orders_by_day",
            "mrr",
            "failed_payment_rate",
        }
    )
    for name, props in named.items():
        assert props["QueryString"] == files[name].path.read_text().strip()
        assert props["WorkGroup"] == {"Ref": group_id}
        assert props["Database"] == "stripepayops_analytics"


def test_the_export_can_be_turned_off() -> None:
    from payops.app_factory import build_app

    _, stack = build_app({"analyticsExport": "false"}, nag=False)
    template = stack.node.root.synth().get_stack_by_name(stack.stack_name).template
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert not kinds & set(ANALYTICS_TYPES)
    assert not [k for k in template["Resources"] if k.startswith("Analytics")]


@pytest.mark.parametrize(
    ("raw", "expected"), [("false", False), ("TRUE", True), (False, False), (True, True)]
)
def test_the_export_setting_reads_true_or_false(raw: object, expected: bool) -> None:
    assert Settings.load({"analyticsExport": raw}, env={}).analytics_export is expected


def test_a_bad_export_setting_names_the_setting() -> None:
    with pytest.raises(SettingsError, match=r"^setting 'analyticsExport': expected true or false"):
        Settings.load({"analyticsExport": "maybe"}, env={})
    with pytest.raises(SettingsError, match="analyticsRetentionDays"):
        Settings.load({"analyticsRetentionDays": "0"}, env={})
