"""Deploy checks for CloudWatch Logs: each log group (name, retention) and log stream must exist as
the template declares it; GetAtt Arn of a log group.
"""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn, Getter, Resolver, Unresolvable


def _log_group_arn(r: Resolver, name: str, logical_id: str) -> str:
    groups = r.clients("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    for group in groups:
        if group["logGroupName"] == name:
            return str(group["arn"])
    raise Unresolvable(f"GetAtt {logical_id}.Arn: no log group {name}")


def check_log_group(c: Check) -> None:
    groups = c.client("logs").describe_log_groups(logGroupNamePrefix=c.physical_id)["logGroups"]
    group = next((g for g in groups if g["logGroupName"] == c.physical_id), None)
    if group is None:
        c.problem(f"log group {c.physical_id}: missing")
        return
    c.same_if_set("LogGroupName", group["logGroupName"])
    c.same_if_set("RetentionInDays", group.get("retentionInDays"))


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::Logs::LogGroup", "Arn"): _log_group_arn,
}


def check_log_stream(c: Check) -> None:
    group = c.props["LogGroupName"]
    streams = c.client("logs").describe_log_streams(
        logGroupName=group, logStreamNamePrefix=c.physical_id
    )["logStreams"]
    if not any(s["logStreamName"] == c.physical_id for s in streams):
        c.problem(f"log stream {group}/{c.physical_id}: missing")


CHECKS: dict[str, CheckFn] = {
    "AWS::Logs::LogGroup": check_log_group,
    "AWS::Logs::LogStream": check_log_stream,
}
