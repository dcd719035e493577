"""Event bus resource policies on PutEvents: the pinned moto stores a bus's policy and never
reads it.

AWS evaluates the bus policy on every PutEvents: an explicit Deny in it refuses the entry for
that caller, whatever the caller's own IAM policies allow. The webhook stack relies on that (its
bus denies PutEvents to every principal but the receiver's role), so the local AWS must too:

- `EventsHandler.put_events` records who signed the request: the role of an STS session (moto's
  assumed roles, as the Lambda bridge gives each function its execution role), an IAM user's
  access key, or else the account root (moto's default test credentials);
- `EventsBackend.put_events` then refuses each entry whose bus policy has a matching Deny
  (Principal, Action, Resource and Condition: Arn*, String*, Bool), with
  AccessDeniedException in that entry, as AWS reports it.

A caller can never name a partner event bus (`aws.partner/stripe.com/...`, or its ARN) in
PutEvents: AWS validates EventBusName against botocore's `NonPartnerEventBusNameOrArn` pattern and
refuses the whole request with a ValidationException, which the pinned moto does not. Only the
partner (Stripe) puts onto its bus: `bus.deliver_partner_event` emulates that delivery.

Allow statements are not evaluated: in one account moto lets every principal act (it checks no
identity policies), so only an explicit Deny can change the outcome. Calls made by AWS itself
(partner sources, archive replays, bus-to-bus targets) carry no caller and are not checked.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
import threading
from typing import Any

from payops.localaws.core.conditions import condition_holds
from payops.localaws.core.patch import Patch

_caller = threading.local()


def principal_arn(account_id: str, access_key_id: str) -> str:
    """The aws:PrincipalArn of a request signed with `access_key_id` in moto's backends."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for partition_backend in sts_backends[account_id].values():
        for session in partition_backend.assumed_roles:
            if session.access_key_id == access_key_id:
                return session.role_arn  # aws:PrincipalArn of a role session is the role's ARN
    for iam in iam_backends[account_id].values():
        for user in iam.users.values():
            if any(key.access_key_id == access_key_id for key in user.access_keys):
                return user.arn
    return f"arn:aws:iam::{account_id}:root"


@functools.cache
def _event_bus_name_pattern() -> tuple[str, re.Pattern[str]]:
    """botocore's NonPartnerEventBusNameOrArn pattern for PutEvents' EventBusName, compiled."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("events")
    member = model.shape_for("PutEventsRequestEntry").members["EventBusName"]
    text = str(member.metadata["pattern"])
    return text, re.compile(text)


def partner_bus_refusal(entries: list[dict[str, Any]]) -> str | None:
    """AWS's ValidationException message when an entry names a bus outside the pattern (a
    partner bus, by name or ARN), else None."""
    text, compiled = _event_bus_name_pattern()
    problems = [
        f"Value '{entry['EventBusName']}' at 'entries.{index}.member.eventBusName' failed to "
        f"satisfy constraint: Member must satisfy regular expression pattern: {text}"
        for index, entry in enumerate(entries, start=1)
        if isinstance(entry, dict)
        and entry.get("EventBusName")
        and not compiled.fullmatch(str(entry["EventBusName"]))
    ]
    if not problems:
        return None
    count = len(problems)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems)


def _handler_put_events(self: Any) -> str:
    from moto.events.exceptions import ValidationException

    refused = partner_bus_refusal(self._get_param("Entries") or [])
    if refused is not None:
        raise ValidationException(refused)
    account = self.get_current_account()
    _caller.arn = principal_arn(account, self.get_access_key())
    _caller.account = account
    try:
        return _EVENTS_HANDLER_PUT_EVENTS.original(self)
    finally:
        _caller.arn = None


def current_caller() -> tuple[str, str] | None:
    arn = getattr(_caller, "arn", None)
    return (arn, _caller.account) if arn else None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, arn: str, account: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        for aws in _as_list(principal.get("AWS", [])):
            aws = str(aws)
            if aws in ("*", arn, account, f"arn:aws:iam::{account}:root"):
                return True
    return False


def denied(bus: Any, entry: dict[str, Any], caller: tuple[str, str]) -> str | None:
    """The Sid of the Deny statement in `bus`'s policy that refuses this caller, if any."""
    if not bus.policy:
        return None
    arn, account = caller
    context = {
        "aws:principalarn": arn,
        "aws:principalaccount": account,
        "aws:principalisawsservice": "false",  # a signed request: an IAM principal
        "events:source": str(entry.get("Source") or ""),
        "events:detail-type": str(entry.get("DetailType") or ""),
    }
    for statement in json.loads(bus.policy)["Statement"]:
        if statement.get("Effect") != "Deny":
            continue
        actions = [str(a) for a in _as_list(statement.get("Action", []))]
        if not any(fnmatch.fnmatchcase("events:PutEvents", a) for a in actions):
            continue
        resources = [str(r) for r in _as_list(statement.get("Resource", "*"))]
        if not any(fnmatch.fnmatchcase(bus.arn, r) for r in resources):
            continue
        if _principal_matches(statement.get("Principal"), arn, account) and condition_holds(
            statement.get("Condition") or {}, context
        ):
            return str(statement.get("Sid", ""))
    return None


def refusal(backend: Any, entry: dict[str, Any]) -> dict[str, str] | None:
    """The entry's error when the caller of this PutEvents is denied by the bus policy."""
    caller = current_caller()
    if caller is None:
        return None
    try:
        bus = backend._get_event_bus(entry.get("EventBusName") or "default")
    except Exception:  # an unknown bus: moto reports it itself
        return None
    if denied(bus, entry, caller) is None:
        return None
    return {
        "ErrorCode": "AccessDeniedException",
        "ErrorMessage": f"User: {caller[0]} is not authorized to perform: events:PutEvents on "
        f"resource: {bus.arn} with an explicit deny in a resource-based policy",
    }


# The moto attributes this module replaces.
_EVENTS_HANDLER_PUT_EVENTS = Patch(
    "moto.events.responses:EventsHandler", "put_events", _handler_put_events
)
PATCHES = (_EVENTS_HANDLER_PUT_EVENTS,)
