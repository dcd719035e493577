"""Nothing silently lost (issue 6, item 2).

The template: every rule target and every queue consumer has a dead-letter queue, every DLQ and
state machine has an alarm that notifies staff, the bus keeps an archive.

The local AWS (the real template deployed into moto): faults are injected -- SES throttling,
Stripe 5xx and 429, a deleted target -- and every event ends in exactly one of: processed;
retried then processed; failed or dead-lettered, with an alarm that names what failed. Those are
then re-driven from the archive, as the README's "What the system guarantees" describes, and
each side effect still happens exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from local_events import (
    CARD_ORDER,
    COUPON_SUBJECT,
    FULFILMENT_SUBJECT,
    LARGE_ORDER,
    SUBSCRIPTION_STARTED,
    alarms,
    alerts_topic_arn,
    asl_max_attempts,
    buyer,
    coupons_for,
    customer_stacks,
    dimensions,
    executions_of,
    loaded,
    machine_arn,
    module_local,
    replay,
    states_of,
    stripe_event,
    subjects_to,
    workflow_rules,
)
from ses_faults import SesFault

from payops.localaws.core.recorder import RECORDER
from payops.localaws.runtime import EventTrace, LocalAws
from payops.settings import RECONCILIATION_SOURCE
from stacks.operations import ARCHIVE_RETENTION_DAYS

STACK = "StripePayOps"


@pytest.fixture(scope="module")
def local() -> Iterator[LocalAws]:
    yield from module_local()


# -- the template ------------------------------------------------------------------------------


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _ref(value: Any) -> str | None:
    """The logical id a {"Fn::GetAtt": [id, ...]} or {"Ref": id} points at."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    return None


