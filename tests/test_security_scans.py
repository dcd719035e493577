"""Least privilege and secrets (issue 6, item 4).

- IAM: every policy statement in both synthesized templates (identity, trust, key and resource
  policies, wherever a policy document appears) with a "*" resource or an action containing "*"
  must match an entry of JUSTIFIED_WILDCARDS, which matches on what the statement grants (effect,
  policy kind, action set, principal, condition), never on logical ids. NotAction/NotResource,
  Allow to a "*" principal and ARN patterns that do not name a resource always fail.
- Secrets: templates, fixtures, examples, rules, state machines, code, README and the webhook
  receiver's own log output hold nothing shaped like a Stripe secret key or signing secret, and the
  receiver never logs the payload or the Stripe-Signature header.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import re
import secrets
import string
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from stripe_signing import sign

ROOT = Path(__file__).resolve().parents[1]

# --- IAM: the allow-list --------------------------------------------------------------------

SECURE_TRANSPORT_OFF = {"Bool": {"aws:SecureTransport": "false"}}
ACCOUNT_ROOT = "AWS=arn:{Ref:AWS::Partition}:iam::{Ref:AWS::AccountId}:root"


@dataclass(frozen=True)
class Justified:
    """A wildcard statement shape that is acceptable, and why."""

    reason: str
    effect: str
    kinds: frozenset[str]  # identity | trust | key | resource
    actions: frozenset[str]
    star_resource: bool  # whether the statement's Resource is "*"
    principals: tuple[str, ...] | None = None  # rendered, sorted; None: not checked
    condition: dict[str, Any] | None = None  # exact Condition; None: not checked


JUSTIFIED_WILDCARDS: tuple[Justified, ...] = (
    Justified(
        reason="Step Functions logging to CloudWatch Logs: the vended-log-delivery APIs support "
        "no resource-level permissions, and AWS documents exactly this statement on '*'.",
        effect="Allow",
        kinds=frozenset({"identity"}),
        actions=frozenset(
            {
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            }
        ),
        star_resource=True,
    ),
    Justified(
        reason="X-Ray tracing of the workflows: these X-Ray actions support no resource-level "
        "permissions.",
        effect="Allow",
        kinds=frozenset({"identity"}),
        actions=frozenset(
            {
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            }
        ),
        star_resource=True,
    ),
    Justified(
        reason="The default KMS key policy: the account (i.e. its IAM policies) administers the "
        "key; without it the key becomes unmanageable. In a key policy '*' means this key.",
        effect="Allow",
        kinds=frozenset({"key"}),
        actions=frozenset({"kms:*"}),
        star_resource=True,
        principals=(ACCOUNT_ROOT,),
    ),
    Justified(
        reason="EventBridge publishing to the KMS-encrypted SNS topics (the statement AWS "
        "documents for SNS SSE); in a key policy '*' means this key, and GenerateDataKey* only "
        "covers the data-key variants.",
        effect="Allow",
        kinds=frozenset({"key"}),
        actions=frozenset({"kms:Decrypt", "kms:GenerateDataKey*"}),
        star_resource=True,
        principals=("Service=events.amazonaws.com",),
    ),
    Justified(
        reason="CloudWatch alarms notifying the KMS-encrypted staff alerts topic (the statement "
        "AWS documents for alarms on an encrypted topic); in a key policy '*' means this key, and "
        "publishing still needs the topic policy, which admits only this stack's alarms.",
        effect="Allow",
        kinds=frozenset({"key"}),
        actions=frozenset({"kms:Decrypt", "kms:GenerateDataKey*"}),
        star_resource=True,
        principals=("Service=cloudwatch.amazonaws.com",),
    ),
    Justified(
        reason="CDK's grant to publish to a KMS-encrypted topic: on that one key's ARN only, and "
        "GenerateDataKey* only covers the data-key variants.",
        effect="Allow",
        kinds=frozenset({"identity"}),
        actions=frozenset({"kms:Decrypt", "kms:GenerateDataKey*"}),
        star_resource=False,
    ),
    Justified(
        reason="enforceSSL on the queues: a Deny of every SQS action without TLS restricts, it "
        "grants nothing.",
        effect="Deny",
        kinds=frozenset({"resource"}),
        actions=frozenset({"sqs:*"}),
        star_resource=False,
        condition=SECURE_TRANSPORT_OFF,
    ),
    Justified(
        reason="enforceSSL on the bucket: a Deny of every S3 action without TLS restricts, it "
        "grants nothing.",
        effect="Deny",
        kinds=frozenset({"resource"}),
        actions=frozenset({"s3:*"}),
        star_resource=False,
        condition=SECURE_TRANSPORT_OFF,
    ),
    Justified(
        reason="issue 16: the reconciliation's MissedEventsFound metric. PutMetricData supports "
        "no resource-level permissions; the cloudwatch:namespace condition allows only the "
        "stack's Reconciliation namespace.",
        effect="Allow",
        kinds=frozenset({"identity"}),
        actions=frozenset({"cloudwatch:PutMetricData"}),
        star_resource=True,
        condition={"StringEquals": {"cloudwatch:namespace": "StripePayOps/Reconciliation"}},
    ),
)


# --- IAM: finding and judging statements ----------------------------------------------------


@dataclass(frozen=True)
class Statement:
    where: str  # logical id / resource type / path, for messages only
    kind: str
    body: dict[str, Any]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def render(value: Any) -> str:
    """A CloudFormation value as text, with tokens shown as {Ref:X} / {X.Attr}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        [(fn, arg)] = value.items()
        if fn == "Ref":
            return f"{{Ref:{arg}}}"
        if fn == "Fn::GetAtt":
            return "{" + ".".join(map(str, _as_list(arg))) + "}"
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            return str(arg[0]).join(render(part) for part in _as_list(arg[1]))
        if fn == "Fn::Sub":
            return render(_as_list(arg)[0])
        return "{" + fn + "}"
    return json.dumps(value, sort_keys=True)


