"""Deploy checks for Step Functions: each state machine's definition (as `expected_definition`
rebuilds it: refs resolved, substitutions applied), type, role, name, logging level and tracing read
back and compared with the template; GetAtt getters for Arn and Name.
"""

from __future__ import annotations

import json
from typing import Any

from payops.localaws.core.checking import Check, CheckFn, Getter


def expected_definition(c: Check) -> Any:
    """The definition CloudFormation gives Step Functions: refs resolved, substitutions applied."""
    props = c.props
    if "DefinitionString" in props:
        text = str(props["DefinitionString"])
    elif "Definition" in props:
        text = json.dumps(props["Definition"])
    else:
        location = props["DefinitionS3Location"]
        body = c.client("s3").get_object(Bucket=location["Bucket"], Key=location["Key"])["Body"]
        text = body.read().decode()
    for name, value in (props.get("DefinitionSubstitutions") or {}).items():
        text = text.replace(
            "${" + name + "}", json.dumps(value) if isinstance(value, bool) else str(value)
        )
    return json.loads(text)


def check_state_machine(c: Check) -> None:
    machine = c.client("stepfunctions").describe_state_machine(stateMachineArn=c.physical_id)
    c.same("definition", expected_definition(c), json.loads(machine["definition"]))
    c.same("StateMachineType", c.props.get("StateMachineType", "STANDARD"), machine.get("type"))
    c.same_if_set("RoleArn", machine.get("roleArn"))
    c.same_if_set("StateMachineName", machine.get("name"))
    logging = c.props.get("LoggingConfiguration")
    if logging and "Level" in logging:
        c.same(
            "LoggingConfiguration.Level",
            logging["Level"],
            (machine.get("loggingConfiguration") or {}).get("level"),
        )
    tracing = c.props.get("TracingConfiguration")
    if tracing and "Enabled" in tracing:
        c.same(
            "TracingConfiguration.Enabled",
            tracing["Enabled"],
            (machine.get("tracingConfiguration") or {}).get("enabled"),
        )


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::StepFunctions::StateMachine", "Arn"): lambda r, arn, _: r.clients(
        "stepfunctions"
    ).describe_state_machine(stateMachineArn=arn)["stateMachineArn"],
    ("AWS::StepFunctions::StateMachine", "Name"): lambda r, arn, _: r.clients(
        "stepfunctions"
    ).describe_state_machine(stateMachineArn=arn)["name"],
}


CHECKS: dict[str, CheckFn] = {
    "AWS::StepFunctions::StateMachine": check_state_machine,
}
