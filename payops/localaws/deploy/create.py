"""Deploy a synthesized CDK stack into moto the way `cdk deploy` would, then check every resource.

`deploy(assembly_dir)` does what the CDK toolchain does against an account, in this process:
what `cdk bootstrap` leaves behind that the template needs (the bootstrap version parameter and
the assets bucket), the file assets of the asset manifest (directories zipped), CreateStack with
the template `cdk deploy` sends, and the wait for the stack. Each Lambda function's asset
directory is registered with the Lambda bridge so its handler runs from cdk.out.

moto can report CREATE_COMPLETE with resources missing or half configured, so `assert_deployed`
reads every template resource back through the public AWS APIs (boto3, so it works against a
moto server too) and compares its key properties with the template, refs resolved. Every
problem is one line in the `DeployError`: logical id, type, problem.

Use it inside `mock_aws(config={"stepfunctions": {"execute_state_machine": True}})`, or pass
`endpoint_url` of a moto server. It refuses to run against anything else.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}
BOOTSTRAP_VERSION = "33"  # what the pinned CDK CLI's bootstrap template (aws-cdk 2.1148.1) writes
# The bridges the local AWS needs (payops.localaws.BRIDGE_MODULES, when present, adds to these).
BRIDGE_MODULES = ("cloudformation_bridge", "events_bridge", "lambda_bridge", "stepfunctions_bridge")
_TERMINAL_WAIT_S = 60.0
_NO_VALUE = object()


class DeployError(RuntimeError):
    """The stack could not be deployed, or what moto holds differs from the template."""

    def __init__(self, problems: list[str], heading: str = "deploy failed") -> None:
        self.problems = list(problems)
        super().__init__(f"{heading}:\n" + "\n".join(f"  {p}" for p in self.problems))


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


# ---------------------------------------------------------------------------------------------
# Bridges and clients


def install_bridges() -> dict[str, str]:
    """Install every payops.localaws bridge present: name -> "installed" or why not.

    The CloudFormation bridge is required; the others are installed when importable, so one
    module being edited does not take the whole local AWS down.
    """
    import importlib

    package = importlib.import_module("payops.localaws")
    names = dict.fromkeys((*BRIDGE_MODULES, *getattr(package, "BRIDGE_MODULES", ())))
    status: dict[str, str] = {}
    for name in names:
        try:
            module = importlib.import_module(f"payops.localaws.{name}")
            module.install()
            status[name] = "installed"
        except Exception as exc:
            if name == "cloudformation_bridge":
                raise
            status[name] = f"not installed: {type(exc).__name__}: {exc}"
            warnings.warn(f"payops.localaws.{name} {status[name]}", stacklevel=2)
    return status


class Clients:
    """boto3 clients for moto: in-process (mock_aws) or a server's endpoint, fake credentials."""

    def __init__(self, endpoint_url: str | None = None, region: str = REGION) -> None:
        if endpoint_url is None:
            from moto.core.models import botocore_stubber

            if not botocore_stubber.enabled:
                raise RuntimeError(
                    "payops.localaws.deploy talks to moto only: run it inside mock_aws() or pass "
                    "the endpoint_url of a moto server"
                )
        self.endpoint_url = endpoint_url
        self.region = region
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url,
                **FAKE_CREDENTIALS,
            )  # fmt: skip
        return self._clients[service]


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(exc).__name__))


# ---------------------------------------------------------------------------------------------
# Cloud assembly


@dataclass(frozen=True)
class FileAsset:
    asset_id: str
    source: Path  # a file or a directory in the cloud assembly
    packaging: str  # "zip" (a directory, zipped) or "file"
    bucket: str  # may hold ${AWS::AccountId}, ${AWS::Region}, ${AWS::Partition}
    key: str


@dataclass(frozen=True)
class StackArtifact:
    directory: Path
    stack_name: str
    template: dict[str, Any]
    assets: tuple[FileAsset, ...]


def read_assembly(assembly_dir: str | Path, stack_name: str = "StripePayOps") -> StackArtifact:
    """The stack's template and file assets, found through manifest.json as the CLI does."""
    directory = Path(assembly_dir)
    manifest_path = directory / "manifest.json"
    template_file, assets_file = f"{stack_name}.template.json", f"{stack_name}.assets.json"
    if manifest_path.exists():
        artifacts = json.loads(manifest_path.read_text()).get("artifacts", {})
        for artifact_id, artifact in artifacts.items():
            props = artifact.get("properties", {})
            if artifact.get("type") == "aws:cloudformation:stack" and (
                props.get("stackName", artifact_id) == stack_name
            ):
                template_file = props.get("templateFile", template_file)
            if artifact.get("type") == "cdk:asset-manifest" and artifact_id.startswith(stack_name):
                assets_file = props.get("file", assets_file)
    template_path = directory / template_file
    if not template_path.exists():
        raise DeployError([f"{stack_name}: no template {template_path}"], "no such stack")
    assets: list[FileAsset] = []
    assets_path = directory / assets_file
    if assets_path.exists():
        manifest = json.loads(assets_path.read_text())
        if manifest.get("dockerImages"):
            raise DeployError(
                [f"{asset_id}: docker image assets cannot be built here"
                 for asset_id in manifest["dockerImages"]],
                "unsupported assets",
            )  # fmt: skip
        for asset_id, asset in manifest.get("files", {}).items():
            source = asset["source"]
            if "path" not in source:
                raise DeployError([f"{asset_id}: only path assets (no executables)"], "assets")
            for destination in asset["destinations"].values():
                assets.append(
                    FileAsset(
                        asset_id=asset_id,
                        source=directory / source["path"],
                        packaging=source.get("packaging", "file"),
                        bucket=destination["bucketName"],
                        key=destination["objectKey"],
                    )
                )
    template = json.loads(template_path.read_text())
    return StackArtifact(directory, stack_name, template, tuple(assets))


