"""Operational and security guarantees from issue 12, checked on the synthesized templates.

Each test names the finding it guards. The local AWS side (a forged PutEvents is refused) is in
tests/hardening/test_bus_policy.py; the receiver's 1 MiB limit and logged event ids are in
tests/test_webhook_receiver.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Synthesized, synthesize

from payops.patterns import matches
from stacks.backstop import fail_states, handled_errors, unnamed_failures

STATEMACHINES = sorted((ROOT / "statemachines").glob("*.asl.json"))
EXPRESS_MAX_SECONDS = 300  # an Express execution cannot run longer than 5 minutes


def resources(synth: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.json["Resources"].items() if v["Type"] == kind}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- 1. the README's cdk commands from a plain shell ------------------------------------------


def test_cdk_json_runs_the_projects_own_interpreter() -> None:
    app = json.loads((ROOT / "cdk.json").read_text())["app"]
    assert app.split()[0] == ".venv/bin/python", app  # not python3 from whatever PATH has


def test_cdk_synth_works_from_a_clean_shell(tmp_path: Path) -> None:
    """The README's command, in a shell with no virtualenv, no PAYOPS_/AWS_ variables and only
    the system PATH: what a new user or a CI step runs after `make setup`."""
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    assert cdk.exists(), "run make setup"
    out = tmp_path / "cdk.out"
    done = subprocess.run(
        ["env", "-i", f"HOME={os.environ.get('HOME', '/root')}", "PATH=/usr/bin:/bin",
         "bash", "-c", f"cd {ROOT} && node_modules/.bin/cdk synth --quiet -o {out}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    template = json.loads((out / "StripePayOps.template.json").read_text())
    assert any(r["Type"] == "AWS::Events::EventBus" for r in template["Resources"].values())


def test_makefile_has_the_deploy_conveniences() -> None:
    for target in ("diff", "deploy", "destroy"):
        done = subprocess.run(
            ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert f"node_modules/.bin/cdk {target} StripePayOps" in done.stdout


# --- 3. TimeoutSeconds on every workflow ------------------------------------------------------


@pytest.mark.parametrize("path", STATEMACHINES, ids=lambda p: p.name)
def test_every_workflow_file_has_a_top_level_timeout(path: Path) -> None:
    definition = json.loads(path.read_text())
    timeout = definition.get("TimeoutSeconds")
    assert isinstance(timeout, int) and timeout > 0, f"{path.name}: no top-level TimeoutSeconds"


def test_synthesized_workflows_carry_their_timeout(synthesized: Synthesized) -> None:
    by_name = {p.name.removesuffix(".asl.json"): json.loads(p.read_text()) for p in STATEMACHINES}
    machines = resources(synthesized, "AWS::StepFunctions::StateMachine")
    # outbound-message runs only with chatProvider / ticketProvider set (off by default); its
    # timeout row is checked with them on, in tests/test_outbound_template.py.
    assert len(machines) == len(set(by_name) - {"outbound-message"})
    readme = (ROOT / "README.md").read_text()
    for machine in machines.values():
        props = machine["Properties"]
        name = props["StateMachineName"].removeprefix("StripePayOps-")
        definition = json.loads(props["DefinitionString"])
        assert definition["TimeoutSeconds"] == by_name[name]["TimeoutSeconds"], name
        if props["StateMachineType"] == "EXPRESS":
            assert definition["TimeoutSeconds"] <= EXPRESS_MAX_SECONDS, name
        # Chosen per workflow and documented: the README's table row names it and its value.
        row = re.search(
            rf"^\| `{re.escape(name)}` \|[^\n]*\| {definition['TimeoutSeconds']} s", readme, re.M
        )
        assert row, f"README: no timeout row for {name}"


# --- 5. definitions cfn-lint can validate, and cfn-lint in the suite --------------------------


def test_definitions_are_plain_strings_with_substitutions(synthesized: Synthesized) -> None:
    for logical, machine in resources(synthesized, "AWS::StepFunctions::StateMachine").items():
        props = machine["Properties"]
        assert isinstance(props["DefinitionString"], str), f"{logical}: not a plain string"
        json.loads(props["DefinitionString"])
        assert props.get("DefinitionSubstitutions"), logical


# Each ignored cfn-lint rule, with the reason it does not apply.
CFN_LINT_IGNORED = {
    "W3005": "CDK adds DependsOn on a role's default policy beside the GetAtt of the role: the "
    "policy must exist before the resource runs, which the GetAtt alone does not ensure.",
}


def cfn_lint(template: dict[str, Any] | str) -> list[str]:
    from cfnlint.api import ManualArgs, lint

    text = template if isinstance(template, str) else json.dumps(template)
    config = ManualArgs(
        regions=["us-east-1", "ap-northeast-1"], ignore_checks=list(CFN_LINT_IGNORED)
    )
    return [
        f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in lint(text, config=config)
    ]


def test_cfn_lint_passes_on_both_templates(synthesized: Synthesized) -> None:
    assert cfn_lint(synthesized.json) == []


def test_cfn_lint_passes_on_the_customer_stack() -> None:
    assert cfn_lint((ROOT / "provisioning" / "customer-stack.json").read_text()) == []


def test_cfn_lint_validates_the_state_machine_definitions(partner: Synthesized) -> None:
    """E3601 reads the definitions now: a broken one is an error (it skipped Fn::Join)."""
    template = json.loads(json.dumps(partner.json))
    name, machine = next(iter(resources_of(template, "AWS::StepFunctions::StateMachine").items()))
    # That machine alone (linting the whole template again took seconds): its references to
    # the rest give other findings, E3601 is the definition's.
    alone = {"Resources": {name: machine}}
    assert not [f for f in cfn_lint(alone) if f.startswith("E3601")]
    definition = json.loads(machine["Properties"]["DefinitionString"])
    definition["States"][definition["StartAt"]]["Type"] = "Tusk"
    machine["Properties"]["DefinitionString"] = json.dumps(definition)
    assert any(finding.startswith("E3601") for finding in cfn_lint(alone))


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


# --- 2. conditions on every service-principal grant -------------------------------------------

SOURCE_KEYS = {"aws:sourcearn", "aws:sourceaccount"}


def _resource_policy_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Statements of the resource policies (queues, topics, keys, buses) in the template."""
    found = []
    for logical, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        document = {
            "AWS::SQS::QueuePolicy": props.get("PolicyDocument"),
            "AWS::SNS::TopicPolicy": props.get("PolicyDocument"),
            "AWS::KMS::Key": props.get("KeyPolicy"),
            "AWS::Events::EventBus": props.get("Policy"),
            "AWS::S3::BucketPolicy": props.get("PolicyDocument"),
        }.get(resource["Type"])
        for statement in (document or {}).get("Statement", []):
            found.append((logical, statement))
    return found


