"""Order fulfilment: the ASL executed in moto, the download endpoint, and the template.

The workflow runs for real (`execute_state_machine`) with the Step Functions bridges (no real
sleeping on Retry back-off) and the Lambda bridge (the clock task runs in-process).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from conftest import ROOT, Synthesized, load_fixture
from harness import Run, client, finish, queued_json, sent_emails, start
from moto import mock_aws

from payops.asl import placeholders, render
from payops.localaws import lambda_bridge
from payops.localaws import stepfunctions_bridge as sfb
from stacks.idempotency import CLAIM_TTL_SECONDS

REGION = "us-east-1"
ACCOUNT = "123456789012"
SENDER = "orders@shop.example.jp"
DOWNLOAD_URL = "https://download.example.test/"
DASHBOARD = "https://dashboard.stripe.com/test"
TTL_HOURS = 72
CLOCK = "fulfilment-clock"
FUNCTION_DIR = ROOT / "functions" / "download_link"

CARD_PAID = "checkout.session.completed.card-paid.json"
KONBINI_UNPAID = "checkout.session.completed.konbini-unpaid.json"
KONBINI_PAID_LATER = "checkout.session.async_payment_succeeded.json"
FREE = "checkout.session.completed.no_payment_required.json"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


# ------------------------------------------------------------------------------ local AWS


@dataclass
class Local:
    machine_arn: str
    claims: str
    orders: str
    grants: str
    bucket: str
    alerts_queue: str

    client = staticmethod(client)
    finish = staticmethod(finish)
    emails = staticmethod(sent_emails)

    def start(self, envelope: dict[str, Any]) -> str:
        return start(self.machine_arn, envelope)

    def run(self, envelope: dict[str, Any]) -> Run:
        return self.finish(self.start(envelope))

    def alerts(self) -> list[dict[str, Any]]:
        return queued_json(self.alerts_queue)

    def claim(self, event_id: str) -> dict[str, Any] | None:
        return self._get(self.claims, {"pk": {"S": f"fulfilment#{event_id}"}})

    def order(self, order_id: str) -> dict[str, Any] | None:
        return self._get(self.orders, {"orderId": {"S": order_id}})

    def grant_rows(self) -> list[dict[str, Any]]:
        return self.client("dynamodb").scan(TableName=self.grants)["Items"]

    def verify_sender(self) -> None:
        self.client("ses").verify_email_identity(EmailAddress=SENDER)

    def _get(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        return self.client("dynamodb").get_item(TableName=table, Key=key).get("Item")


def _table(name: str, key: str) -> str:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


@pytest.fixture
def bridges() -> Iterator[None]:
    was = sfb.is_installed(), lambda_bridge.is_installed()
    sfb.install()
    lambda_bridge.install()
    yield
    lambda_bridge.unregister_code_dirs()
    if not was[0]:
        sfb.uninstall()
    if not was[1]:
        lambda_bridge.uninstall()


@pytest.fixture
def local(bridges: None) -> Iterator[Local]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(
            RoleName="local", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
        )["Role"]["Arn"]
        clock = boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=CLOCK,
            Runtime="python3.14",
            Role=role,
            Handler="handler.clock",
            Code={"ZipFile": b"registered below"},
        )["FunctionArn"]
        lambda_bridge.register_code_dir(CLOCK, str(FUNCTION_DIR))
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="payment-problems")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn["Attributes"]["QueueArn"],
            Attributes={"RawMessageDelivery": "false"},
        )
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="downloads")
        names = {
            "ClaimsTable": _table("claims", "pk"),
            "OrdersTable": _table("orders", "orderId"),
            "GrantsTable": _table("grants", "token"),
        }
        definition = render(
            "fulfilment",
            {
                **names,
                "ClaimTtlSeconds": str(CLAIM_TTL_SECONDS),
                "ClockFunctionArn": clock,
                "LinkTtlSeconds": str(TTL_HOURS * 3600),
                "LinkTtlHours": str(TTL_HOURS),
                "SenderEmail": SENDER,
                "DownloadUrl": DOWNLOAD_URL,
                "AlertTopicArn": topic,
                "StripeDashboardUrl": DASHBOARD,
            },
        )
        machine = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name="fulfilment", definition=definition, roleArn=role, type="STANDARD"
        )["stateMachineArn"]
        yield Local(machine, "claims", "orders", "grants", "downloads", queue)


def envelope(name: str) -> dict[str, Any]:
    return load_fixture(f"events/{name}")


def session_of(event: dict[str, Any]) -> dict[str, Any]:
    return event["detail"]["data"]["object"]


def link_token(email_body: str) -> str:
    match = re.search(re.escape(DOWNLOAD_URL) + rf"\?token=({UUID_RE})", email_body)
    assert match, email_body
    return match.group(1)


# ------------------------------------------------------------------------------ workflow

MAIN_PATH = [
    "ClaimEvent",
    "CheckOrderDetails",
    "RecordOrder",
    "ReadClock",
    "CreateDownloadGrant",
    "EmailDownloadLink",
    "MarkOrderFulfilled",
    "MarkClaimDone",
    "Fulfilled",
]


def test_paid_order_is_recorded_granted_and_emailed_once(local: Local) -> None:
    local.verify_sender()
    event = envelope(CARD_PAID)
    session = session_of(event)
    before = int(time.time())

    run = local.run(event)

    assert run.status == "SUCCEEDED", run.history[-1]
    assert run.states() == MAIN_PATH
    order = local.order(session["id"])
    assert order is not None
    assert order["status"] == {"S": "FULFILLED"}
    assert order["amountTotal"] == {"N": str(session["amount_total"])}
    assert order["currency"] == {"S": "jpy"}
    assert order["customerEmail"] == {"S": session["customer_details"]["email"]}
    assert order["productId"] == {"S": session["metadata"]["product_id"]}
    assert order["eventId"] == {"S": event["detail"]["id"]}
    assert order["created"] == {"N": str(session["created"])}

    (grant,) = local.grant_rows()
    assert grant["orderId"] == {"S": session["id"]}
    assert grant["objectKey"] == {"S": f"products/{session['metadata']['product_id']}"}
    expires = int(grant["expiresAt"]["N"])
    assert before + TTL_HOURS * 3600 <= expires <= int(time.time()) + TTL_HOURS * 3600
    assert order["grantToken"] == grant["token"]

    (email,) = local.emails()
    assert email.source == SENDER
    assert email.destinations["ToAddresses"] == [session["customer_details"]["email"]]
    assert session["metadata"]["product_id"] in email.subject
    assert link_token(email.body) == grant["token"]["S"]
    assert f"valid for {TTL_HOURS} hours" in email.body

    claim = local.claim(event["detail"]["id"])
    assert claim is not None and claim["status"] == {"S": "DONE"}
    assert int(claim["expiresAt"]["N"]) == event["detail"]["created"] + CLAIM_TTL_SECONDS
    assert local.alerts() == []


def test_duplicate_delivery_sends_one_email(local: Local) -> None:
    local.verify_sender()
    event = envelope(CARD_PAID)

    first, second = local.run(event), local.run(copy.deepcopy(event))

    assert first.status == second.status == "SUCCEEDED"
    assert second.states() == ["ClaimEvent", "AlreadyHandled"]
    assert len(local.emails()) == 1
    assert len(local.grant_rows()) == 1


def test_second_event_of_the_same_order_does_not_fulfil_again(local: Local) -> None:
    """Paid konbini order: async_payment_succeeded, then the same session's event replayed
    under another id (e.g. the completed event re-sent as paid): one fulfilment per order."""
    local.verify_sender()
    paid_later = envelope(KONBINI_PAID_LATER)
    other_event = copy.deepcopy(paid_later)
    other_event["detail"]["id"] = "evt_" + "OtherEventSameSession"
    other_event["detail"]["type"] = other_event["detail-type"] = "checkout.session.completed"

    first, second = local.run(paid_later), local.run(other_event)

    assert first.status == second.status == "SUCCEEDED"
    assert second.states() == [
        "ClaimEvent",
        "CheckOrderDetails",
        "RecordOrder",
        "CloseClaimOfFulfilledOrder",
        "OrderAlreadyFulfilled",
    ]
    assert len(local.emails()) == 1
    order = local.order(session_of(paid_later)["id"])
    assert order is not None and order["eventId"] == {"S": paid_later["detail"]["id"]}
    assert local.claim(other_event["detail"]["id"])["status"] == {"S": "DONE"}  # type: ignore[index]


def test_konbini_order_paid_later_is_fulfilled(local: Local) -> None:
    """The unpaid `completed` event starts nothing (see the rule targets below); the later
    async_payment_succeeded of the same session fulfils it."""
    local.verify_sender()
    unpaid, paid = envelope(KONBINI_UNPAID), envelope(KONBINI_PAID_LATER)
    assert session_of(unpaid)["id"] == session_of(paid)["id"]

    run = local.run(paid)

    assert run.status == "SUCCEEDED"
    assert run.states() == MAIN_PATH
    (email,) = local.emails()
    assert email.destinations["ToAddresses"] == [session_of(paid)["customer_details"]["email"]]


def test_free_order_is_fulfilled(local: Local) -> None:
    local.verify_sender()
    event = envelope(FREE)
    session = session_of(event)
    assert session["payment_status"] == "no_payment_required"

    run = local.run(event)

    assert run.status == "SUCCEEDED"
    assert run.states() == MAIN_PATH
    order = local.order(session["id"])
    assert order is not None and order["amountTotal"] == {"N": "0"}
    (email,) = local.emails()
    assert email.destinations["ToAddresses"] == [session["customer_details"]["email"]]


def test_ses_failure_is_retried_then_alerts_staff_and_releases_the_claim(local: Local) -> None:
    event = envelope(CARD_PAID)  # the sender is not verified: SES rejects every attempt
    session = session_of(event)

    run = local.run(event)

    assert run.status == "FAILED"
    assert run.error == "FulfilmentFailed"
    attempts = [
        e
        for e in run.history
        if e["type"] == "TaskScheduled"
        and e["taskScheduledEventDetails"]["resource"] == "sendEmail"
    ]
    assert len(attempts) == 4  # the first try and 3 retries
    assert run.states()[-4:] == [
        "MarkOrderFailed",
        "ReleaseClaim",
        "AlertStaff",
        "FulfilmentFailed",
    ]
    assert local.emails() == []
    assert local.claim(event["detail"]["id"]) is None
    assert local.order(session["id"])["status"] == {"S": "FAILED"}  # type: ignore[index]
    (alert,) = local.alerts()
    assert alert["Subject"] == "Order fulfilment failed"
    assert session["id"] in alert["Message"]
    assert "not verified" in alert["Message"]
    assert f"{DASHBOARD}/events/{event['detail']['id']}" in alert["Message"]

    # The released claim lets a redelivery (or archive replay) fulfil the order once SES works.
    local.verify_sender()
    retry = local.run(event)
    assert retry.status == "SUCCEEDED"
    assert retry.states() == MAIN_PATH
    assert len(local.emails()) == 1
    assert local.order(session["id"])["status"] == {"S": "FULFILLED"}  # type: ignore[index]


def test_order_without_product_alerts_staff(local: Local) -> None:
    local.verify_sender()
    event = envelope(CARD_PAID)
    del session_of(event)["metadata"]["product_id"]

    run = local.run(event)

    assert run.status == "FAILED"
    assert "OrderDetailsMissing" in run.states()
    assert local.emails() == []
    (alert,) = local.alerts()
    assert "OrderDetailsMissing" in alert["Message"]
    assert local.order(session_of(event)["id"]) is None


def test_concurrent_duplicates_send_one_email(local: Local) -> None:
    local.verify_sender()
    event = envelope(CARD_PAID)

    arns = [local.start(event) for _ in range(10)]
    runs = [local.finish(arn) for arn in arns]

    assert [r.status for r in runs] == ["SUCCEEDED"] * 10
    assert sum(r.states()[-1] == "Fulfilled" for r in runs) == 1
    assert sum(r.states() == ["ClaimEvent", "AlreadyHandled"] for r in runs) == 9
    assert len(local.emails()) == 1
    assert len(local.grant_rows()) == 1


def test_concurrent_events_of_one_order_send_one_email(local: Local) -> None:
    """Different event ids for the same session at once: the order write admits only one,
    even while the first is still fulfilling (not yet FULFILLED)."""
    local.verify_sender()
    events = []
    for n in range(6):
        event = envelope(KONBINI_PAID_LATER)
        event["detail"]["id"] = f"evt_SameOrder{n}"
        events.append(event)

    arns = [local.start(event) for event in events]
    runs = [local.finish(arn) for arn in arns]

    assert [r.status for r in runs] == ["SUCCEEDED"] * 6
    assert sum(r.states()[-1] == "Fulfilled" for r in runs) == 1
    assert sum(r.states()[-1] == "OrderAlreadyFulfilled" for r in runs) == 5
    assert len(local.emails()) == 1
    assert all(local.claim(e["detail"]["id"])["status"] == {"S": "DONE"} for e in events)  # type: ignore[index]


# ------------------------------------------------------------------------------ download endpoint


def _load_handler() -> Any:
    spec = importlib.util.spec_from_file_location(
        "download_link_handler", FUNCTION_DIR / "handler.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop("download_link_handler", None)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def download(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("GRANTS_TABLE", "grants")
    monkeypatch.setenv("BUCKET_NAME", "downloads")
    monkeypatch.setenv("URL_TTL_SECONDS", "300")
    with mock_aws():
        _table("grants", "token")
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="downloads")
        s3.put_object(Bucket="downloads", Key="products/ebook-aws-patterns", Body=b"the ebook")
        s3.put_object(Bucket="downloads", Key="products/other", Body=b"another product")
        yield _load_handler()


def put_grant(token: str, key: str, expires_at: int) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName="grants",
        Item={
            "token": {"S": token},
            "orderId": {"S": "cs_test_order"},
            "objectKey": {"S": key},
            "expiresAt": {"N": str(expires_at)},
        },
    )


def get(handler: Any, query: dict[str, str] | None) -> dict[str, Any]:
    event = {"requestContext": {"http": {"method": "GET"}}, "queryStringParameters": query}
    return handler.handler(event, None)


def fetch_presigned(url: str) -> bytes:
    """What the presigned GET URL serves, read from the object it names.

    moto answers plain HTTP requests only while its `responses` patch is active, which other
    modules of a full run may leave stopped; the URL's bucket and key are what matter here.
    """
    parts = urlsplit(url)
    host_bucket = parts.netloc.split(".s3.", 1)[0] if ".s3." in parts.netloc else None
    path = parts.path.lstrip("/")
    bucket, key = (host_bucket, path) if host_bucket else path.split("/", 1)
    assert "X-Amz-Signature" in parse_qs(parts.query)
    return (
        boto3.client("s3", region_name="us-east-1")
        .get_object(Bucket=bucket, Key=key)["Body"]
        .read()
    )


def test_valid_token_redirects_to_a_presigned_url_for_the_granted_object(download: Any) -> None:
    token = str(uuid.uuid4())
    put_grant(token, "products/ebook-aws-patterns", int(time.time()) + 3600)

    response = get(download, {"token": token})

    assert response["statusCode"] == 302
    location = response["headers"]["Location"]
    url = urlsplit(location)
    assert url.path.endswith("/products/ebook-aws-patterns")
    assert "downloads" in url.netloc + url.path
    assert parse_qs(url.query)["X-Amz-Expires"] == ["300"]
    assert fetch_presigned(location) == b"the ebook"


def test_unknown_token_is_404(download: Any) -> None:
    put_grant(str(uuid.uuid4()), "products/other", int(time.time()) + 3600)
    for token in (str(uuid.uuid4()), "not-a-token", "x" * 5000):
        response = get(download, {"token": token})
        assert response["statusCode"] == 404, token
        assert json.loads(response["body"]) == {"error": "unknown download link"}


def test_expired_token_is_410(download: Any) -> None:
    token = str(uuid.uuid4())
    put_grant(token, "products/ebook-aws-patterns", int(time.time()) - 1)

    response = get(download, {"token": token})

    assert response["statusCode"] == 410
    assert "Location" not in response["headers"]


@pytest.mark.parametrize("query", [None, {}, {"token": ""}])
def test_missing_token_is_400(download: Any, query: dict[str, str] | None) -> None:
    assert get(download, query)["statusCode"] == 400


def test_only_get_is_served(download: Any) -> None:
    # POST asks for a new link (tests/workflows/test_download_links.py); nothing else is served.
    event = {"requestContext": {"http": {"method": "PUT"}}, "queryStringParameters": None}
    assert download.handler(event, None)["statusCode"] == 405


def test_emailed_link_downloads_the_purchased_product(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the token in the email opens the product named by the session metadata."""
    local.verify_sender()
    event = envelope(CARD_PAID)
    product = session_of(event)["metadata"]["product_id"]
    local.client("s3").put_object(Bucket=local.bucket, Key=f"products/{product}", Body=b"pdf")
    monkeypatch.setenv("GRANTS_TABLE", local.grants)
    monkeypatch.setenv("BUCKET_NAME", local.bucket)
    assert local.run(event).status == "SUCCEEDED"
    (email,) = local.emails()

    response = get(_load_handler(), {"token": link_token(email.body)})

    assert response["statusCode"] == 302
    assert fetch_presigned(response["headers"]["Location"]) == b"pdf"