def _substitute(text: str, account: str, region: str) -> str:
    for name, value in (("AccountId", account), ("Region", region), ("Partition", "aws")):
        text = text.replace("${AWS::" + name + "}", value)
    return text


_ZIP_CACHE: dict[tuple[str, float], bytes] = {}  # (directory, newest mtime) -> zip bytes


def zip_directory(directory: Path) -> bytes:
    """The directory as CDK packages it (files relative to the directory), cached per content."""
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    newest = max((p.stat().st_mtime for p in files), default=0.0)
    key = (str(directory.resolve()), newest + len(files))
    if key not in _ZIP_CACHE:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for path in files:
                archive.write(path, path.relative_to(directory).as_posix())
        _ZIP_CACHE[key] = buffer.getvalue()
    return _ZIP_CACHE[key]


# ---------------------------------------------------------------------------------------------
# Deploy


def _account(clients: Clients) -> str:
    return str(clients("sts").get_caller_identity()["Account"])


def _bootstrap_parameter(template: dict[str, Any]) -> str | None:
    parameter = (template.get("Parameters") or {}).get("BootstrapVersion") or {}
    default = parameter.get("Default")
    return default if isinstance(default, str) and default.startswith("/cdk-bootstrap/") else None


def bootstrap(artifact: StackArtifact, clients: Clients, account: str) -> list[str]:
    """What `cdk bootstrap` provides that this stack needs; returns what was created."""
    created: list[str] = []
    name = _bootstrap_parameter(artifact.template)
    if name is not None:
        ssm = clients("ssm")
        try:
            ssm.get_parameter(Name=name)
        except Exception as exc:
            if _error_code(exc) != "ParameterNotFound":
                raise
            ssm.put_parameter(Name=name, Value=BOOTSTRAP_VERSION, Type="String")
            created.append(f"ssm:{name}")
    s3 = clients("s3")
    for bucket in sorted({_substitute(a.bucket, account, clients.region) for a in artifact.assets}):
        try:
            s3.head_bucket(Bucket=bucket)
        except Exception:
            s3.create_bucket(Bucket=bucket)
            created.append(f"s3:{bucket}")
    return created


def create_secrets(clients: Clients, secrets: dict[str, str]) -> None:
    client = clients("secretsmanager")
    for name, value in secrets.items():
        try:
            client.create_secret(Name=name, SecretString=value)
        except Exception as exc:
            if _error_code(exc) != "ResourceExistsException":
                raise
            client.put_secret_value(SecretId=name, SecretString=value)


_LITERAL_SECRET = re.compile(r'\{\{resolve:secretsmanager:([^:}\s"]+)(?=[:}])')


def referenced_secrets(template: dict[str, Any]) -> list[tuple[str, str]]:
    """(logical id, secret name) of each {{resolve:secretsmanager:NAME...}} by a literal name:
    secrets the operator creates before deploying (ARNs built in the template are not listed)."""
    found: list[tuple[str, str]] = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        for name in sorted(set(_LITERAL_SECRET.findall(json.dumps(resource)))):
            if name != "arn":
                found.append((logical_id, name))
    return found


def missing_referenced_secrets(template: dict[str, Any], clients: Clients) -> list[tuple[str, str]]:
    """The `referenced_secrets` that do not exist (CloudFormation would fail the resource)."""
    missing: list[tuple[str, str]] = []
    client = clients("secretsmanager")
    for logical_id, name in referenced_secrets(template):
        try:
            client.describe_secret(SecretId=name)
        except Exception as exc:
            if _error_code(exc) != "ResourceNotFoundException":
                raise
            missing.append((logical_id, name))
    return missing


def publish_assets(artifact: StackArtifact, clients: Clients, account: str) -> int:
    """Upload every file asset (directories zipped); returns the bytes uploaded."""
    s3 = clients("s3")
    total = 0
    for asset in artifact.assets:
        if asset.packaging == "zip" and asset.source.is_dir():
            body = zip_directory(asset.source)
        elif asset.source.is_file():
            body = asset.source.read_bytes()
        else:
            raise DeployError([f"asset {asset.asset_id}: {asset.source} not found"], "assets")
        bucket = _substitute(asset.bucket, account, clients.region)
        s3.put_object(Bucket=bucket, Key=_substitute(asset.key, account, clients.region), Body=body)
        total += len(body)
    return total


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


