"""AWS cost per one million paid orders, from what one paid order actually did locally.

    .venv/bin/python -m bench.cost          # the cost table alone (~15 s), without `make bench`

`observe()` (run in a child: `python -m bench.cost observe`) deploys the real template into the
local AWS, counts the calls the services would bill while one paid order
(examples/events/01-card-order-paid.json) goes through: events ingested, rule deliveries, states
entered per workflow, DynamoDB writes and reads, SNS publishes, SQS requests, Pipe requests,
Lambda invocations, emails. `model()` prices those counts at list prices, beside the same flow
built as the common sample design: every workflow Standard, every Task state a Lambda function.
"""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The workshop's order: a Payment Link (metadata {}), two line items, fetched from Stripe.
PAID_ORDER = ROOT / "examples" / "events" / "10-payment-link-order-paid.json"
STRIPE_DATA = ROOT / "examples" / "stripe-data"
ORDERS = 1_000_000
CHECKED = "2026-11-24"

# us-east-1 list prices (USD). Each: (price, unit, source). Free tiers are ignored throughout.
_EB = "aws.amazon.com/eventbridge/pricing"
_SFN = "aws.amazon.com/step-functions/pricing"
_DDB = "aws.amazon.com/dynamodb/pricing/on-demand"
_LAMBDA = "aws.amazon.com/lambda/pricing"
_FIREHOSE = "aws.amazon.com/firehose/pricing"
FIREHOSE_RECORD_UNIT = 5 * 1024  # Firehose bills each record rounded up to 5 KB
PRICES: dict[str, tuple[float, str, str]] = {
    "eventbridge_event": (1.00 / 1e6, "partner events (64 KB chunks)", _EB),
    "eventbridge_archive_gb": (0.10, "per GB archived", _EB),
    "pipes_request": (0.40 / 1e6, "Pipes requests (64 KB chunks)", _EB),
    "sfn_transition": (0.025 / 1000, "state transitions", _SFN),
    "sfn_express_request": (1.00 / 1e6, "Express requests", _SFN),
    "sfn_express_gb_s": (0.00001667, "GB-s (64 MB steps, 100 ms steps)", _SFN),
    "ddb_write": (0.625 / 1e6, "write request units (1 KB)", _DDB),
    "ddb_read": (0.125 / 1e6, "read request units (4 KB)", _DDB),
    "sns_publish": (0.50 / 1e6, "publishes (64 KB chunks)", "aws.amazon.com/sns/pricing"),
    "sqs_request": (0.40 / 1e6, "requests", "aws.amazon.com/sqs/pricing"),
    "lambda_request": (0.20 / 1e6, "requests", _LAMBDA),
    "lambda_gb_s_arm": (0.0000133334, "GB-s (arm64)", _LAMBDA),
    "lambda_gb_s_x86": (0.0000166667, "GB-s (x86_64)", _LAMBDA),
    "ses_email": (0.10 / 1000, "emails", "aws.amazon.com/ses/pricing"),
    "transfer_out_gb": (0.09, "per GB out to the internet", "aws.amazon.com/ec2/pricing/on-demand"),
    # Analytics export (issue 16): Firehose Direct PUT to S3 with dynamic partitioning.
    "firehose_gb": (0.029, "GB ingested, each record rounded up to 5 KB", _FIREHOSE),
    "firehose_partitioning_gb": (0.02, "GB processed by dynamic partitioning", _FIREHOSE),
}
# Durations are not observable locally (moto is not AWS): stated assumptions, shown in the table.
# An Express run is billed by its duration (rounded up to 100 ms) at 64 MB: estimated from what it
# did, a fixed start plus each service call it waited for.
EXPRESS_BASE_S = 0.1
EXPRESS_AWS_TASK_S = 0.03  # a DynamoDB / SNS / SES / S3 / Lambda call from a Task state
EXPRESS_HTTP_TASK_S = 0.4  # a Stripe API call through the HTTP Task (conservative)
EXPRESS_BILLED_S = 0.2  # kept for the sample design's notes: the shortest run billed
OUR_LAMBDA_BILLED_S = 0.01  # the fulfilment clock function returns the time: ~10 ms
SAMPLE_LAMBDA_MB = 128
SAMPLE_LAMBDA_BILLED_S = 0.1  # a Python step calling one AWS API, warm, typical of samples


# --------------------------------------------------------------------------- observing


class _Counts:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.lambda_invokes: Counter[str] = Counter()
        self.enabled = False


def _count(counts: _Counts, owner: Any, name: str, key: str, per_call: Any = None) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if counts.enabled:
            counts.calls[key] += per_call(*args, **kwargs) if per_call else 1
        return original(self, *args, **kwargs)

    setattr(owner, name, wrapper)


