"""Order fulfilment: the fast path executed in moto against the fake Stripe API, the download
endpoint, and the template. Faults and the slow path: test_fulfilment_faults.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from conftest import Synthesized
from fulfilment_local import (
    CARD_PAID,
    DASHBOARD,
    FREE,
    FUNCTION_DIR,
    KONBINI_PAID_LATER,
    KONBINI_UNPAID,
    PAGE_SIZE,
    PAYMENT_LINK,
    REGION,
    SENDER,
    SUBSCRIPTION,
    TTL_HOURS,
    Local,
    _table,
    envelope,
    link_tokens,
    local_aws,
    now,
    session_of,
)
from kept_session import use_kept_session
from moto import mock_aws

from payops.asl import placeholders
from stacks.fulfilment import LEASE_SECONDS


@pytest.fixture
def local() -> Iterator[Local]:
    yield from local_aws()


# ------------------------------------------------------------------------------ workflow

CLAIM = ["IsRedrive", "NewOwner", "ReadClock", "ClaimOrder"]
CONFIRM = [
    "GetSession",
    "ReadSession",
    "CheckSession",
    "CheckEmail",
    "StartDeliveries",
    "HasProductOverride",
]
ONE_ITEM = ["StartPage", "NextItem", "PickItem", "WhatToDeliver"]
DELIVER = ["FindFile", "FileListed", "FileIsTheKey", "NewToken", "CreateDownloadGrant", "AddLink",
           "Advance", "NextItem"]  # fmt: skip
FINISH = [
    "MorePages", "AnythingToDeliver", "EmailDownloadLinks", "MarkOrderFulfilled",
    "TellOrderFulfilled", "Fulfilled",
]  # fmt: skip
OVERRIDE_PATH = [*CLAIM, *CONFIRM, "OverrideItem", "OverridePage", *ONE_ITEM, "KeyFromMetadata",
                 *DELIVER, *FINISH]  # fmt: skip


def test_order_with_product_override_is_confirmed_recorded_granted_and_emailed(
    local: Local,
) -> None:
    local.verify_sender()
    event = envelope(CARD_PAID)
    session = session_of(event)
    before = now()

    run = local.run(event)

    assert run.status == "SUCCEEDED", run.history[-1]
    assert run.states() == OVERRIDE_PATH
    # Stripe's guide: the session is confirmed with the API; the override needs no line items.
    assert [c.path for c in local.stripe.calls] == [f"/v1/checkout/sessions/{session['id']}"]
    assert local.stripe.calls[0].headers["authorization"].startswith("Bearer sk_test_")
    order = local.order(session["id"])
    assert order is not None
    assert order["status"] == {"S": "FULFILLED"}
    assert order["eventId"] == {"S": event["detail"]["id"]}
    assert order["downloads"] == {"N": "1"}
    assert "leaseUntil" not in order

    (grant,) = local.grant_rows()
    assert grant["orderId"] == {"S": session["id"]}
    assert grant["objectKey"] == {"S": f"products/{session['metadata']['product_id']}"}
    expires = int(grant["expiresAt"]["N"])
    assert before + TTL_HOURS * 3600 <= expires <= now() + TTL_HOURS * 3600

    (email,) = local.emails()
    assert email.source == SENDER
    assert email.destinations["ToAddresses"] == [session["customer_details"]["email"]]
    assert email.subject.startswith("Your download is ready")
    assert link_tokens(email.body) == [grant["token"]["S"]]
    assert f"valid for {TTL_HOURS} hours" in email.body
    assert session["id"] in email.body
    assert local.alerts() == []


def test_payment_link_order_without_metadata_delivers_each_line_item_in_one_email(
    local: Local,
) -> None:
    """The workshop's flow: a Payment Link (metadata {}); its line items say what was bought.
    The e-book's product names its file (metadata download_key); the bonus video has no
    metadata, so its product id is the file name."""
    local.verify_sender()
    event = envelope(PAYMENT_LINK)
    session = session_of(event)
    assert session["metadata"] == {} and session["payment_link"]

    run = local.run(event)

    assert run.status == "SUCCEEDED", run.history[-1]
    assert run.states()[-1] == "Fulfilled"
    assert "KeyFromMetadata" in run.states() and "KeyFromProduct" in run.states()
    (listing,) = local.calls("/line_items")
    assert listing.params["limit"] == str(PAGE_SIZE)
    assert listing.params["expand"] == ["data.price.product"]
    keys = sorted(g["objectKey"]["S"] for g in local.grant_rows())
    assert keys == ["products/ebook-aws-patterns", "products/prod_QsWrkBonusVid1"]
    (email,) = local.emails()
    tokens = link_tokens(email.body)
    assert sorted(tokens) == sorted(g["token"]["S"] for g in local.grant_rows())
    assert "AWS Patterns (e-book)" in email.body
    assert "Workshop recording: Stripe x EventBridge" in email.body
    assert local.order(session["id"])["downloads"] == {"N": "2"}  # type: ignore[index]


def test_payment_link_order_delivered_many_times_is_fulfilled_once(local: Local) -> None:
    """Redeliveries (same event id) and other events of the session (new ids), at once and
    one after another: one email, one set of grants."""
    local.verify_sender()
    first = envelope(PAYMENT_LINK)
    duplicates = []
    for n in range(24):
        event = envelope(PAYMENT_LINK)
        if n % 3 == 0:  # the same session under another event (e.g. async_payment_succeeded)
            event["detail"]["id"] = f"evt_1PmSbVcR2pT4kLmNother{n:03d}"
        duplicates.append(event)

    arns = [local.start(first)] + [local.start(event) for event in duplicates[:12]]
    runs = [local.finish(arn) for arn in arns]
    runs += [local.run(event) for event in duplicates[12:]]

    assert [r.status for r in runs] == ["SUCCEEDED"] * 25
    assert sum(r.states()[-1] == "Fulfilled" for r in runs) == 1
    assert sum(r.states()[-1] == "AlreadyHandled" for r in runs) == 24
    assert len(local.emails()) == 1
    assert len(local.grant_rows()) == 2
    assert len(local.calls("/line_items")) == 1


def test_all_pages_of_line_items_are_read(local: Local) -> None:
    """5 line items in pages of 2 (the stack asks for 100): three pages, by starting_after."""
    local.verify_sender()
    event = envelope(PAYMENT_LINK, payment_link=None, id="cs_test_a1ManyLineItems")
    session = session_of(event)
    items = [
        {
            "id": f"li_Many{n:03d}",
            "object": "item",
            "description": f"Track {n}",
            "quantity": 1,
            "price": {"id": "price_track", "object": "price", "product": "prod_QsWrkBonusVid1"},
        }
        for n in range(5)
    ]
    local.stripe.catalogue.add(
        {**session, "line_items": {"object": "list", "data": items, "has_more": False}}
    )

    run = local.run(event)

    assert run.status == "SUCCEEDED", run.history[-1]
    pages = local.calls("/line_items")
    assert [c.params.get("starting_after") for c in pages] == [None, "li_Many001", "li_Many003"]
    assert [c.response["has_more"] for c in pages] == [True, True, False]
    (email,) = local.emails()
    assert len(link_tokens(email.body)) == 5 == len(local.grant_rows())


def test_konbini_order_paid_later_is_fulfilled_and_not_before(local: Local) -> None:
    """Stripe says unpaid: the run lets the order go (NotPaidYet); the later
    async_payment_succeeded of the same session fulfils it."""
    local.verify_sender()
    unpaid, paid = envelope(KONBINI_UNPAID), envelope(KONBINI_PAID_LATER)
    assert session_of(unpaid)["id"] == session_of(paid)["id"]

    early = local.run(unpaid)  # as if a rule had started it: the API decides, not the event
    assert early.status == "SUCCEEDED" and early.states()[-1] == "NotPaidYet"
    assert local.order(session_of(unpaid)["id"]) is None

    run = local.run(paid)

    assert run.status == "SUCCEEDED" and run.states()[-1] == "Fulfilled"
    (email,) = local.emails()
    assert email.destinations["ToAddresses"] == [session_of(paid)["customer_details"]["email"]]


def test_free_order_is_fulfilled(local: Local) -> None:
    local.verify_sender()
    event = envelope(FREE)
    assert session_of(event)["payment_status"] == "no_payment_required"

    run = local.run(event)

    assert run.status == "SUCCEEDED" and run.states()[-1] == "Fulfilled"
    assert len(local.emails()) == 1


def test_session_of_an_old_shape_without_status_is_judged_by_payment_status(local: Local) -> None:
    """Sessions of an old shape (the real stripe-ruby-mock payment_mode event) have no `status`:
    the run must not end FAILED on the missing field (a States.Runtime no Catch sees); as in
    Stripe's guide, payment_status decides. A missing payment_status is not a paid order."""
    local.verify_sender()
    paid = envelope(CARD_PAID)
    del session_of(paid)["status"]

    run = local.run(paid)

    assert run.status == "SUCCEEDED", run.history[-1]
    assert run.states()[-1] == "Fulfilled" and len(local.emails()) == 1

    unknown = envelope(CARD_PAID)
    session_of(unknown)["id"] = "cs_test_NoPaymentStatus"
    del session_of(unknown)["status"], session_of(unknown)["payment_status"]
    run = local.run(unknown)
    assert run.status == "SUCCEEDED", run.history[-1]
    assert run.states()[-1] == "NotPaidYet"