def _code_dirs(artifact: StackArtifact, account: str, region: str) -> dict[str, Path]:
    """logical id of each Lambda function -> the cdk.out directory its S3 code came from."""
    by_key = {
        _substitute(a.key, account, region): a.source
        for a in artifact.assets
        if a.packaging == "zip" and a.source.is_dir()
    }
    found: dict[str, Path] = {}
    for logical_id, resource in artifact.template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        key = (resource.get("Properties", {}).get("Code") or {}).get("S3Key")
        if isinstance(key, str) and key in by_key:
            found[logical_id] = by_key[key]
    return found


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
    from payops.localaws import cloudformation_bridge

    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(step: str, since: float) -> float:
        now = time.perf_counter()
        timings[step] = round(now - since, 3)
        return now

    install_bridges()
    clients = Clients(endpoint_url, region)
    artifact = read_assembly(assembly_dir, stack_name)
    uncreatable = cloudformation_bridge.uncreatable_resources(artifact.template)
    if uncreatable:
        raise DeployError(
            [f"{logical_id} {kind}: cannot be created by the local AWS (moto "
             f"{cloudformation_bridge.MOTO_VERSION}); bridge it in cloudformation_bridge.py"
             for logical_id, kind in uncreatable],
            f"{stack_name} holds resource types the local AWS cannot create",
        )  # fmt: skip
    account = _account(clients)
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
    try:
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(artifact.template),
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

    physical_ids = _physical_ids(clients, stack_name)
    code_dirs = _code_dirs(artifact, account, region)
    if code_dirs:
        from payops.localaws import lambda_bridge

        for logical_id, directory in code_dirs.items():
            lambda_bridge.register_code_dir(physical_ids[logical_id], str(directory))
    mark = lap("register_code", mark)

    assert_deployed(artifact.template, stack_name, clients=clients)
    lap("assert_deployed", mark)
    timings["total"] = round(time.perf_counter() - started, 3)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
    return DeployedStack(
        stack_name, stack["StackId"], artifact.template, outputs, physical_ids, timings
    )


def _physical_ids(clients: Clients, stack_name: str) -> dict[str, str]:
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


# ---------------------------------------------------------------------------------------------
# Expected values: the template with refs resolved through the public APIs


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
            "AWS::NoValue": _NO_VALUE,
        }
        self._conditions: dict[str, bool] = {}
        self._attributes: dict[tuple[str, str], Any] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self._conditions[name]

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (name, arg), = node.items()  # fmt: skip
            function = _FUNCTIONS.get(name)
            if function is not None:
                return function(self, arg)
            if name == "Condition" and isinstance(arg, str):
                return self.condition(arg)
        return {
            k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not _NO_VALUE
        }

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical_ids and self.physical_ids[name]:
            return self.physical_ids[name]
        raise Unresolvable(f"Ref {name}: not in the deployed stack")

    def attribute(self, logical_id: str, name: str) -> Any:
        key = (logical_id, name)
        if key not in self._attributes:
            resource_type = self.resources.get(logical_id, {}).get("Type", "?")
            getter = _ATTRIBUTES.get((resource_type, name))
            if getter is None:
                raise Unresolvable(f"GetAtt {logical_id}.{name}: not known to assert_deployed")
            physical_id = self.ref(logical_id)
            try:
                self._attributes[key] = getter(self, physical_id, logical_id)
            except Unresolvable:
                raise
            except Exception as exc:
                raise Unresolvable(f"GetAtt {logical_id}.{name}: {_error_code(exc)}") from exc
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