def _kind(resource_type: str, path: list[str]) -> str:
    if resource_type == "AWS::IAM::Role" and path[:1] == ["AssumeRolePolicyDocument"]:
        return "trust"
    if resource_type in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        return "identity"
    if resource_type == "AWS::KMS::Key":
        return "key"
    return "resource"


def _documents(node: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    """Every policy document under `node` (dicts with a Statement, also inside JSON strings).

    A policy assembled with Fn::Join/Fn::Sub cannot be read: yielded as None so it fails."""
    if isinstance(node, dict):
        if "Statement" in node:
            yield path, node
        for key, child in node.items():
            if key == "Statement":
                continue
            if key in ("Fn::Join", "Fn::Sub") and '\\"Statement\\"' in json.dumps(child):
                yield path, None
                continue
            yield from _documents(child, [*path, key])
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _documents(child, [*path, str(i)])
    elif isinstance(node, str) and '"Statement"' in node:
        try:
            yield from _documents(json.loads(node), [*path, "<json>"])
        except ValueError:
            yield path, None


def policy_statements(template: dict[str, Any]) -> Iterator[Statement]:
    for logical_id, resource in template.get("Resources", {}).items():
        rtype = resource.get("Type", "")
        for path, document in _documents(resource.get("Properties", {}), []):
            where = f"{logical_id} ({rtype}) {'/'.join(path)}"
            if document is None:
                yield Statement(where, "unreadable", {})
                continue
            for i, body in enumerate(_as_list(document["Statement"])):
                yield Statement(f"{where}/Statement/{i}", _kind(rtype, path), body)


def _principals(body: dict[str, Any]) -> tuple[str, ...]:
    principal = body.get("Principal")
    if principal is None:
        return ()
    if not isinstance(principal, dict):
        return (render(principal),)
    return tuple(
        sorted(f"{key}={render(v)}" for key, value in principal.items() for v in _as_list(value))
    )


def _names_a_resource(resource: str) -> bool:
    """An ARN pattern is scoped if the text before its first '*' names a resource: a token of a
    resource of this template, or a literal name prefix of >= 3 characters."""
    head = resource.split("*", 1)[0]
    if head.startswith("arn:"):
        fields = head.split(":", 5)
        if len(fields) < 6:
            return False  # the '*' is in the partition, service, region or account
        head = fields[5]
    if "{" in head:
        return True
    last = re.split(r"[/:]", head)[-1]
    return len(last) >= 3


def judge(statement: Statement) -> str | None:
    """None if the statement is fine; otherwise why it fails."""
    body = statement.body
    if statement.kind == "unreadable":
        return "a policy document assembled at deploy time: it cannot be checked"
    for negated in ("NotAction", "NotResource", "NotPrincipal"):
        if negated in body:
            return f"uses {negated}"
    effect = body.get("Effect")
    principals = _principals(body)
    if effect == "Allow" and {"*", "AWS=*"} & set(principals):
        return "allows any principal"
    actions = [render(a) for a in _as_list(body.get("Action"))]
    resources = [render(r) for r in _as_list(body.get("Resource"))]
    broad = [r for r in resources if r != "*" and "*" in r and not _names_a_resource(r)]
    if broad:
        return f"resource pattern names no resource: {broad}"
    star_resource = "*" in resources
    if not star_resource and not any("*" in a for a in actions):
        return None
    for entry in JUSTIFIED_WILDCARDS:
        if matches(entry, statement):
            return None
    return f"unjustified wildcard: {effect} {sorted(actions)} on {resources}"


def matches(entry: Justified, statement: Statement) -> bool:
    body = statement.body
    resources = [render(r) for r in _as_list(body.get("Resource"))]
    return (
        body.get("Effect") == entry.effect
        and statement.kind in entry.kinds
        and frozenset(render(a) for a in _as_list(body.get("Action"))) == entry.actions
        and ("*" in resources) == entry.star_resource
        and (entry.principals is None or _principals(body) == entry.principals)
        and (entry.condition is None or body.get("Condition") == entry.condition)
    )


# --- IAM: tests -----------------------------------------------------------------------------


def test_every_wildcard_statement_is_justified(synthesized) -> None:
    statements = list(policy_statements(synthesized.json))
    assert len(statements) > 20  # the walk really found the policies
    failures = [f"{s.where}: {why}" for s in statements if (why := judge(s))]
    assert not failures, "\n".join(failures)


def test_allow_list_is_minimal(partner, webhook) -> None:
    """Each entry is still needed by some statement, and says why it is acceptable."""
    statements = [*policy_statements(partner.json), *policy_statements(webhook.json)]
    for entry in JUSTIFIED_WILDCARDS:
        assert len(entry.reason) > 40 and entry.reason.endswith(".")
        assert any(matches(entry, s) for s in statements), f"unused: {entry.reason}"
    assert len({e.reason for e in JUSTIFIED_WILDCARDS}) == len(JUSTIFIED_WILDCARDS)


def test_the_checker_catches_wildcards() -> None:
    """The judge on a template with one statement of each bad shape (and two good ones)."""
    arn = {"Fn::GetAtt": ["Table", "Arn"]}
    join = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":states:us-east-1:1:"]]}

    def policy(*statements: dict[str, Any]) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": list(statements)}

    xray = sorted(JUSTIFIED_WILDCARDS[1].actions)
    template = {
        "Resources": {
            "Good": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyDocument": policy(
                        {"Effect": "Allow", "Action": xray, "Resource": "*"},
                        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": arn},
                    )
                },
            },
            "Bad": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [
                        {
                            "PolicyName": "p",
                            "PolicyDocument": policy(
                                {"Effect": "Allow", "Action": "s3:*", "Resource": arn},
                                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                                {"Effect": "Allow", "NotAction": "iam:*", "Resource": arn},
                                {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
                                {
                                    "Effect": "Allow",
                                    "Action": "states:StartExecution",
                                    "Resource": {"Fn::Join": ["", [join, "stateMachine:*"]]},
                                },
                            ),
                        }
                    ]
                },
            },
            "Queue": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "PolicyDocument": policy(
                        {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"},
                        {"Effect": "Deny", "Principal": "*", "Action": "sqs:*"},  # no condition
                    )
                },
            },
            "Logs": {
                "Type": "AWS::Logs::ResourcePolicy",
                "Properties": {
                    "PolicyDocument": json.dumps(
                        policy({"Effect": "Allow", "Action": xray, "Resource": "*"})
                    )
                },
            },
            "Assembled": {
                "Type": "AWS::Logs::ResourcePolicy",
                "Properties": {"PolicyDocument": {"Fn::Join": ["", ['{"Statement": [', "]}"]]}},
            },
        }
    }
    verdicts = [(s.where.split()[0], judge(s)) for s in policy_statements(template)]
    assert [v for v in verdicts if v[0] == "Good"] == [("Good", None), ("Good", None)]
    bad = [why for where, why in verdicts if where != "Good"]
    assert len(bad) == 9 and all(bad), verdicts


