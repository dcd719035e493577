"""What an EventTrace says about an execution's end and a sent email, as the AWS APIs name them."""

from __future__ import annotations

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