def test_every_service_principal_grant_has_source_conditions(synthesized: Synthesized) -> None:
    template = synthesized.json
    checked = 0
    for logical, statement in _resource_policy_statements(template):
        principal = statement.get("Principal")
        if not (isinstance(principal, dict) and "Service" in principal):
            continue
        if statement.get("Effect") != "Allow":
            continue
        checked += 1
        keys = {k.lower() for block in statement.get("Condition", {}).values() for k in block}
        assert keys & SOURCE_KEYS, f"{logical}: {principal} without aws:SourceArn/SourceAccount"
    for logical, permission in resources_of(template, "AWS::Lambda::Permission").items():
        props = permission["Properties"]
        if str(props["Principal"]).endswith(".amazonaws.com"):
            checked += 1
            assert props.get("SourceArn") or props.get("SourceAccount"), logical
    assert checked >= 10  # queues, topics, the topic key: the walk found the grants


# Lambda execution roles are the exception: which function gets one is decided by the account's
# own iam:PassRole when the function is created, not by the Lambda service.
TRUST_WITHOUT_CONDITIONS = {"lambda.amazonaws.com"}


def test_every_service_role_trusts_only_this_account(synthesized: Synthesized) -> None:
    checked = 0
    for logical, role in resources(synthesized, "AWS::IAM::Role").items():
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            service = statement.get("Principal", {}).get("Service")
            if service is None or service in TRUST_WITHOUT_CONDITIONS:
                continue
            checked += 1
            keys = {k.lower() for block in statement.get("Condition", {}).values() for k in block}
            assert "aws:sourceaccount" in keys, f"{logical}: {service} trusted without conditions"
    assert checked >= 7  # six workflows' roles, the rule targets' role, the audit pipe's role


