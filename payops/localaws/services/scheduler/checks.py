"""Deploy checks: each schedule exists with its expression, state, target and input."""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn, Getter


def check_schedule(c: Check) -> None:
    client = c.client("scheduler")
    group = c.props.get("GroupName") or "default"
    try:
        schedule = client.get_schedule(Name=c.physical_id, GroupName=group)
    except client.exceptions.ResourceNotFoundException:
        c.problem(f"schedule {c.physical_id}: missing")
        return
    for key in ("ScheduleExpression", "State", "Description"):
        c.same_if_set(key, schedule.get(key))
    target = c.props.get("Target") or {}
    for key in ("Arn", "RoleArn", "Input"):
        if key in target:
            c.same(f"Target.{key}", target[key], schedule["Target"].get(key))


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::Scheduler::Schedule", "Arn"): lambda r, name, _: r.clients("scheduler").get_schedule(
        Name=name
    )["Arn"],
}

CHECKS: dict[str, CheckFn] = {"AWS::Scheduler::Schedule": check_schedule}
