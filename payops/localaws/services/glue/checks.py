"""Deploy checks: the database and the table as the template declares them."""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn


def check_database(c: Check) -> None:
    database = c.client("glue").get_database(Name=c.physical_id)["Database"]
    c.same("DatabaseInput.Name", c.props["DatabaseInput"]["Name"], database["Name"])


def check_table(c: Check) -> None:
    table_input = c.props["TableInput"]
    table = c.client("glue").get_table(DatabaseName=c.props["DatabaseName"], Name=c.physical_id)[
        "Table"
    ]
    for key in ("TableType", "Parameters", "PartitionKeys"):
        if key in table_input:
            c.same(f"TableInput.{key}", table_input[key], table.get(key))
    expected = table_input.get("StorageDescriptor") or {}
    actual = table.get("StorageDescriptor") or {}
    for key in ("Location", "Columns", "SerdeInfo", "InputFormat", "OutputFormat"):
        if key in expected:
            c.same(f"TableInput.StorageDescriptor.{key}", expected[key], actual.get(key))


CHECKS: dict[str, CheckFn] = {
    "AWS::Glue::Database": check_database,
    "AWS::Glue::Table": check_table,
}
