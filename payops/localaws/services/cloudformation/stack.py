"""CloudFormation bridges: the pinned moto creates what CloudFormation would create from our
template.

moto's CloudFormation skips every resource type it has no model for (with a log warning), so a
stack can reach CREATE_COMPLETE with its subscriptions, secrets or alarms missing. `install()`
patches moto in place (class and module level, so `mock_aws` and `ThreadedMotoServer` in this
process both get it):

- resource types are looked up here first: the types in `BRIDGES` are implemented on moto's own
  backends (SNS subscriptions, secrets, EventBridge connections, API destinations and archives,
  CloudWatch alarms, Lambda URLs ...) or complete moto's model (DynamoDB TTL, Step Functions
  state machines in the executing backend, Lambda architectures ...);
- a template holding any type that still cannot be created is refused at CreateStack /
  CreateChangeSet / UpdateStack with a ValidationError naming every such resource;
- a resource that fails to create leaves the stack in CREATE_FAILED with an event naming it
  (moto raised out of CreateStack and left the stack CREATE_IN_PROGRESS).

Each resource bridge returns a small handle (`BridgedResource`) that moto's ResourceMap stores:
physical id for `Ref`, attributes for `Fn::GetAtt`, `delete()` for stack deletion. The handles do
not subclass moto's CloudFormationModel on purpose: moto builds its type map from that class's
subclasses, and these must exist only while installed (tests show each gap with them removed).

Pinned to one moto (core/moto_pin.py): `install()` refuses any other version, the patched
internals are private.
"""

from __future__ import annotations

import json
import re
from typing import Any

from payops.localaws.core import registry
from payops.localaws.core.moto_pin import MOTO_VERSION
from payops.localaws.core.patch import Patch
from payops.localaws.core.resources import NoOpResource, validation_error

GAPS: dict[str, str] = {
    "cfn.unsupported_types": (
        "a template with a resource type moto cannot create is refused, naming each resource "
        "(moto skips it with a log warning, or crashes on an Output GetAtt of it)"
    ),
    "cfn.create_failed": (
        "a resource that fails to create sets CREATE_FAILED with an event naming it (moto raises "
        "out of CreateStack and leaves the stack CREATE_IN_PROGRESS)"
    ),
    "cfn.stack_resources": (
        "listing a stack's resources never creates one (moto creates missing ones lazily while "
        "listing, so a failed stack fails again, and lists skipped ones with empty ids)"
    ),
    "cfn.change_set_outputs": (
        "a stack created from a change set (cdk bootstrap's CDKToolkit) has its Outputs (moto "
        "keeps the empty outputs of the change set's placeholder stack); a resource failing in "
        "ExecuteChangeSet is named in the error and the stack events"
    ),
    "cfn.template_rules": (
        "the template's Rules (CDK's CheckBootstrapVersion) are evaluated (moto ignores them)"
    ),
    "cfn.ssm_parameter_types": (
        "a missing SSM parameter behind an AWS::SSM::Parameter::Value parameter (the CDK "
        "bootstrap version) fails with CloudFormation's ValidationError (moto: ParameterNotFound)"
    ),
    "cfn.dynamic_references": (
        "{{resolve:secretsmanager:...}} and {{resolve:ssm:...}} are resolved at deploy time (moto"
        " passes them through as literal text)"
    ),
    "cfn.cdk_metadata": ("AWS::CDK::Metadata is accepted and creates nothing, as on AWS"),
}

# Resource types CloudFormation accepts that create nothing a test could look at.
NO_OP_TYPES = frozenset({"AWS::CDK::Metadata"})

_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^{}]*)\}\}")


# ---------------------------------------------------------------------------------------------
# Resource handles


# --- EventBridge -----------------------------------------------------------------------------


# --- SNS / SQS / S3 policies and subscriptions -----------------------------------------------


# --- Secrets Manager -------------------------------------------------------------------------


# --- Lambda URL, CloudWatch alarm, SES -------------------------------------------------------


