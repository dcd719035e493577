"""The backstop for workflow failures no Catch can see.

A `States.ALL` catcher does not catch `States.Runtime` (e.g. a JSONPath that does not resolve),
and nothing inside a run sees its own timeout (`TimeoutSeconds`) or an abort. Such a run ends
without the workflow's own alert, and its idempotency claim stays `IN_PROGRESS`.

Step Functions sends an "Execution Status Change" event to the default bus for every Standard
execution that ends. Two rules take this stack's Standard workflows' FAILED, TIMED_OUT and
ABORTED runs, except failures the workflow handled itself (they end in one of its named `Fail`
states, read from the ASL files, after alerting), and send staff one message each: one rule for
runs whose event names an error (the message gives it), one for runs whose event names none (a
timeout, an abort), whose message says so and gives the status instead of printing `null`.

The claim is **kept on purpose**: a run that timed out or hit a runtime error may already have
emailed the customer or created a coupon, and releasing the claim would let a replay do it again.
Staff check the execution history, then delete the claim and replay (README, "How to re-drive").
Express workflows send no such events: their failures and timeouts reach staff through the
`failed-*` / `timed-out-*` alarms (Operations).
"""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from payops.asl import asl_path
from stacks.targets import RuleTargets
from stacks.workflow import Workflow

STATUSES_NO_CATCH_SEES = ("TIMED_OUT", "ABORTED")


def fail_states(asl: str) -> list[dict]:
    """Every Fail state of the workflow, in Parallel branches and Map processors too."""
    found: list[dict] = []

    def walk(states: dict) -> None:
        for state in states.values():
            if state.get("Type") == "Fail":
                found.append(state)
            for branch in state.get("Branches", []):
                walk(branch.get("States", {}))
            if "ItemProcessor" in state:
                walk(state["ItemProcessor"].get("States", {}))

    walk(json.loads(asl_path(asl).read_text(encoding="utf-8"))["States"])
    return found


def handled_errors(asl: str) -> list[str]:
    """The Error names of the workflow's own Fail states (reached after it alerted staff)."""
    return sorted({state["Error"] for state in fail_states(asl) if state.get("Error")})


def unnamed_failures(asl: str) -> list[str]:
    """The Causes of Fail states without an Error name (left to the backstop on purpose): their
    runs' events carry `"error": null`, which a message must not print."""
    return sorted(
        {
            state["Cause"]
            for state in fail_states(asl)
            if not state.get("Error") and "Cause" in state
        }
    )


def backstop_patterns(
    machine_arns: list[str], handled: list[str], unnamed: list[str] | None = None
) -> dict[str, dict]:
    """FAILED (not in a handled Fail state), TIMED_OUT or ABORTED runs of these state machines,
    split by whether the event names an error: an input transformer cannot leave out a missing
    or null field (it would print `null`), so each kind has its own rule and message.

    "with-error": FAILED with an error name other than the handled ones. "no-error": TIMED_OUT,
    ABORTED, FAILED without an `error` field (better a second message for a handled failure than
    none for an unhandled one), and FAILED in a Fail state without an Error name (`unnamed`: its
    Cause; such an event's error is null, which `anything-but` would match).
    """
    named: list[dict] = [{"anything-but": handled}] if handled else [{"exists": True}]
    unnamed = unnamed or []

    def pattern(detail: dict) -> dict:
        return {
            "source": ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"stateMachineArn": machine_arns, **detail},
        }

    with_error: dict = {"status": ["FAILED"], "error": named}
    no_error: list[dict] = [
        {"status": list(STATUSES_NO_CATCH_SEES)},
        {"status": ["FAILED"], "error": [{"exists": False}]},
    ]
    if unnamed:
        with_error["cause"] = [{"anything-but": unnamed}, {"exists": False}]
        no_error.append({"status": ["FAILED"], "cause": unnamed})
    return {"with-error": pattern(with_error), "no-error": pattern({"$or": no_error})}


_WHAT_TO_DO = (
    "the workflow sent no alert of its own and its idempotency claim is kept (IN_PROGRESS). "
    "Check the execution history for side effects, then delete the claim and replay the event "
    "(README: How to re-drive). Execution: <execution>"
)
# Quoted string templates (the SNS message is text). Only fields each rule's events carry.
MESSAGES = {
    "with-error": '"Workflow run <name> ended FAILED with error <error> outside its own error '
    "handling (a runtime error or a task error no Catch sees): " + _WHAT_TO_DO + '"',
    "no-error": '"Workflow run <name> ended <status> outside its own error handling, with no '
    "error name given (a timeout or an abort, which no Catch sees, or a Fail state without an "
    "error name): " + _WHAT_TO_DO + '"',
}
PATHS = {
    "with-error": {"name": "$.detail.name", "error": "$.detail.error"},
    "no-error": {"name": "$.detail.name", "status": "$.detail.status"},
}
RULE_SUFFIX = {"with-error": "", "no-error": "-no-error"}
DESCRIPTIONS = {
    "with-error": "Standard workflow runs that failed with an error outside their error "
    "handling: one staff alert each, naming the error (the claim is kept)",
    "no-error": "Standard workflow runs that timed out, were aborted or failed without an error "
    "name: one staff alert each, with the status (the claim is kept)",
}


class WorkflowBackstop(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workflows: list[Workflow],
        alerts: sns.ITopic,
        targets: RuleTargets,
    ) -> None:
        super().__init__(scope, construct_id)
        standard = [w for w in workflows if w.kind == "STANDARD"]
        handled = sorted({e for w in standard for e in handled_errors(w.asl)})
        stack = Stack.of(self)
        unnamed = sorted({c for w in standard for c in unnamed_failures(w.asl)})
        patterns = backstop_patterns(
            [w.state_machine.state_machine_arn for w in standard], handled, unnamed
        )
        self.rules: dict[str, events.CfnRule] = {}
        for kind, construct_id in (("with-error", "Rule"), ("no-error", "RuleNoError")):
            self.rules[kind] = events.CfnRule(
                self,
                construct_id,
                name=f"{stack.stack_name}-workflow-backstop"[: 64 - len(RULE_SUFFIX[kind])]
                + RULE_SUFFIX[kind],
                description=DESCRIPTIONS[kind],
                event_pattern=patterns[kind],
                event_bus_name="default",  # where Step Functions sends its events
                state="ENABLED",
                targets=[
                    targets.topic(
                        alerts,
                        template=MESSAGES[kind],
                        paths={**PATHS[kind], "execution": "$.detail.executionArn"},
                    )
                ],
            )
        self.rule = self.rules["with-error"]
        alerts.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[alerts.topic_arn],
                conditions={
                    "ArnEquals": {"aws:SourceArn": [r.attr_arn for r in self.rules.values()]}
                },
            )
        )