# ------------------------------------------------------------------------------ template


def _resources(synth: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.json["Resources"].items() if v["Type"] == kind}


def _fulfilment_machine(synth: Synthesized) -> str:
    (logical_id,) = [
        k
        for k in _resources(synth, "AWS::StepFunctions::StateMachine")
        if k.startswith("FulfilmentWorkflow")
    ]
    return logical_id


def test_paid_and_free_orders_start_fulfilment_with_a_dead_letter_queue(
    partner: Synthesized,
) -> None:
    machine = _fulfilment_machine(partner)
    targeted = {}
    for rule in _resources(partner, "AWS::Events::Rule").values():
        name = rule["Properties"]["Name"].split("-", 1)[1]
        for target in rule["Properties"].get("Targets", []):
            if target["Arn"] == {"Ref": machine}:
                targeted[name] = target
    assert set(targeted) == {"paid-order", "free-order"}  # not awaiting-payment
    for target in targeted.values():
        assert "DeadLetters" in json.dumps(target["DeadLetterConfig"])
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        assert "RoleArn" in target


def test_workflow_is_standard_and_fully_rendered(partner: Synthesized) -> None:
    props = partner.json["Resources"][_fulfilment_machine(partner)]["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    # The ASL as written, with DefinitionSubstitutions filling every placeholder (CloudFormation).
    assert placeholders(props["DefinitionString"]) == set(props["DefinitionSubstitutions"])
    definition = json.dumps([props["DefinitionString"], props["DefinitionSubstitutions"]])
    for ref in ("Idempotency", "FulfilmentOrders", "FulfilmentGrants", "FulfilmentClock",
                "FulfilmentDownloadFunctionUrl", "PaymentProblems"):  # fmt: skip
        assert ref in definition, ref


def test_grants_expire_and_the_bucket_is_private(partner: Synthesized) -> None:
    t = partner.template
    t.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "token", "KeyType": "HASH"}],
            # Kept 30 days past expiresAt, for re-issue (stacks/downloads.py).
            "TimeToLiveSpecification": {"AttributeName": "purgeAt", "Enabled": True},
        },
    )
    t.has_resource_properties(
        "AWS::DynamoDB::Table", {"KeySchema": [{"AttributeName": "orderId", "KeyType": "HASH"}]}
    )
    (bucket,) = [
        v for k, v in _resources(partner, "AWS::S3::Bucket").items() if k.startswith("Fulfilment")
    ]
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert "VersioningConfiguration" not in props
    policies = [
        v["Properties"]["PolicyDocument"]
        for v in _resources(partner, "AWS::S3::BucketPolicy").values()
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for p in policies
        for s in p["Statement"]
    )
    t.has_resource_properties("AWS::Lambda::Url", {"AuthType": "NONE"})


