"""Deploy checks for DynamoDB: each table's key schema, attribute definitions, billing mode, GSI key
schemas, stream view type, TTL and point-in-time recovery read back and compared with the template;
GetAtt getters for Arn and StreamArn.
"""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn, Getter, normal_json


def check_table(c: Check) -> None:
    dynamodb = c.client("dynamodb")
    table = dynamodb.describe_table(TableName=c.physical_id)["Table"]
    c.same_if_set("TableName", table["TableName"])
    c.same("KeySchema", c.props.get("KeySchema"), table.get("KeySchema"))
    c.same(
        "AttributeDefinitions",
        sorted(c.props.get("AttributeDefinitions", []), key=lambda a: a["AttributeName"]),
        sorted(table.get("AttributeDefinitions", []), key=lambda a: a["AttributeName"]),
    )
    mode = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    c.same_if_set("BillingMode", mode, "PROVISIONED")
    expected_gsis = {
        g["IndexName"]: g["KeySchema"] for g in c.props.get("GlobalSecondaryIndexes", [])
    }
    actual_gsis = {g["IndexName"]: g["KeySchema"] for g in table.get("GlobalSecondaryIndexes", [])}
    c.same("GlobalSecondaryIndexes", expected_gsis, actual_gsis)
    if "StreamSpecification" in c.raw:
        c.same(
            "StreamViewType",
            c.props["StreamSpecification"].get("StreamViewType"),
            (table.get("StreamSpecification") or {}).get("StreamViewType"),
        )
    ttl = c.props.get("TimeToLiveSpecification")
    if ttl:
        actual = dynamodb.describe_time_to_live(TableName=c.physical_id)["TimeToLiveDescription"]
        enabled = normal_json(ttl.get("Enabled"))
        c.same("TTL status", "ENABLED" if enabled else "DISABLED", actual.get("TimeToLiveStatus"))
        if enabled:
            c.same("TTL AttributeName", ttl.get("AttributeName"), actual.get("AttributeName"))
    pitr = c.props.get("PointInTimeRecoverySpecification")
    if pitr:
        backups = dynamodb.describe_continuous_backups(TableName=c.physical_id)
        status = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        expected = "ENABLED" if normal_json(pitr.get("PointInTimeRecoveryEnabled")) else "DISABLED"
        c.same("PointInTimeRecovery", expected, status.get("PointInTimeRecoveryStatus"))


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::DynamoDB::Table", "Arn"): lambda r, name, _: r.clients("dynamodb").describe_table(
        TableName=name
    )["Table"]["TableArn"],
    ("AWS::DynamoDB::Table", "StreamArn"): lambda r, name, _: r.clients("dynamodb").describe_table(
        TableName=name
    )["Table"]["LatestStreamArn"],
}


CHECKS: dict[str, CheckFn] = {
    "AWS::DynamoDB::Table": check_table,
}
