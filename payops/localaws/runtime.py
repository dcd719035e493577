"""The local AWS: the app's real template deployed into moto, and Stripe events sent through it.

`LocalAws` starts an in-process moto with every bridge installed, creates what a user creates
before `cdk deploy` (the Stripe API key secret, the SES sender identity), synthesizes the app,
deploys the template through moto's CloudFormation, and asserts the resources exist. `send()`
delivers one Stripe event the way the configured ingress would, waits until everything has
settled, and returns what happened (an `EventTrace`).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payops.envelope import LoadedEvent
from payops.localaws.core.account import ACCOUNT, REGION
from payops.localaws.core.clients import new_client
from payops.localaws.core.recorder import RECORDER
from payops.localaws.syntheses import (  # noqa: F401 - reuse_syntheses: the tests' way in
    reuse_syntheses,
    synthesize,
)
from payops.localaws.trace_text import email_summary, execution_error, friendly_names, shorten
from payops.settings import Settings

SETTLE_TIMEOUT_S = 120.0
_SETTLE_POLL_S = 0.05  # longest wait between looks when no ending is signalled
FAILED_STATUSES = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
# The raw-events topic feeds machines (chat, ticket, audit queues); every other topic is read
# by staff.
NOT_STAFF_NOTICE_TOPICS = frozenset({"NotificationsPaymentActivity"})


class LocalAwsError(RuntimeError):
    pass


@dataclass
class EventTrace:
    label: str
    event_id: str
    event_type: str
    delivery: str  # "accepted", or why the ingress refused it
    rules: list[str] = field(default_factory=list)
    executions: list[dict[str, Any]] = field(default_factory=list)
    emails: list[dict[str, str]] = field(default_factory=list)
    sns: dict[str, int] = field(default_factory=dict)
    table_writes: dict[str, int] = field(default_factory=dict)
    http_calls: list[dict[str, Any]] = field(default_factory=list)
    dlq: dict[str, int] = field(default_factory=dict)
    # Every execution that ended FAILED / TIMED_OUT / ABORTED and every dead-lettered delivery:
    # {"event", "workflow", "state", "error"}.
    failed: list[dict[str, str]] = field(default_factory=list)
    # Every staff notice published (the raw fan-out topic is not a notice): {"topic", "message"}.
    notices: list[dict[str, str]] = field(default_factory=list)
    simulated_seconds: float = 0.0
    wall_seconds: float = 0.0


@dataclass
class Since:
    """Where the system stood at one moment (recorder, executions, emails, dead-letter queues):
    `LocalAws.trace_since` reports what happened after it."""

    mark: int
    before: dict[str, Any]
    started: float


@dataclass
class ReceiverResponse:
    """What the deployed webhook receiver returned for one function-URL request."""

    payload: Any  # the function's result, decoded JSON (None when it returned nothing)
    function_error: bool  # the function raised (Lambda's FunctionError): a URL answers 502


class LocalAws:
    def __init__(
        self,
        context: dict[str, Any] | None = None,
        *,
        outdir: str | None = None,
        stripe_data: Path | None = None,
        prepare: Callable[[LocalAws], Mapping[str, Any]] | None = None,
        signing_secret: str | None = None,
    ):
        self.context = dict(context or {})
        # Runs in the local AWS before synth, like what a user creates before `cdk deploy` (e.g.
        # the app's Cognito user pool); returns more context (e.g. {"cognitoUserPoolId": id}).
        self.prepare = prepare
        self.stripe_data = stripe_data
        # Webhook mode: the receiver's signing secret (e.g. the one `stripe listen` printed);
        # a throwaway one is generated when none is given.
        self.signing_secret = signing_secret
        self.settings = Settings.load(self.context)
        self.outdir = outdir
        self.deploy_seconds = 0.0
        self.synth_seconds = 0.0
        self._mock: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.fake_stripe: Any = None
        self.fake_partners: Any = None  # Slack, Teams, Backlog, GitHub (chat and ticket pipes)
        self.deployed: Any = None
        self.stack_prefix = ""
        # Per-instance caches: a boto3 client costs ~10 ms to create, and the dead-letter queues
        # are fixed by the deployed template (see _dead_letter_queues).
        self._clients: dict[str, Any] = {}
        self._dlq_urls: dict[str, str] | None = None
        # Executions not yet seen finished, and how far settle() has read each machine's list.
        self._unfinished: dict[str, Any] = {}
        self._settle_marks: dict[str, int] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalAws:
        from moto import mock_aws

        from payops.localaws.core import registry
        from payops.localaws.fakes.fake_stripe import FakeStripe
        from payops.localaws.services.stepfunctions import set_http_routes

        # One region, for everything: boto3 sessions made before a Lambda call starts do not see
        # the function's own AWS_REGION (the Lambda service overlays it per thread).
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        # moto logs every error a state machine catches (Catch/Retry paths) at ERROR level;
        # the trace reports execution outcomes, so its interpreter's log is noise here.
        logging.getLogger("moto").setLevel(logging.CRITICAL)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        registry.install()
        RECORDER.reset()
        self.fake_stripe = FakeStripe().start()
        if self.stripe_data is not None:
            self.fake_stripe.load_stripe_data(self.stripe_data)
        from payops.localaws.fakes.fake_partners import FakePartners

        self.fake_partners = FakePartners().start()
        set_http_routes(
            {"https://api.stripe.com": self.fake_stripe.url}
            | self.fake_partners.routes(self.settings)
        )
        self._prerequisites()
        if self.prepare is not None:
            self.context.update(self.prepare(self))
            self.settings = Settings.load(self.context)
        assembly_dir = self._synth()
        from payops.localaws.deploy import deploy

        started = time.perf_counter()
        self.deployed = deploy(assembly_dir)
        self.deploy_seconds = time.perf_counter() - started
        from payops.app_factory import STACK_NAME

        self.stack_prefix = f"{STACK_NAME}-"
        self.names = friendly_names(self.deployed.physical_ids)
        if self.settings.ingress == "webhook":
            self._set_signing_secret()
        if self.stripe_data is not None:
            self._upload_downloads(self.stripe_data / "downloads")
        return self

    def _upload_downloads(self, folder: Path) -> None:
        """The shop's files (`--stripe-data DIR/downloads/<name>`) as `products/<name>` in the
        downloads bucket, as the deployment guide uploads them with `aws s3 cp`."""
        if not folder.is_dir():
            return
        buckets = self.deployed.resources_of("AWS::S3::Bucket")
        (bucket,) = [
            b for logical, b in buckets.items() if logical.startswith("FulfilmentDownloads")
        ]
        for path in sorted(folder.iterdir()):
            if path.is_file():
                self.client("s3").put_object(
                    Bucket=bucket, Key=f"products/{path.name}", Body=path.read_bytes()
                )

    def stop(self) -> None:
        if self.fake_stripe is not None:
            self.fake_stripe.stop()
        if self.fake_partners is not None:
            self.fake_partners.stop()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._tmp is not None:
            self._tmp.cleanup()

    def client(self, service: str) -> Any:
        if service not in self._clients:  # boto3 clients are thread-safe; reuse them
            self._clients[service] = new_client(service, REGION)
        return self._clients[service]

    def _prerequisites(self) -> None:
        """What the user creates before `cdk deploy` (see the README's deployment guide)."""
        # A throwaway test-mode key for the fake Stripe API; generated, never stored.
        sm = self.client("secretsmanager")
        key = "sk_test_local" + secrets.token_hex(12)
        try:
            sm.create_secret(Name=self.settings.stripe_api_key_secret_name, SecretString=key)
        except sm.exceptions.ResourceExistsException:  # a second LocalAws in one process
            sm.put_secret_value(SecretId=self.settings.stripe_api_key_secret_name, SecretString=key)
        from payops.localaws.fakes.fake_partners import local_secrets

        for name, value in local_secrets(self.settings).items():  # chat / ticket credentials
            try:
                sm.create_secret(Name=name, SecretString=value)
            except sm.exceptions.ResourceExistsException:
                sm.put_secret_value(SecretId=name, SecretString=value)
        ses = self.client("ses")
        ses.verify_email_identity(EmailAddress=self.settings.sender_email)
        domain = self.settings.sender_email.split("@", 1)[1]
        ses.verify_domain_identity(Domain=domain)
        # --- Cognito user pool (issue 15): the pool cognitoUserPoolId names, made in moto ---
        if self.settings.cognito_user_pool_id:
            from payops.localaws.core import registry

            ensure = registry.provided("appsync", "ensure_user_pool")
            ensure(self.settings.cognito_user_pool_id, ACCOUNT)

    def _synth(self) -> str:
        synthesis = synthesize(self.context, self.outdir)
        self.outdir, self.synth_seconds = synthesis.outdir, synthesis.seconds
        if synthesis.owned is not None:
            self._tmp = synthesis.owned  # removed by stop()
        return synthesis.directory

    def _set_signing_secret(self) -> None:
        if self.signing_secret is None:
            self.signing_secret = "whsec_local" + secrets.token_hex(16)
        sm = self.client("secretsmanager")
        for secret in sm.list_secrets()["SecretList"]:
            if "SigningSecret" in secret["Name"]:
                sm.put_secret_value(SecretId=secret["ARN"], SecretString=self.signing_secret)
                return
        raise LocalAwsError("webhook mode: the signing secret was not deployed")

    # -- sending -----------------------------------------------------------------------------
    @property
    def bus_name(self) -> str:
        return self.deployed.outputs["EventBusName"]

    def send(self, event: LoadedEvent) -> EventTrace:
        envelope = event.envelope
        stripe_event = envelope["detail"]
        since = self.since()
        self.fake_stripe.observe(stripe_event)  # Stripe knows the objects its events describe
        if self.settings.ingress == "partner":
            delivery = self._put_partner(envelope)
        else:
            delivery = self._post_webhook(stripe_event)
        trace = self.trace_since(
            since,
            label=event.label,
            event_id=str(stripe_event.get("id")),
            event_type=str(envelope.get("detail-type")),
            delivery=delivery,
        )
        if delivery != "accepted":  # Stripe would see the delivery fail: not a success either
            trace.failed.insert(
                0,
                {
                    "event": trace.event_id,
                    "workflow": f"{self.settings.ingress} ingress",
                    "state": "delivery",
                    "error": delivery,
                },
            )
        return trace

    def since(self) -> Since:
        """Now, as the start of a trace (pass it to `trace_since`)."""
        return Since(RECORDER.mark(), self._snapshot(), time.perf_counter())

    def trace_since(
        self, since: Since, *, label: str, event_id: str, event_type: str, delivery: str
    ) -> EventTrace:
        """Wait until the system is at rest, then everything that happened after `since`."""
        self.settle()
        trace = EventTrace(label=label, event_id=event_id, event_type=event_type, delivery=delivery)
        self._fill(trace, since.mark, since.before)
        trace.wall_seconds = time.perf_counter() - since.started
        return trace

    def call_receiver(self, request: dict[str, Any]) -> ReceiverResponse:
        """Deliver one function-URL request (payload format 2.0) to the deployed webhook
        receiver, as its function URL would, and return what the function returned. Does not
        wait for what the request starts: `trace_since` does."""
        functions = self.deployed.resources_of("AWS::Lambda::Function")
        receiver = next(
            p for logical, p in functions.items() if logical.startswith("IngressReceiver")
        )
        result = self.client("lambda").invoke(FunctionName=receiver, Payload=json.dumps(request))
        payload = json.loads(result["Payload"].read() or b"null")
        return ReceiverResponse(payload, "FunctionError" in result)

    def _put_partner(self, envelope: dict[str, Any]) -> str:
        from payops.localaws.services.events import deliver_partner_event

        entry = {
            "EventBusName": self.bus_name,
            "Source": envelope["source"],
            "DetailType": envelope["detail-type"],
            "Detail": json.dumps(envelope["detail"]),
            "Resources": envelope.get("resources", []),
        }
        return deliver_partner_event(entry, ACCOUNT, REGION)

    def _post_webhook(self, stripe_event: dict[str, Any]) -> str:
        """A signed HTTP request into the receiver's function URL, as Stripe sends it."""
        import stripe

        body = json.dumps(stripe_event, indent=2)  # Stripe sends pretty-printed JSON
        timestamp = int(time.time())
        signature = stripe.WebhookSignature._compute_signature(
            f"{timestamp}.{body}", self.signing_secret
        )
        request = {
            "version": "2.0",
            "rawPath": "/",
            "rawQueryString": "",
            "headers": {
                "content-type": "application/json; charset=utf-8",
                "stripe-signature": f"t={timestamp},v1={signature}",
                "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
            "requestContext": {"http": {"method": "POST", "path": "/"}},
            "body": body,
            "isBase64Encoded": False,
        }
        response = self.call_receiver(request).payload or {}
        status = response.get("statusCode")
        if status == 200:
            return "accepted"
        return f"refused: HTTP {status} {response.get('body')}"

    def customer_stacks(self) -> dict[str, str]:
        """{name: status} of every customer stack the subscription workflows launched, deleted
        ones included (DELETE_COMPLETE); a name used twice shows its newest stack."""
        from stacks.subscriptions import STACK_PREFIX

        summaries = []
        for page in self.client("cloudformation").get_paginator("list_stacks").paginate():
            summaries += [
                s for s in page["StackSummaries"] if s["StackName"].startswith(STACK_PREFIX)
            ]
        summaries.sort(key=lambda s: s["CreationTime"])
        return {s["StackName"]: s["StackStatus"] for s in summaries}

    # -- settling and observing ----------------------------------------------------------------
    # Executions are read from the Step Functions backend itself, incrementally: each machine's
    # executions are kept in start order, so "what started since" is a slice. Listing every
    # execution through the API on each poll made a long replay O(n^2) and mostly serialization.
    def _state_machines(self) -> list[Any]:
        from moto.stepfunctions.responses import get_backend

        return list(get_backend(ACCOUNT, REGION).state_machines)

    def _execution_marks(self) -> dict[str, int]:
        return {machine.arn: len(machine.executions) for machine in self._state_machines()}

    def _started_since(self, marks: dict[str, int]) -> list[tuple[str, Any]]:
        """(machine name, execution) for executions started after `marks`, in start order."""
        return [
            (machine.name, execution)
            for machine in self._state_machines()
            for execution in machine.executions[marks.get(machine.arn, 0) :]
        ]

    @staticmethod
    def _status(execution: Any) -> str:
        if not hasattr(execution, "exec_status"):  # moto's non-executing Step Functions model
            return str(execution.status)
        status = execution.exec_status  # None until the execution's worker has started
        return "RUNNING" if status is None else str(status.value)

    def _running(self) -> list[Any]:
        for _machine, execution in self._started_since(self._settle_marks):
            self._unfinished[execution.execution_arn] = execution
        self._settle_marks = self._execution_marks()
        for arn, execution in list(self._unfinished.items()):
            if self._status(execution) != "RUNNING":
                del self._unfinished[arn]
        return list(self._unfinished.values())

    def settle(self, timeout: float = SETTLE_TIMEOUT_S) -> None:
        """Wait until no execution runs and no pipe has work: the system is at rest.

        Pipes are pumped, not drained: the sender is never blocked on a pipe's target, whose
        execution runs beside the others and settles its batch when it ends.

        Woken by each execution's ending rather than sleep-polling; the short wait bound only
        covers an ending the signal cannot see (a test that lifts the status-events patch).
        """
        from payops.localaws.services import pipes, stepfunctions

        deadline = time.monotonic() + timeout
        while True:
            seen = stepfunctions.endings()
            moved = pipes.pump(ACCOUNT, REGION)  # starts targets, never waits for them
            running = self._running()
            if not running and not moved and not pipes.pending():
                return
            if time.monotonic() > deadline:
                names = ", ".join(e.name for e in running)
                raise LocalAwsError(f"not settled after {timeout:.0f} s; still running: {names}")
            if running:
                stepfunctions.wait_for_an_ending(seen, _SETTLE_POLL_S)

    def _dead_letter_queues(self) -> dict[str, str]:
        """url -> name of every queue that is some queue's or rule target's dead-letter queue.

        Read once per deployment: queues, redrive policies and rule targets are the template's.
        """
        if self._dlq_urls is None:
            self._dlq_urls = self._find_dead_letter_queues()
        return self._dlq_urls

    def _find_dead_letter_queues(self) -> dict[str, str]:
        sqs = self.client("sqs")
        urls = sqs.list_queues().get("QueueUrls", [])
        arns: set[str] = set()
        for url in urls:
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
            policy = attrs.get("Attributes", {}).get("RedrivePolicy")
            if policy:
                arns.add(json.loads(policy)["deadLetterTargetArn"])
        events = self.client("events")
        for rule in events.list_rules(EventBusName=self.bus_name)["Rules"]:
            targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=self.bus_name)
            for target in targets["Targets"]:
                if target.get("DeadLetterConfig", {}).get("Arn"):
                    arns.add(target["DeadLetterConfig"]["Arn"])
        names = {arn.rsplit(":", 1)[1] for arn in arns}
        return {url: url.rsplit("/", 1)[1] for url in urls if url.rsplit("/", 1)[1] in names}

    def _depths(self) -> dict[str, int]:
        from moto.sqs.models import sqs_backends

        # From the backend, as the executions are: twice per event through the API was a tenth
        # of a long replay.
        queues = sqs_backends[ACCOUNT][REGION].queues
        return {
            name: int(queues[name].approximate_number_of_messages)
            for name in self._dead_letter_queues().values()
        }

    def _sent_emails(self, start: int = 0) -> list[Any]:
        from moto.ses.models import ses_backends

        return list(ses_backends[ACCOUNT][REGION].sent_messages[start:])

    def _snapshot(self) -> dict[str, Any]:
        return {
            "executions": self._execution_marks(),
            "emails": len(self._sent_emails()),
            "dlq": self._depths(),
        }

    def _name(self, physical: str) -> str:
        return self.names.get(physical) or shorten(physical, self.stack_prefix)

    def _fill(self, trace: EventTrace, mark: int, before: dict[str, Any]) -> None:
        from payops.localaws.services.stepfunctions import simulated_seconds
        from payops.localaws.services.stepfunctions.lookups import history_events

        facts = RECORDER.since(mark)
        trace.rules = sorted(
            {shorten(f.data["rule"], self.stack_prefix) for f in facts if f.kind == "rule_matched"}
        )
        for machine, execution in self._started_since(before["executions"]):
            arn = execution.execution_arn
            # From the backend: through the API, serializing every step's input and output
            # (whole Stripe events) cost more than running the workflow; read, not copied.
            history = history_events(execution)
            states = [
                e["stateEnteredEventDetails"]["name"]
                for e in history
                if "stateEnteredEventDetails" in e
            ]
            status = self._status(execution)
            workflow = shorten(machine, self.stack_prefix)
            trace.executions.append({"state_machine": workflow, "status": status, "states": states})
            if status in FAILED_STATUSES:
                trace.failed.append(
                    {
                        "event": trace.event_id,
                        "workflow": workflow,
                        "state": states[-1] if states else "(no state entered)",
                        "error": execution_error(history, status),
                    }
                )
            trace.simulated_seconds += simulated_seconds(arn)
        trace.executions.sort(key=lambda e: (e["state_machine"], e["status"]))
        for message in self._sent_emails(before["emails"]):
            trace.emails.append(email_summary(message))
        trace.sns = dict(
            Counter(self._name(f.data["topic"]) for f in facts if f.kind == "sns_published")
        )
        trace.notices = [
            {"topic": self._name(f.data["topic"]), "message": str(f.data.get("message"))}
            for f in facts
            if f.kind == "sns_published"
            and self._name(f.data["topic"]) not in NOT_STAFF_NOTICE_TOPICS
        ]
        trace.table_writes = dict(
            Counter(self._name(f.data["table"]) for f in facts if f.kind == "table_write")
        )
        trace.http_calls = [
            {"method": f.data["method"], "url": f.data["url"], "status": f.data.get("status")}
            for f in facts
            if f.kind == "http_call"
        ]
        after = self._depths()
        trace.dlq = {
            self._name(name): after[name] - before["dlq"].get(name, 0)
            for name in after
            if after[name] > before["dlq"].get(name, 0)
        }
        self._dead_lettered(trace, facts)

    def _target_name(self, arn: str) -> str:
        """A workflow as the executions name it ("fulfilment"), anything else by construct."""
        name = arn.rsplit(":", 1)[-1]
        if ":stateMachine:" in arn:
            return shorten(name, self.stack_prefix)
        return self._name(name)

    def _dead_lettered(self, trace: EventTrace, facts: list[Any]) -> None:
        """One failure per dead-lettered message, with the error that sent it there."""
        explained: Counter[str] = Counter()
        for fact in facts:
            if fact.kind == "target_failed" and fact.data.get("dlq"):
                dlq = self._name(fact.data["dlq"].rsplit(":", 1)[-1])
                explained[dlq] += 1
                trace.failed.append(
                    {
                        "event": trace.event_id,
                        "workflow": self._target_name(fact.data["target_arn"]),
                        "state": f"rule {shorten(fact.data['rule'], self.stack_prefix)} -> {dlq}",
                        "error": str(fact.data.get("error")),
                    }
                )
        pipe_errors = [f.data for f in facts if f.kind == "pipe_failed"]
        for queue, count in trace.dlq.items():
            for _ in range(count - explained[queue]):
                error = pipe_errors[-1] if pipe_errors else {}
                trace.failed.append(
                    {
                        "event": trace.event_id,
                        "workflow": shorten(str(error.get("pipe", queue)), self.stack_prefix),
                        "state": f"dead-lettered to {queue}",
                        "error": str(error.get("error", "moved to the dead-letter queue")),
                    }
                )
