"""Deploy checks: the workgroup and every named query with its SQL."""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn, Getter


def check_work_group(c: Check) -> None:
    group = c.client("athena").get_work_group(WorkGroup=c.physical_id)["WorkGroup"]
    c.same("Name", c.physical_id, group["Name"])
    c.same_if_set("Description", group.get("Description"))
    expected = (c.props.get("WorkGroupConfiguration") or {}).get("ResultConfiguration")
    if expected:
        actual = (group.get("Configuration") or {}).get("ResultConfiguration")
        c.same("WorkGroupConfiguration.ResultConfiguration", expected, actual)


def check_named_query(c: Check) -> None:
    query = c.client("athena").get_named_query(NamedQueryId=c.physical_id)["NamedQuery"]
    for key in ("Name", "Database", "QueryString", "WorkGroup"):
        c.same_if_set(key, query.get(key))


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::Athena::NamedQuery", "NamedQueryId"): lambda r, query_id, _: r.clients(
        "athena"
    ).get_named_query(NamedQueryId=query_id)["NamedQuery"]["NamedQueryId"],
}

CHECKS: dict[str, CheckFn] = {
    "AWS::Athena::WorkGroup": check_work_group,
    "AWS::Athena::NamedQuery": check_named_query,
}