def test_state_machines_never_log_execution_data(synthesized) -> None:
    """Execution data carries customer emails and addresses: logs keep ids and errors only."""
    machines = [
        r
        for r in synthesized.json["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    assert machines
    for machine in machines:
        logging_config = machine["Properties"].get("LoggingConfiguration") or {}
        assert logging_config.get("IncludeExecutionData", False) is False


# --- secrets: patterns and files ------------------------------------------------------------

SECRET_PATTERNS = {
    "Stripe secret or restricted key": re.compile(r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
    "Stripe webhook signing secret": re.compile(r"whsec_[A-Za-z0-9]{16,}"),
}
SCANNED_DIRS = ("tests/fixtures", "examples", "rules", "statemachines", "functions", "stacks")
SCANNED_DIRS += ("payops", "tests/__snapshots__")
SCANNED_FILES = ("README.md",)


def secret_findings(text: str, origin: str) -> list[str]:
    return [
        f"{origin}: {name} at offset {match.start()}"
        for name, pattern in SECRET_PATTERNS.items()
        for match in pattern.finditer(text)
    ]


def _alnum(n: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


def test_patterns_find_secret_shapes_and_skip_near_misses() -> None:
    # Built at run time: no file holds a secret-shaped string.
    for prefix in ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"):
        assert secret_findings(f'KEY="{prefix}{_alnum(24)}"', "x"), prefix
        assert not secret_findings(f"{prefix}{_alnum(15)}", "x"), prefix
    assert not secret_findings("pk_live_" + _alnum(24), "x")  # publishable keys are public
    assert not secret_findings("whsec_...", "x")


def scanned_files() -> list[Path]:
    files = [ROOT / name for name in SCANNED_FILES]
    for directory in SCANNED_DIRS:
        assert (ROOT / directory).is_dir(), directory
        files += [
            p
            for p in sorted((ROOT / directory).rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        ]
    return files


def test_repository_files_hold_no_stripe_secrets() -> None:
    findings: list[str] = []
    scanned = 0
    for path in scanned_files():
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        scanned += 1
        findings += secret_findings(data.decode("utf-8", "replace"), str(path.relative_to(ROOT)))
    assert scanned > 50
    assert not findings, "\n".join(findings)


def test_templates_hold_no_stripe_secrets(synthesized) -> None:
    text = json.dumps(synthesized.json)
    assert not secret_findings(text, f"{synthesized.ingress} template")


# --- secrets: the receiver's own logs ---------------------------------------------------------

HANDLER_PATH = ROOT / "functions" / "webhook_receiver" / "handler.py"
AWS_LIBRARIES = ("botocore", "boto3", "urllib3", "s3transfer", "moto", "werkzeug")


def _load_receiver() -> ModuleType:
    name = "payops_webhook_receiver_scans"
    spec = importlib.util.spec_from_file_location(name, HANDLER_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


receiver = _load_receiver()


def _request(body: str, header: str | None, method: str = "POST", b64: bool = False) -> dict:
    return {
        "version": "2.0",
        "rawPath": "/",
        "headers": {"content-type": "application/json", "stripe-signature": header},
        "requestContext": {"http": {"method": method, "path": "/"}, "requestId": "scan"},
        "body": body,
        "isBase64Encoded": b64,
    }


def _customer_event(email: str, name: str) -> dict[str, Any]:
    return {
        "id": "evt_" + _alnum(24),
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": int(time.time()) - 5,
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": "cs_test_" + _alnum(24),
                "object": "checkout.session",
                "amount_total": 3000,
                "customer_details": {"email": email, "name": name, "phone": "+81 90 1234 5678"},
            }
        },
    }


@pytest.fixture
def receiver_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("EVENT_SOURCE", "TOLERANCE_SECONDS", "MAX_BODY_BYTES"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        # Alphanumeric after the prefix, so the signing-secret pattern would catch a leak of it.
        secret = "whsec_" + _alnum(32)
        arn = boto3.client("secretsmanager").create_secret(Name="scan", SecretString=secret)["ARN"]
        boto3.client("events").create_event_bus(Name="scan-bus")
        monkeypatch.setenv("EVENT_BUS_NAME", "scan-bus")
        monkeypatch.setenv("SIGNING_SECRET_ARN", arn)
        receiver._reset_for_tests()
        try:
            yield secret
        finally:
            receiver._reset_for_tests()


def test_receiver_logs_hold_no_secrets_payloads_or_signatures(
    receiver_aws: str, capsys, caplog, monkeypatch
) -> None:
    secret = receiver_aws
    email, name = f"{_alnum(10)}@example.com", f"Jenny {_alnum(8)}"
    event = _customer_event(email, name)
    payload = json.dumps(event, indent=2)
    now = int(time.time())
    good = sign(payload, secret)
    not_event = json.dumps({"object": "customer", "email": email})
    big = json.dumps({**event, "pad": "x" * 1048576})
    requests = [
        _request(payload, good),
        _request(base64.b64encode(payload.encode()).decode(), good, b64=True),
        _request(payload, sign(payload, "whsec_" + _alnum(32))),  # wrong secret
        _request(payload, good.replace("v1=", "v1=0")),  # forged
        _request(payload, sign(payload, secret, timestamp=now - 3600)),  # expired
        _request(payload, None),
        _request("email=" + email, sign("email=" + email, secret)),  # signed, not JSON
        _request(not_event, sign(not_event, secret)),  # signed, not an event
        _request(big, sign(big, secret)),  # over the limit
        _request(payload, good, method="GET"),
        _request(payload, f"t={now},v1=\u00e9"),  # the known 500 path
    ]
    headers = [r["headers"]["stripe-signature"] for r in requests]
    caplog.set_level(logging.DEBUG)
    responses = [receiver.handler(r, None) for r in requests]
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")  # the put_events failure path
    responses.append(receiver.handler(_request(payload, sign(payload, secret)), None))
    captured = capsys.readouterr()
    assert [r["statusCode"] for r in responses[:2]] == [200, 200]
    assert responses[-1]["statusCode"] == 500
    assert len(captured.out.splitlines()) == len(responses)  # one line each: really captured

    own_records = [r for r in caplog.records if not r.name.startswith(AWS_LIBRARIES)]
    library_info = [r for r in caplog.records if r.levelno >= logging.INFO]
    texts = {
        "stdout": captured.out,
        "stderr": captured.err,
        "receiver logging": "\n".join(r.getMessage() for r in own_records),
        "library logging at INFO": "\n".join(r.getMessage() for r in library_info),
        "responses": "\n".join(r["body"] for r in responses),
    }
    leaks = [
        ("the signing secret", secret),
        ("the customer email", email),
        ("the customer name", name),
        ("the checkout session id", event["data"]["object"]["id"]),
        ("the customer phone", event["data"]["object"]["customer_details"]["phone"]),
    ]
    for header in filter(None, headers):
        leaks.append(("a Stripe-Signature header", header))
        leaks += [("a v1 signature", part[3:]) for part in header.split(",") if len(part) > 16]
    for origin, text in texts.items():
        assert not secret_findings(text, origin)
        for what, value in leaks:
            assert value not in text, f"{what} appears in {origin}"
