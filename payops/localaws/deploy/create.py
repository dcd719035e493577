"""Deploy a synthesized CDK stack into moto the way `cdk deploy` would, then check every resource.

`deploy(assembly_dir)` does what the CDK toolchain does against an account, in this process:
what `cdk bootstrap` leaves behind that the template needs (the bootstrap version parameter and
the assets bucket), the file assets of the asset manifest (directories zipped), CreateStack with
the template as `cdk deploy` sends it (by its URL among the published assets when the assembly
names one, else as the body), and the wait for the stack. Each Lambda function's asset
directory is registered with the Lambda bridge so its handler runs from cdk.out.

moto can report CREATE_COMPLETE with resources missing or half configured, so `assert_deployed`
reads every template resource back through the public AWS APIs (boto3, so it works against a
moto server too) and compares its key properties with the template, refs resolved. Every
problem is one line in the `DeployError`: logical id, type, problem.

Use it inside `mock_aws(config={"stepfunctions": {"execute_state_machine": True}})`, or pass
`endpoint_url` of a moto server. It refuses to run against anything else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payops.localaws.core import registry
from payops.localaws.core.account import REGION
from payops.localaws.core.clients import Clients
from payops.localaws.core.moto_pin import MOTO_VERSION
from payops.localaws.deploy.assembly import read_assembly, template_url_for
from payops.localaws.deploy.assets import (
    bootstrap,
    create_secrets,
    lambda_code_dirs,
    missing_referenced_secrets,
    publish_assets,
)
from payops.localaws.deploy.verify import DeployError, account_of, assert_deployed, physical_ids_of

_TERMINAL_WAIT_S = 60.0


@dataclass
class DeployedStack:
    stack_name: str
    stack_id: str
    template: dict[str, Any]
    outputs: dict[str, str]
    physical_ids: dict[str, str]  # logical id -> physical id, as CloudFormation lists them
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step, and "total"

    def resources_of(self, resource_type: str) -> dict[str, str]:
        """logical id -> physical id of the template's resources of one type."""
        resources = self.template.get("Resources", {})
        return {
            logical_id: physical_id
            for logical_id, physical_id in self.physical_ids.items()
            if resources.get(logical_id, {}).get("Type") == resource_type
        }


def _stack_failure(clients: Clients, stack_name: str, status: str) -> DeployError:
    events = clients("cloudformation").describe_stack_events(StackName=stack_name)["StackEvents"]
    problems = [
        f"{e['LogicalResourceId']} {e['ResourceType']}: {e['ResourceStatus']}: "
        f"{e.get('ResourceStatusReason') or ''}".rstrip(": ")
        for e in reversed(events)
        if e["ResourceStatus"].endswith("_FAILED")
        and e["ResourceType"] != "AWS::CloudFormation::Stack"
    ]
    return DeployError(problems or [f"{stack_name}: {status}"], f"stack {stack_name} is {status}")


def wait_for_stack(clients: Clients, stack_name: str, timeout_s: float = _TERMINAL_WAIT_S) -> dict:
    """Poll until the stack leaves *_IN_PROGRESS (moto is synchronous; a server may not be)."""
    cloudformation = clients("cloudformation")
    deadline = time.monotonic() + timeout_s
    while True:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise DeployError([f"{stack_name}: still {stack['StackStatus']}"], "timed out")
        time.sleep(0.05)


@contextmanager
def _seeded_names(seed: str) -> Iterator[None]:
    """moto draws the physical names' suffixes (`<stack>-<logical id>-<12 chars>`) and the ids
    in ARNs from one random source it lets callers seed. Seeded per stack for the create, the
    same template deployed again gets the same names, so the state machine definitions (which
    embed them) are the same strings and their parsed programs are reused (parsing the 14
    definitions was ~40% of a deploy). Reseeded from the OS afterwards: nothing else repeats.
    Like AWS's, the names stay unique within an account: the stack name is part of them."""
    from moto.moto_api._internal import mock_random

    mock_random.seed(seed)
    try:
        yield
    finally:
        mock_random.seed()


def deploy(
    assembly_dir: str | Path,
    stack_name: str = "StripePayOps",
    *,
    endpoint_url: str | None = None,
    region: str = REGION,
    parameters: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
) -> DeployedStack:
    """Deploy the synthesized stack into moto and check it (see module docstring).

    `secrets` (name -> value) are created first, as an operator creates what the template
    only references (e.g. the Stripe API key behind a connection's {{resolve:secretsmanager}}).
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(step: str, since: float) -> float:
        now = time.perf_counter()
        timings[step] = round(now - since, 3)
        return now

    registry.install()
    clients = Clients(endpoint_url, region)
    artifact = read_assembly(assembly_dir, stack_name)
    uncreatable = registry.provided("cloudformation", "uncreatable_resources")(artifact.template)
    if uncreatable:
        raise DeployError(
            [f"{logical_id} {kind}: cannot be created by the local AWS (moto "
             f"{MOTO_VERSION}); bridge it in payops/localaws/services/<svc>/resources.py"
             for logical_id, kind in uncreatable],
            f"{stack_name} holds resource types the local AWS cannot create",
        )  # fmt: skip
    account = account_of(clients)
    mark = lap("setup", started)
    bootstrap(artifact, clients, account)
    create_secrets(clients, secrets or {})
    missing = missing_referenced_secrets(artifact.template, clients)
    if missing:
        raise DeployError(
            [f"{logical_id}: {{{{resolve:secretsmanager:{name}}}}}: no such secret; create it "
             "first (deploy(secrets={...}))" for logical_id, name in missing],
            f"{stack_name} references secrets that do not exist",
        )  # fmt: skip
    mark = lap("bootstrap", mark)
    publish_assets(artifact, clients, account)
    mark = lap("assets", mark)

    cloudformation = clients("cloudformation")
    # As `cdk deploy` does: the template by its URL among the published assets when the
    # assembly names one (this app's is ~530 KB: ten times TemplateBody's limit), else its body.
    template = (
        {"TemplateURL": template_url_for(artifact.template_url, account, region)}
        if artifact.template_url
        else {"TemplateBody": json.dumps(artifact.template)}
    )
    try:
        with _seeded_names(f"{account}/{region}/{stack_name}"):
            cloudformation.create_stack(
                StackName=stack_name,
                **template,
                Parameters=[
                    {"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()
                ],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
    except Exception as exc:
        message = getattr(exc, "response", {}).get("Error", {}).get("Message") or str(exc)
        raise DeployError([f"{stack_name}: CreateStack: {message}"], "CreateStack failed") from exc
    stack = wait_for_stack(clients, stack_name)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise _stack_failure(clients, stack_name, stack["StackStatus"])
    mark = lap("create_stack", mark)

    physical_ids = physical_ids_of(clients, stack_name)
    code_dirs = lambda_code_dirs(artifact, account, region)
    if code_dirs:
        register_code_dir = registry.provided("lambda_", "register_code_dir")
        for logical_id, directory in code_dirs.items():
            register_code_dir(physical_ids[logical_id], str(directory))
    mark = lap("register_code", mark)

    assert_deployed(artifact.template, stack_name, clients=clients, physical_ids=physical_ids)
    lap("assert_deployed", mark)
    timings["total"] = round(time.perf_counter() - started, 3)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
    return DeployedStack(
        stack_name, stack["StackId"], artifact.template, outputs, physical_ids, timings
    )


# ---------------------------------------------------------------------------------------------
# Expected values: the template with refs resolved through the public APIs


# ---------------------------------------------------------------------------------------------
# Checks: one per resource type, each returns problems (one line each)
