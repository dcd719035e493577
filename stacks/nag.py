"""cdk-nag acknowledgements: every suppressed finding carries the reason it is acceptable.

Two packs run (payops.app_factory): AwsSolutions and Serverless. `ACKNOWLEDGED` records every
acknowledgement (construct path, rule id) so a test can prove each one still suppresses a real
finding (a stale acknowledgement would hide the next real one).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

PACKS = ("AwsSolutions", "Serverless")
ACKNOWLEDGED: list[tuple[str, str]] = []  # (construct path, "AwsSolutions-IAM4" ...)


def acknowledge(scope: IConstruct, rule: str, reason: str, *, pack: str = "AwsSolutions") -> None:
    """Acknowledge <pack>-<rule> (e.g. "IAM4", or "LambdaDLQ" of Serverless) on `scope` and its
    children."""
    if pack not in PACKS:
        raise ValueError(f"unknown cdk-nag pack {pack!r} (have {PACKS})")
    if len(reason) < 20:
        raise ValueError(f"acknowledging {rule}: give a real reason, not {reason!r}")
    rule_id = f"{pack}-{rule}"
    ACKNOWLEDGED.append((scope.node.path, rule_id))
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_synchronous_function(function: IConstruct) -> None:
    """Serverless pack findings that do not apply to a function only ever invoked synchronously
    (a function URL, a Step Functions task)."""
    acknowledge(
        function,
        "LambdaDLQ",
        "Invoked synchronously only (a function URL or a Step Functions task): the caller gets "
        "every error and retries (Stripe, the workflow's Retry); a Lambda DLQ receives only "
        "failed asynchronous invocations, so it would stay empty.",
        pack="Serverless",
    )
    acknowledge(
        function,
        "LambdaTracing",
        "A short synchronous function: its errors, throttles and durations are CloudWatch "
        "metrics (alarmed for the webhook receiver), and the workflows that call a task "
        "function are traced themselves; X-Ray on a public URL would trace every anonymous "
        "request at $5 per million.",
        pack="Serverless",
    )
