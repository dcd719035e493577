"""EventBridge bridges: where the pinned moto delivers events differently from AWS, deliver
like AWS.

`install()` patches moto's own classes in place, so the same process gets the fixes under
`mock_aws` and under `ThreadedMotoServer`:

- `Rule.send_to_targets` (every put_events, replay and S3 notification goes through it) is
  replaced: State, matching with `payops.patterns`, target input, delivery to SQS, SNS, Step
  Functions, Lambda, Firehose, CloudWatch Logs and event buses, and the target's dead-letter
  queue on failure. Archives and API destinations, which moto handles, are still handed to moto.
- `EventPatternParser.parse` also validates the pattern (moto accepts misspelt operators).
- `EventsHandler.test_event_pattern` / `EventsBackend.test_event_pattern`: a real Result.
- `EventsBackend._normalize_event_bus_arn`, `create_event_bus`, `put_events` and
  `put_partner_events`: partner event buses (`aws.partner/...` names) and reserved sources.
- `EventsBackend.put_events` also refuses a request whose entries are over PutEvents' size limit,
  and a Step Functions target whose input is over StartExecution's limit fails (dead-letters).
- `EventsHandler.put_events` + `EventsBackend.put_events`: the bus's resource policy refuses a
  caller it denies (`bus_policy.py`; moto stores bus policies and never reads them).
- `Replay.replay_events`: replays into partner buses, within the replay's time window, to the
  Destination's FilterArns rules only, with one new id per replayed event.

One delivery attempt is made per target; a failure goes straight to the target's DLQ, as AWS
does for a missing resource or permission (retries of transient errors are not modelled).
"""

from __future__ import annotations

import copy
import functools
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from payops.localaws.core import registry
from payops.localaws.core.patch import Patch
from payops.localaws.core.recorder import RECORDER

GAPS: dict[str, str] = {
    "events.matching": (
        "rules match with payops.patterns and invalid patterns are rejected (moto never matches "
        "inside arrays of objects, treats 0 as false, accepts misspelt operators)"
    ),
    "events.test_event_pattern": ("TestEventPattern returns a Result (moto's is an empty stub)"),
    "events.targets": (
        "SNS, Step Functions, Lambda, Firehose and event-bus targets are delivered (moto raises "
        "NotImplementedError for the first four and re-puts a stripped event to buses)"
    ),
    "events.target_input": (
        "Input, InputPath and the whole-event default are honoured; InputTransformer also knows "
        "<aws.events.event>, rule-arn/-name and string templates (moto ignores Input/InputPath)"
    ),
    "events.rule_state": ("a DISABLED rule and a schedule-only rule do not fire (moto fires both)"),
    "events.dead_letters": (
        "a failed delivery (e.g. the target resource is gone) goes to the target's "
        "DeadLetterConfig queue with AWS's RULE_ARN/TARGET_ARN/ERROR_* attributes"
    ),
    "events.partner_buses": (
        "aws.partner/... buses: created with their event source (as CloudFormation's "
        "EventSourceName does), found by full name or ARN, fed by PutPartnerEvents"
    ),
    "events.replay": (
        "StartReplay replays into partner buses (moto looks up the last path segment of the bus "
        "name), only events inside EventStartTime..EventEndTime and only to the rules in "
        "Destination.FilterArns (moto replays everything to every rule, with a new id per rule)"
    ),
    "events.size_limit": (
        "PutEvents refuses entries totalling over 1 MiB with ValidationException, counted as AWS "
        "documents (moto takes any size)"
    ),
    "events.sfn_input_limit": (
        "a Step Functions target whose input is over 256 KiB fails and is dead-lettered, as "
        "StartExecution refuses it (moto starts the execution)"
    ),
    "events.reserved_sources": (
        "PutEvents rejects sources starting with 'aws.' except a partner bus's own source (moto "
        "accepts any source)"
    ),
    "events.bus_policy": (
        "PutEvents honours an explicit Deny in the bus's resource policy for the signing "
        "principal (moto stores bus policies and never evaluates them)"
    ),
    "events.partner_bus_names": (
        "PutEvents naming a partner bus (aws.partner/..., by name or ARN) is refused with AWS's "
        "ValidationException (botocore's NonPartnerEventBusNameOrArn pattern; moto accepts it): "
        "only the partner's delivery reaches a partner bus"
    ),
}