def test_subscription_checkout_is_not_an_order(local: Local) -> None:
    local.verify_sender()
    event = envelope(SUBSCRIPTION)

    run = local.run(event)

    assert run.status == "SUCCEEDED" and run.states()[-1] == "NotAnOrder"
    assert local.emails() == [] and local.alerts() == []
    assert local.order(session_of(event)["id"]) is None


def _nothing_to_deliver(local: Local, event: dict[str, Any]) -> dict[str, Any]:
    """Runs the event twice: SUCCEEDED in NothingToDeliver, then AlreadyHandled; one notice."""
    run = local.run(event)
    assert run.status == "SUCCEEDED", run.history[-1]
    assert run.states()[-3:] == ["MarkNothingToDeliver", "NoticeNothingToDeliver",
                                 "NothingToDeliver"]  # fmt: skip
    assert local.run(envelope_copy(event)).states()[-1] == "AlreadyHandled"
    assert local.emails() == [] and local.grant_rows() == []
    order = local.order(session_of(event)["id"])
    assert order is not None and order["status"] == {"S": "NOTHING_TO_DELIVER"}
    (notice,) = local.alerts()
    assert notice["Subject"] == "Paid order with nothing to deliver"
    assert session_of(event)["id"] in notice["Message"]
    assert f"{DASHBOARD}/events/{event['detail']['id']}" in notice["Message"]
    assert "null" not in notice["Message"]
    return notice