def _install_counters(counts: _Counts) -> None:
    """Count billed requests where AWS would bill them (see the notes on each)."""
    from moto.awslambda.models import LambdaBackend
    from moto.dynamodb.responses import DynamoHandler
    from moto.events.models import EventsBackend
    from moto.sqs.models import SQSBackend
    from moto.sqs.responses import SQSResponse

    def entries(events: list[Any], *_: Any, **__: Any) -> int:
        return len(events)

    _count(counts, EventsBackend, "put_events", "eventbridge_put_entries", entries)
    # SNS delivers to SQS inside moto's backends, not through the API: count sends there.
    _count(counts, SQSBackend, "send_message", "sqs_send")
    # The local pipe polls on every settle loop; on AWS, empty long polls cost the same with or
    # without orders, so only receives that returned a message count.
    original_receive = SQSBackend.receive_message

    @functools.wraps(original_receive)
    def receive_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        messages = original_receive(self, *args, **kwargs)
        if counts.enabled and messages:
            counts.calls["sqs_receive"] += 1
        return messages

    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    for name in ("delete_message", "delete_message_batch"):  # API calls, not internal ones
        _count(counts, SQSResponse, name, "sqs_delete")
    for name in ("get_item", "query", "scan", "batch_get_item"):
        _count(counts, DynamoHandler, name, "ddb_read")
    original_invoke = LambdaBackend.invoke

    @functools.wraps(original_invoke)
    def invoke(self: Any, function_name: str, *args: Any, **kwargs: Any) -> Any:
        if counts.enabled:
            counts.lambda_invokes[function_name.rsplit(":", 1)[-1]] += 1
        return original_invoke(self, function_name, *args, **kwargs)

    LambdaBackend.invoke = invoke  # type: ignore[method-assign]


def _state_types(asl: dict[str, Any]) -> dict[str, str]:
    """State name -> "Task", "HttpTask", "Pass", ... (HTTP Tasks apart: they wait for Stripe)."""
    types: dict[str, str] = {}
    for name, state in asl["States"].items():
        types[name] = state["Type"]
        if state.get("Resource") == "arn:aws:states:::http:invoke":
            types[name] = "HttpTask"
        for inner in [
            state.get("ItemProcessor") or state.get("Iterator"),
            *state.get("Branches", []),
        ]:
            if inner:
                types.update(_state_types(inner))
    return types


def _item_bytes(item: dict[str, Any]) -> int:
    """An item's size roughly as DynamoDB counts it: names plus values, as UTF-8."""
    return sum(len(k.encode()) + len(json.dumps(v, default=str).encode()) for k, v in item.items())


def observe(event_file: Path = PAID_ORDER) -> dict[str, Any]:
    """What one paid order does in the local AWS, counted per billed unit."""
    from moto.dynamodb.models import dynamodb_backends

    from payops.envelope import load_events
    from payops.localaws.core.account import ACCOUNT, REGION
    from payops.localaws.core.recorder import RECORDER
    from payops.localaws.runtime import LocalAws

    counts = _Counts()
    with LocalAws({"ingress": "partner"}, stripe_data=STRIPE_DATA) as local:
        _install_counters(counts)
        template = local.deployed.template
        machine_types = {}
        for resource in template["Resources"].values():
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::StepFunctions::StateMachine":
                name = str(properties.get("StateMachineName", "")).removeprefix("StripePayOps-")
                machine_types[name] = properties.get("StateMachineType", "STANDARD")
        archive = any(r["Type"] == "AWS::Events::Archive" for r in template["Resources"].values())
        (event,) = load_events(event_file, local.settings)
        mark = RECORDER.mark()
        counts.enabled = True
        trace = local.send(event)
        counts.enabled = False
        facts = RECORDER.since(mark)
        tables = dynamodb_backends[ACCOUNT][REGION].tables
        item_sizes = {
            local._name(name): max(
                (_item_bytes(item.to_json()["Attributes"]) for item in table.all_items()), default=0
            )
            for name, table in tables.items()
        }
        lambda_memory = {}  # as deployed from the template
        for fn_name in counts.lambda_invokes:
            fn = local.client("lambda").get_function(FunctionName=fn_name)["Configuration"]
            lambda_memory[fn_name] = {
                "memory_mb": fn.get("MemorySize", 128),
                "architecture": (fn.get("Architectures") or ["x86_64"])[0],
            }
    from payops.asl import asl_path

    executions = []
    for execution in trace.executions:
        name = execution["state_machine"]
        types = _state_types(json.loads(asl_path(name).read_text(encoding="utf-8")))
        executions.append(
            {
                "state_machine": name,
                "type": machine_types.get(name, "STANDARD"),
                "status": execution["status"],
                "states_entered": len(execution["states"]),
                "task_states_entered": sum(
                    types.get(s) in ("Task", "HttpTask") for s in execution["states"]
                ),
                "http_tasks_entered": sum(types.get(s) == "HttpTask" for s in execution["states"]),
            }
        )
    detail_bytes = len(json.dumps(event.envelope).encode())
    return {
        "event_file": str(event_file.relative_to(ROOT)),
        "rules": trace.rules,
        "executions": executions,
        "eventbridge_events": counts.calls["eventbridge_put_entries"],
        "event_bytes": detail_bytes,
        "archive": archive,
        "rule_deliveries": sum(1 for f in facts if f.kind == "target_invoked"),
        "pipe_requests": sum(1 for f in facts if f.kind == "pipe_invoked"),
        "sns_publishes": sum(trace.sns.values()),
        "sqs_requests": sum(counts.calls[k] for k in ("sqs_send", "sqs_receive", "sqs_delete")),
        "sqs_detail": {k: counts.calls[k] for k in ("sqs_send", "sqs_receive", "sqs_delete")},
        "ddb_writes": dict(trace.table_writes),
        "ddb_item_bytes": {k: v for k, v in item_sizes.items() if k in trace.table_writes},
        "ddb_reads": counts.calls["ddb_read"],
        "lambda_invokes": dict(counts.lambda_invokes),
        "lambda_config": lambda_memory,
        "emails": len(trace.emails),
        "firehose_records": sum(f.data["records"] for f in facts if f.kind == "firehose_delivered"),
        "http_calls": len(trace.http_calls),
        "dlq": trace.dlq,
    }


