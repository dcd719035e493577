"""Subscription provisioning and deprovisioning: the ASL executed in moto, and the template.

The workflows run for real (`execute_state_machine`) with the Step Functions bridge (HTTP Task
to the fake Stripe API, simulated Wait/Retry time) and the CloudFormation bridge (a resource that
fails to create leaves the stack CREATE_FAILED, as on AWS). The customer template is the bundled
provisioning/customer-stack.json, served from moto's S3 as the CDK asset would be.

FakeStripe has no GET /v1/invoices/{id}; `FakeStripe` below adds a minimal one (the
2024-06-20 shape the workflow pins: an invoice with its `payment_intent`).
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from conftest import ROOT, Synthesized, load_fixture
from harness import Run, client, finish, queued_json, start
from moto import mock_aws

from payops.asl import render
from payops.localaws import cloudformation_bridge as cfb
from payops.localaws import stepfunctions_bridge as sfb
from payops.localaws.fake_stripe import FakeStripe, StripeCall
from stacks.idempotency import CLAIM_TTL_SECONDS
from stacks.stripe_api import STRIPE_API_VERSION
from stacks.subscriptions import STACK_PREFIX

REGION = "us-east-1"
ACCOUNT = "123456789012"
DASHBOARD = "https://dashboard.stripe.com/test"
BUCKET = "payops-assets"
STARTED = "customer.subscription.created.active.json"
STARTED_LATER = "customer.subscription.updated.incomplete-to-active.json"
ENDED = "customer.subscription.deleted.json"
TEMPLATE = ROOT / "provisioning" / "customer-stack.json"
# A stack whose queue cannot be created (SQS refuses the name): CloudFormation ends CREATE_FAILED.
BROKEN_TEMPLATE = {
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "not valid!"}}}
}


@dataclass
class Local:
    machines: dict[str, str]  # "provision" / "deprovision" / "broken" -> state machine ARN
    alerts_queue: str
    stripe: FakeStripe

    client = staticmethod(client)

    def run(self, machine: str, envelope: dict[str, Any], timeout: float = 15.0) -> Run:
        return finish(start(self.machines[machine], envelope), timeout)

    def stacks(self) -> dict[str, dict[str, Any]]:
        """Live stacks by name."""
        return {
            s["StackName"]: s for s in self.client("cloudformation").describe_stacks()["Stacks"]
        }

    def queues(self) -> list[str]:
        return self.client("sqs").list_queues().get("QueueUrls", [])

    def alerts(self) -> list[dict[str, Any]]:
        return queued_json(self.alerts_queue)

    def claim(self, workflow: str, event_id: str) -> dict[str, Any] | None:
        key = {"pk": {"S": f"{workflow}#{event_id}"}}
        return self.client("dynamodb").get_item(TableName="claims", Key=key).get("Item")

    def calls(self, method: str, path_prefix: str) -> list[StripeCall]:
        return [
            c for c in self.stripe.calls if c.method == method and c.path.startswith(path_prefix)
        ]


@pytest.fixture
def local() -> Iterator[Local]:
    was = sfb.is_installed(), cfb.is_installed()
    sfb.install()
    cfb.install()
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        FakeStripe() as fake,
    ):
        sfb.set_http_routes({"https://api.stripe.com": fake.url})
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="claims",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="payment-problems")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="customer-stack.json", Body=TEMPLATE.read_bytes())
        s3.put_object(Bucket=BUCKET, Key="broken.json", Body=json.dumps(BROKEN_TEMPLATE))
        connection = boto3.client("events", region_name=REGION).create_connection(
            Name="stripe",
            AuthorizationType="API_KEY",
            AuthParameters={
                "ApiKeyAuthParameters": {
                    "ApiKeyName": "Authorization",
                    "ApiKeyValue": "Bearer sk_test_" + secrets.token_hex(6),
                }
            },
        )["ConnectionArn"]
        common = {
            "IdempotencyTable": "claims",
            "ClaimTtlSeconds": str(CLAIM_TTL_SECONDS),
            "StackNamePrefix": STACK_PREFIX,
            "AlertTopicArn": topic,
            "StripeDashboardUrl": DASHBOARD,
        }
        stripe = {"StripeConnectionArn": connection, "StripeApiVersion": STRIPE_API_VERSION}
        # The asset URL shape CDK gives: https://s3.<region>.amazonaws.com/<bucket>/<key>
        url = f"https://s3.{REGION}.amazonaws.com/{BUCKET}"
        definitions = {
            "provision": render(
                "subscription-provision",
                {**common, **stripe, "CustomerTemplateUrl": f"{url}/customer-stack.json"},
            ),
            "broken": render(
                "subscription-provision",
                {**common, **stripe, "CustomerTemplateUrl": f"{url}/broken.json"},
            ),
            "deprovision": render("subscription-deprovision", common),
        }
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machines = {
            name: sfn.create_state_machine(
                name=name, definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}"
            )["stateMachineArn"]
            for name, definition in definitions.items()
        }
        yield Local(machines, queue, fake)
    sfb.set_http_routes({})
    if not was[0]:
        sfb.uninstall()
    if not was[1]:
        cfb.uninstall()


def _event(name: str, **detail_changes: Any) -> dict[str, Any]:
    envelope = copy.deepcopy(load_fixture(f"events/{name}"))
    envelope["detail"].update(detail_changes)
    return envelope


def _subscription(envelope: dict[str, Any]) -> dict[str, Any]:
    return envelope["detail"]["data"]["object"]


def _seed(local: Local, envelope: dict[str, Any], *, status: str = "active") -> str:
    """The subscription as Stripe knows it now, and its paid first invoice; returns the PI id."""
    sub = _subscription(envelope)
    local.stripe.add_subscription(customer=sub["customer"], status=status, id=sub["id"])
    intent = local.stripe.add_payment_intent(9800)
    local.stripe.add_invoice(sub["latest_invoice"], intent["id"])
    return intent["id"]


def _stack_name(envelope: dict[str, Any]) -> str:
    """cus_X -> payops-customer-cus-X: stack names allow only letters, digits and hyphens."""
    name = STACK_PREFIX + _subscription(envelope)["customer"].replace("_", "-")
    assert re.fullmatch(r"[A-Za-z][-A-Za-z0-9]{0,127}", name)  # moto does not check this
    return name


# ------------------------------------------------------------------------------ provisioning


def test_provisioning_creates_the_customer_stack_and_waits_until_complete(local: Local) -> None:
    envelope = _event(STARTED)
    _seed(local, envelope)
    sub = _subscription(envelope)

    run = local.run("provision", envelope)

    assert run.status == "SUCCEEDED", run.error
    assert run.states() == [
        "Claim", "FetchSubscription", "StillLive", "NameStack", "CreateStack", "WaitForStack",
        "DescribeStack", "StackReady", "MarkDone",
    ]  # fmt: skip
    assert run.simulated_seconds == 10  # one Wait, skipped
    stack = local.stacks()[_stack_name(envelope)]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "CustomerId": sub["customer"],
        "SubscriptionId": sub["id"],
    }
    assert [q.rsplit("/", 1)[1] for q in local.queues() if "payops-customer-" in q] == [
        _stack_name(envelope)
    ]
    (check,) = local.calls("GET", "/v1/subscriptions/")
    assert check.path == f"/v1/subscriptions/{sub['id']}"
    assert check.headers["stripe-version"] == STRIPE_API_VERSION
    claim = local.claim("subscription-provision", envelope["detail"]["id"])
    assert claim is not None and claim["status"] == {"S": "DONE"}
    assert local.stripe.refunds == {} and local.alerts() == []


def test_duplicate_start_provisions_one_stack(local: Local) -> None:
    envelope = _event(STARTED)
    _seed(local, envelope)

    first = local.run("provision", envelope)
    duplicate = local.run("provision", envelope)
    # Another start event for the same customer (a second subscription): the stack exists.
    another = local.run("provision", _event(STARTED, id="evt_1OtherStartEvent"))

    assert first.status == duplicate.status == another.status == "SUCCEEDED"
    assert duplicate.states() == ["Claim", "AlreadyHandled"]
    assert "WaitForStack" not in another.states() and "MarkDone" in another.states()
    assert list(local.stacks()) == [_stack_name(envelope)]
    assert len([q for q in local.queues() if "payops-customer-" in q]) == 1


def test_a_start_delivered_after_the_subscription_ended_provisions_nothing(local: Local) -> None:
    envelope = _event(STARTED)
    _seed(local, envelope, status="canceled")

    run = local.run("provision", envelope)

    assert run.status == "SUCCEEDED"
    assert run.states()[-2:] == ["StillLive", "MarkNotLive"]
    assert local.stacks() == {}
    claim = local.claim("subscription-provision", envelope["detail"]["id"])
    assert claim is not None and claim["status"] == {"S": "SKIPPED_NOT_LIVE"}


def test_create_stack_failing_retries_then_refunds_cancels_and_alerts(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend

    attempts: list[str] = []

    def create_stack(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        attempts.append(name)
        raise ValidationError(message="Template error: simulated CreateStack failure")

    monkeypatch.setattr(CloudFormationBackend, "create_stack", create_stack)
    envelope = _event(STARTED)
    event_id = envelope["detail"]["id"]
    sub = _subscription(envelope)
    intent = _seed(local, envelope)

    run = local.run("provision", envelope)

    assert run.status == "FAILED"
    assert run.error == "ProvisioningFailed"
    assert attempts == [_stack_name(envelope)] * 4  # 1 + MaxAttempts 3
    assert run.simulated_seconds == 10 + 20 + 40  # IntervalSeconds 10, BackoffRate 2
    assert run.states() == [
        "Claim", "FetchSubscription", "StillLive", "NameStack", "CreateStack", "HasInvoice",
        "GetInvoice", "WasPaid", "Refund", "CancelSubscription", "MarkFailedRefunded",
        "AlertRefunded", "ProvisioningFailed",
    ]  # fmt: skip
    (refund,) = local.stripe.refunds.values()
    assert refund["payment_intent"] == intent and refund["amount"] == 9800
    (refund_call,) = local.calls("POST", "/v1/refunds")
    assert refund_call.headers["idempotency-key"] == f"refund-{event_id}"
    assert refund_call.params["metadata"]["reason"] == "provisioning_failed"
    (cancel,) = local.calls("DELETE", "/v1/subscriptions/")
    assert cancel.path == f"/v1/subscriptions/{sub['id']}"
    assert local.stripe.subscriptions[sub["id"]]["status"] == "canceled"
    (alert,) = local.alerts()
    assert "refunded and the subscription canceled" in alert["Message"]
    assert (
        sub["customer"] in alert["Message"] and "simulated CreateStack failure" in alert["Message"]
    )
    claim = local.claim("subscription-provision", event_id)
    assert claim is not None and claim["status"] == {"S": "FAILED_REFUNDED"}

    # A redelivery of the refunded start must not provision (or refund) again.
    again = local.run("provision", envelope)
    assert again.states() == ["Claim", "AlreadyHandled"]
    assert len(attempts) == 4 and len(local.stripe.refunds) == 1


def test_stack_ending_create_failed_is_discarded_then_refunded(local: Local) -> None:
    envelope = _event(STARTED)
    intent = _seed(local, envelope)

    run = local.run("broken", envelope)

    assert run.status == "FAILED" and run.error == "ProvisioningFailed"
    states = run.states()
    assert states[states.index("StackReady") :][:4] == [
        "StackReady", "StackFailed", "DiscardFailedStack", "HasInvoice",
    ]  # fmt: skip
    assert "CREATE_FAILED" in local.alerts()[0]["Message"]
    assert local.stacks() == {}  # the failed stack no longer blocks the name
    (refund,) = local.stripe.refunds.values()
    assert refund["payment_intent"] == intent


def test_refund_failing_too_asks_staff_to_finish_by_hand(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = _event(STARTED)
    sub = _subscription(envelope)
    local.stripe.add_subscription(customer=sub["customer"], id=sub["id"])
    local.stripe.add_invoice(sub["latest_invoice"], "pi_unknownToStripe")  # refund -> 400

    run = local.run("broken", envelope)

    assert run.status == "FAILED" and run.error == "CompensationIncomplete"
    assert len(local.calls("POST", "/v1/refunds")) == 1  # a 400 is not retried
    (alert,) = local.alerts()
    assert alert["Subject"].startswith("ACTION NEEDED")
    assert "No such payment_intent" in alert["Message"]
    claim = local.claim("subscription-provision", envelope["detail"]["id"])
    assert claim is not None and claim["status"] == {"S": "FAILED_NEEDS_ATTENTION"}


# ------------------------------------------------------------------------------ deprovisioning


def test_deprovisioning_deletes_the_stack_and_waits_until_gone(local: Local) -> None:
    started = _event(STARTED)
    _seed(local, started)
    assert local.run("provision", started).status == "SUCCEEDED"
    stack_id = local.stacks()[_stack_name(started)]["StackId"]
    ended = _event(ENDED)

    run = local.run("deprovision", ended)

    assert run.status == "SUCCEEDED", run.error
    assert run.states() == [
        "Claim", "NameStack", "FindStack", "DeleteStack", "WaitForDeletion", "DescribeDeletion",
        "Deleted", "MarkRemoved",
    ]  # fmt: skip
    assert local.stacks() == {}
    (gone,) = local.client("cloudformation").describe_stacks(StackName=stack_id)["Stacks"]
    assert gone["StackStatus"] == "DELETE_COMPLETE"
    assert not [q for q in local.queues() if "payops-customer-" in q]
    claim = local.claim("subscription-deprovision", ended["detail"]["id"])
    assert claim is not None
    assert claim["status"] == {"S": "DONE"} and claim["outcome"] == {"S": "STACK_DELETED"}
    assert local.run("deprovision", ended).states() == ["Claim", "AlreadyHandled"]


def test_deprovisioning_without_a_stack_has_nothing_to_remove(local: Local) -> None:
    ended = _event(ENDED)

    run = local.run("deprovision", ended)

    assert run.status == "SUCCEEDED", run.error
    assert run.states()[-2:] == ["NoStack", "MarkNothingToRemove"]
    claim = local.claim("subscription-deprovision", ended["detail"]["id"])
    assert claim is not None and claim["outcome"] == {"S": "NO_STACK"}
    assert local.alerts() == []


# ------------------------------------------------------------------------------ template


def _resources(synth: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.json["Resources"].items() if v["Type"] == kind}


def _statements(synth: Synthesized, policy_prefix: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, policy in _resources(synth, "AWS::IAM::Policy").items()
        if logical_id.startswith(policy_prefix)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _arn_tail(resource: Any) -> str:
    """The literal end of an ARN built with Fn::Join (after the account id)."""
    parts = resource["Fn::Join"][1]
    return "".join(p for p in parts[parts.index({"Ref": "AWS::AccountId"}) + 1 :])


@pytest.mark.parametrize(
    ("workflow", "stack_actions", "template_actions"),
    [
        ("Provision", {"CreateStack", "DescribeStacks", "DeleteStack"}, {"CreateQueue"}),
        ("Deprovision", {"DescribeStacks", "DeleteStack"}, {"DeleteQueue"}),
    ],
)
def test_workflow_roles_are_scoped_to_customer_stacks(
    partner: Synthesized, workflow: str, stack_actions: set[str], template_actions: set[str]
) -> None:
    statements = _statements(partner, f"Subscriptions{workflow}StateMachineRoleDefaultPolicy")
    cfn = [s for s in statements if str(s["Action"]).count("cloudformation:")]
    (stacks,) = cfn
    assert {a.split(":")[1] for a in stacks["Action"]} == stack_actions
    assert _arn_tail(stacks["Resource"]) == f":stack/{STACK_PREFIX}*/*"
    (queues,) = [s for s in statements if "sqs:" in str(s["Action"])]
    assert template_actions <= {a.split(":")[1] for a in queues["Action"]}
    assert _arn_tail(queues["Resource"]) == f":{STACK_PREFIX}*"
    for statement in statements:
        if statement["Resource"] == "*":  # logs delivery and X-Ray only
            assert all(a.startswith(("logs:", "xray:")) for a in statement["Action"])


def test_provisioning_reads_the_bundled_template_asset_only(partner: Synthesized) -> None:
    statements = _statements(partner, "SubscriptionsProvisionStateMachineRoleDefaultPolicy")
    (read,) = [s for s in statements if s["Action"] == "s3:GetObject"]
    key = read["Resource"]["Fn::Join"][1][-1]
    assert re.fullmatch(r"/[0-9a-f]{64}\.json", key)
    machine = next(
        v for k, v in _resources(partner, "AWS::StepFunctions::StateMachine").items()
        if k.startswith("SubscriptionsProvision")
    )  # fmt: skip
    props = machine["Properties"]
    definition = json.dumps([props["DefinitionString"], props["DefinitionSubstitutions"]])
    assert key.lstrip("/") in definition  # the TemplateURL is the asset's URL


def test_provisioning_calls_stripe_with_get_post_delete_only(partner: Synthesized) -> None:
    statements = _statements(partner, "SubscriptionsProvisionStripeApiPolicy")
    (invoke,) = [s for s in statements if s["Action"] == "states:InvokeHTTPEndpoint"]
    assert invoke["Condition"] == {
        "StringEquals": {"states:HTTPMethod": ["DELETE", "GET", "POST"]},
        "StringLike": {"states:HTTPEndpoint": "https://api.stripe.com/*"},
    }
    assert invoke["Resource"]["Ref"].startswith("SubscriptionsProvisionStateMachine")
    assert _statements(partner, "SubscriptionsDeprovisionStripeApiPolicy") == []


def test_subscription_workflows_are_standard_and_wired_to_their_rules(
    partner: Synthesized,
) -> None:
    machines = {
        k: v for k, v in _resources(partner, "AWS::StepFunctions::StateMachine").items()
        if k.startswith("Subscriptions")
    }  # fmt: skip
    assert len(machines) == 2
    for machine in machines.values():
        assert machine["Properties"].get("StateMachineType", "STANDARD") == "STANDARD"
    rules = {
        r["Properties"]["Name"].split("-", 1)[1]: r["Properties"]
        for r in _resources(partner, "AWS::Events::Rule").values()
    }
    for rule, prefix in (
        ("subscription-started", "SubscriptionsProvision"),
        ("subscription-ended", "SubscriptionsDeprovision"),
    ):
        targets = [t["Arn"]["Ref"] for t in rules[rule]["Targets"]]
        assert any(t.startswith(prefix) for t in targets), (rule, targets)