def _dead_letter_queue_ids(template: dict[str, Any]) -> set[str]:
    ids = set()
    for rule in _resources(template, "AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            ids.add(_ref(target["DeadLetterConfig"]["Arn"]))
    for queue in _resources(template, "AWS::SQS::Queue").values():
        redrive = queue["Properties"].get("RedrivePolicy")
        if redrive:
            ids.add(_ref(redrive["deadLetterTargetArn"]))
    # SNS keeps what it cannot deliver to a fan-out queue in that subscription's DLQ.
    for subscription in _resources(template, "AWS::SNS::Subscription").values():
        redrive = subscription["Properties"].get("RedrivePolicy")
        if redrive:
            ids.add(_ref(redrive["deadLetterTargetArn"]))
    return ids


def _alarm_actions_are_staff_alerts(alarm: dict[str, Any], template: dict[str, Any]) -> bool:
    topics = _resources(template, "AWS::SNS::Topic")
    (alerts,) = [k for k in topics if k.startswith("NotificationsPaymentProblems")]
    return alarm["Properties"]["AlarmActions"] == [{"Ref": alerts}]


def test_every_rule_target_and_queue_consumer_has_a_dead_letter_queue(synthesized) -> None:
    template = synthesized.json
    rules = _resources(template, "AWS::Events::Rule")
    targets = [t for r in rules.values() for t in r["Properties"].get("Targets", [])]
    assert len(rules) >= 10 and targets
    missing = [t["Id"] for t in targets if not _ref(t.get("DeadLetterConfig", {}).get("Arn"))]
    assert not missing, f"rule targets without a DLQ: {missing}"
    dead_letter_ids = _dead_letter_queue_ids(template)
    queues = _resources(template, "AWS::SQS::Queue")
    consumers = [q for q in queues if q not in dead_letter_ids]
    assert consumers, "the fan-out queues are consumed"
    for queue in consumers:
        redrive = queues[queue]["Properties"].get("RedrivePolicy")
        assert redrive and int(redrive["maxReceiveCount"]) >= 1, f"{queue} has no DLQ"


def test_every_dead_letter_queue_rule_and_state_machine_alarms_to_staff(synthesized) -> None:
    template = synthesized.json
    alarms_ = _resources(template, "AWS::CloudWatch::Alarm").values()
    watched: dict[tuple[str, str], Any] = {}
    # The webhook receiver's rate alarms (metric math) are checked in test_operational_security,
    # the reconciliation's missed-events alarm in test_reconciliation_template (issue 16).
    alarms_ = [a for a in alarms_ if "-receiver-" not in a["Properties"]["AlarmName"]
               and "-reconciliation-found-" not in a["Properties"]["AlarmName"]]  # fmt: skip
    for alarm in alarms_:
        p = alarm["Properties"]
        assert p["Threshold"] == 1
        assert p["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert p["EvaluationPeriods"] == 1
        assert p["TreatMissingData"] == "notBreaching"
        assert p["AlarmName"].startswith(f"{STACK}-")
        assert _alarm_actions_are_staff_alerts(alarm, template)
        dims = {d["Name"]: d["Value"] for d in p["Dimensions"]}
        subject = dims.get("QueueName") or dims.get("StateMachineArn") or dims.get("RuleName")
        watched[(p["MetricName"], json.dumps(subject, sort_keys=True))] = alarm

    for queue in _dead_letter_queue_ids(template):
        key = (
            "ApproximateNumberOfMessagesVisible",
            json.dumps({"Fn::GetAtt": [queue, "QueueName"]}),
        )
        assert key in watched, f"no depth alarm on {queue}"
        assert watched[key]["Properties"]["Namespace"] == "AWS/SQS"
    machines = _resources(template, "AWS::StepFunctions::StateMachine")
    for machine in machines:
        for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
            assert (metric, json.dumps({"Ref": machine})) in watched, f"{metric} of {machine}"
    for rule in _resources(template, "AWS::Events::Rule").values():
        key = ("InvocationsFailedToBeSentToDlq", json.dumps(rule["Properties"]["Name"]))
        assert key in watched, rule["Properties"]["Name"]
        dims = {d["Name"] for d in watched[key]["Properties"]["Dimensions"]}
        if rule["Properties"]["EventBusName"] == "default":  # the workflow backstop
            assert dims == {"RuleName"}  # how the default bus publishes it
        else:
            assert dims == {"EventBusName", "RuleName"}  # how a custom/partner bus publishes it
    expected = len(_dead_letter_queue_ids(template)) + 2 * len(machines)
    expected += len(_resources(template, "AWS::Events::Rule"))
    assert len(alarms_) == expected == len(watched)


def test_bus_archive_keeps_this_modes_stripe_events(synthesized) -> None:
    (archive,) = _resources(synthesized.json, "AWS::Events::Archive").values()
    p = archive["Properties"]
    assert p["RetentionDays"] == ARCHIVE_RETENTION_DAYS >= 4  # outlives Stripe's 3-day retries
    bus = "IngressPartnerBus" if synthesized.ingress == "partner" else "IngressWebhookBus"
    assert _ref(p["SourceArn"]).startswith(bus)
    source = synthesized.settings.event_source
    # and (issue 16) the missed events the reconciliation re-injected: never archived otherwise
    assert p["EventPattern"] == {"source": [source, RECONCILIATION_SOURCE]}


def test_cloudwatch_may_publish_to_the_encrypted_alerts_topic(synthesized) -> None:
    template = synthesized.json
    topics = _resources(template, "AWS::SNS::Topic")
    (alerts,) = [k for k in topics if k.startswith("NotificationsPaymentProblems")]
    key_id = _ref(topics[alerts]["Properties"]["KmsMasterKeyId"])
    key_policy = template["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = {"Service": "cloudwatch.amazonaws.com"}
    (grant,) = [s for s in key_policy if s.get("Principal") == cloudwatch]
    assert sorted(grant["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    policies = [
        statement
        for policy in _resources(template, "AWS::SNS::TopicPolicy").values()
        if {"Ref": alerts} in policy["Properties"]["Topics"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    (publish,) = [s for s in policies if s.get("Principal") == cloudwatch]
    assert publish["Action"] == "sns:Publish" and publish["Effect"] == "Allow"
    assert publish["Resource"] == {"Ref": alerts}
    source_arn = json.dumps(publish["Condition"]["ArnLike"]["aws:SourceArn"])
    assert f":alarm:{STACK}-*" in source_arn  # this stack's alarms only
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


# -- deployed: the alarms that exist in the local AWS --------------------------------------------


def _dead_letter_queue_names(local: LocalAws) -> set[str]:
    """Found at run time, the way an operator would: redrive policies and rule targets."""
    sqs, events = local.client("sqs"), local.client("events")
    arns = set()
    for url in sqs.list_queues()["QueueUrls"]:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
        policy = attributes.get("Attributes", {}).get("RedrivePolicy")
        if policy:
            arns.add(json.loads(policy)["deadLetterTargetArn"])
    sns = local.client("sns")
    for subscription in sns.list_subscriptions()["Subscriptions"]:
        arn = subscription["SubscriptionArn"]
        policy = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"].get(
            "RedrivePolicy"
        )
        if policy:
            arns.add(json.loads(policy)["deadLetterTargetArn"])
    for rule in events.list_rules(EventBusName=local.bus_name)["Rules"]:
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=local.bus_name)
        arns |= {
            t["DeadLetterConfig"]["Arn"] for t in targets["Targets"] if "DeadLetterConfig" in t
        }
    return {arn.rsplit(":", 1)[1] for arn in arns}


def _depth_alarm(local: LocalAws, queue_name: str) -> dict[str, Any]:
    (alarm,) = [
        a
        for a in alarms(local)
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and dimensions(a) == {"QueueName": queue_name}
    ]
    return alarm


def _failed_alarm(local: LocalAws, asl_name: str) -> dict[str, Any]:
    (alarm,) = [
        a
        for a in alarms(local)
        if a.get("MetricName") == "ExecutionsFailed"
        and dimensions(a) == {"StateMachineArn": machine_arn(local, asl_name)}
    ]
    return alarm


def test_deployed_alarms_watch_every_dead_letter_queue_and_workflow(local: LocalAws) -> None:
    names = _dead_letter_queue_names(local)
    # The rule targets' DLQ, and per fan-out consumer one for its queue and one for SNS delivery.
    assert len(names) == 7
    alerts = alerts_topic_arn(local)
    for name in names:
        alarm = _depth_alarm(local, name)
        assert alarm["Namespace"] == "AWS/SQS" and alarm["Threshold"] == 1.0
        assert alarm["AlarmActions"] == [alerts]
    machines = local.client("stepfunctions").list_state_machines()["stateMachines"]
    for machine in machines:
        asl_name = machine["name"].removeprefix(f"{STACK}-")
        assert _failed_alarm(local, asl_name)["AlarmActions"] == [alerts]
    total = len(alarms(local))
    rules = [
        rule
        for bus in (local.bus_name, "default", local.deployed.outputs["AppEventBusName"])
        for rule in local.client("events").list_rules(EventBusName=bus, NamePrefix=f"{STACK}-")[
            "Rules"
        ]
    ]
    # + the reconciliation's missed-events alarm (issue 16)
    assert total == len(names) + 2 * len(machines) + len(rules) + 1


# -- faults ------------------------------------------------------------------------------------


@pytest.fixture
def ses(monkeypatch: pytest.MonkeyPatch) -> SesFault:
    return SesFault(monkeypatch)


def send(local: LocalAws, event: dict[str, Any]) -> tuple[EventTrace, list[Any]]:
    """Deliver one event; its trace and the recorder facts of its delivery."""
    mark = RECORDER.mark()
    trace = local.send(loaded(local, event))
    assert trace.delivery == "accepted"
    return trace, RECORDER.since(mark)


def outcome(local: LocalAws, trace: EventTrace, facts: list[Any], asl_name: str) -> str:
    """How this event ended for one workflow; fails unless exactly one outcome holds."""
    machine = f"{STACK}-{asl_name}"
    runs = [e for e in trace.executions if e["state_machine"] == asl_name]
    retried = any(
        f.kind == "sleep_skipped" and f.data["reason"] == "retry"
        and f":{machine}:" in f.data["execution_arn"]
        for f in facts
    )  # fmt: skip
    dead_lettered = [f for f in facts if f.kind == "dlq" and f.data["target"].endswith(machine)]
    holds = {
        "processed": [r["status"] for r in runs] == ["SUCCEEDED"] and not retried,
        "retried then processed": [r["status"] for r in runs] == ["SUCCEEDED"] and retried,
        "failed, alarmed": [r["status"] for r in runs] == ["FAILED"] and not dead_lettered,
        "dead-lettered, alarmed": not runs and len(dead_lettered) == 1,
    }
    ended = [name for name, held in holds.items() if held]
    assert len(ended) == 1, (asl_name, holds, trace)
    if ended[0] == "failed, alarmed":
        _failed_alarm(local, asl_name)
        assert trace.sns.get("NotificationsPaymentProblems", 0) >= 1  # the workflow alerted
    if ended[0] == "dead-lettered, alarmed":
        queue = dead_lettered[0].data["queue"].rsplit(":", 1)[1]
        assert _depth_alarm(local, queue)["AlarmActions"] == [alerts_topic_arn(local)]
    return ended[0]


def assert_one_download_and_one_coupon_email(order: dict[str, Any]) -> None:
    subjects = subjects_to(buyer(order))
    assert len(subjects) == 2, subjects
    assert COUPON_SUBJECT in subjects
    assert any(s.startswith(FULFILMENT_SUBJECT) for s in subjects), subjects


def test_ses_throttled_briefly_is_retried_then_processed(local: LocalAws, ses: SesFault) -> None:
    order = stripe_event(CARD_ORDER)
    ses.fail_next(2)
    trace, facts = send(local, order)
    assert ses.refused == 2
    assert outcome(local, trace, facts, "fulfilment") == "retried then processed"
    assert subjects_to(buyer(order))[0].startswith(FULFILMENT_SUBJECT)
    assert len(subjects_to(buyer(order))) == 1


def _fast_path_attempts() -> int:
    return 1 + asl_max_attempts("fulfilment", "EmailDownloadLinks", "States.TaskFailed")


def _slow_path_runs() -> int:
    return 1 + asl_max_attempts("fulfilment-retry", "Deliver", "States.ALL")


def test_ses_throttled_past_the_fast_path_is_delivered_once_by_the_slow_path(
    local: LocalAws, ses: SesFault
) -> None:
    """Longer than the Express run's seconds of retries: the order is handed to
    fulfilment-retry (Standard), which delivers it minutes later. No alarm, no staff alert."""
    order = stripe_event(CARD_ORDER)
    ses.fail_next(_fast_path_attempts() + 2)
    trace, _ = send(local, order)
    assert ses.refused == _fast_path_attempts() + 2
    # The rule's run, then the slow path's run of the fast path: both succeed.
    runs = executions_of(local, "fulfilment", order["id"])
    ends = sorted(states_of(local, r["executionArn"])[-1] for r in runs)
    assert ends == ["Fulfilled", "HandedToRetry"] and {r["status"] for r in runs} == {"SUCCEEDED"}
    (slow,) = executions_of(local, "fulfilment-retry", order["id"])
    assert slow["status"] == "SUCCEEDED"
    assert states_of(local, slow["executionArn"])[-1] == "Delivered"
    assert trace.simulated_seconds >= 60  # the slow path waited before its attempt
    assert len(subjects_to(buyer(order))) == 1
    assert trace.sns.get("NotificationsPaymentProblems", 0) == 0


def test_ses_throttled_for_hours_fails_alarms_and_replays_once(
    local: LocalAws, ses: SesFault
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    order = stripe_event(CARD_ORDER)
    attempts = _fast_path_attempts() * (1 + _slow_path_runs())
    ses.fail_next(attempts)
    trace, facts = send(local, order)
    assert ses.refused == attempts
    (slow,) = executions_of(local, "fulfilment-retry", order["id"])
    assert slow["status"] == "FAILED"
    assert outcome(local, trace, facts, "fulfilment-retry") == "failed, alarmed"
    assert trace.sns.get("NotificationsPaymentProblems") == 1  # one alert for the order
    assert subjects_to(buyer(order)) == []

    # SES recovers; the operator replays the paid-order rule from the archive.
    assert replay(local, "after-ses-throttling", since, rules=["paid-order"])["State"] == (
        "COMPLETED"
    )
    assert len(subjects_to(buyer(order))) == 1
    assert replay(local, "after-ses-throttling-again", since, rules=["paid-order"])
    assert len(subjects_to(buyer(order))) == 1  # a second replay changes nothing


@pytest.mark.parametrize("status", [503, 429])
def test_stripe_errors_briefly_are_retried_then_processed(local: LocalAws, status: int) -> None:
    order = stripe_event(LARGE_ORDER)
    local.fake_stripe.fail_next(status, times=2, path="/v1/coupons")
    trace, facts = send(local, order)
    assert outcome(local, trace, facts, "coupon") == "retried then processed"
    assert outcome(local, trace, facts, "fulfilment") == "processed"
    coupon_calls = [c["status"] for c in trace.http_calls if c["url"].endswith("/v1/coupons")]
    assert coupon_calls == [status, status, 200]
    assert len(coupons_for(local, order)) == 1
    assert_one_download_and_one_coupon_email(order)


def test_stripe_rate_limit_throughout_fails_alarms_and_replays_once(local: LocalAws) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    order = stripe_event(LARGE_ORDER)
    attempts = 1 + asl_max_attempts("coupon", "CreateCoupon", "States.Http.StatusCode.429")
    local.fake_stripe.fail_next(429, times=attempts, path="/v1/coupons")
    trace, facts = send(local, order)
    assert outcome(local, trace, facts, "coupon") == "failed, alarmed"
    assert outcome(local, trace, facts, "fulfilment") == "processed"
    assert coupons_for(local, order) == []

    replay(local, "after-rate-limit", since, rules=["coupon-qualifying-order"])
    assert len(coupons_for(local, order)) == 1
    assert_one_download_and_one_coupon_email(order)  # the download email was not repeated


def test_stripe_server_error_during_provisioning_is_retried(local: LocalAws) -> None:
    subscription = stripe_event(SUBSCRIPTION_STARTED)
    # Provisioning's own read (the access workflow reads the same subscription with expand[]).
    local.fake_stripe.fail_next(500, times=1, path="/v1/subscriptions/", query="")
    trace, facts = send(local, subscription)
    assert outcome(local, trace, facts, "subscription-provision") == "retried then processed"
    assert [s["StackStatus"] for s in customer_stacks(local, subscription)] == ["CREATE_COMPLETE"]


def test_deleted_target_dead_letters_alarms_and_replays_once(local: LocalAws) -> None:
    """The coupon workflow is gone (a bad deploy): its deliveries go to the rule targets' DLQ.
    Restored, a replay of its rule issues each coupon once; nothing else runs twice."""
    since = datetime.now(UTC) - timedelta(seconds=1)
    sfn = local.client("stepfunctions")
    arn = machine_arn(local, "coupon")
    saved = sfn.describe_state_machine(stateMachineArn=arn)
    sfn.delete_state_machine(stateMachineArn=arn)
    try:
        order = stripe_event(LARGE_ORDER)
        trace, facts = send(local, order)
        assert outcome(local, trace, facts, "coupon") == "dead-lettered, alarmed"
        assert outcome(local, trace, facts, "fulfilment") == "processed"
        assert trace.dlq == {"RuleTargetsDeadLetters": 1}
        (message,) = [f for f in facts if f.kind == "dlq"]
        assert "NO_RESOURCE" in message.data["error"]
    finally:
        sfn.create_state_machine(
            name=saved["name"],
            definition=saved["definition"],
            roleArn=saved["roleArn"],
            type=saved["type"],
            loggingConfiguration=saved["loggingConfiguration"],
            tracingConfiguration=saved["tracingConfiguration"],
        )
    assert machine_arn(local, "coupon") == arn

    replay(local, "after-restore", since, rules=["coupon-qualifying-order"])
    assert len(coupons_for(local, order)) == 1
    assert_one_download_and_one_coupon_email(order)


# -- replay from the archive -------------------------------------------------------------------


def test_replay_of_everything_changes_nothing(local: LocalAws) -> None:
    """Replaying a window to every rule: each workflow finds its claim and ends quietly."""
    since = datetime.now(UTC) - timedelta(seconds=1)
    card, large, subscription = (
        stripe_event(CARD_ORDER),
        stripe_event(LARGE_ORDER),
        stripe_event(SUBSCRIPTION_STARTED),
    )
    for event in (card, large, subscription):
        send(local, event)
    before = (subjects_to(buyer(card)), subjects_to(buyer(large)))
    assert [len(b) for b in before] == [1, 2] and len(coupons_for(local, large)) == 1
    assert len(customer_stacks(local, subscription)) == 1

    described = replay(local, "everything", since)
    assert described["State"] == "COMPLETED"
    assert (subjects_to(buyer(card)), subjects_to(buyer(large))) == before
    assert len(coupons_for(local, large)) == 1
    assert [s["StackStatus"] for s in customer_stacks(local, subscription)] == ["CREATE_COMPLETE"]
    replayed = executions_of(local, "fulfilment", card["id"])
    assert len(replayed) == 2  # delivered, then replayed
    assert sorted(states_of(local, e["executionArn"])[-1] for e in replayed) == [
        "AlreadyHandled",
        "Fulfilled",
    ]


def test_replay_after_claims_expired_still_fulfils_once(local: LocalAws) -> None:
    """Past the 4-day claim TTL (idempotency claims deleted here, as DynamoDB TTL would), the
    order's own row (the fulfilment claim, which never expires) still stops a second email."""
    since = datetime.now(UTC) - timedelta(seconds=1)
    order = stripe_event(CARD_ORDER)
    send(local, order)
    dynamodb = local.client("dynamodb")
    (table,) = [t for t in dynamodb.list_tables()["TableNames"] if "Idempotency" in t]
    for item in dynamodb.scan(TableName=table)["Items"]:
        dynamodb.delete_item(TableName=table, Key={"pk": item["pk"]})

    replay(local, "claims-expired", since, rules=["paid-order"])
    assert len(subjects_to(buyer(order))) == 1
    last = executions_of(local, "fulfilment", order["id"])
    assert sorted(states_of(local, e["executionArn"])[-1] for e in last) == [
        "AlreadyHandled",
        "Fulfilled",
    ]


def test_replay_honours_its_window_and_rule_filter(local: LocalAws) -> None:
    """The two replay parameters the re-drive runbook relies on (bridged: moto ignores both)."""
    since = datetime.now(UTC) - timedelta(seconds=1)
    trace, _ = send(local, stripe_event(CARD_ORDER))
    assert set(workflow_rules(trace)) == {"paid-order", "payment-activity"}

    mark = RECORDER.mark()
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)  # before this module deployed
    replay(local, "window-before-anything", an_hour_ago, until=an_hour_ago + timedelta(minutes=5))
    assert RECORDER.since(mark, "rule_matched") == []

    mark = RECORDER.mark()
    replay(local, "only-paid-order", since, rules=["paid-order"])
    matched = {f.data["rule"] for f in RECORDER.since(mark, "rule_matched")}
    assert matched == {f"{STACK}-paid-order"}
