"""The local AWS as a server: moto with every payops bridge, for the CDK CLI and other clients.

    python -m payops.localaws.server [--port N]

starts moto on localhost (a free port unless --port), installs the bridges, runs Step Functions
executions for real, and prints the environment and the `cdk bootstrap` / `cdk deploy` commands
that deploy this app into it, until Ctrl-C. The CDK CLI must reach it as `localhost` (the S3
asset URLs it builds do not work with 127.0.0.1), and updates need `cdk deploy --method=direct`
(moto's change sets cannot update a stack).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payops.localaws.core import registry
from payops.localaws.core.account import ACCOUNT, FAKE_CREDENTIALS, REGION

HOST = "localhost"
ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"


@dataclass
class LocalAwsServer:
    """A running moto server; `env()` is what a client process needs to use it."""

    server: Any  # moto.server.ThreadedMotoServer
    port: int
    bridges: dict[str, str]
    _restore_config: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment for AWS SDKs and the CDK CLI (fake credentials, fixed account/region)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": FAKE_CREDENTIALS["aws_session_token"],
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "CDK_DEFAULT_ACCOUNT": ACCOUNT,
            "CDK_DEFAULT_REGION": REGION,
        }

    def stop(self) -> None:
        self.server.stop()
        from moto.core.config import default_user_config

        default_user_config.update(self._restore_config)


# What an operator creates before `cdk deploy`: the stack references the Stripe API key's secret.
SECRET_COMMAND = (
    ".venv/bin/python -c \"import boto3; boto3.client('secretsmanager').create_secret("
    "Name='payops/stripe-api-key', SecretString='sk_test_local')\""
)


def cdk_commands(ingress: str = "webhook") -> list[list[str]]:
    """The CLI calls that deploy this app into the server (run from the repository root).

    `bootstrap --app ''`: with an app in cdk.json the CLI synthesizes the whole app before
    bootstrapping, even for an environment named on the command line, only to list the app's
    environments (~5-8 s here); bootstrapping needs nothing from the app."""
    cdk = str(CDK.relative_to(ROOT))
    quiet = ["--no-notices", "--no-version-reporting"]
    return [
        [cdk, "bootstrap", f"aws://{ACCOUNT}/{REGION}", "--app", "", *quiet],
        [cdk, "deploy", "StripePayOps", "--method=direct", "--require-approval", "never",
         "-c", f"ingress={ingress}", *quiet],
    ]  # fmt: skip


def start(port: int = 0, *, execute_state_machines: bool = True) -> LocalAwsServer:
    """Start moto on localhost:`port` (0: a free one) with the payops bridges installed."""
    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer

    registry.install()  # raises rather than serve a half-bridged moto
    bridges = {name: "installed" for name in registry.SERVICE_NAMES}
    restore = {"stepfunctions": dict(default_user_config.get("stepfunctions", {}))}
    if execute_state_machines:
        # What mock_aws(config=...) sets for the duration of a test, set for the server's life.
        default_user_config["stepfunctions"] = {
            **restore["stepfunctions"],
            "execute_state_machine": True,
        }
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    actual_port = int(server.get_host_and_port()[1])
    local = LocalAwsServer(server, actual_port, bridges, restore)
    # A fresh account: the backends are process-wide and may hold an earlier test's resources.
    request = urllib.request.Request(f"{local.endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10):
        pass
    return local


def _print_usage(server: LocalAwsServer) -> None:
    exports = " \\\n  ".join(f"{k}={shlex.quote(v)}" for k, v in server.env().items())
    print(f"Local AWS (moto + payops bridges) at {server.endpoint_url}")
    for name, status in server.bridges.items():
        print(f"  {name}: {status}")
    print("\nIn another shell, from the repository root:\n")
    print(f"export {exports}")
    print("export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true")
    print(f"# the secret the stack references, as an operator creates it first:\n{SECRET_COMMAND}")
    for command in cdk_commands():
        print(shlex.join(command))
    print("\nThen e.g. `aws cloudformation describe-stacks` with the same environment.")
    print("Ctrl-C stops the server (and forgets everything in it).")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m payops.localaws.server", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on localhost (default: free)")
    args = parser.parse_args(argv)
    server = start(args.port)
    # Code running inside this process (Lambda handlers, state machines) uses it too.
    os.environ.update(server.env())
    _print_usage(server)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nstopping")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    from payops.localaws.core.gc_tuning import leave_heap_at_exit

    code = main()
    leave_heap_at_exit()  # ending: the heap is left to the OS (core/gc_tuning.py)
    sys.exit(code)
