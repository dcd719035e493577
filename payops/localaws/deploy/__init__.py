"""Deploy a synthesized CDK stack into the local AWS, as `cdk deploy` would, and check it.

assembly.py reads cdk.out -> assets.py bootstraps, publishes file assets and secrets ->
create.py creates the stack -> verify.py reads every resource back through the AWS APIs and
compares it with the template (each service's checks, from the registry).
"""

from __future__ import annotations

from payops.localaws.core.account import FAKE_CREDENTIALS, REGION
from payops.localaws.core.clients import Clients
from payops.localaws.deploy.assembly import FileAsset, StackArtifact, read_assembly
from payops.localaws.deploy.assets import (
    bootstrap,
    create_secrets,
    missing_referenced_secrets,
    publish_assets,
    referenced_secrets,
    zip_directory,
)
from payops.localaws.deploy.create import DeployedStack, deploy, wait_for_stack
from payops.localaws.deploy.verify import DeployError, assert_deployed, iter_problems

__all__ = [
    "FAKE_CREDENTIALS",
    "REGION",
    "Clients",
    "DeployError",
    "DeployedStack",
    "FileAsset",
    "StackArtifact",
    "assert_deployed",
    "bootstrap",
    "create_secrets",
    "deploy",
    "iter_problems",
    "missing_referenced_secrets",
    "publish_assets",
    "read_assembly",
    "referenced_secrets",
    "wait_for_stack",
    "zip_directory",
]
