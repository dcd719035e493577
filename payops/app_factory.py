"""Build the CDK app from settings; shared by app.py, the CLI's local AWS and the tests.

cdk-nag checks it with two packs, AwsSolutions and Serverless (acknowledged in stacks/nag.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

STACK_NAME = "StripePayOps"


class ConfigurationError(ValueError):
    """Invalid settings or rule files: one line, naming the setting or the file and JSON path."""


def build_app(
    context: Mapping[str, Any] | None = None,
    *,
    outdir: str | None = None,
    nag: bool = True,
):
    """An App with the PayOps stack. `context` adds to/overrides cdk.json and `-c` context.

    `nag=False` leaves out every synth-time check: cdk-nag and CDK's built-in CloudFormation
    validation (a WebAssembly linter compiled once per jsii process, ~1.5 s, then ~0.7 s per
    synthesis, and only ever warnings). For callers that check the template themselves: the tests
    run cfn-lint and cdk-nag on it, and the local AWS runs its deploy checks. `cdk synth` and
    `cdk deploy` (app.py) keep both."""
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    from payops.rules import RuleError
    from payops.settings import SETTING_KEYS, Settings, SettingsError
    from stacks.bundling import BundlingError
    from stacks.payops_stack import PayOpsStack

    app = cdk.App(
        context=dict(context or {}), outdir=outdir, builtin_cloud_formation_validation=nag
    )
    try:
        settings = Settings.load({key: app.node.try_get_context(key) for key in SETTING_KEYS})
        stack = PayOpsStack(
            app,
            STACK_NAME,
            settings=settings,
            description="Stripe events into payment operations (stripe-payops)",
        )
    except (SettingsError, RuleError, BundlingError) as err:
        raise ConfigurationError(str(err)) from None
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app, stack