def envelope_copy(event: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(event))


def test_product_without_a_file_ends_succeeded_with_one_notice(local: Local) -> None:
    local.verify_sender()
    event = envelope(CARD_PAID, metadata={"product_id": "not-uploaded-yet"})
    notice = _nothing_to_deliver(local, event)
    assert "not-uploaded-yet" in notice["Message"]


def test_prefix_of_a_file_name_is_not_the_file(local: Local) -> None:
    local.verify_sender()
    event = envelope(CARD_PAID, metadata={"product_id": "ebook-aws"})  # ebook-aws-patterns exists
    _nothing_to_deliver(local, event)


def test_order_without_email_ends_succeeded_with_one_notice(local: Local) -> None:
    local.verify_sender()
    event = envelope(CARD_PAID)
    session_of(event)["customer_details"]["email"] = None
    notice = _nothing_to_deliver(local, event)
    assert "no customer email" in notice["Message"]


def test_session_unknown_to_stripe_ends_succeeded_with_one_notice(local: Local) -> None:
    local.verify_sender()
    event = envelope(PAYMENT_LINK, payment_link="plink_NotInTheData")  # no line items known
    notice = _nothing_to_deliver(local, event)
    assert "404 resource_missing" in notice["Message"]
    (listing,) = local.calls("/line_items")
    assert listing.status == 404
    assert listing.response["error"]["code"] == "resource_missing"


def test_shippable_product_is_skipped_and_the_rest_delivered(local: Local) -> None:
    """A cart with the printed book (shippable) and the e-book: one link, no notice."""
    local.verify_sender()
    event = envelope(PAYMENT_LINK, payment_link=None, id="cs_test_a1MixedCart")
    prices = local.stripe.catalogue.prices
    items = [
        {"id": f"li_Mixed{n}", "object": "item", "description": "x", "quantity": 1, "price": price}
        for n, price in enumerate(["price_1PsPrintedBook3800Jpy1", "price_1PsPtnEbook4980JpyAbCd"])
    ]
    assert all(i["price"] in prices for i in items)
    local.stripe.catalogue.add(
        {**session_of(event), "line_items": {"object": "list", "data": items, "has_more": False}}
    )

    run = local.run(event)

    assert run.status == "SUCCEEDED" and run.states()[-1] == "Fulfilled"
    assert "SkipItem" in run.states()
    (grant,) = local.grant_rows()
    assert grant["objectKey"] == {"S": "products/ebook-aws-patterns"}
    assert local.alerts() == []


def test_a_run_that_died_is_taken_over_after_its_lease(local: Local) -> None:
    """A claim whose lease has passed (its run died without handing over) is taken by the next
    delivery; one whose lease is still running is not."""
    local.verify_sender()
    event = envelope(PAYMENT_LINK)
    order_id = session_of(event)["id"]
    claim = {
        "orderId": {"S": order_id},
        "status": {"S": "FULFILLING"},
        "owner": {"S": "arn:aws:states:us-east-1:123456789012:express:fulfilment:dead:1"},
    }
    dynamodb = local.client("dynamodb")
    live = {**claim, "leaseUntil": {"N": str(now() + LEASE_SECONDS)}}
    dynamodb.put_item(TableName=local.orders, Item=live)
    assert local.run(event).states()[-1] == "AlreadyHandled"

    dynamodb.put_item(TableName=local.orders, Item={**claim, "leaseUntil": {"N": str(now() - 1)}})
    assert local.run(envelope_copy(event)).states()[-1] == "Fulfilled"
    assert len(local.emails()) == 1


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
        use_kept_session()  # the handler's boto3 clients too: models read once
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