# --- Step Functions --------------------------------------------------------------------------


# --- Extensions of moto's own models ---------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Which types can be created


def creatable(resource_type: str) -> bool:
    """True if a stack with this resource type can be created here (bridges installed)."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    if resource_type in registry.resource_bridges() or resource_type in NO_OP_TYPES:
        return True
    if resource_type.startswith("Custom::") or resource_type in NULL_MODELS:
        return False  # custom resources need their provider Lambda to call back: not modelled
    return resource_type in get_model_map()


def uncreatable_resources(template: dict[str, Any]) -> list[tuple[str, str]]:
    """(logical id, type) of every resource in `template` that cannot be created here."""
    resources = (template or {}).get("Resources") or {}
    return [
        (logical_id, str(resource.get("Type")))
        for logical_id, resource in resources.items()
        if not creatable(str(resource.get("Type")))
    ]


def _refuse_uncreatable(template: dict[str, Any]) -> None:
    missing = uncreatable_resources(template)
    if missing:
        listed = ", ".join(f"{logical_id} ({kind})" for logical_id, kind in missing)
        raise validation_error(
            f"Template format error: the local AWS (moto {MOTO_VERSION} + payops bridges) cannot "
            f"create these resources: {listed}. Bridge the type in "
            "payops/localaws/services/<svc>/resources.py (and list it in that service's SERVICE)."
        )


def _resource_class_from_type(resource_type: str) -> Any:
    bridged = registry.resource_bridges().get(resource_type)
    if bridged is not None:
        return bridged
    if resource_type in NO_OP_TYPES:
        return type("NoOp", (NoOpResource,), {"TYPE": resource_type})
    if not creatable(resource_type):
        raise validation_error(
            f"Resource type {resource_type} cannot be created by the local AWS "
            f"(moto {MOTO_VERSION})"
        )
    return _PARSING_RESOURCE_CLASS_FROM_TYPE.original(resource_type)


# ---------------------------------------------------------------------------------------------
# Parsing: dynamic references, template Rules, SSM parameter types


def _resolve_dynamic(text: str, account_id: str, region_name: str) -> str:
    def replace(match: re.Match[str]) -> str:
        service, reference = match.group(1), match.group(2)
        try:
            return _dynamic_value(service, reference, account_id, region_name)
        except Exception as exc:
            raise validation_error(
                f"Unable to resolve dynamic reference {match.group(0)!r}: {exc}"
            ) from exc

    return _DYNAMIC_REFERENCE.sub(replace, text)


def resolve_dynamic_references(text: str) -> str:
    """`text` with its {{resolve:...}} references resolved in the local account, as CloudFormation
    does at deploy time (a deploy check compares what a resource got with this)."""
    from payops.localaws.core.account import ACCOUNT, REGION

    return _resolve_dynamic(text, ACCOUNT, REGION)


def _dynamic_value(service: str, reference: str, account_id: str, region_name: str) -> str:
    if service in ("ssm", "ssm-secure"):
        from moto.ssm.models import ssm_backends

        name, _, version = reference.partition(":")
        parameter = ssm_backends[account_id][region_name].get_parameter(
            f"{name}:{version}" if version else name
        )
        if parameter is None:
            raise KeyError(f"SSM parameter {name} not found")
        return str(parameter.value)
    from moto.secretsmanager.models import secretsmanager_backends

    parts = reference.split(":")
    cut = 7 if reference.startswith("arn:") else 1  # an ARN holds colons itself
    secret_id = ":".join(parts[:cut])
    rest = parts[cut:] + [""] * 4
    field, json_key, stage, version = rest[0] or "SecretString", rest[1], rest[2], rest[3]
    if field != "SecretString":
        raise ValueError(f"only SecretString can be referenced, not {field}")
    value = secretsmanager_backends[account_id][region_name].get_secret_value(
        secret_id, version or None, stage or None
    )
    if json_key:
        return str(json.loads(value["SecretString"])[json_key])
    return str(value["SecretString"])


def _clean_json(resource_json: Any, resources_map: Any) -> Any:
    cleaned = _PARSING_CLEAN_JSON.original(resource_json, resources_map)
    if isinstance(cleaned, str) and "{{resolve:" in cleaned:
        return _resolve_dynamic(cleaned, resources_map._account_id, resources_map._region_name)
    return cleaned


def _rule_value(node: Any, parameters: dict[str, Any]) -> Any:
    """Template Rules use a small set of functions; anything else fails loudly."""
    if isinstance(node, list):
        return [_rule_value(item, parameters) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1:
        return {key: _rule_value(value, parameters) for key, value in node.items()}
    ((name, arg),) = node.items()
    if name == "Ref":
        if arg not in parameters:
            raise validation_error(f"Template Rules: Ref to unknown parameter {arg}")
        return parameters[arg]
    values = _rule_value(arg, parameters)
    if name == "Fn::Equals":
        return str(values[0]) == str(values[1])
    if name == "Fn::Not":
        return not values[0]
    if name == "Fn::And":
        return all(values)
    if name == "Fn::Or":
        return any(values)
    if name == "Fn::Contains":
        return str(values[1]) in [str(v) for v in values[0]]
    if name == "Fn::EachMemberEquals":
        return all(str(v) == str(values[1]) for v in values[0])
    if name == "Fn::EachMemberIn":
        return all(str(v) in [str(w) for w in values[1]] for v in values[0])
    raise validation_error(f"Template Rules: {name} is not evaluated by the local AWS")


def check_template_rules(template: dict[str, Any], parameters: dict[str, Any]) -> None:
    """Raise CloudFormation's ValidationError for the first failing Rules assertion."""
    for rule_name, rule in ((template or {}).get("Rules") or {}).items():
        condition = rule.get("RuleCondition")
        if condition is not None and not _rule_value(condition, parameters):
            continue
        for assertion in rule.get("Assertions") or []:
            if not _rule_value(assertion["Assert"], parameters):
                description = assertion.get("AssertDescription") or f"Rule {rule_name} failed"
                raise validation_error(description)