def _queue_attribute(name: str) -> Callable[[Resolver, str, str], Any]:
    def get(r: Resolver, url: str, logical_id: str) -> Any:
        attributes = r.clients("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=[name])
        return attributes["Attributes"][name]

    return get


def _log_group_arn(r: Resolver, name: str, logical_id: str) -> str:
    groups = r.clients("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    for group in groups:
        if group["logGroupName"] == name:
            return str(group["arn"])
    raise Unresolvable(f"GetAtt {logical_id}.Arn: no log group {name}")


def _rule_arn(r: Resolver, name: str, logical_id: str) -> str:
    bus = r.value(r.resources[logical_id].get("Properties", {}).get("EventBusName", "default"))
    return str(r.clients("events").describe_rule(Name=name, EventBusName=bus)["Arn"])


def _url_attribute(key: str) -> Callable[[Resolver, str, str], Any]:
    def get(r: Resolver, physical_id: str, logical_id: str) -> Any:
        target = r.value(r.resources[logical_id]["Properties"]["TargetFunctionArn"])
        return r.clients("lambda").get_function_url_config(FunctionName=target)[key]

    return get


_Getter = Callable[[Resolver, str, str], Any]
_ATTRIBUTES: dict[tuple[str, str], _Getter] = {
    ("AWS::SQS::Queue", "Arn"): _queue_attribute("QueueArn"),
    ("AWS::SQS::Queue", "QueueName"): lambda r, url, _: url.rsplit("/", 1)[-1],
    ("AWS::SQS::Queue", "QueueUrl"): lambda r, url, _: url,
    ("AWS::SNS::Topic", "TopicArn"): lambda r, arn, _: r.clients("sns").get_topic_attributes(
        TopicArn=arn
    )["Attributes"]["TopicArn"],
    ("AWS::SNS::Topic", "TopicName"): lambda r, arn, _: arn.rsplit(":", 1)[-1],
    ("AWS::SNS::Subscription", "Arn"): lambda r, arn, _: arn,
    ("AWS::DynamoDB::Table", "Arn"): lambda r, name, _: r.clients("dynamodb").describe_table(
        TableName=name
    )["Table"]["TableArn"],
    ("AWS::DynamoDB::Table", "StreamArn"): lambda r, name, _: r.clients("dynamodb").describe_table(
        TableName=name
    )["Table"]["LatestStreamArn"],
    ("AWS::IAM::Role", "Arn"): lambda r, name, _: r.clients("iam").get_role(RoleName=name)["Role"][
        "Arn"
    ],
    ("AWS::IAM::Role", "RoleId"): lambda r, name, _: r.clients("iam").get_role(RoleName=name)[
        "Role"
    ]["RoleId"],
    ("AWS::Lambda::Function", "Arn"): lambda r, name, _: r.clients("lambda").get_function(
        FunctionName=name
    )["Configuration"]["FunctionArn"],
    ("AWS::Lambda::Url", "FunctionUrl"): _url_attribute("FunctionUrl"),
    ("AWS::Lambda::Url", "FunctionArn"): _url_attribute("FunctionArn"),
    ("AWS::Events::EventBus", "Arn"): lambda r, name, _: r.clients("events").describe_event_bus(
        Name=name
    )["Arn"],
    ("AWS::Events::EventBus", "Name"): lambda r, name, _: r.clients("events").describe_event_bus(
        Name=name
    )["Name"],
    ("AWS::Events::Rule", "Arn"): _rule_arn,
    ("AWS::Events::Archive", "Arn"): lambda r, name, _: r.clients("events").describe_archive(
        ArchiveName=name
    )["ArchiveArn"],
    ("AWS::Events::Connection", "Arn"): lambda r, name, _: r.clients("events").describe_connection(
        Name=name
    )["ConnectionArn"],
    ("AWS::Events::Connection", "SecretArn"): lambda r, name, _: r.clients(
        "events"
    ).describe_connection(Name=name)["SecretArn"],
    ("AWS::Events::ApiDestination", "Arn"): lambda r, name, _: r.clients(
        "events"
    ).describe_api_destination(Name=name)["ApiDestinationArn"],
    ("AWS::StepFunctions::StateMachine", "Arn"): lambda r, arn, _: r.clients(
        "stepfunctions"
    ).describe_state_machine(stateMachineArn=arn)["stateMachineArn"],
    ("AWS::StepFunctions::StateMachine", "Name"): lambda r, arn, _: r.clients(
        "stepfunctions"
    ).describe_state_machine(stateMachineArn=arn)["name"],
    ("AWS::SecretsManager::Secret", "Id"): lambda r, arn, _: r.clients(
        "secretsmanager"
    ).describe_secret(SecretId=arn)["ARN"],
    ("AWS::Logs::LogGroup", "Arn"): _log_group_arn,
    ("AWS::CloudWatch::Alarm", "Arn"): lambda r, name, _: r.clients("cloudwatch").describe_alarms(
        AlarmNames=[name]
    )["MetricAlarms"][0]["AlarmArn"],
    ("AWS::S3::Bucket", "Arn"): lambda r, name, _: _bucket(r, name, f"arn:aws:s3:::{name}"),
    ("AWS::S3::Bucket", "DomainName"): lambda r, name, _: _bucket(
        r, name, f"{name}.s3.amazonaws.com"
    ),
    ("AWS::S3::Bucket", "RegionalDomainName"): lambda r, name, _: _bucket(
        r, name, f"{name}.s3.{r.region}.amazonaws.com"
    ),
    ("AWS::KMS::Key", "Arn"): lambda r, key, _: r.clients("kms").describe_key(KeyId=key)[
        "KeyMetadata"
    ]["Arn"],
    ("AWS::KMS::Key", "KeyId"): lambda r, key, _: r.clients("kms").describe_key(KeyId=key)[
        "KeyMetadata"
    ]["KeyId"],
    ("AWS::Pipes::Pipe", "Arn"): lambda r, name, _: r.clients("pipes").describe_pipe(Name=name)[
        "Arn"
    ],
    ("AWS::SSM::Parameter", "Value"): lambda r, name, _: r.clients("ssm").get_parameter(Name=name)[
        "Parameter"
    ]["Value"],
}


def _bucket(r: Resolver, name: str, value: str) -> str:
    r.clients("s3").head_bucket(Bucket=name)
    return value


# ---------------------------------------------------------------------------------------------
# Checks: one per resource type, each returns problems (one line each)


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
        expected, actual = _normal(expected), _normal(actual)
        if expected != actual:
            path, expected, actual = _first_difference(expected, actual)
            self.problem(f"{what}{path}: expected {_short(expected)}, found {_short(actual)}")

    def same_if_set(self, key: str, actual: Any, default: Any = _NO_VALUE) -> None:
        if key in self.raw:
            self.same(key, self.props.get(key), actual)
        elif default is not _NO_VALUE:
            self.same(f"{key} (default)", default, actual)


def _normal(value: Any) -> Any:
    """Compare as AWS does: JSON text as its value, numbers and booleans by value."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in "{[":
            try:
                return _normal(json.loads(stripped))
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
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    return value


def _first_difference(expected: Any, actual: Any, path: str = "") -> tuple[str, Any, Any]:
    """Where two normalised JSON values first differ, so a problem line stays short."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual), key=str):
            if expected.get(key, _NO_VALUE) != actual.get(key, _NO_VALUE):
                if key not in expected or key not in actual:
                    return f"{path}.{key}", expected.get(key), actual.get(key)
                return _first_difference(expected[key], actual[key], f"{path}.{key}")
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            if left != right:
                return _first_difference(left, right, f"{path}[{index}]")
    return path, expected, actual


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else value
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def check_event_bus(c: Check) -> None:
    bus = c.client("events").describe_event_bus(Name=c.physical_id)
    c.same_if_set("Name", bus["Name"])
    if "EventSourceName" in c.raw:
        sources = c.client("events").describe_event_source(Name=c.props["EventSourceName"])
        c.same("EventSourceName", c.props["EventSourceName"], sources["Name"])
    if "Policy" in c.raw:  # the resource policy PutEvents is evaluated against
        policy = c.props["Policy"]
        expected = json.loads(policy) if isinstance(policy, str) else policy
        c.same(
            "Policy", expected["Statement"], json.loads(bus.get("Policy") or "{}").get("Statement")
        )


_TARGET_KEYS = (
    "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "DeadLetterConfig",
    "RetryPolicy", "SqsParameters", "HttpParameters", "EcsParameters", "KinesisParameters",
)  # fmt: skip


def check_rule(c: Check) -> None:
    events = c.client("events")
    bus = c.props.get("EventBusName", "default")
    rule = events.describe_rule(Name=c.physical_id, EventBusName=bus)
    c.same_if_set("Name", rule["Name"])
    c.same_if_set("EventPattern", rule.get("EventPattern"))
    c.same_if_set("ScheduleExpression", rule.get("ScheduleExpression"))
    c.same_if_set("Description", rule.get("Description"))
    c.same_if_set("RoleArn", rule.get("RoleArn"))
    c.same_if_set("State", rule.get("State"), "ENABLED")
    actual = {
        t["Id"]: t
        for t in events.list_targets_by_rule(Rule=c.physical_id, EventBusName=bus)["Targets"]
    }
    expected = {t["Id"]: t for t in c.props.get("Targets", [])}
    for target_id, target in expected.items():
        found = actual.get(target_id)
        if found is None:
            c.problem(f"target {target_id}: missing")
            continue
        for key in _TARGET_KEYS:
            if key in target or key in found:
                c.same(f"target {target_id} {key}", target.get(key), found.get(key))
    for target_id in sorted(set(actual) - set(expected)):
        c.problem(f"target {target_id}: not in the template")


def check_archive(c: Check) -> None:
    archive = c.client("events").describe_archive(ArchiveName=c.physical_id)
    c.same("SourceArn", c.props["SourceArn"], archive["EventSourceArn"])
    c.same_if_set("EventPattern", archive.get("EventPattern"))
    c.same_if_set("RetentionDays", archive.get("RetentionDays"))
    c.same("State", "ENABLED", archive.get("State"))


def check_connection(c: Check) -> None:
    connection = c.client("events").describe_connection(Name=c.physical_id)
    c.same("AuthorizationType", c.props["AuthorizationType"], connection["AuthorizationType"])
    c.same("ConnectionState", "AUTHORIZED", connection.get("ConnectionState"))
    if not connection.get("SecretArn"):
        c.problem("no SecretArn (the connection keeps its credentials in a secret)")
    auth = c.props.get("AuthParameters") or {}
    actual = connection.get("AuthParameters") or {}
    for group, key in (
        ("ApiKeyAuthParameters", "ApiKeyName"),
        ("BasicAuthParameters", "Username"),
        ("OAuthParameters", "AuthorizationEndpoint"),
        ("OAuthParameters", "HttpMethod"),
    ):
        if key in auth.get(group, {}):
            c.same(
                f"AuthParameters.{group}.{key}", auth[group][key], actual.get(group, {}).get(key)
            )
    if connection.get("SecretArn"):
        stored = c.client("secretsmanager").get_secret_value(SecretId=connection["SecretArn"])
        if "{{resolve:" in str(stored.get("SecretString")):
            c.problem("its credentials hold an unresolved {{resolve:...}} dynamic reference")


def check_api_destination(c: Check) -> None:
    destination = c.client("events").describe_api_destination(Name=c.physical_id)
    for key in ("ConnectionArn", "InvocationEndpoint", "HttpMethod"):
        c.same(key, c.props[key], destination.get(key))
    c.same_if_set("InvocationRateLimitPerSecond", destination.get("InvocationRateLimitPerSecond"))


def check_topic(c: Check) -> None:
    sns = c.client("sns")
    attributes = sns.get_topic_attributes(TopicArn=c.physical_id)["Attributes"]
    c.same_if_set("TopicName", c.physical_id.rsplit(":", 1)[-1])
    c.same_if_set("FifoTopic", attributes.get("FifoTopic", "false"))
    c.same_if_set("ContentBasedDeduplication", attributes.get("ContentBasedDeduplication"))
    c.same_if_set("KmsMasterKeyId", attributes.get("KmsMasterKeyId"))
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=c.physical_id)["Subscriptions"]
    have = {(s["Protocol"], s["Endpoint"]) for s in subscriptions}
    for inline in c.props.get("Subscription", []):
        if (inline["Protocol"], inline["Endpoint"]) not in have:
            c.problem(f"inline subscription {inline['Protocol']}:{inline['Endpoint']}: missing")


def check_subscription(c: Check) -> None:
    attributes = c.client("sns").get_subscription_attributes(SubscriptionArn=c.physical_id)[
        "Attributes"
    ]
    for key in ("TopicArn", "Protocol", "Endpoint"):
        c.same(key, c.props.get(key), attributes.get(key))
    c.same_if_set("RawMessageDelivery", attributes.get("RawMessageDelivery", "false"), False)
    for key in ("FilterPolicy", "FilterPolicyScope", "RedrivePolicy", "DeliveryPolicy"):
        c.same_if_set(key, attributes.get(key))


def check_topic_policy(c: Check) -> None:
    for arn in c.props["Topics"]:
        policy = c.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy")
        c.same(f"Policy of {arn}", c.props["PolicyDocument"], policy)


_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds", "FifoQueue", "ContentBasedDeduplication",
    "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled",
    "DeduplicationScope", "FifoThroughputLimit", "RedrivePolicy", "RedriveAllowPolicy",
)  # fmt: skip