def test_rule_target_dlq_takes_only_this_stacks_rules(synthesized: Synthesized) -> None:
    [(_, statement)] = [
        (logical, s)
        for logical, s in _resource_policy_statements(synthesized.json)
        if logical.startswith("RuleTargetsDeadLetters")
        and s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    arns = json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert "rule/StripePayOps-*" in arns and "rule/*/StripePayOps-*" in arns
    assert "aws:SourceAccount" in statement["Condition"]["StringEquals"]


# --- 2. the webhook bus: only the receiver's role puts ----------------------------------------


def stripe_buses(synth: Synthesized) -> list[dict[str, Any]]:
    """The ingress bus; the app event bus (AppEvents: the stack's own events, and Stripe events
    the stack puts back under its own sources) is not Stripe's."""
    buses = resources(synth, "AWS::Events::EventBus")
    return [bus for logical, bus in buses.items() if not logical.startswith("AppEvents")]


def test_webhook_bus_denies_put_events_to_everyone_but_the_receiver(webhook: Synthesized) -> None:
    [bus] = stripe_buses(webhook)
    [statement] = bus["Properties"]["Policy"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Action"] == "events:PutEvents"
    role = statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    [receiver] = [
        f for f in resources(webhook, "AWS::Lambda::Function").values()
        if f["Properties"].get("Environment", {}).get("Variables", {}).get("EVENT_BUS_NAME")
    ]  # fmt: skip
    # The receiver's own execution role, and no other: the stack's workflows put on the app bus.
    assert role == receiver["Properties"]["Role"]
    # AWS services (an archive replay) stay able to deliver to the bus.
    assert statement["Condition"]["Bool"] == {"aws:PrincipalIsAWSService": "false"}


def test_partner_bus_has_no_policy(partner: Synthesized) -> None:
    """Only Stripe's partner source can put on a partner bus: nothing to restrict."""
    [bus] = stripe_buses(partner)
    assert "Policy" not in bus["Properties"]


# --- 2. reserved concurrency on public function URLs ------------------------------------------


def _public_functions(synth: Synthesized) -> dict[str, dict[str, Any]]:
    functions = resources(synth, "AWS::Lambda::Function")
    public = {}
    for url in resources(synth, "AWS::Lambda::Url").values():
        if url["Properties"]["AuthType"] == "NONE":
            logical = url["Properties"]["TargetFunctionArn"]["Fn::GetAtt"][0]
            public[logical] = functions[logical]
    return public


def test_every_public_function_url_has_reserved_concurrency(synthesized: Synthesized) -> None:
    public = _public_functions(synthesized)
    assert len(public) == (2 if synthesized.ingress == "webhook" else 1)
    for logical, function in public.items():
        assert function["Properties"].get("ReservedConcurrentExecutions") == 10, logical


def test_reserved_concurrency_is_a_setting() -> None:
    from aws_cdk.assertions import Template

    from payops.app_factory import build_app

    context = {"ingress": "webhook", "receiverReservedConcurrency": 25,
               "downloadReservedConcurrency": 3}  # fmt: skip
    _, stack = build_app(context, nag=False)
    template = Template.from_stack(stack).to_json()
    resources_ = template["Resources"]
    public = {
        r["Properties"]["TargetFunctionArn"]["Fn::GetAtt"][0]
        for r in resources_.values()
        if r["Type"] == "AWS::Lambda::Url"
    }
    reserved = {
        logical: r["Properties"].get("ReservedConcurrentExecutions", 0)
        for logical, r in resources_.items()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert sorted(reserved[logical] for logical in public) == [3, 25]
    # Functions only a workflow or staff invoke reserve nothing.
    assert {v for logical, v in reserved.items() if logical not in public} == {0}


# --- 3. SNS subscriptions with DLQs, and their depth alarms -----------------------------------


def test_sns_to_sqs_subscriptions_have_dead_letter_queues(synthesized: Synthesized) -> None:
    queues = resources(synthesized, "AWS::SQS::Queue")
    alarms = resources(synthesized, "AWS::CloudWatch::Alarm")
    subscriptions = [
        s["Properties"] for s in resources(synthesized, "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "sqs"
    ]  # fmt: skip
    assert len(subscriptions) == 3
    for subscription in subscriptions:
        dlq = subscription["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert dlq in queues
        watching = [
            a for a in alarms.values()
            if any(d["Value"] == {"Fn::GetAtt": [dlq, "QueueName"]}
                   for d in a["Properties"].get("Dimensions", []))
        ]  # fmt: skip
        assert len(watching) == 1, f"no depth alarm on {dlq}"


# --- 3. the backstop for failures no Catch sees -----------------------------------------------


def _status_event(
    machine_arn: str, status: str, error: str | None = "absent", cause: str | None = "absent"
) -> dict:
    detail: dict[str, Any] = {
        "executionArn": machine_arn.replace(":stateMachine:", ":execution:") + ":run-1",
        "stateMachineArn": machine_arn,
        "name": "run-1",
        "status": status,
        "input": "{}",
    }
    if error != "absent":
        detail["error"] = error
    if cause != "absent":
        detail["cause"] = cause
    return {"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
            "account": "123456789012", "region": "us-east-1", "detail": detail}  # fmt: skip


def test_backstop_rule_alerts_staff_for_runs_no_catch_saw(partner: Synthesized) -> None:
    """Two rules: runs whose event names an error, and runs whose event names none (timeouts,
    aborts); every run no Catch saw matches exactly one of them."""
    rules = {
        r["Properties"]["Name"]: r["Properties"]
        for r in resources(partner, "AWS::Events::Rule").values()
        if r["Properties"]["Name"].startswith("StripePayOps-workflow-backstop")
    }
    assert sorted(rules) == [
        "StripePayOps-workflow-backstop",
        "StripePayOps-workflow-backstop-no-error",
    ]
    alerts = [k for k, v in resources(partner, "AWS::SNS::Topic").items()
              if "PaymentProblems" in k]  # fmt: skip
    machines = resources(partner, "AWS::StepFunctions::StateMachine")
    standard = {k for k, v in machines.items() if v["Properties"]["StateMachineType"] == "STANDARD"}
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:StripePayOps-fulfilment-retry"
    patterns = {}
    for name, rule in rules.items():
        assert rule["EventBusName"] == "default"  # where Step Functions sends its events
        [target] = rule["Targets"]
        assert target["Arn"] == {"Ref": alerts[0]} and target["DeadLetterConfig"]
        listed = {ref["Ref"] for ref in rule["EventPattern"]["detail"]["stateMachineArn"]}
        assert listed == standard and standard
        # The pattern, evaluated with the project's EventBridge matcher on concrete ARNs.
        pattern = json.loads(json.dumps(rule["EventPattern"]))
        pattern["detail"]["stateMachineArn"] = [arn]
        patterns[name.removeprefix("StripePayOps-workflow-backstop")] = pattern

    def matched(event: dict) -> list[str]:
        return [name for name, pattern in patterns.items() if matches(pattern, event)]

    handled = handled_errors("fulfilment-retry")
    assert handled == ["FulfilmentFailed"]
    assert matched(_status_event(arn, "TIMED_OUT")) == ["-no-error"]
    assert matched(_status_event(arn, "ABORTED")) == ["-no-error"]
    assert matched(_status_event(arn, "FAILED", "States.Runtime")) == [""]
    assert matched(_status_event(arn, "FAILED")) == ["-no-error"]  # no error field: alert anyway
    assert matched(_status_event(arn, "FAILED", "States.Runtime", "a cause")) == [""]
    assert matched(_status_event(arn, "FAILED", None, unnamed_failures("reconciliation")[0])) == [
        "-no-error"  # a Fail state without an Error name: error is null
    ]
    assert matched(_status_event(arn, "FAILED", "FulfilmentFailed")) == []  # it alerted itself
    assert matched(_status_event(arn, "SUCCEEDED")) == []
    other = arn.replace("fulfilment-retry", "someone-elses")
    assert matched(_status_event(other, "TIMED_OUT")) == []
    # Each message reads only fields its rule's events carry: no `null` for a missing error.
    paths = {n: r["Targets"][0]["InputTransformer"]["InputPathsMap"] for n, r in rules.items()}
    assert "error" in paths["StripePayOps-workflow-backstop"]
    assert "error" not in paths["StripePayOps-workflow-backstop-no-error"]


def test_every_fail_state_without_an_error_name_has_a_cause() -> None:
    """The backstop tells such a run's event (error null) by its Cause; with neither, it would
    print `null`."""
    for path in sorted((ROOT / "statemachines").glob("*.asl.json")):
        name = path.name.removesuffix(".asl.json")
        for state in fail_states(name):
            assert state.get("Error") or state.get("Cause"), (path.name, state)


def test_alerts_topic_lets_the_backstop_rule_publish(partner: Synthesized) -> None:
    policies = [
        s for logical, s in _resource_policy_statements(partner.json)
        if "sns:Publish" in as_list(s.get("Action"))
        and "BackstopRule" in json.dumps(s.get("Condition", {}))
    ]  # fmt: skip
    assert len(policies) == 1


# --- 4. receiver alarms on its 4xx/5xx rates --------------------------------------------------


def test_receiver_alarms_on_4xx_and_5xx_rates(webhook: Synthesized) -> None:
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources(webhook, "AWS::CloudWatch::Alarm").values()
    }
    [receiver] = [
        f["Properties"] for f in resources(webhook, "AWS::Lambda::Function").values()
        if "METRICS_NAMESPACE" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]  # fmt: skip
    namespace = receiver["Environment"]["Variables"]["METRICS_NAMESPACE"]
    for name, metric in (("receiver-4xx-rate", "Rejected4xx"), ("receiver-5xx-rate", "Failed5xx")):
        alarm = alarms[f"StripePayOps-{name}"]
        used = {
            q["MetricStat"]["Metric"]["MetricName"]
            for q in alarm["Metrics"] if "MetricStat" in q
        }  # fmt: skip
        assert used == {"Requests", metric}
        assert all(
            q["MetricStat"]["Metric"]["Namespace"] == namespace
            for q in alarm["Metrics"] if "MetricStat" in q
        )  # fmt: skip
        assert alarm["AlarmActions"], name  # to the staff topic
    for name in ("receiver-errors", "receiver-throttles"):
        assert alarms[f"StripePayOps-{name}"]["AlarmActions"]


def test_receiver_emits_the_metrics_the_alarms_read(monkeypatch, capsys) -> None:
    import importlib.util

    path = ROOT / "functions" / "webhook_receiver" / "handler.py"
    spec = importlib.util.spec_from_file_location("receiver_for_emf", path)
    receiver = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "receiver_for_emf", receiver)
    assert spec.loader is not None
    spec.loader.exec_module(receiver)
    monkeypatch.setenv("METRICS_NAMESPACE", "StripePayOps/WebhookReceiver")
    monkeypatch.setenv("EVENT_BUS_NAME", "bus")
    monkeypatch.setenv("SIGNING_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:1:secret:x")
    request = {"requestContext": {"http": {"method": "POST"}}, "headers": {},
               "body": '{"id": "evt_1Forged", "object": "event"}'}  # fmt: skip
    assert receiver.handler(request, None)["statusCode"] == 400
    line = json.loads(capsys.readouterr().out)
    assert line["event_id"] == "evt_1Forged" and line["event_id_verified"] is False
    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "StripePayOps/WebhookReceiver"
    assert {m["Name"] for m in directive["Metrics"]} == {"Requests", "Rejected4xx", "Failed5xx"}
    assert (line["Requests"], line["Rejected4xx"], line["Failed5xx"]) == (1, 1, 0)


# --- 5/6. cdk-nag: two packs, and every acknowledgement still suppresses something -------------


@pytest.mark.parametrize("ingress", ["partner", "webhook"])
def test_cdk_nag_serverless_has_no_unacknowledged_findings(ingress: str) -> None:
    from cdk_nag import ServerlessChecks

    synth = synthesize(ingress)
    report = ServerlessChecks(synth.app).validate_scope(synth.stack)
    assert [f"{v.rule_name}: {v.description}" for v in report.violations] == []


def test_the_app_runs_both_nag_packs() -> None:
    text = (ROOT / "payops" / "app_factory.py").read_text()
    assert "AwsSolutionsChecks(app), ServerlessChecks(app)" in text


@pytest.mark.parametrize("ingress", ["partner", "webhook"])
def test_every_acknowledgement_suppresses_a_real_finding(ingress: str, monkeypatch) -> None:
    """A stale acknowledgement (nothing to suppress) would hide the next real finding; a false
    reason (DDB3 on Grants: a replay ends AlreadyHandled, it re-issues nothing) misleads."""
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    import stacks.nag as nag
    from payops.app_factory import build_app

    class _Recorded:  # record acknowledgements without applying them
        @staticmethod
        def of(_scope: Any) -> Any:
            return type("V", (), {"acknowledge": lambda self, _a: None})()

    monkeypatch.setattr(nag, "Validations", _Recorded)
    monkeypatch.setattr(nag, "ACKNOWLEDGED", [])
    app, stack = build_app({"ingress": ingress}, nag=False)
    findings: set[tuple[str, str]] = set()
    for pack in (AwsSolutionsChecks, ServerlessChecks):
        for violation in pack(app).validate_scope(stack).violations:
            for resource in violation.violating_resources:
                findings.add((violation.rule_name, resource.construct_path))
    assert nag.ACKNOWLEDGED
    stale = [
        (path, rule) for path, rule in nag.ACKNOWLEDGED
        if not any(r == rule and (p == path or p.startswith(path + "/")) for r, p in findings)
    ]  # fmt: skip
    assert stale == []
    assert not any(rule == "AwsSolutions-DDB3" for _, rule in nag.ACKNOWLEDGED)