def _load_conditions(self: Any) -> None:
    _RESOURCE_MAP_LOAD_CONDITIONS.original(self)
    check_template_rules(self._template, dict(self._parsed_resources))


def _load(self: Any) -> None:
    _refuse_uncreatable(self._template)
    _RESOURCE_MAP_LOAD.original(self)


def _update(self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
    _refuse_uncreatable(template)
    _RESOURCE_MAP_UPDATE.original(self, template, parameters)


def _parse_ssm_parameter(self: Any, value: str, value_type: str) -> Any:
    from moto.ssm.exceptions import ParameterNotFound

    try:
        return _RESOURCE_MAP_PARSE_SSM_PARAMETER.original(self, value, value_type)
    except (ParameterNotFound, AttributeError):
        # AttributeError: moto dereferences the missing parameter (None.value)
        raise validation_error(
            f"Unable to fetch parameters [{value}] from parameter store for this account."
        ) from None


# ---------------------------------------------------------------------------------------------
# Failures name the resource; the stack ends CREATE_FAILED


class ResourceCreationFailed(Exception):
    def __init__(self, logical_id: str, resource_type: str, cause: BaseException) -> None:
        reason = str(cause) or type(cause).__name__
        message = getattr(cause, "message", None)
        if isinstance(message, str) and message:
            reason = message
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = f"{type(cause).__name__}: {reason}"


def _parse_and_create_resource(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str,
    region_name: str,
) -> Any:  # fmt: skip
    try:
        return _PARSING_PARSE_AND_CREATE_RESOURCE.original(
            logical_id, resource_json, resources_map, account_id, region_name
        )
    except ResourceCreationFailed:
        raise
    except Exception as exc:
        raise ResourceCreationFailed(logical_id, str(resource_json.get("Type")), exc) from exc


def _resource_failed(stack: Any, failure: ResourceCreationFailed, status: str) -> None:
    from moto.cloudformation.models import Event

    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=failure.logical_id,
            physical_resource_id="",
            resource_type=failure.resource_type,
            resource_status=status,
            resource_status_reason=failure.reason,
            resource_properties=None,
        )
    )