def check_queue(c: Check) -> None:
    attributes = c.client("sqs").get_queue_attributes(
        QueueUrl=c.physical_id, AttributeNames=["All"]
    )["Attributes"]
    c.same_if_set("QueueName", c.physical_id.rsplit("/", 1)[-1])
    for key in _QUEUE_ATTRIBUTES:
        c.same_if_set(key, attributes.get(key))


def check_queue_policy(c: Check) -> None:
    for url in c.props["Queues"]:
        attributes = c.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
        policy = attributes.get("Attributes", {}).get("Policy")
        c.same(f"Policy of {url}", c.props["PolicyDocument"], policy)


def check_table(c: Check) -> None:
    dynamodb = c.client("dynamodb")
    table = dynamodb.describe_table(TableName=c.physical_id)["Table"]
    c.same_if_set("TableName", table["TableName"])
    c.same("KeySchema", c.props.get("KeySchema"), table.get("KeySchema"))
    c.same(
        "AttributeDefinitions",
        sorted(c.props.get("AttributeDefinitions", []), key=lambda a: a["AttributeName"]),
        sorted(table.get("AttributeDefinitions", []), key=lambda a: a["AttributeName"]),
    )
    mode = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    c.same_if_set("BillingMode", mode, "PROVISIONED")
    expected_gsis = {
        g["IndexName"]: g["KeySchema"] for g in c.props.get("GlobalSecondaryIndexes", [])
    }
    actual_gsis = {g["IndexName"]: g["KeySchema"] for g in table.get("GlobalSecondaryIndexes", [])}
    c.same("GlobalSecondaryIndexes", expected_gsis, actual_gsis)
    if "StreamSpecification" in c.raw:
        c.same(
            "StreamViewType",
            c.props["StreamSpecification"].get("StreamViewType"),
            (table.get("StreamSpecification") or {}).get("StreamViewType"),
        )
    ttl = c.props.get("TimeToLiveSpecification")
    if ttl:
        actual = dynamodb.describe_time_to_live(TableName=c.physical_id)["TimeToLiveDescription"]
        enabled = _normal(ttl.get("Enabled"))
        c.same("TTL status", "ENABLED" if enabled else "DISABLED", actual.get("TimeToLiveStatus"))
        if enabled:
            c.same("TTL AttributeName", ttl.get("AttributeName"), actual.get("AttributeName"))
    pitr = c.props.get("PointInTimeRecoverySpecification")
    if pitr:
        backups = dynamodb.describe_continuous_backups(TableName=c.physical_id)
        status = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        expected = "ENABLED" if _normal(pitr.get("PointInTimeRecoveryEnabled")) else "DISABLED"
        c.same("PointInTimeRecovery", expected, status.get("PointInTimeRecoveryStatus"))


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


