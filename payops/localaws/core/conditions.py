"""IAM policy Condition blocks evaluated against a call to the local AWS, which stands for AWS's
HTTPS endpoint (`REQUEST_CONTEXT`). `condition_holds` knows StringEquals/NotEquals/Like/NotLike,
Numeric*, Bool and Null (and ...IfExists); an unknown operator does not hold. Used by the S3
bucket-policy bridge.
"""

from __future__ import annotations

import fnmatch
from typing import Any

# What a request to the local endpoint stands for: AWS's HTTPS endpoint.
REQUEST_CONTEXT = {"aws:securetransport": "true", "s3:tlsversion": "1.3"}


_NUMERIC = {
    "NumericEquals": lambda a, b: a == b,
    "NumericNotEquals": lambda a, b: a != b,
    "NumericLessThan": lambda a, b: a < b,
    "NumericLessThanEquals": lambda a, b: a <= b,
    "NumericGreaterThan": lambda a, b: a > b,
    "NumericGreaterThanEquals": lambda a, b: a >= b,
}


def condition_holds(conditions: dict[str, Any], context: dict[str, str] | None = None) -> bool:
    """An IAM Condition block against the request context; unknown operators do not hold."""
    context = REQUEST_CONTEXT if context is None else context
    for operator, entries in conditions.items():
        base = operator.removesuffix("IfExists")
        for key, expected in entries.items():
            wanted = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
            actual = context.get(key.lower())
            if base == "Null":
                holds = (actual is None) == (wanted[0].lower() == "true")
            elif actual is None:
                holds = operator.endswith("IfExists")
            elif base == "Bool":
                holds = actual.lower() in [w.lower() for w in wanted]
            elif base == "StringEquals":
                holds = actual in wanted
            elif base == "StringNotEquals":
                holds = actual not in wanted
            elif base in ("StringLike", "StringNotLike"):
                matched = any(fnmatch.fnmatchcase(actual, w) for w in wanted)
                holds = matched if base == "StringLike" else not matched
            elif base in _NUMERIC:
                holds = any(_NUMERIC[base](float(actual), float(w)) for w in wanted)
            else:
                holds = False
            if not holds:
                return False
    return True
