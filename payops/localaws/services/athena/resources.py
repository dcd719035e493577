"""AWS::Athena::WorkGroup and AWS::Athena::NamedQuery (moto has the API, no CloudFormation
model). Queries are stored, not run: `payops report` runs the same SQL with DuckDB."""

from __future__ import annotations

from typing import Any

from payops.localaws.core.resources import BridgedResource, as_bool

GAPS: dict[str, str] = {
    "AWS::Athena::WorkGroup": (
        "the workgroup with its configuration; RecursiveDeleteOption deletes its named queries "
        "with it (moto: no CloudFormation model)"
    ),
    "AWS::Athena::NamedQuery": "the saved query (moto: no CloudFormation model)",
}


def _backend(account_id: str, region_name: str) -> Any:
    from moto.athena.models import athena_backends

    return athena_backends[account_id][region_name]


class AthenaWorkGroup(BridgedResource):
    TYPE = "AWS::Athena::WorkGroup"
    NAME_PROPERTY = "Name"
    NAME_LIMIT = 128

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _backend(account_id, region_name)
        backend.create_work_group(
            name,
            properties.get("WorkGroupConfiguration") or {},
            properties.get("Description") or "",
            properties.get("Tags") or [],
        )
        recursive = as_bool(properties.get("RecursiveDeleteOption", False))

        def delete() -> None:
            if recursive:
                for query_id, query in list(backend.named_queries.items()):
                    if query.workgroup.name == name:
                        del backend.named_queries[query_id]
            backend.delete_work_group(name)

        return cls(name, {}, delete)


class AthenaNamedQuery(BridgedResource):
    TYPE = "AWS::Athena::NamedQuery"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = ("NamedQueryId",)

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _backend(account_id, region_name)
        query_id = backend.create_named_query(
            name,
            properties.get("Description") or "",
            properties["Database"],
            properties["QueryString"],
            properties.get("WorkGroup") or "primary",
        )
        # CloudFormation's Ref of a named query is its id.
        return cls(
            query_id,
            {"NamedQueryId": query_id},
            lambda: backend.named_queries.pop(query_id, None),
        )


RESOURCES = (AthenaWorkGroup, AthenaNamedQuery)
