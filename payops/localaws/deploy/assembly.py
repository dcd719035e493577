"""A cloud assembly (cdk.out) read as the CDK CLI reads it: `read_assembly` finds the stack's
template and asset manifest through manifest.json and returns a `StackArtifact` with one `FileAsset`
per destination (and the template's own S3 URL); Docker image and executable assets raise
`DeployError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payops.localaws.deploy.verify import DeployError


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
    # Where the template is published with the assets (s3://bucket/key, with placeholders):
    # `cdk deploy` then creates the stack from it by TemplateURL, as any template over
    # CloudFormation's 51,200-byte TemplateBody limit must be.
    template_url: str | None = None


def read_assembly(assembly_dir: str | Path, stack_name: str = "StripePayOps") -> StackArtifact:
    """The stack's template and file assets, found through manifest.json as the CLI does."""
    directory = Path(assembly_dir)
    manifest_path = directory / "manifest.json"
    template_file, assets_file = f"{stack_name}.template.json", f"{stack_name}.assets.json"
    template_url: str | None = None
    if manifest_path.exists():
        artifacts = json.loads(manifest_path.read_text()).get("artifacts", {})
        for artifact_id, artifact in artifacts.items():
            props = artifact.get("properties", {})
            if artifact.get("type") == "aws:cloudformation:stack" and (
                props.get("stackName", artifact_id) == stack_name
            ):
                template_file = props.get("templateFile", template_file)
                template_url = props.get("stackTemplateAssetObjectUrl")
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
    return StackArtifact(directory, stack_name, template, tuple(assets), template_url)


def substitute_placeholders(text: str, account: str, region: str) -> str:
    for name, value in (("AccountId", account), ("Region", region), ("Partition", "aws")):
        text = text.replace("${AWS::" + name + "}", value)
    return text


def template_url_for(url: str, account: str, region: str) -> str:
    """The S3 REST URL CloudFormation reads a template from, for the manifest's s3://bucket/key
    (what the CDK CLI's `restUrlFromManifest` makes of it)."""
    bucket, _, key = (
        substitute_placeholders(url, account, region).removeprefix("s3://").partition("/")
    )
    return f"https://s3.{region}.amazonaws.com/{bucket}/{key}"
