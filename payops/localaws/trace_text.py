"""What an EventTrace says about an execution's end and a sent email, as the AWS APIs name them."""

from __future__ import annotations

import re
from typing import Any


def execution_error(history: list[dict[str, Any]], status: str) -> str:
    """The error and cause an execution ended with, as Step Functions reports them."""
    for event in reversed(history):
        for key in (
            "executionFailedEventDetails",
            "executionTimedOutEventDetails",
            "executionAbortedEventDetails",
        ):
            details = event.get(key)
            if details:
                error, cause = details.get("error", status), details.get("cause")
                return f"{error}: {cause}" if cause else str(error)
    return status


def email_summary(message: Any) -> dict[str, str]:
    to = getattr(message, "destinations", None) or getattr(message, "destination", None) or {}
    if isinstance(to, dict):
        addresses = to.get("ToAddresses", []) or to.get("to_addresses", [])
    else:
        addresses = list(to)
    subject = getattr(message, "subject", None)
    if subject is None:
        raw = getattr(message, "raw_data", "") or ""
        subject = next(
            (line[9:] for line in raw.splitlines() if line.lower().startswith("subject: ")), ""
        )
    return {"to": ", ".join(addresses), "subject": str(subject)}


def shorten(name: str, prefix: str) -> str:
    return name[len(prefix) :] if name.startswith(prefix) else name


_CDK_HASH = re.compile(r"[0-9A-F]{8}$")


def friendly_names(physical_ids: dict[str, str]) -> dict[str, str]:
    """Physical name (or the last part of an ARN / URL) -> the construct path CDK named it from.

    CloudFormation names topics, queues and tables "<LogicalId>-<random>"; the trace shows
    "NotificationsOrders" rather than "NotificationsOrdersE5BDA9DE-0YUHKLBMONZV".
    """
    names = {}
    for logical, physical in physical_ids.items():
        short = re.split(r"[:/]", physical)[-1]
        names[short] = _CDK_HASH.sub("", logical)
    return names
