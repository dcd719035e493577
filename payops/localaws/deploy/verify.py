"""The deploy check: every template resource (unless its Condition is false) read back through the
AWS APIs by its service's check from the registry and compared with the template; a type with no
check is a problem too. `iter_problems` yields one line per difference; `assert_deployed` raises
`DeployError` with them, or returns the stack's physical ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from payops.localaws.core import registry
from payops.localaws.core.account import REGION
from payops.localaws.core.checking import Check, Resolver, Unresolvable
from payops.localaws.core.clients import Clients, error_code


class DeployError(RuntimeError):
    """The stack could not be deployed, or what moto holds differs from the template."""

    def __init__(self, problems: list[str], heading: str = "deploy failed") -> None:
        self.problems = list(problems)
        super().__init__(f"{heading}:\n" + "\n".join(f"  {p}" for p in self.problems))


def account_of(clients: Clients) -> str:
    return str(clients("sts").get_caller_identity()["Account"])


def physical_ids_of(clients: Clients, stack_name: str) -> dict[str, str]:
    cloudformation = clients("cloudformation")
    found: dict[str, str] = {}
    kwargs: dict[str, Any] = {"StackName": stack_name}
    while True:
        page = cloudformation.list_stack_resources(**kwargs)
        for summary in page["StackResourceSummaries"]:
            if summary.get("LogicalResourceId"):
                found[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId") or ""
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


# Resources CloudFormation does not list with a physical id that identifies them here.
_NO_PHYSICAL_ID = {"AWS::Lambda::Permission", "AWS::CDK::Metadata"}


def _check_resource(
    resolver: Resolver,
    logical_id: str,
    resource: dict[str, Any],
    checks: dict[str, Callable[[Check], None]],
) -> list[str]:
    check = Check(resolver, logical_id, resource)
    checker = checks.get(check.type)
    if checker is None:
        return [
            "no deployment check for this type: "
            "add one to CHECKS in payops/localaws/services/<svc>/checks.py"
        ]
    if logical_id not in resolver.physical_ids:
        return ["missing: the stack holds no such resource"]
    if not check.physical_id and check.type not in _NO_PHYSICAL_ID:
        return ["missing: the stack lists it without a physical id"]
    try:
        checker(check)
    except Unresolvable as exc:
        check.problem(f"cannot check: {exc}")
    except Exception as exc:
        code = error_code(exc)
        if code in ("KeyError", "IndexError", "TypeError"):
            check.problem(f"cannot check: {type(exc).__name__}: {exc}")
        else:
            message = getattr(exc, "response", {}).get("Error", {}).get("Message") or str(exc)
            check.problem(f"missing or unreadable: {code}: {message}")
    return check.problems


def iter_problems(
    template: dict[str, Any], stack_name: str, clients: Clients, physical_ids: dict[str, str]
) -> Iterator[str]:
    """One line per difference between the template and the deployed stack."""
    stack = clients("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        yield f"{stack_name} AWS::CloudFormation::Stack: status {stack['StackStatus']}"
    resolver = Resolver(template, physical_ids, clients, account_of(clients), stack)
    checks = registry.checks()
    for logical_id, resource in (template.get("Resources") or {}).items():
        condition = resource.get("Condition")
        if condition is not None and not resolver.condition(condition):
            continue  # not created, on AWS either
        for problem in _check_resource(resolver, logical_id, resource, checks):
            yield f"{logical_id} {resource.get('Type')}: {problem}"


def assert_deployed(
    template: dict[str, Any],
    stack_name: str = "StripePayOps",
    *,
    endpoint_url: str | None = None,
    region: str = REGION,
    clients: Clients | None = None,
    physical_ids: dict[str, str] | None = None,
) -> dict[str, str]:
    """Check every template resource in moto; returns the physical ids, or raises DeployError.
    `physical_ids`: the stack's, when the caller has just listed them (`physical_ids_of`)."""
    clients = clients or Clients(endpoint_url, region)
    if physical_ids is None:
        physical_ids = physical_ids_of(clients, stack_name)
    problems = list(iter_problems(template, stack_name, clients, physical_ids))
    if problems:
        raise DeployError(problems, f"{stack_name} differs from its template")
    return physical_ids
