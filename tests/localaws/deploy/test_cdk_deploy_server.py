"""The pinned CDK CLI bootstraps and deploys the app into the local AWS running as a server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from conftest import ROOT, Synthesized

from payops.localaws import deploy as deploy_module
from payops.localaws import server as local_server
from payops.localaws.deploy import FAKE_CREDENTIALS, assert_deployed

CDK_VERSION = "2.1148.1"


@pytest.fixture
def running() -> Iterator[local_server.LocalAwsServer]:
    server = local_server.start()
    try:
        yield server
    finally:
        server.stop()


def client(server: local_server.LocalAwsServer, service: str):  # noqa: ANN201
    return boto3.client(
        service, region_name="us-east-1", endpoint_url=server.endpoint_url, **FAKE_CREDENTIALS
    )


def cli_env(server: local_server.LocalAwsServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_", "PAYOPS_"))}
    env.update(server.env())
    env.update(
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        CDK_DISABLE_CLI_TELEMETRY="true",
        CDK_DISABLE_VERSION_CHECK="true",
        CI="true",
        # CDK's built-in template validation (a WebAssembly linter, ~3 s of each synthesis, and
        # only ever warnings) is left to test_cdk_synth_works_from_a_clean_shell, which runs
        # `cdk synth` as a user does; here the deploy synthesizes the app again.
        CDK_VALIDATION="false",
    )
    return env


def run(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    log = "\n".join(line for line in done.stderr.splitlines() if '" 200 -' not in line)
    assert done.returncode == 0, (
        f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{log[-5000:]}"
    )
    return seconds


def test_server_runs_every_bridge(running: local_server.LocalAwsServer) -> None:
    assert running.endpoint_url == f"http://localhost:{running.port}"
    assert running.env()["AWS_ENDPOINT_URL"] == running.endpoint_url
    assert running.bridges["cloudformation"] == "installed"
    # A type moto's CloudFormation skips, created through the server by the bridge.
    template = {
        "Resources": {
            "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "s1"}},
        }
    }
    client(running, "cloudformation").create_stack(StackName="S", TemplateBody=json.dumps(template))
    assert client(running, "secretsmanager").describe_secret(SecretId="s1")["Name"] == "s1"


def test_module_prints_the_environment_and_the_commands() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "payops.localaws.server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "cdk deploy" in line or len(lines) > 60:
                break
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = "".join(lines)
    assert "AWS_ENDPOINT_URL=http://localhost:" in text, text
    assert local_server.SECRET_COMMAND in text, text
    assert "node_modules/.bin/cdk bootstrap aws://123456789012/us-east-1 --app ''" in text, text
    assert "--method=direct" in text, text


def test_cdk_cli_bootstraps_and_deploys_into_the_server(
    running: local_server.LocalAwsServer, webhook: Synthesized, tmp_path: Path
) -> None:
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    assert cdk.exists(), "the pinned CDK CLI is missing: run `make setup` (npm ci)"
    version = subprocess.run([str(cdk), "--version"], capture_output=True, text=True, cwd=ROOT)
    assert version.stdout.startswith(CDK_VERSION), version.stdout
    env = cli_env(running)
    # What the operator creates before deploying, as the README and the server print it: the
    # one secret the template only references.
    referenced = {name for _, name in deploy_module.referenced_secrets(webhook.json)}
    assert referenced == {"payops/stripe-api-key"}
    assert local_server.SECRET_COMMAND in (ROOT / "README.md").read_text()
    created = subprocess.run(
        ["bash", "-c", local_server.SECRET_COMMAND], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr[-3000:]

    bootstrap, deploy = local_server.cdk_commands("webhook")
    out = tmp_path / "cdk.out"
    started = time.perf_counter()
    bootstrap_s = run([*bootstrap, "--output", str(tmp_path / "bootstrap.out")], env)
    deploy_s = run([*deploy, "--output", str(out)], env)
    # Bootstrapping synthesized nothing (`--app ''`): no assembly where one would go.
    assert not (tmp_path / "bootstrap.out").exists()
    print(f"\ncdk bootstrap {bootstrap_s:.1f} s, cdk deploy {deploy_s:.1f} s (via moto server)")

    cloudformation = client(running, "cloudformation")
    toolkit = cloudformation.describe_stacks(StackName="CDKToolkit")["Stacks"][0]
    assert toolkit["StackStatus"] == "CREATE_COMPLETE"
    version = client(running, "ssm").get_parameter(Name="/cdk-bootstrap/hnb659fds/version")
    assert int(version["Parameter"]["Value"]) >= 6
    stack = cloudformation.describe_stacks(StackName="StripePayOps")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["WebhookUrl"].startswith("https://")

    # The template the CLI sent, every resource checked through the server.
    template = json.loads((out / "StripePayOps.template.json").read_text())
    physical_ids = assert_deployed(template, endpoint_url=running.endpoint_url)
    assert set(physical_ids) == set(template["Resources"])
    # The CLI's own asset upload reached the enforce-SSL assets bucket of `cdk bootstrap`.
    bucket = client(running, "cloudformation").describe_stacks(StackName="CDKToolkit")["Stacks"][0]
    bucket_name = {o["OutputKey"]: o["OutputValue"] for o in bucket["Outputs"]}["BucketName"]
    assert client(running, "s3").list_objects_v2(Bucket=bucket_name)["KeyCount"] >= 2
    print(f"cdk bootstrap + deploy + assert_deployed: {time.perf_counter() - started:.1f} s")