def check_role(c: Check) -> None:
    iam = c.client("iam")
    role = iam.get_role(RoleName=c.physical_id)["Role"]
    c.same_if_set("RoleName", role["RoleName"])
    c.same(
        "AssumeRolePolicyDocument",
        c.props.get("AssumeRolePolicyDocument"),
        role.get("AssumeRolePolicyDocument"),
    )
    c.same_if_set("Path", role.get("Path"))
    c.same_if_set("MaxSessionDuration", role.get("MaxSessionDuration"))
    attached = iam.list_attached_role_policies(RoleName=c.physical_id)["AttachedPolicies"]
    arns = {p["PolicyArn"] for p in attached}
    for arn in c.props.get("ManagedPolicyArns", []):
        if arn not in arns:
            c.problem(f"managed policy {arn}: not attached")
    for policy in c.props.get("Policies", []):
        document = iam.get_role_policy(RoleName=c.physical_id, PolicyName=policy["PolicyName"])
        c.same(
            f"policy {policy['PolicyName']}", policy["PolicyDocument"], document["PolicyDocument"]
        )


def check_policy(c: Check) -> None:
    iam = c.client("iam")
    name, document = c.props["PolicyName"], c.props["PolicyDocument"]
    for role in c.props.get("Roles", []):
        found = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        c.same(f"PolicyDocument on role {role}", document, found)
    for user in c.props.get("Users", []):
        found = iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"]
        c.same(f"PolicyDocument on user {user}", document, found)
    for group in c.props.get("Groups", []):
        found = iam.get_group_policy(GroupName=group, PolicyName=name)["PolicyDocument"]
        c.same(f"PolicyDocument on group {group}", document, found)


