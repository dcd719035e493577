"""Deploy checks' shared parts: template intrinsics resolved against the deployed stack, and
`Check`, the one resource under check that each service's checks (services/<svc>/checks.py)
compare with what the service reports."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from payops.localaws.core import registry
from payops.localaws.core.clients import Clients, error_code

NO_VALUE = object()


class Unresolvable(Exception):
    pass


class Resolver:
    """Resolves template intrinsics to what they mean in the deployed stack.

    Ref gives the physical id CloudFormation lists; Fn::GetAtt asks the owning service (so an
    attribute resolves only if the resource really exists). Independent of moto's own resolver.
    """

    def __init__(
        self,
        template: dict[str, Any],
        physical_ids: dict[str, str],
        clients: Clients,
        account: str,
        stack: dict[str, Any],
    ) -> None:
        self.template = template
        self.resources = template.get("Resources", {})
        self.physical_ids = physical_ids
        self.clients = clients
        self.account = account
        self.region = clients.region
        self.parameters = {
            p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue"))
            for p in stack.get("Parameters") or []
        }
        self.pseudo = {
            "AWS::AccountId": account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack.get("StackName"),
            "AWS::StackId": stack.get("StackId"),
            "AWS::NoValue": NO_VALUE,
        }
        self._conditions: dict[str, bool] = {}
        self._attributes: dict[tuple[str, str], Any] = {}
        self._listings: dict[str, dict[str, Any]] = {}
        self._getters = registry.attributes()  # every service's, read once per check run

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self._conditions[name]

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (name, arg), = node.items()  # fmt: skip
            function = _FUNCTIONS.get(name)
            if function is not None:
                return function(self, arg)
            if name == "Condition" and isinstance(arg, str):
                return self.condition(arg)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical_ids and self.physical_ids[name]:
            return self.physical_ids[name]
        raise Unresolvable(f"Ref {name}: not in the deployed stack")

    def listed(self, key: str, fetch: Callable[[Clients], dict[str, Any]]) -> dict[str, Any]:
        """A service's whole listing by name (`fetch`), read once per check run: a stack's 79
        alarms are one paginated DescribeAlarms instead of 79. Each check still compares its
        own resource's entry, and one absent from the listing is missing."""
        if key not in self._listings:
            self._listings[key] = fetch(self.clients)
        return self._listings[key]

    def attribute(self, logical_id: str, name: str) -> Any:
        key = (logical_id, name)
        if key not in self._attributes:
            resource_type = self.resources.get(logical_id, {}).get("Type", "?")
            getter = self._getters.get((resource_type, name))
            if getter is None:
                raise Unresolvable(f"GetAtt {logical_id}.{name}: not known to assert_deployed")
            physical_id = self.ref(logical_id)
            try:
                self._attributes[key] = getter(self, physical_id, logical_id)
            except Unresolvable:
                raise
            except Exception as exc:
                raise Unresolvable(f"GetAtt {logical_id}.{name}: {error_code(exc)}") from exc
        return self._attributes[key]


def _fn_sub(resolver: Resolver, arg: Any) -> str:
    text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], resolver.value(arg[1]))

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return str(variables[name])
        if "." in name and not name.startswith("AWS::"):
            logical_id, _, attribute = name.partition(".")
            return str(resolver.attribute(logical_id, attribute))
        return str(resolver.ref(name))

    return re.sub(r"\$\{([^}]+)\}", replace, text)


def _fn_if(resolver: Resolver, arg: list[Any]) -> Any:
    name, when_true, when_false = arg
    return resolver.value(when_true if resolver.condition(name) else when_false)


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, arg: r.ref(arg),
    "Fn::GetAtt": lambda r, arg: r.attribute(*(arg.split(".", 1) if isinstance(arg, str) else arg)),
    "Fn::Join": lambda r, arg: arg[0].join(str(v) for v in r.value(arg[1])),
    "Fn::Sub": _fn_sub,
    "Fn::Select": lambda r, arg: r.value(arg[1])[int(r.value(arg[0]))],
    "Fn::Split": lambda r, arg: str(r.value(arg[1])).split(arg[0]),
    "Fn::If": _fn_if,
    "Fn::Equals": lambda r, arg: str(r.value(arg[0])) == str(r.value(arg[1])),
    "Fn::Not": lambda r, arg: not r.value(arg[0]),
    "Fn::And": lambda r, arg: all(r.value(arg)),
    "Fn::Or": lambda r, arg: any(r.value(arg)),
    "Fn::FindInMap": lambda r, arg: r.template["Mappings"][r.value(arg[0])][r.value(arg[1])][
        r.value(arg[2])
    ],
    "Fn::GetAZs": lambda r, arg: [f"{r.region}{az}" for az in "abcd"],
    "Fn::Base64": lambda r, arg: base64.b64encode(str(r.value(arg)).encode()).decode(),
    "Fn::ToJsonString": lambda r, arg: json.dumps(r.value(arg)),
}


Getter = Callable[[Resolver, str, str], Any]  # (resolver, physical id, logical id) -> value
CheckFn = Callable[["Check"], None]  # adds a problem line for each difference it finds


class Check:
    """One resource under check: resolved properties and helpers that collect problems."""

    def __init__(self, resolver: Resolver, logical_id: str, resource: dict[str, Any]) -> None:
        self.r = resolver
        self.logical_id = logical_id
        self.type = resource.get("Type", "?")
        self.raw = resource.get("Properties") or {}
        self.physical_id = resolver.physical_ids.get(logical_id, "")
        self.problems: list[str] = []
        self._props: dict[str, Any] | None = None

    @property
    def props(self) -> dict[str, Any]:
        if self._props is None:
            self._props = self.r.value(self.raw)
        return self._props

    def client(self, service: str) -> Any:
        return self.r.clients(service)

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def same(self, what: str, expected: Any, actual: Any) -> None:
        expected, actual = normal_json(expected), normal_json(actual)
        if expected != actual:
            path, expected, actual = _first_difference(expected, actual)
            self.problem(
                f"{what}{path}: expected {short_text(expected)}, found {short_text(actual)}"
            )

    def same_if_set(self, key: str, actual: Any, default: Any = NO_VALUE) -> None:
        if key in self.raw:
            self.same(key, self.props.get(key), actual)
        elif default is not NO_VALUE:
            self.same(f"{key} (default)", default, actual)


def normal_json(value: Any) -> Any:
    """Compare as AWS does: JSON text as its value, numbers and booleans by value."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in "{[":
            try:
                return normal_json(json.loads(stripped))
            except ValueError:
                return value
        if stripped.lower() in ("true", "false"):
            return stripped.lower() == "true"
        try:
            number = float(stripped)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, dict):
        return {k: normal_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normal_json(v) for v in value]
    return value


def _first_difference(expected: Any, actual: Any, path: str = "") -> tuple[str, Any, Any]:
    """Where two normalised JSON values first differ, so a problem line stays short."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual), key=str):
            if expected.get(key, NO_VALUE) != actual.get(key, NO_VALUE):
                if key not in expected or key not in actual:
                    return f"{path}.{key}", expected.get(key), actual.get(key)
                return _first_difference(expected[key], actual[key], f"{path}.{key}")
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            if left != right:
                return _first_difference(left, right, f"{path}[{index}]")
    return path, expected, actual


def short_text(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else value
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
