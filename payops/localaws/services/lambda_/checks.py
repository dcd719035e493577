"""Deploy checks for Lambda: functions (configuration, environment, layers, tracing, storage,
reserved concurrency), function URLs (an https URL), permissions (a matching policy statement) and
event source mappings; GetAtt getters for a function's Arn and a URL's FunctionUrl and FunctionArn.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from payops.localaws.core.checking import Check, CheckFn, Getter, Resolver


def _url_attribute(key: str) -> Callable[[Resolver, str, str], Any]:
    def get(r: Resolver, physical_id: str, logical_id: str) -> Any:
        target = r.value(r.resources[logical_id]["Properties"]["TargetFunctionArn"])
        return r.clients("lambda").get_function_url_config(FunctionName=target)[key]

    return get


def check_function(c: Check) -> None:
    function = c.client("lambda").get_function(FunctionName=c.physical_id)
    config = function["Configuration"]
    c.same_if_set("FunctionName", config["FunctionName"])
    for key in ("Handler", "Runtime", "Role", "Description", "PackageType"):
        c.same_if_set(key, config.get(key))
    c.same_if_set("MemorySize", config.get("MemorySize"), 128)
    c.same_if_set("Timeout", config.get("Timeout"), 3)
    c.same_if_set("Architectures", config.get("Architectures"), ["x86_64"])
    c.same(
        "Environment.Variables",
        (c.props.get("Environment") or {}).get("Variables") or {},
        (config.get("Environment") or {}).get("Variables") or {},
    )
    if "Layers" in c.raw:
        c.same("Layers", c.props["Layers"], [layer["Arn"] for layer in config.get("Layers", [])])
    if "TracingConfig" in c.raw:
        c.same(
            "TracingConfig.Mode",
            c.props["TracingConfig"].get("Mode"),
            (config.get("TracingConfig") or {}).get("Mode"),
        )
    if "EphemeralStorage" in c.raw:
        c.same(
            "EphemeralStorage",
            c.props["EphemeralStorage"]["Size"],
            config["EphemeralStorage"]["Size"],
        )
    if "ReservedConcurrentExecutions" in c.raw:
        reserved = (function.get("Concurrency") or {}).get("ReservedConcurrentExecutions")
        c.same("ReservedConcurrentExecutions", c.props["ReservedConcurrentExecutions"], reserved)


def check_function_url(c: Check) -> None:
    config = c.client("lambda").get_function_url_config(FunctionName=c.props["TargetFunctionArn"])
    c.same("AuthType", c.props["AuthType"], config.get("AuthType"))
    c.same_if_set("Cors", config.get("Cors"))
    c.same_if_set("InvokeMode", config.get("InvokeMode"))
    if not str(config.get("FunctionUrl", "")).startswith("https://"):
        c.problem(f"FunctionUrl: {config.get('FunctionUrl')!r} is not an https URL")


def _principal_matches(expected: str, principal: Any) -> bool:
    if isinstance(principal, dict):
        return expected in [
            v
            for values in principal.values()
            for v in (values if isinstance(values, list) else [values])
        ]
    return principal == expected


def check_permission(c: Check) -> None:
    policy = json.loads(
        c.client("lambda").get_policy(FunctionName=c.props["FunctionName"])["Policy"]
    )
    for statement in policy.get("Statement", []):
        if statement.get("Action") != c.props["Action"]:
            continue
        if not _principal_matches(c.props["Principal"], statement.get("Principal")):
            continue
        if "SourceArn" in c.props and c.props["SourceArn"] not in json.dumps(
            statement.get("Condition", {})
        ):
            continue
        return
    c.problem(f"no statement allowing {c.props['Principal']} to {c.props['Action']}")


def check_event_source_mapping(c: Check) -> None:
    mapping = c.client("lambda").get_event_source_mapping(UUID=c.physical_id)
    c.same("EventSourceArn", c.props["EventSourceArn"], mapping.get("EventSourceArn"))
    function = str(c.props["FunctionName"]).rsplit(":", 1)[-1]
    if not str(mapping.get("FunctionArn", "")).endswith(f":{function}"):
        c.problem(f"FunctionArn: {mapping.get('FunctionArn')!r} is not function {function}")
    c.same_if_set("BatchSize", mapping.get("BatchSize"))


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::Lambda::Function", "Arn"): lambda r, name, _: r.clients("lambda").get_function(
        FunctionName=name
    )["Configuration"]["FunctionArn"],
    ("AWS::Lambda::Url", "FunctionUrl"): _url_attribute("FunctionUrl"),
    ("AWS::Lambda::Url", "FunctionArn"): _url_attribute("FunctionArn"),
}


CHECKS: dict[str, CheckFn] = {
    "AWS::Lambda::Function": check_function,
    "AWS::Lambda::Url": check_function_url,
    "AWS::Lambda::Permission": check_permission,
    "AWS::Lambda::EventSourceMapping": check_event_source_mapping,
}