# Actions AWS offers no resource-level permissions for (CDK adds them for logging and tracing).
RESOURCELESS_ACTIONS = re.compile(r"^(logs:(\w+LogDelivery|\w+LogDeliveries|\w*ResourcePolic\w+|"
                                  r"DescribeLogGroups)|xray:\w+)$")  # fmt: skip


def _statements(synth: Synthesized, prefix: str) -> list[dict[str, Any]]:
    return [
        s
        for k, p in _resources(synth, "AWS::IAM::Policy").items()
        if k.startswith(prefix)
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def test_fulfilment_permissions_are_least_privilege(partner: Synthesized) -> None:
    statements = _statements(partner, "Fulfilment")
    assert statements
    for s in statements:
        assert s["Effect"] == "Allow"
        if s["Resource"] == "*":
            assert all(RESOURCELESS_ACTIONS.match(a) for a in _actions(s)), s
        else:
            # CDK's table grants add "<table>/index/*": the grants table's one index, byOrder.
            resource = json.dumps(s["Resource"]).replace("/products/*", "")
            assert "*" not in resource.replace('"/index/*"', ""), s

    download = _statements(partner, "FulfilmentDownloadRole")
    by_action = {a: s["Resource"] for s in download for a in _actions(s)}
    # UpdateItem counts downloads; PutItem and ses:SendEmail re-issue a link (stacks/downloads.py).
    assert set(by_action) == {"logs:CreateLogStream", "logs:PutLogEvents", "dynamodb:GetItem",
                              "dynamodb:UpdateItem", "dynamodb:PutItem", "s3:GetObject",
                              "ses:SendEmail"}  # fmt: skip
    get_item = [s["Resource"] for s in download if "dynamodb:GetItem" in _actions(s)]
    assert "FulfilmentGrants" in json.dumps(get_item)
    assert json.dumps(by_action["s3:GetObject"]).endswith('"/products/*"]]}')

    workflow = _statements(partner, "FulfilmentWorkflow")
    ses = [s for s in workflow if "ses:SendEmail" in _actions(s)]
    assert len(ses) == 1 and "identity/orders@example.com" in json.dumps(ses[0]["Resource"])
    invoke = [s for s in workflow if "lambda:InvokeFunction" in _actions(s)]
    (clock,) = [
        k for k in _resources(partner, "AWS::Lambda::Function") if k.startswith("FulfilmentClock")
    ]
    assert [s["Resource"] for s in invoke] == [{"Fn::GetAtt": [clock, "Arn"]}]
    assert not any(
        a.startswith("dynamodb:")
        and a not in {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}  # fmt: skip
        for s in workflow
        for a in _actions(s)
    )
