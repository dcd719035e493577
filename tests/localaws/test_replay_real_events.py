"""Every real event (tests/fixtures/real) through the deployed stack, on both ingress paths.

One deployment per ingress mode: the files are sent one by one, as `payops replay` sends them
(`LocalAws.send`), and each event's outcome is read from the same per-run summary `payops replay
--json` prints (`summarize`): the workflows that ran must be exactly the reviewed ones of
tests/fixtures/real_expected.json, every execution SUCCEEDED, nothing dead-lettered.

Each file is replayed as the first delivery into an empty shop: the tables are emptied between
files. Several sources reuse placeholder event ids across different events (`evt_00000000000000`
for seven stripe-ruby-mock files), so without this a later file would be handled as a redelivery
of an earlier one and its own outcome would never be seen.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from real_corpus import EXPECTED, REAL, cases

from payops.envelope import load_events
from payops.localaws.cli import summarize
from payops.localaws.core.account import ACCOUNT, REGION
from payops.localaws.runtime import EventTrace, LocalAws

PARTNER_SOURCE = "aws.partner/stripe.com/ed_test_61SampleDestination"
ARCHIVE_RULE_PREFIX = "Events-Archive-"  # the archive's own rule sees every event
EXPORT_RULE = "analytics-export"  # and so does the analytics export's (issue 16)


def _empty_tables() -> None:
    """Every item of every table removed, in moto's table models: what a paginated Scan and a
    DeleteItem per item did (no table has a stream to tell), without ~800 requests a mode."""
    from moto.dynamodb.models import dynamodb_backends

    for table in dynamodb_backends[ACCOUNT][REGION].tables.values():
        table.items.clear()


@cache
def replayed(ingress: str) -> dict[str, EventTrace]:
    """file name -> what happened to it; one deployment per ingress mode, reused by every test."""
    local = LocalAws({"ingress": ingress, "stripeEventSourceName": PARTNER_SOURCE}).start()
    try:
        traces = {}
        for event in load_events(REAL, local.settings):
            _empty_tables()
            traces[Path(event.label).name] = local.send(event)
    finally:
        local.stop()
    return traces


def _not_succeeded(summary: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {
        workflow: statuses
        for workflow, statuses in summary["executions"].items()
        if set(statuses) != {"SUCCEEDED"}
    }


@pytest.mark.parametrize(("ingress", "name"), cases("replay_issue"))
def test_real_event_runs_the_reviewed_workflows_and_none_fails(ingress: str, name: str) -> None:
    trace = replayed(ingress)[name]
    assert trace.delivery == "accepted"
    summary = summarize([trace])
    assert summary["dlq"] == {}
    assert _not_succeeded(summary) == {}
    assert sorted(summary["executions"]) == EXPECTED[name]["workflows"]


@pytest.mark.parametrize(("ingress", "name"), cases("match_issue"))
def test_deployed_rules_match_the_reviewed_verdict(ingress: str, name: str) -> None:
    """The rules as deployed into the local AWS agree with `payops match` on real data."""
    trace = replayed(ingress)[name]
    matched = [
        rule
        for rule in trace.rules
        if not rule.startswith(ARCHIVE_RULE_PREFIX) and rule != EXPORT_RULE
    ]
    assert matched == EXPECTED[name]["rules"]
    assert len(trace.rules) == len(matched) + 2  # and the archive kept it, the export sent it


# The workflows' answers to a redelivery or an out-of-order event: none may appear when each file
# is the first delivery into empty tables (this fails if the tables are not emptied between files).
REDELIVERY_STATES = {"AlreadyHandled", "AlreadyRecorded", "OlderEventIgnored"}


@pytest.mark.parametrize(("ingress", "name"), cases(None))
def test_each_file_is_handled_as_a_first_delivery(ingress: str, name: str) -> None:
    trace = replayed(ingress)[name]
    reached = {state for execution in trace.executions for state in execution["states"]}
    assert not reached & REDELIVERY_STATES