def check_managed_policy(c: Check) -> None:
    iam = c.client("iam")
    policy = iam.get_policy(PolicyArn=c.physical_id)["Policy"]
    version = iam.get_policy_version(PolicyArn=c.physical_id, VersionId=policy["DefaultVersionId"])
    c.same("PolicyDocument", c.props.get("PolicyDocument"), version["PolicyVersion"]["Document"])


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


def check_log_group(c: Check) -> None:
    groups = c.client("logs").describe_log_groups(logGroupNamePrefix=c.physical_id)["logGroups"]
    group = next((g for g in groups if g["logGroupName"] == c.physical_id), None)
    if group is None:
        c.problem(f"log group {c.physical_id}: missing")
        return
    c.same_if_set("LogGroupName", group["logGroupName"])
    c.same_if_set("RetentionInDays", group.get("retentionInDays"))


def check_secret(c: Check) -> None:
    client = c.client("secretsmanager")
    secret = client.describe_secret(SecretId=c.physical_id)
    c.same_if_set("Name", secret["Name"])
    c.same_if_set("Description", secret.get("Description"))
    value = client.get_secret_value(SecretId=c.physical_id).get("SecretString")
    if "SecretString" in c.raw:
        if value != c.props["SecretString"]:
            c.problem("SecretString: the stored value differs from the template's")
        return
    spec = c.props.get("GenerateSecretString") or {}
    generated = value
    if value is not None and spec.get("SecretStringTemplate"):
        document = json.loads(value)
        generated = document.pop(spec["GenerateStringKey"], None)
        c.same("SecretStringTemplate", json.loads(spec["SecretStringTemplate"]), document)
    if not generated:
        c.problem("GenerateSecretString: no generated value")
        return
    c.same("generated length", int(spec.get("PasswordLength", 32)), len(generated))
    excluded = set(str(spec.get("ExcludeCharacters", ""))) & set(generated)
    if excluded:
        c.problem(f"generated value holds excluded characters {sorted(excluded)}")


_ALARM_KEYS = (
    "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Period", "EvaluationPeriods",
    "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData", "Unit",
    "AlarmDescription", "AlarmActions", "OKActions", "InsufficientDataActions", "Dimensions",
    "ActionsEnabled", "EvaluateLowSampleCountPercentile", "ThresholdMetricId",
)  # fmt: skip


def check_alarm(c: Check) -> None:
    alarms = c.client("cloudwatch").describe_alarms(AlarmNames=[c.physical_id])["MetricAlarms"]
    if not alarms:
        c.problem(f"alarm {c.physical_id}: missing")
        return
    alarm = alarms[0]
    c.same_if_set("AlarmName", alarm["AlarmName"])
    for key in _ALARM_KEYS:
        c.same_if_set(key, alarm.get(key))
    if "Metrics" in c.raw:
        expected = [(m["Id"], m.get("Expression")) for m in c.props["Metrics"]]
        c.same(
            "Metrics", expected, [(m["Id"], m.get("Expression")) for m in alarm.get("Metrics", [])]
        )


def check_bucket(c: Check) -> None:
    s3 = c.client("s3")
    s3.head_bucket(Bucket=c.physical_id)
    c.same_if_set("BucketName", c.physical_id)
    if "VersioningConfiguration" in c.raw:
        status = s3.get_bucket_versioning(Bucket=c.physical_id).get("Status")
        c.same(
            "VersioningConfiguration.Status", c.props["VersioningConfiguration"]["Status"], status
        )
    rules = (c.props.get("LifecycleConfiguration") or {}).get("Rules")
    if rules:
        actual = s3.get_bucket_lifecycle_configuration(Bucket=c.physical_id)["Rules"]
        c.same(
            "LifecycleConfiguration",
            [(r.get("Id"), r.get("Status"), r.get("ExpirationInDays")) for r in rules],
            [
                (r.get("ID"), r.get("Status"), (r.get("Expiration") or {}).get("Days"))
                for r in actual
            ],
        )
    block = c.props.get("PublicAccessBlockConfiguration")
    if block:
        actual = s3.get_public_access_block(Bucket=c.physical_id)["PublicAccessBlockConfiguration"]
        for key, value in block.items():
            c.same(f"PublicAccessBlockConfiguration.{key}", value, actual.get(key))


def check_bucket_policy(c: Check) -> None:
    policy = c.client("s3").get_bucket_policy(Bucket=c.props["Bucket"])["Policy"]
    c.same("PolicyDocument", c.props["PolicyDocument"], policy)


def check_kms_key(c: Check) -> None:
    metadata = c.client("kms").describe_key(KeyId=c.physical_id)["KeyMetadata"]
    c.same(
        "KeyState", "Enabled" if c.props.get("Enabled", True) else "Disabled", metadata["KeyState"]
    )
    c.same_if_set("Description", metadata.get("Description"))


