"""Deploy checks for SSM: each parameter's value and type read back and compared with the template;
GetAtt Value.
"""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn, Getter


def check_ssm_parameter(c: Check) -> None:
    parameter = c.client("ssm").get_parameter(Name=c.physical_id)["Parameter"]
    c.same("Value", c.props["Value"], parameter["Value"])
    c.same_if_set("Type", parameter["Type"])


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::SSM::Parameter", "Value"): lambda r, name, _: r.clients("ssm").get_parameter(Name=name)[
        "Parameter"
    ]["Value"],
}


CHECKS: dict[str, CheckFn] = {
    "AWS::SSM::Parameter": check_ssm_parameter,
}