def test_emailed_links_download_the_purchased_products(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: each token in the email opens the file its line item's product names."""
    local.verify_sender()
    monkeypatch.setenv("GRANTS_TABLE", local.grants)
    monkeypatch.setenv("BUCKET_NAME", local.bucket)
    assert local.run(envelope(PAYMENT_LINK)).status == "SUCCEEDED"
    (email,) = local.emails()

    handler = _load_handler()
    served = set()
    for token in link_tokens(email.body):
        response = get(handler, {"token": token})
        assert response["statusCode"] == 302
        served.add(fetch_presigned(response["headers"]["Location"]))
    assert served == {b"ebook-aws-patterns", b"prod_QsWrkBonusVid1"}


# ------------------------------------------------------------------------------ template


def _resources(synth: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.json["Resources"].items() if v["Type"] == kind}


def _fulfilment_machine(synth: Synthesized, prefix: str = "FulfilmentWorkflow") -> str:
    (logical_id,) = [
        k for k in _resources(synth, "AWS::StepFunctions::StateMachine") if k.startswith(prefix)
    ]
    return logical_id


def test_paid_and_free_orders_start_fulfilment_with_a_dead_letter_queue(
    partner: Synthesized,
) -> None:
    machine = _fulfilment_machine(partner)
    targeted = {}
    for rule in _resources(partner, "AWS::Events::Rule").values():
        # A rule's twin on the app bus (events the stack put back) has the same targets.
        name = rule["Properties"]["Name"].split("-", 1)[1].removesuffix("-recovered")
        for target in rule["Properties"].get("Targets", []):
            if target["Arn"] == {"Ref": machine}:
                targeted[name] = target
    assert set(targeted) == {"paid-order", "free-order"}  # not awaiting-payment
    for target in targeted.values():
        assert "DeadLetters" in json.dumps(target["DeadLetterConfig"])
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        assert "RoleArn" in target


def test_fast_path_is_express_and_slow_path_standard_both_fully_rendered(
    partner: Synthesized,
) -> None:
    props = partner.json["Resources"][_fulfilment_machine(partner)]["Properties"]
    assert props["StateMachineType"] == "EXPRESS"
    # The ASL as written, with DefinitionSubstitutions filling every placeholder (CloudFormation).
    assert placeholders(props["DefinitionString"]) == set(props["DefinitionSubstitutions"])
    definition = json.dumps([props["DefinitionString"], props["DefinitionSubstitutions"]])
    for ref in ("FulfilmentOrders", "FulfilmentGrants", "FulfilmentClock", "FulfilmentDownloads",
                "FulfilmentDownloadFunctionUrl", "PaymentProblems", "StripeApiConnection",
                "StripePayOps-fulfilment-retry"):  # fmt: skip
        assert ref in definition, ref
    retry = partner.json["Resources"][_fulfilment_machine(partner, "FulfilmentRetry")]
    assert retry["Properties"]["StateMachineType"] == "STANDARD"
    retry_props = retry["Properties"]
    assert placeholders(retry_props["DefinitionString"]) == set(
        retry_props["DefinitionSubstitutions"]
    )
    retry_definition = json.dumps(retry_props["DefinitionSubstitutions"])
    assert _fulfilment_machine(partner) in retry_definition  # a Ref to the fast path


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
            allowed = json.dumps(s["Resource"]).replace("/products/*", "")
            # CDK's table grants add "<table>/index/*": the grants table's one index, byOrder.
            allowed = allowed.replace('"/index/*"', "")
            # Executions of the fast path, which the slow path runs (.sync:2) and reads.
            allowed = re.sub(r":(execution|express):StripePayOps-fulfilment:\*", "", allowed)
            # The Stripe connection's managed secret (events!connection/<name>/<random>).
            allowed = re.sub(r'secret:events!connection/", \{[^}]*\}, "/\*', "", allowed)
            assert "*" not in allowed, s

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
    listing = [s for s in workflow if "s3:ListBucket" in _actions(s)]
    assert [s["Condition"] for s in listing] == [{"StringLike": {"s3:prefix": ["products/*"]}}]
    starts = [s for s in workflow if "states:StartExecution" in _actions(s)]
    assert len(starts) == 1 and "fulfilment-retry" in json.dumps(starts[0]["Resource"])
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