# --------------------------------------------------------------------------- pricing


def _price(key: str) -> float:
    return PRICES[key][0]


def express_billed_s(execution: dict[str, Any]) -> float:
    """Estimated billed duration of one Express run, rounded up to 100 ms."""
    http = execution.get("http_tasks_entered", 0)
    aws = execution["task_states_entered"] - http
    seconds = EXPRESS_BASE_S + EXPRESS_AWS_TASK_S * aws + EXPRESS_HTTP_TASK_S * http
    return max(EXPRESS_BILLED_S, math.ceil(round(seconds * 10, 6)) / 10)


def model(seen: dict[str, Any]) -> dict[str, Any]:
    """Rows of (item, this app: units and $, sample design: units and $) per 1M paid orders."""
    executions = seen["executions"]
    standard = sum(e["states_entered"] for e in executions if e["type"] == "STANDARD")
    express_runs = sum(1 for e in executions if e["type"] == "EXPRESS")
    all_states = sum(e["states_entered"] for e in executions)
    task_states = sum(e["task_states_entered"] for e in executions)
    writes = sum(
        n * max(1, math.ceil(seen["ddb_item_bytes"].get(table, 0) / 1024))
        for table, n in seen["ddb_writes"].items()
    )
    chunks = max(1, math.ceil(seen["event_bytes"] / 65536))
    our_lambda_gb_s = 0.0
    our_lambda_key = "lambda_gb_s_arm"
    for name, n in seen["lambda_invokes"].items():
        config = seen["lambda_config"].get(name, {"memory_mb": 128, "architecture": "x86_64"})
        our_lambda_gb_s += n * config["memory_mb"] / 1024 * OUR_LAMBDA_BILLED_S
        if config["architecture"] != "arm64":
            our_lambda_key = "lambda_gb_s_x86"
    lambda_requests = sum(seen["lambda_invokes"].values())
    express_seconds = [express_billed_s(e) for e in executions if e["type"] == "EXPRESS"]
    express_gb_s = (64 / 1024) * sum(express_seconds)
    sample_lambda_gb_s = task_states * SAMPLE_LAMBDA_MB / 1024 * SAMPLE_LAMBDA_BILLED_S
    archive_gb = seen["event_bytes"] / 1e9 if seen["archive"] else 0.0
    # The analytics export: every event is one Firehose record (the EventBridge event).
    records = seen.get("firehose_records", 0)
    record_units = math.ceil(seen["event_bytes"] / FIREHOSE_RECORD_UNIT)
    firehose_gb = records * record_units * FIREHOSE_RECORD_UNIT / 1e9
    partitioned_gb = records * seen["event_bytes"] / 1e9

    def row(item: str, key: str, ours: float, sample: float, note: str = "") -> dict[str, Any]:
        price = _price(key)
        return {
            "item": item,
            "price": price,
            "unit": PRICES[key][1],
            "source": PRICES[key][2],
            "ours_per_order": ours,
            "ours_usd": ours * price * ORDERS,
            "sample_per_order": sample,
            "sample_usd": sample * price * ORDERS,
            "note": note,
        }

    events = seen["eventbridge_events"] * chunks
    rows = [
        row("EventBridge events in", "eventbridge_event", events, events),
        row("EventBridge archive", "eventbridge_archive_gb", archive_gb, archive_gb, "GB/order"),
        row("EventBridge Pipes", "pipes_request", seen["pipe_requests"], seen["pipe_requests"]),
        row("Step Functions Standard transitions", "sfn_transition", standard, all_states),
        row("Step Functions Express requests", "sfn_express_request", express_runs, 0),
        row(
            "Step Functions Express duration",
            "sfn_express_gb_s",
            express_gb_s,
            0,
            "GB-s: 64 MB x estimated run time ("
            + ", ".join(f"{s:.1f} s" for s in express_seconds)
            + f"): {EXPRESS_BASE_S} s + {EXPRESS_AWS_TASK_S} s per AWS Task + "
            f"{EXPRESS_HTTP_TASK_S} s per Stripe call",
        ),
        row("DynamoDB writes", "ddb_write", writes, writes, "WRU"),
        row("DynamoDB reads", "ddb_read", seen["ddb_reads"], seen["ddb_reads"], "RRU"),
        row("SNS publishes", "sns_publish", seen["sns_publishes"], seen["sns_publishes"]),
        row("SQS requests", "sqs_request", seen["sqs_requests"], seen["sqs_requests"]),
        row("Lambda requests", "lambda_request", lambda_requests, task_states),
        row("Firehose ingestion (analytics)", "firehose_gb", firehose_gb, firehose_gb, "GB/order"),
        row(
            "Firehose dynamic partitioning",
            "firehose_partitioning_gb",
            partitioned_gb,
            partitioned_gb,
            "GB/order; plus $0.005 per 1,000 objects written, set by time, not orders: at most "
            "288 a day per event type (300 s buffers)",
        ),
        {
            **row(
                "Lambda duration",
                our_lambda_key,
                our_lambda_gb_s,
                0,
                f"GB-s: ours {OUR_LAMBDA_BILLED_S * 1000:.0f} ms assumed; sample "
                f"{SAMPLE_LAMBDA_MB} MB x86 x {SAMPLE_LAMBDA_BILLED_S * 1000:.0f} ms per Task",
            ),
            "sample_per_order": sample_lambda_gb_s,
            "sample_usd": sample_lambda_gb_s * _price("lambda_gb_s_x86") * ORDERS,
        },
    ]
    separate = [
        row("SES emails", "ses_email", seen["emails"], seen["emails"], "per email sent"),
        row(
            "Data transfer out",
            "transfer_out_gb",
            0,
            0,
            "the product downloads: $0.09 per GB, e.g. a 20 MB e-book = $1,800 per 1M orders",
        ),
    ]
    return {
        "orders": ORDERS,
        "rows": rows,
        "total_ours_usd": sum(r["ours_usd"] for r in rows),
        "total_sample_usd": sum(r["sample_usd"] for r in rows),
        "separate": separate,
        "checked": CHECKED,
        "assumptions": {
            "express_base_s": EXPRESS_BASE_S,
            "express_aws_task_s": EXPRESS_AWS_TASK_S,
            "express_http_task_s": EXPRESS_HTTP_TASK_S,
            "express_billed_s": EXPRESS_BILLED_S,
            "our_lambda_billed_s": OUR_LAMBDA_BILLED_S,
            "sample_lambda_mb": SAMPLE_LAMBDA_MB,
            "sample_lambda_billed_s": SAMPLE_LAMBDA_BILLED_S,
        },
    }


def measure() -> dict[str, Any]:
    child = subprocess.run(
        [sys.executable, "-m", "bench.cost", "observe"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    seen = json.loads(child.stdout.strip().splitlines()[-1])
    return {"observed": seen, **model(seen)}


if __name__ == "__main__":
    if sys.argv[1:] == ["observe"]:
        import logging

        logging.disable(logging.CRITICAL)
        print(json.dumps(observe()))
    elif not sys.argv[1:]:
        result = measure()
        for r in result["rows"]:
            print(f"{r['item']:<40} {r['ours_per_order']:>10.4g} ${r['ours_usd']:>9.2f}")
        print(f"{'total per 1,000,000 paid orders':<40} {'':>10} ${result['total_ours_usd']:>9.2f}")
    else:
        sys.exit("usage: python -m bench.cost [observe]")
