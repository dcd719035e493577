"""Step Functions' CloudFormation resource bridge: AWS::StepFunctions::StateMachine, created in the
backend the API answers from (under execute_state_machine moto's model puts it where no API call
finds it), from DefinitionString, Definition or DefinitionS3Location with DefinitionSubstitutions,
and with its type and logging, tracing and encryption configurations.
"""

from __future__ import annotations

import json
from typing import Any

from payops.localaws.core.resources import BridgedResource, lower_keys, validation_error


def _definition(properties: dict[str, Any], account_id: str, region_name: str) -> str:
    if "DefinitionString" in properties:
        definition = str(properties["DefinitionString"])
    elif "Definition" in properties:
        definition = json.dumps(properties["Definition"])
    elif "DefinitionS3Location" in properties:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        location = properties["DefinitionS3Location"]
        backend = s3_backends[account_id][get_partition(region_name)]
        key = backend.get_object(location["Bucket"], location["Key"], location.get("Version"))
        if key is None:
            raise validation_error(f"DefinitionS3Location not found: {location}")
        definition = key.value.decode()
    else:
        raise validation_error(
            "StateMachine needs DefinitionString, Definition or DefinitionS3Location"
        )
    for name, value in (properties.get("DefinitionSubstitutions") or {}).items():
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        definition = definition.replace("${" + name + "}", text)
    return definition


class StepFunctionsStateMachine(BridgedResource):
    TYPE = "AWS::StepFunctions::StateMachine"
    NAME_PROPERTY = "StateMachineName"
    NAME_LIMIT = 80
    ATTRIBUTES = ("Arn", "Name")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.stepfunctions.responses import get_backend
        from moto.stepfunctions.utils import cfn_to_api_tags

        # The backend the API answers from: the executing one under execute_state_machine.
        backend = get_backend(account_id, region_name)
        machine = backend.create_state_machine(
            name,
            _definition(properties, account_id, region_name),
            properties.get("RoleArn", ""),
            tags=cfn_to_api_tags(properties.get("Tags", [])),
            loggingConfiguration=lower_keys(properties.get("LoggingConfiguration")),
            tracingConfiguration=lower_keys(properties.get("TracingConfiguration")),
            encryptionConfiguration=lower_keys(properties.get("EncryptionConfiguration")),
            sm_type=properties.get("StateMachineType") or "STANDARD",
        )
        arn = machine.arn
        return cls(
            arn,
            {"Arn": arn, "Name": machine.name},
            lambda: backend.delete_state_machine(arn),
            machine,
        )


GAPS: dict[str, str] = {
    "AWS::StepFunctions::StateMachine": (
        "created in the backend the API uses (with execute_state_machine moto puts it where no "
        "API call finds it); StateMachineType, DefinitionSubstitutions, Definition, "
        "DefinitionS3Location, LoggingConfiguration and TracingConfiguration are honoured"
    ),
}

RESOURCES = (StepFunctionsStateMachine,)
