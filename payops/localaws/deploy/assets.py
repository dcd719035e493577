"""What `cdk deploy` does before CreateStack: `bootstrap` creates what `cdk bootstrap` would have
left that the stack needs (the BootstrapVersion SSM parameter, the asset buckets), `publish_assets`
uploads the file assets (directories zipped by `zip_directory`), and `create_secrets` /
`missing_referenced_secrets` deal with secrets named in {{resolve:secretsmanager:...}} references.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

from payops.localaws.core.clients import Clients, error_code
from payops.localaws.deploy.assembly import FileAsset, StackArtifact, substitute_placeholders
from payops.localaws.deploy.verify import DeployError

BOOTSTRAP_VERSION = "33"  # what the pinned CDK CLI's bootstrap template (aws-cdk 2.1148.1) writes


def zip_directory(directory: Path) -> bytes:
    """The directory as CDK packages it (files relative to the directory)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


_ASSET_ZIPS: dict[str, bytes] = {}  # CDK asset id -> zip bytes


def asset_zip(asset: FileAsset) -> bytes:
    """A directory asset, zipped once per process. CDK names an asset by a hash of its content
    (or, for a custom hash such as the bundled functions', of what determines it), so assemblies
    synthesized for other settings that hold the same asset share one zip, and a deploy walks no
    tree (the webhook receiver's is 1,800 files of dependencies)."""
    found = _ASSET_ZIPS.get(asset.asset_id)
    if found is None:
        found = _ASSET_ZIPS[asset.asset_id] = zip_directory(asset.source)
    return found


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
            if error_code(exc) != "ParameterNotFound":
                raise
            ssm.put_parameter(Name=name, Value=BOOTSTRAP_VERSION, Type="String")
            created.append(f"ssm:{name}")
    s3 = clients("s3")
    for bucket in sorted(
        {substitute_placeholders(a.bucket, account, clients.region) for a in artifact.assets}
    ):
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
            if error_code(exc) != "ResourceExistsException":
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
            if error_code(exc) != "ResourceNotFoundException":
                raise
            missing.append((logical_id, name))
    return missing


def publish_assets(artifact: StackArtifact, clients: Clients, account: str) -> int:
    """Upload every file asset (directories zipped); returns the bytes uploaded."""
    s3 = clients("s3")
    total = 0
    for asset in artifact.assets:
        if asset.packaging == "zip" and asset.source.is_dir():
            body = asset_zip(asset)
        elif asset.source.is_file():
            body = asset.source.read_bytes()
        else:
            raise DeployError([f"asset {asset.asset_id}: {asset.source} not found"], "assets")
        bucket = substitute_placeholders(asset.bucket, account, clients.region)
        s3.put_object(
            Bucket=bucket,
            Key=substitute_placeholders(asset.key, account, clients.region),
            Body=body,
        )
        total += len(body)
    return total


def lambda_code_dirs(artifact: StackArtifact, account: str, region: str) -> dict[str, Path]:
    """logical id of each Lambda function -> the cdk.out directory its S3 code came from."""
    by_key = {
        substitute_placeholders(a.key, account, region): a.source
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
