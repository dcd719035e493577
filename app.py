#!/usr/bin/env python3
"""The CDK app: settings in, one PayOps stack out, checked by cdk-nag (AwsSolutions)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from payops.app_factory import ConfigurationError, build_app  # noqa: E402


def main() -> None:
    try:
        app, _stack = build_app()
    except ConfigurationError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    app.synth()


if __name__ == "__main__":
    main()