def _create_resources(self: Any) -> None:
    try:
        _STACK_CREATE_RESOURCES.original(self)
    except ResourceCreationFailed as failure:
        self.status = "CREATE_FAILED"
        _resource_failed(self, failure, "CREATE_FAILED")
        self._add_stack_event(
            "CREATE_FAILED",
            resource_status_reason=f"The following resource(s) failed to create: "
            f"[{failure.logical_id}]. {failure.reason}",
        )


def _apply_change_set(self: Any) -> None:
    try:
        _CHANGE_SET_APPLY.original(self)
    except ResourceCreationFailed as failure:
        _resource_failed(self.stack, failure, f"{self.change_set_type}_FAILED")
        raise validation_error(f"Resource {failure}") from failure
    # moto built the stack's outputs from the empty template of the change set's first step.
    stack = self.stack
    stack.template = self.template
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    stack.output_map = stack._create_output_map()


# ---------------------------------------------------------------------------------------------
# Install


def _stack_outputs(self: Any) -> list[dict[str, Any]] | None:
    # A failed stack has no outputs (moto would evaluate them, creating what they reference).
    if self.status == "CREATE_FAILED":
        return None
    return _STACK_OUTPUTS.original.fget(self)


def _stack_resources(self: Any) -> list[Any]:
    # What was created, in template order; listing must never create (or retry) a resource.
    resource_map = self.resource_map
    parsed = resource_map._parsed_resources
    return [parsed[key] for key in resource_map._resource_json_map if parsed.get(key) is not None]


# The moto attributes this module replaces.
_PARSING_RESOURCE_CLASS_FROM_TYPE = Patch(
    "moto.cloudformation.parsing", "resource_class_from_type", _resource_class_from_type
)
_PARSING_PARSE_AND_CREATE_RESOURCE = Patch(
    "moto.cloudformation.parsing", "parse_and_create_resource", _parse_and_create_resource
)
_PARSING_CLEAN_JSON = Patch("moto.cloudformation.parsing", "clean_json", _clean_json)
_RESOURCE_MAP_LOAD = Patch("moto.cloudformation.parsing:ResourceMap", "load", _load)
_RESOURCE_MAP_UPDATE = Patch("moto.cloudformation.parsing:ResourceMap", "update", _update)
_RESOURCE_MAP_LOAD_CONDITIONS = Patch(
    "moto.cloudformation.parsing:ResourceMap", "load_conditions", _load_conditions
)
_RESOURCE_MAP_PARSE_SSM_PARAMETER = Patch(
    "moto.cloudformation.parsing:ResourceMap", "parse_ssm_parameter", _parse_ssm_parameter
)
_STACK_CREATE_RESOURCES = Patch(
    "moto.cloudformation.models:Stack", "create_resources", _create_resources
)
_STACK_STACK_RESOURCES = Patch(
    "moto.cloudformation.models:Stack", "stack_resources", property(_stack_resources)
)
_STACK_OUTPUTS = Patch("moto.cloudformation.models:Stack", "outputs", property(_stack_outputs))
_CHANGE_SET_APPLY = Patch("moto.cloudformation.models:ChangeSet", "apply", _apply_change_set)
PATCHES = (
    _PARSING_RESOURCE_CLASS_FROM_TYPE,
    _PARSING_PARSE_AND_CREATE_RESOURCE,
    _PARSING_CLEAN_JSON,
    _RESOURCE_MAP_LOAD,
    _RESOURCE_MAP_UPDATE,
    _RESOURCE_MAP_LOAD_CONDITIONS,
    _RESOURCE_MAP_PARSE_SSM_PARAMETER,
    _STACK_CREATE_RESOURCES,
    _STACK_STACK_RESOURCES,
    _STACK_OUTPUTS,
    _CHANGE_SET_APPLY,
)