def check_kms_alias(c: Check) -> None:
    aliases = c.client("kms").list_aliases()["Aliases"]
    if not any(a["AliasName"] == c.props["AliasName"] for a in aliases):
        c.problem(f"alias {c.props['AliasName']}: missing")


def check_ssm_parameter(c: Check) -> None:
    parameter = c.client("ssm").get_parameter(Name=c.physical_id)["Parameter"]
    c.same("Value", c.props["Value"], parameter["Value"])
    c.same_if_set("Type", parameter["Type"])


def check_email_identity(c: Check) -> None:
    c.client("sesv2").get_email_identity(EmailIdentity=c.physical_id)


def check_configuration_set(c: Check) -> None:
    c.client("sesv2").get_configuration_set(ConfigurationSetName=c.physical_id)


def check_pipe(c: Check) -> None:
    pipe = c.client("pipes").describe_pipe(Name=c.physical_id)
    for key in ("Source", "Target", "RoleArn"):
        c.same(key, c.props[key], pipe.get(key))
    for key in ("SourceParameters", "TargetParameters", "Enrichment", "Description"):
        c.same_if_set(key, pipe.get(key))
    c.same_if_set("DesiredState", pipe.get("DesiredState"), "RUNNING")


def check_repository(c: Check) -> None:
    c.client("ecr").describe_repositories(repositoryNames=[c.physical_id])


CHECKS: dict[str, Callable[[Check], None]] = {
    "AWS::Events::EventBus": check_event_bus,
    "AWS::Events::Rule": check_rule,
    "AWS::Events::Archive": check_archive,
    "AWS::Events::Connection": check_connection,
    "AWS::Events::ApiDestination": check_api_destination,
    "AWS::SNS::Topic": check_topic,
    "AWS::SNS::Subscription": check_subscription,
    "AWS::SNS::TopicPolicy": check_topic_policy,
    "AWS::SQS::Queue": check_queue,
    "AWS::SQS::QueuePolicy": check_queue_policy,
    "AWS::DynamoDB::Table": check_table,
    "AWS::StepFunctions::StateMachine": check_state_machine,
    "AWS::IAM::Role": check_role,
    "AWS::IAM::Policy": check_policy,
    "AWS::IAM::ManagedPolicy": check_managed_policy,
    "AWS::Lambda::Function": check_function,
    "AWS::Lambda::Url": check_function_url,
    "AWS::Lambda::Permission": check_permission,
    "AWS::Lambda::EventSourceMapping": check_event_source_mapping,
    "AWS::Logs::LogGroup": check_log_group,
    "AWS::SecretsManager::Secret": check_secret,
    "AWS::CloudWatch::Alarm": check_alarm,
    "AWS::S3::Bucket": check_bucket,
    "AWS::S3::BucketPolicy": check_bucket_policy,
    "AWS::KMS::Key": check_kms_key,
    "AWS::KMS::Alias": check_kms_alias,
    "AWS::SSM::Parameter": check_ssm_parameter,
    "AWS::SES::EmailIdentity": check_email_identity,
    "AWS::SES::ConfigurationSet": check_configuration_set,
    "AWS::ECR::Repository": check_repository,
    "AWS::Pipes::Pipe": check_pipe,
    "AWS::CDK::Metadata": lambda c: None,  # creates nothing
}
# Resources CloudFormation does not list with a physical id that identifies them here.
_NO_PHYSICAL_ID = {"AWS::Lambda::Permission", "AWS::CDK::Metadata"}


def _check_resource(resolver: Resolver, logical_id: str, resource: dict[str, Any]) -> list[str]:
    check = Check(resolver, logical_id, resource)
    checker = CHECKS.get(check.type)
    if checker is None:
        return ["no deployment check for this type: add one to payops.localaws.deploy.CHECKS"]
    if logical_id not in resolver.physical_ids:
        return ["missing: the stack holds no such resource"]
    if not check.physical_id and check.type not in _NO_PHYSICAL_ID:
        return ["missing: the stack lists it without a physical id"]
    try:
        checker(check)
    except Unresolvable as exc:
        check.problem(f"cannot check: {exc}")
    except Exception as exc:
        code = _error_code(exc)
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
    resolver = Resolver(template, physical_ids, clients, _account(clients), stack)
    for logical_id, resource in (template.get("Resources") or {}).items():
        condition = resource.get("Condition")
        if condition is not None and not resolver.condition(condition):
            continue  # not created, on AWS either
        for problem in _check_resource(resolver, logical_id, resource):
            yield f"{logical_id} {resource.get('Type')}: {problem}"


def assert_deployed(
    template: dict[str, Any],
    stack_name: str = "StripePayOps",
    *,
    endpoint_url: str | None = None,
    region: str = REGION,
    clients: Clients | None = None,
) -> dict[str, str]:
    """Check every template resource in moto; returns the physical ids, or raises DeployError."""
    clients = clients or Clients(endpoint_url, region)
    physical_ids = _physical_ids(clients, stack_name)
    problems = list(iter_problems(template, stack_name, clients, physical_ids))
    if problems:
        raise DeployError(problems, f"{stack_name} differs from its template")
    return physical_ids
