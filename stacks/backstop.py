"""The backstop for workflow failures no Catch can see.

A `States.ALL` catcher does not catch `States.Runtime` (e.g. a JSONPath that does not resolve),
and nothing inside a run sees its own timeout (`TimeoutSeconds`) or an abort. Such a run ends
without the workflow's own alert, and its idempotency claim stays `IN_PROGRESS`.

Step Functions sends an "Execution Status Change" event to the default bus for every Standard
execution that ends. One rule takes this stack's Standard workflows' FAILED, TIMED_OUT and
ABORTED runs, except failures the workflow handled itself (they end in one of its named `Fail`
states, read from the ASL files, after alerting), and sends staff one message each.

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


def handled_errors(asl: str) -> list[str]:
    """The Error names of the workflow's own Fail states (reached after it alerted staff)."""
    found: list[str] = []

    def walk(states: dict) -> None:
        for state in states.values():
            if state.get("Type") == "Fail" and state.get("Error"):
                found.append(state["Error"])
            for branch in state.get("Branches", []):
                walk(branch.get("States", {}))
            if "ItemProcessor" in state:
                walk(state["ItemProcessor"].get("States", {}))

    walk(json.loads(asl_path(asl).read_text(encoding="utf-8"))["States"])
    return sorted(set(found))


def backstop_pattern(machine_arns: list[str], handled: list[str]) -> dict:
    """FAILED (not in a handled Fail state), TIMED_OUT or ABORTED runs of these state machines.

    A FAILED event without an `error` field also matches: better a second message for a
    handled failure than none for an unhandled one.
    """
    failed_unhandled: list[dict] = [{"status": ["FAILED"], "error": [{"exists": False}]}]
    if handled:
        failed_unhandled.append({"status": ["FAILED"], "error": [{"anything-but": handled}]})
    return {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "stateMachineArn": machine_arns,
            "$or": [{"status": list(STATUSES_NO_CATCH_SEES)}, *failed_unhandled],
        },
    }


MESSAGE = (
    '"Workflow run <name> ended <status> <error> outside its own error handling (a timeout, an '
    "abort or a runtime error no Catch sees): the workflow sent no alert of its own and its "
    "idempotency claim is kept (IN_PROGRESS). Check the execution history for side effects, "
    "then delete the claim and replay the event (README: How to re-drive). Execution: "
    '<execution>"'
)


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
        self.rule = events.CfnRule(
            self,
            "Rule",
            name=f"{stack.stack_name}-workflow-backstop"[:64],
            description="Standard workflow runs that failed outside their error handling, timed "
            "out or were aborted: one staff alert each (the claim is kept)",
            event_pattern=backstop_pattern(
                [w.state_machine.state_machine_arn for w in standard], handled
            ),  # fmt: skip
            event_bus_name="default",  # where Step Functions sends its events
            state="ENABLED",
            targets=[
                targets.topic(
                    alerts,
                    template=MESSAGE,
                    paths={
                        "name": "$.detail.name",
                        "status": "$.detail.status",
                        "error": "$.detail.error",
                        "execution": "$.detail.executionArn",
                    },
                )
            ],
        )
        alerts.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[alerts.topic_arn],
                conditions={"ArnEquals": {"aws:SourceArn": self.rule.attr_arn}},
            )
        )
