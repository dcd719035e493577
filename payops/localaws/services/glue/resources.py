"""AWS::Glue::Database and AWS::Glue::Table (moto has the API, no CloudFormation model)."""

from __future__ import annotations

from typing import Any

from payops.localaws.core.resources import BridgedResource

GAPS: dict[str, str] = {
    "AWS::Glue::Database": "the Data Catalog database (moto: no CloudFormation model)",
    "AWS::Glue::Table": (
        "the table with its columns, SerDe and partition-projection parameters (moto: no "
        "CloudFormation model)"
    ),
}


def _backend(account_id: str, region_name: str) -> Any:
    from moto.glue.models import glue_backends

    return glue_backends[account_id][region_name]


class GlueDatabase(BridgedResource):
    TYPE = "AWS::Glue::Database"

    @classmethod
    def create_from_cloudformation_json(  # the name is in DatabaseInput, not a top-level key
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> BridgedResource:  # fmt: skip
        properties = cloudformation_json.get("Properties") or {}
        database_input = dict(properties["DatabaseInput"])
        name = database_input.setdefault("Name", resource_name.lower())
        return cls.create(name, {"DatabaseInput": database_input}, account_id, region_name)

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _backend(account_id, region_name)
        backend.create_database(name, properties["DatabaseInput"])
        return cls(name, {}, lambda: backend.delete_database(name))


class GlueTable(BridgedResource):
    TYPE = "AWS::Glue::Table"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> BridgedResource:  # fmt: skip
        properties = cloudformation_json.get("Properties") or {}
        name = properties["TableInput"].get("Name") or resource_name.lower()
        return cls.create(name, properties, account_id, region_name)

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _backend(account_id, region_name)
        database = properties["DatabaseName"]
        backend.create_table(database, name, {**properties["TableInput"], "Name": name})
        # Ref of a table is its name, as on CloudFormation.
        return cls(name, {}, lambda: _delete_table(backend, database, name))


def _delete_table(backend: Any, database: str, name: str) -> None:
    from moto.glue.exceptions import DatabaseNotFoundException

    try:
        backend.delete_table(database, name)
    except DatabaseNotFoundException:
        pass  # deleted with its database already


RESOURCES = (GlueDatabase, GlueTable)