# StartExecution: input up to 256 KiB (UTF-8), also when EventBridge starts the execution.
MAX_EXECUTION_INPUT_BYTES = 256 * 1024
# An event forwarded bus -> bus more often than this is dropped as a loop (AWS bills each hop).
MAX_BUS_HOPS = 8
_EVENT_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region")
_PREDEFINED = (
    "aws.events.rule-arn",
    "aws.events.rule-name",
    "aws.events.event.ingestion-time",
    "aws.events.event",
    "aws.events.event.json",
)
_MISSING = object()
_hops = threading.local()


# ---------------------------------------------------------------------------------------------
# Events as AWS delivers them


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and value:
        return value
    return _iso(time.time())


def _epoch(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


def _aws_event(raw: dict[str, Any], copy_detail: bool = True) -> tuple[dict[str, Any], str]:
    """moto's internal event (epoch `time`, `ingestion-time`) -> the envelope AWS delivers
    (`copy_detail=False`: its detail is moto's own, to read only, e.g. for matching)."""
    event: dict[str, Any] = {"version": raw.get("version", "0")}
    for name in _EVENT_FIELDS[1:]:
        event[name] = raw.get(name, "")
    event["time"] = _iso(raw.get("time"))
    event["resources"] = list(raw.get("resources") or [])
    event["detail"] = raw.get("detail", {})
    if copy_detail:
        event["detail"] = json.loads(json.dumps(event["detail"]))  # targets must not share it
    if "replay-name" in raw:
        event["replay-name"] = raw["replay-name"]
    return event, _iso(raw.get("ingestion-time", time.time()))


def _moto_form(event: dict[str, Any], ingestion: str) -> dict[str, Any]:
    """The shape moto's own target code expects (epoch times)."""
    form = dict(event)
    form["time"] = _epoch(event["time"])
    form["ingestion-time"] = _epoch(ingestion)
    return form


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Target input: Input, InputPath, InputTransformer, or the whole event


@functools.lru_cache(maxsize=1024)
def _compiled(path: str) -> Any:
    from jsonpath_ng.ext import parse

    return parse(path)  # ~5 ms each (a new yacc parser); parsed paths are immutable


def _jsonpath(event: dict[str, Any], path: str) -> Any:
    found = [match.value for match in _compiled(path).find(event)]
    if not found:
        return _MISSING
    return found if "*" in path else found[0]


def _render_value(value: Any, in_string: bool) -> str:
    if value is _MISSING:  # AWS: a path that is not in the event gives no value
        return "" if in_string else '""'
    if not in_string:
        return _dumps(value)
    if isinstance(value, str):
        return value  # AWS does not escape values placed inside a string
    if isinstance(value, (dict, list)):
        return _dumps(value).replace('"', "")  # AWS drops the inner quotes to keep a string
    return _dumps(value)


def render_input_transformer(
    transformer: dict[str, Any],
    event: dict[str, Any],
    rule_arn: str,
    rule_name: str,
    ingestion: str,
) -> str:
    """The text EventBridge sends for an InputTransformer (JSON or a quoted string template)."""
    template: str = transformer.get("InputTemplate") or ""
    values: dict[str, Any] = {}
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        if name not in _PREDEFINED:
            values[name] = _jsonpath(event, path)
    values["aws.events.rule-arn"] = rule_arn
    values["aws.events.rule-name"] = rule_name
    values["aws.events.event.ingestion-time"] = ingestion
    # The envelope without `detail`; AWS spells detail-type as detailType here.
    values["aws.events.event"] = {
        ("detailType" if key == "detail-type" else key): value
        for key, value in event.items()
        if key != "detail"
    }
    values["aws.events.event.json"] = event
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        char = template[i]
        if char == "<":
            end = template.find(">", i + 1)
            name = template[i + 1 : end] if end > i else ""
            if name in values:
                out.append(_render_value(values[name], in_string))
                i = end + 1
                continue
        if in_string and char == "\\":
            out.append(template[i : i + 2])
            i += 2
            continue
        if char == '"':
            in_string = not in_string
        out.append(char)
        i += 1
    text = "".join(out)
    if template.lstrip().startswith(("{", "[")):
        try:
            text = _dumps(json.loads(text))  # AWS passes JSON on minified
        except ValueError:
            pass  # sent as produced; a target that needs JSON then fails (and dead-letters)
    return text


def target_input(rule: Any, target: dict[str, Any], event: dict[str, Any], ingestion: str) -> Any:
    """The text for `target`, or _MISSING when an InputPath selects nothing (nothing is sent)."""
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        value = _jsonpath(event, target["InputPath"])
        return value if value is _MISSING else _dumps(value)
    if target.get("InputTransformer"):
        return render_input_transformer(
            target["InputTransformer"], event, rule.arn, rule.name, ingestion
        )
    return _dumps(event)


# ---------------------------------------------------------------------------------------------
# Delivery


def _arn_parts(arn: str) -> tuple[str, str, str, str]:
    """(service, region, account, resource) of an ARN."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn}")
    return parts[2], parts[3], parts[4], parts[5]


def target_kind(arn: str) -> str:
    service, _, _, resource = _arn_parts(arn)
    if service == "events":
        if resource.startswith("event-bus/"):
            return "bus"
        return "api-destination" if resource.startswith("api-destination/") else "archive"
    return {"sqs": "sqs", "sns": "sns", "states": "sfn", "lambda": "lambda"}.get(service, service)


def _deliver_sqs(rule: Any, target: dict[str, Any], text: str, event: dict[str, Any]) -> None:
    from moto.sqs import sqs_backends

    _, region, account, queue = _arn_parts(target["Arn"])
    group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
    kwargs = {"group_id": group_id} if group_id else {}
    sqs_backends[account][region].send_message(queue, message_body=text, **kwargs)


def _deliver_sns(rule: Any, target: dict[str, Any], text: str, event: dict[str, Any]) -> None:
    from moto.sns import sns_backends

    _, region, account, _ = _arn_parts(target["Arn"])
    sns_backends[account][region].publish(message=text, arn=target["Arn"])


def _deliver_sfn(rule: Any, target: dict[str, Any], text: str, event: dict[str, Any]) -> None:
    from moto.stepfunctions.exceptions import ValidationException
    from moto.stepfunctions.responses import get_backend

    size = len(text.encode("utf-8"))
    if size > MAX_EXECUTION_INPUT_BYTES:
        raise ValidationException(
            f"1 validation error detected: Value at 'input' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_EXECUTION_INPUT_BYTES} "
            f"(input is {size} bytes)"
        )
    _, region, account, _ = _arn_parts(target["Arn"])
    # A fresh name per delivery: with the event id, a second rule targeting the same state
    # machine would hit StartExecution's idempotency and silently start nothing.
    get_backend(account, region).start_execution(
        state_machine_arn=target["Arn"], name=str(uuid.uuid4()), execution_input=text
    )


def _deliver_lambda(rule: Any, target: dict[str, Any], text: str, event: dict[str, Any]) -> None:
    _, region, account, _ = _arn_parts(target["Arn"])
    # EventBridge invokes asynchronously: a function error is the function's business (its own
    # DLQ/destinations), not a failed delivery. The Lambda service records it as lambda_invoked.
    invoke = registry.provided("lambda_", "invoke_function_arn")
    invoke(account, region, target["Arn"], json.loads(text))


def _deliver_bus(rule: Any, target: dict[str, Any], text: str, event: dict[str, Any]) -> None:
    from moto.events.models import events_backends

    _, region, account, resource = _arn_parts(target["Arn"])
    bus = events_backends[account][region]._get_event_bus(resource.split("event-bus/", 1)[1])
    depth = getattr(_hops, "depth", 0)
    if depth >= MAX_BUS_HOPS:
        raise RuntimeError(f"event {event['id']} forwarded across {depth} buses: a loop?")
    _hops.depth = depth + 1
    try:
        for next_rule in list(bus.rules.values()):  # the same event, as AWS forwards it
            next_rule.send_to_targets(dict(event))
    finally:
        _hops.depth = depth


def _deliver_logs(rule: Any, target: dict[str, Any], text: str, event: dict[str, Any]) -> None:
    from moto.logs import logs_backends

    _, region, account, resource = _arn_parts(target["Arn"])
    group = resource.removeprefix("log-group:").removesuffix(":*")
    backend = logs_backends[account][region]
    stream = str(uuid.uuid4())
    backend.create_log_stream(group, stream)
    backend.put_log_events(group, stream, [{"timestamp": int(time.time() * 1000), "message": text}])


# --- analytics export (issue 16): a Firehose target (moto's events cannot deliver to one) ---
def _deliver_firehose(rule: Any, target: dict[str, Any], text: str, event: dict[str, Any]) -> None:
    from moto.firehose.models import firehose_backends

    _, region, account, resource = _arn_parts(target["Arn"])
    stream = resource.split("deliverystream/", 1)[1]
    firehose_backends[account][region].put_record(stream, {"Data": text.encode("utf-8")})


# --- AppSync targets (issue 15): the appsync service runs the mutation as the target's role ---
def _deliver_appsync(rule: Any, target: dict[str, Any], text: str, event: dict[str, Any]) -> None:
    registry.provided("appsync", "deliver_from_eventbridge")(target, text)


_DELIVER = {
    "firehose": _deliver_firehose,
    "sqs": _deliver_sqs,
    "sns": _deliver_sns,
    "sfn": _deliver_sfn,
    "lambda": _deliver_lambda,
    "bus": _deliver_bus,
    "logs": _deliver_logs,
    "appsync": _deliver_appsync,
}


def _deliver_with_moto(
    rule: Any, target: dict[str, Any], event: dict[str, Any], ingestion: str
) -> None:
    """Targets moto already delivers (archives, API destinations): a one-target, match-all copy."""
    from moto.events.models import EventPattern

    single = copy.copy(rule)
    single.targets = [target]
    single.event_pattern = EventPattern(None, {})
    _RULE_SEND_TO_TARGETS.original(single, _moto_form(event, ingestion))


def _error_code(exc: BaseException) -> str:
    """Map an exception to the ERROR_CODE values AWS puts on dead-lettered events."""
    name = f"{type(exc).__name__} {getattr(exc, 'error_type', '')}"
    if any(word in name for word in ("NotFound", "NonExistent", "DoesNotExist")):
        return "NO_RESOURCE"
    if any(
        word in name for word in ("InvalidExecutionInput", "JSONDecode", "InvalidRequestContent")
    ):
        return "INVALID_JSON"
    return "SDK_CLIENT_ERROR"


def _error_message(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message)


def _dead_letter(rule: Any, target: dict[str, Any], event: dict[str, Any], exc: Exception) -> None:
    from moto.sqs import sqs_backends

    code, message = _error_code(exc), _error_message(exc)
    error = f"{code}: {message}"
    dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
    RECORDER.record("target_failed", rule=rule.name, target_arn=target["Arn"], error=error, dlq=dlq)
    if not dlq:
        return  # AWS drops the event
    attributes = {
        "RULE_ARN": rule.arn,
        "TARGET_ARN": target["Arn"],
        "ERROR_CODE": code,
        "ERROR_MESSAGE": message,
        "RETRY_ATTEMPTS": "0",  # non-retriable failures go to the DLQ at once
    }
    try:
        _, region, account, queue = _arn_parts(dlq)
        sqs_backends[account][region].send_message(
            queue,
            message_body=_dumps(event),
            message_attributes={
                key: {"DataType": "String", "StringValue": value}
                for key, value in attributes.items()
            },
        )
    except Exception as dlq_exc:  # AWS counts InvocationsFailedToBeSentToDLQ and drops it
        RECORDER.record("dlq_failed", queue=dlq, rule=rule.name, error=_error_message(dlq_exc))
        return
    RECORDER.record("dlq", queue=dlq, rule=rule.name, target=target["Arn"], error=error)


def _deliver(rule: Any, target: dict[str, Any], event: dict[str, Any], ingestion: str) -> None:
    kind = target_kind(target["Arn"])
    try:
        if kind in _DELIVER:
            text = target_input(rule, target, event, ingestion)
            if text is _MISSING:
                RECORDER.record(
                    "target_failed",
                    rule=rule.name,
                    target_arn=target["Arn"],
                    error="InputPath selects nothing in the event; nothing sent",
                    dlq=None,
                )
                return
            _DELIVER[kind](rule, target, text, event)
        else:
            _deliver_with_moto(rule, target, event, ingestion)
    except NotImplementedError:
        raise  # a target type the local AWS cannot deliver: say so, loudly
    except Exception as exc:
        _dead_letter(rule, target, event, exc)
        return
    RECORDER.record("target_invoked", rule=rule.name, target_arn=target["Arn"], target_kind=kind)


# A rule's pattern compiled once, by its text: every rule on a bus sees every event, and a
# rule's pattern never changes (PutRule gives the rule a new pattern object).
_COMPILED: dict[str, Any] = {}
_COMPILED_MAX = 4096


def _rule_fires(rule: Any, event: dict[str, Any]) -> bool:
    from payops import patterns

    if not str(rule.state).startswith("ENABLED"):
        return False
    text = rule.event_pattern.dump()
    if text is None:
        return False  # a schedule-only rule never matches events
    compiled = _COMPILED.get(text)
    if compiled is None:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        compiled = _COMPILED[text] = patterns.compile_pattern(rule.event_pattern.get_pattern())
    return bool(compiled.matches(event))


def _send_to_targets(
    self: Any, original_event: dict[str, Any], transform_input: bool = True
) -> None:
    # `transform_input=False` (moto's replays and S3 notifications) is moto's shortcut; AWS
    # applies the target input to those events too.
    # Matched on moto's detail, copied only for a rule that fires: every rule on the bus sees
    # every event, and most do not match.
    event, ingestion = _aws_event(original_event, copy_detail=False)
    if not _rule_fires(self, event):
        return
    event["detail"] = json.loads(json.dumps(event["detail"]))  # targets must not share it
    RECORDER.record(
        "rule_matched",
        bus=self.event_bus_name,
        rule=self.name,
        event_id=event["id"],
        detail_type=event["detail-type"],
        source=event.get("source"),
    )
    for target in list(self.targets):
        _deliver(self, target, event, ingestion)


# ---------------------------------------------------------------------------------------------
# Patterns, TestEventPattern


# ---------------------------------------------------------------------------------------------
# Partner buses, reserved sources


# ---------------------------------------------------------------------------------------------
# Replays from an archive


# ---------------------------------------------------------------------------------------------
# Install


# The moto attributes this module replaces.
_RULE_SEND_TO_TARGETS = Patch("moto.events.models:Rule", "send_to_targets", _send_to_targets)
PATCHES = (_RULE_SEND_TO_TARGETS,)
