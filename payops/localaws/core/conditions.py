"""IAM policy Condition blocks evaluated against a call to the local AWS: one evaluator for every
bridge that reads a policy (S3 bucket policies, EventBridge bus policies).

`condition_holds` knows String* (and ...IgnoreCase), Arn*, Numeric*, Bool and Null, with
...IfExists and the ForAnyValue: / ForAllValues: qualifiers, as IAM evaluates them: a key the
request does not carry makes a condition false, except for negated operators (StringNotEquals,
ArnNotLike, ...), IfExists and ForAllValues, where it is true. An operator it does not know is an
error naming it (`UnsupportedCondition`): a policy is never read as if that condition were not
there. The default request context is what a call to the local endpoint stands for: AWS's HTTPS
endpoint (`REQUEST_CONTEXT`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

# What a request to the local endpoint stands for: AWS's HTTPS endpoint.
REQUEST_CONTEXT = {"aws:securetransport": "true", "s3:tlsversion": "1.3"}


class UnsupportedCondition(ValueError):
    """A Condition operator the local AWS does not evaluate."""


def _like(actual: str, wanted: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(actual, w) for w in wanted)


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, list[str]], bool]:
    return lambda actual, wanted: any(compare(float(actual), float(w)) for w in wanted)


# Positive operators: (actual, wanted values) -> matched. A negated one is its positive's "not".
_MATCHERS: dict[str, Callable[[str, list[str]], bool]] = {
    "StringEquals": lambda actual, wanted: actual in wanted,
    "StringEqualsIgnoreCase": lambda actual, wanted: actual.lower() in [w.lower() for w in wanted],
    "StringLike": _like,
    "ArnEquals": lambda actual, wanted: actual in wanted,
    "ArnLike": _like,
    "Bool": lambda actual, wanted: actual.lower() in [w.lower() for w in wanted],
    "NumericEquals": _numeric(lambda a, b: a == b),
    "NumericLessThan": _numeric(lambda a, b: a < b),
    "NumericLessThanEquals": _numeric(lambda a, b: a <= b),
    "NumericGreaterThan": _numeric(lambda a, b: a > b),
    "NumericGreaterThanEquals": _numeric(lambda a, b: a >= b),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def _entry_holds(operator: str, actual: str | None, wanted: list[str]) -> bool:
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise UnsupportedCondition(f"condition operator {operator!r}: unknown qualifier")
    if base == "Null":
        return (actual is None) == (wanted[0].lower() == "true")
    positive = _NEGATED.get(base, base)
    if positive not in _MATCHERS:
        raise UnsupportedCondition(
            f"condition operator {operator!r} is not evaluated by the local AWS "
            f"(it knows {', '.join(sorted([*_MATCHERS, *_NEGATED, 'Null']))})"
        )
    if actual is None:  # the request does not carry the key
        return if_exists or qualifier == "ForAllValues" or (base in _NEGATED and not qualifier)
    matched = _MATCHERS[positive](actual, wanted)
    return not matched if base in _NEGATED else matched


def condition_holds(conditions: dict[str, Any], context: dict[str, str] | None = None) -> bool:
    """An IAM Condition block against the request context (keys lower-case): every entry must
    hold. Raises UnsupportedCondition for an operator it does not know."""
    context = REQUEST_CONTEXT if context is None else context
    for operator, entries in (conditions or {}).items():
        for key, expected in entries.items():
            wanted = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
            if not _entry_holds(operator, context.get(key.lower()), wanted):
                return False
    return True
