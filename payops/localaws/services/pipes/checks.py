"""Deploy checks for EventBridge Pipes: each pipe's source, target, role, parameters, enrichment,
description and desired state read back with DescribePipe and compared with the template; GetAtt
Arn.
"""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn, Getter


def check_pipe(c: Check) -> None:
    pipe = c.client("pipes").describe_pipe(Name=c.physical_id)
    for key in ("Source", "Target", "RoleArn"):
        c.same(key, c.props[key], pipe.get(key))
    for key in ("SourceParameters", "TargetParameters", "Enrichment", "Description"):
        c.same_if_set(key, pipe.get(key))
    c.same_if_set("DesiredState", pipe.get("DesiredState"), "RUNNING")


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::Pipes::Pipe", "Arn"): lambda r, name, _: r.clients("pipes").describe_pipe(Name=name)[
        "Arn"
    ],
}


CHECKS: dict[str, CheckFn] = {
    "AWS::Pipes::Pipe": check_pipe,
}
