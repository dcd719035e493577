"""EventBridge event patterns: validation and matching, faithful to AWS.

This is the project's source of truth for "would EventBridge deliver this event to this rule?"
(moto's matcher is wrong in places). Behaviour follows the EventBridge user guide and Event Ruler,
the open-source library EventBridge runs on (github.com/aws/event-ruler), including:

- Keys AND together; the values in a leaf array OR together; an event array matches when any
  element matches. Arrays in the event are flattened: `{"items": {"sku": ["a"]}}` looks inside
  every object of `items`, nested arrays included.
- Array consistency (Ruler's `rulesForJSONEvent`): two fields matched inside one event array must
  come from the same element. Pass `array_consistent=False` for field-by-field matching.
- Values are typed: "5" never matches 5, 0 never matches false; 5 matches 5.0.
- Only leaves are fields: an object or an empty array is "not there" for `exists` and fails every
  other matcher. `anything-but` matches any present leaf outside its set, null and numbers too.
- Dotted keys are joined the Ruler way: pattern key "a.b" also matches event {"a": {"b": ...}}.

Patterns that EventBridge rejects raise PatternError; so do a few it accepts but that are almost
certainly mistakes (an operator written as a field name, one field given twice in a branch).
Not modelled: the wildcard "rule is too complex" limit, numeric range/precision limits (±5e9,
six decimals) and Ruler's IP-address normalisation of plain string values.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import math
import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "OPERATORS",
    "CompiledPattern",
    "PatternError",
    "compile_pattern",
    "matches",
    "validate_pattern",
]

OPERATORS = (
    "anything-but",
    "cidr",
    "equals-ignore-case",
    "exists",
    "numeric",
    "prefix",
    "suffix",
    "wildcard",
)
_ANYTHING_BUT_OPERATORS = ("equals-ignore-case", "prefix", "suffix", "wildcard")
_LOWER_BOUNDS = (">", ">=")
_UPPER_BOUNDS = ("<", "<=")
_NUMERIC_OPERATORS = ("<", "<=", "=", ">", ">=")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$-]+")

Test = Callable[[Any], bool]
Membership = tuple[tuple[int, int], ...]  # (id of an event array, element index), outermost first


class PatternError(ValueError):
    """Invalid pattern.

    .path is a JSONPath-ish location like '$.detail.data.object.amount_total[0]', .reason is the
    human text; str(err) == f"{path}: {reason}".
    """

    path: str
    reason: str

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type[PatternError], tuple[str, str]]:
        return (PatternError, (self.path, self.reason))


# ---------------------------------------------------------------------------------------------
# Public API


def validate_pattern(pattern: object) -> None:
    """Raise PatternError for anything EventBridge would reject (or that we refuse)."""
    compile_pattern(pattern)


def matches(pattern: dict, event: dict, *, array_consistent: bool = True) -> bool:
    """True when EventBridge would deliver `event` (a full envelope dict: version, id, detail-type,
    source, account, time, region, resources, detail) to a rule with `pattern`.

    Raises PatternError for an invalid pattern (never "matches everything"). To match one pattern
    against many events, compile it once with compile_pattern().
    """
    return compile_pattern(pattern, array_consistent=array_consistent).matches(event)


def compile_pattern(pattern: object, *, array_consistent: bool = True) -> CompiledPattern:
    """Validate `pattern` and return a reusable matcher (the pattern is not referenced later)."""
    if not isinstance(pattern, dict):
        raise PatternError("$", f"a pattern must be a JSON object, got {_kind(pattern)}")
    branches = _compile_object(pattern, (), "$", [{}], in_or=False)
    return CompiledPattern(
        tuple(tuple(sorted(branch.values(), key=_Condition.sort_key)) for branch in branches),
        array_consistent,
    )


class CompiledPattern:
    """A validated pattern in disjunctive form: the event matches if any branch matches."""

    __slots__ = ("_branches", "_array_consistent")

    def __init__(self, branches: tuple[tuple[_Condition, ...], ...], array_consistent: bool):
        self._branches = branches
        self._array_consistent = array_consistent

    def matches(self, event: dict) -> bool:
        if not isinstance(event, dict):
            raise TypeError(f"an event must be a dict, got {type(event).__name__}")
        return any(self._branch_matches(branch, event) for branch in self._branches)

    def _branch_matches(self, conditions: tuple[_Condition, ...], event: dict) -> bool:
        found: list[tuple[list[Membership], list[Membership] | None]] = []
        simple = True  # no event arrays involved: array consistency cannot fail
        for condition in conditions:
            leaves = condition.leaves(event)
            hits = [membership for value, membership in leaves if condition.test(value)]
            if not hits and not (condition.absent and (not leaves or self._array_consistent)):
                return False
            absent_blockers = [m for _, m in leaves] if condition.absent else None
            if simple and any(m for _, m in leaves):
                simple = False
            found.append((hits, absent_blockers))
        if simple or not self._array_consistent:
            return all(hits or not blockers for hits, blockers in found)
        return _consistent(found, 0, (), {})


# ---------------------------------------------------------------------------------------------
# Matching


class _Condition:
    """One pattern leaf: a dotted field path and the OR of its match values."""

    __slots__ = (
        *("path", "where", "absent", "_keys", "_depth"),
        *("_strings", "_numbers", "_bools", "_null", "_any", "_tests"),
    )

    def __init__(self, segments: tuple[str, ...], where: str) -> None:
        self.path = ".".join(segments)
        self.where = where
        self._keys = _event_keys(segments)
        self._depth = len(segments)
        self._strings: set[str] = set()
        self._numbers: set[int | float] = set()
        self._bools: set[bool] = set()
        self._null = False
        self._any = False  # exists: true
        self._tests: list[Test] = []
        self.absent = False  # exists: false

    @staticmethod
    def sort_key(condition: _Condition) -> str:
        # Ruler walks a rule's fields in sorted order; exists:false sees only earlier fields.
        return condition.path

    def test(self, value: Any) -> bool:
        if self._any:
            return True
        if isinstance(value, str):
            if value in self._strings:
                return True
        elif isinstance(value, bool):  # before int: bool is an int subclass
            if value in self._bools:
                return True
        elif isinstance(value, int | float):
            if value in self._numbers:
                return True
        elif value is None and self._null:
            return True
        return any(test(value) for test in self._tests)

    def leaves(self, event: dict) -> list[tuple[Any, Membership]]:
        found: list[tuple[Any, Membership]] = []
        _collect(event, self._keys, 0, self._depth, (), found)
        return found


@functools.lru_cache(maxsize=4096)
def _event_keys(segments: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Ruler joins event keys with "." too, so a run of segments may also be one dotted event key:
    result[i][k] is the event key that consumes segments i..i+k."""
    return tuple(
        tuple(".".join(segments[i:j]) for j in range(i + 1, len(segments) + 1))
        for i in range(len(segments))
    )


def _collect(
    node: Any,
    keys: tuple[tuple[str, ...], ...],
    i: int,
    depth: int,
    membership: Membership,
    out: list[tuple[Any, Membership]],
) -> None:
    """Append every leaf value at keys[i:] below node, with the array elements it sits in."""
    if isinstance(node, list):
        array = id(node)
        for index, element in enumerate(node):
            _collect(element, keys, i, depth, (*membership, (array, index)), out)
    elif i == depth:
        if not isinstance(node, dict):  # an object is not a leaf
            out.append((node, membership))
    elif isinstance(node, dict):
        for consumed, key in enumerate(keys[i], start=1):
            if key in node:
                _collect(node[key], keys, i + consumed, depth, membership, out)


def _merge(a: Membership, b: Membership) -> Membership | None:
    """Union of two memberships, or None when they pick different elements of one array."""
    if not b:
        return a
    if not a:
        return b
    merged = dict(a)
    for array, index in b:
        seen = merged.setdefault(array, index)
        if seen != index:
            return None
    return tuple(merged.items())


def _consistent(
    found: list[tuple[list[Membership], list[Membership] | None]],
    i: int,
    membership: Membership,
    failed: dict[tuple[int, Membership], bool],
) -> bool:
    """Search for one hit per condition with mutually consistent array elements."""
    if i == len(found):
        return True
    if (i, membership) in failed:
        return False
    hits, blockers = found[i]
    for hit in dict.fromkeys(hits):
        merged = _merge(membership, hit)
        if merged is not None and _consistent(found, i + 1, merged, failed):
            return True
    # exists:false holds when no leaf at the path is consistent with the fields matched so far.
    if blockers is not None and all(_merge(membership, m) is None for m in blockers):
        if _consistent(found, i + 1, membership, failed):
            return True
    failed[(i, membership)] = True
    return False


# ---------------------------------------------------------------------------------------------
# Compiling and validating

Branch = dict[str, _Condition]


def _compile_object(
    obj: dict, segments: tuple[str, ...], where: str, branches: list[Branch], in_or: bool
) -> list[Branch]:
    if not obj:
        raise PatternError(where, "empty objects are not allowed")
    for key, value in obj.items():
        if not isinstance(key, str):
            raise PatternError(where, f"keys must be strings, got {key!r}")
        if key == "$or":
            branches = _compile_or(value, segments, _child(where, key), branches)
            continue
        here = _child(where, key)
        if in_or and key in OPERATORS:
            raise PatternError(here, f"{key!r} is an operator name, not a field, inside $or")
        path = (*segments, *key.split("."))
        if isinstance(value, dict):
            branches = _compile_object(value, path, here, branches, in_or)
        elif isinstance(value, list):
            if key in OPERATORS:
                raise PatternError(
                    here,
                    f"{key!r} is an operator, so it goes inside the field's list: "
                    f'"<field>": [{{"{key}": ...}}] (EventBridge would read it as a field name)',
                )
            condition = _compile_leaf(value, path, here)
            for branch in branches:
                earlier = branch.get(condition.path)
                if earlier is not None:
                    raise PatternError(
                        here, f"field {condition.path!r} is already matched at {earlier.where}"
                    )
                branch[condition.path] = condition
        else:
            hint = ""
            if key in OPERATORS or _suggest(key, OPERATORS):
                hint = '; operators go inside the field\'s list, e.g. [{"prefix": "x"}]'
            raise PatternError(
                here, f"must be an object or a non-empty array, got {_kind(value)}{hint}"
            )
    return branches


def _compile_or(
    value: Any, segments: tuple[str, ...], where: str, branches: list[Branch]
) -> list[Branch]:
    if not isinstance(value, list):
        raise PatternError(where, f"$or must be an array of objects, got {_kind(value)}")
    if len(value) < 2:
        raise PatternError(where, f"$or needs at least 2 objects, got {len(value)}")
    result: list[Branch] = []
    for i, option in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(option, dict):
            raise PatternError(here, f"each $or entry must be an object, got {_kind(option)}")
        copies = [dict(branch) for branch in branches]
        result.extend(_compile_object(option, segments, here, copies, in_or=True))
    return result


def _compile_leaf(values: list, segments: tuple[str, ...], where: str) -> _Condition:
    if not values:
        raise PatternError(where, "empty arrays are not allowed")
    condition = _Condition(segments, where)
    for i, value in enumerate(values):
        here = f"{where}[{i}]"
        if isinstance(value, str):
            condition._strings.add(value)
        elif isinstance(value, bool):
            condition._bools.add(value)
        elif isinstance(value, int | float):
            condition._numbers.add(_finite(value, here, "a match value"))
        elif value is None:
            condition._null = True
        elif isinstance(value, dict):
            _compile_operator(value, condition, here)
        elif isinstance(value, list):
            raise PatternError(here, "nested arrays are not allowed in a pattern leaf")
        else:
            raise PatternError(
                here, f"match values must be string, number, true, false or null, got {value!r}"
            )
    return condition


def _compile_operator(expression: dict, condition: _Condition, where: str) -> None:
    if len(expression) != 1:
        if not expression:
            raise PatternError(where, 'empty match expression; expected e.g. {"prefix": "x"}')
        names = ", ".join(repr(k) for k in expression)
        raise PatternError(where, f"a match expression takes exactly one operator, got {names}")
    [(operator, argument)] = expression.items()
    if operator == "exists":
        if not isinstance(argument, bool):
            raise PatternError(where, f"exists takes true or false, got {_kind(argument)}")
        if argument:
            condition._any = True
        else:
            condition.absent = True
        return
    compiler = _COMPILERS.get(operator)
    if compiler is None:
        raise PatternError(where, _unknown(operator, OPERATORS, "operator"))
    condition._tests.append(compiler(argument, where))


def _prefix(argument: Any, where: str) -> Test:
    if isinstance(argument, str):
        return lambda v: isinstance(v, str) and v.startswith(argument)
    folded = _ignore_case_argument(argument, "prefix", where).lower()
    return lambda v: isinstance(v, str) and v.lower().startswith(folded)


def _suffix(argument: Any, where: str) -> Test:
    if isinstance(argument, str):
        return lambda v: isinstance(v, str) and v.endswith(argument)
    folded = _ignore_case_argument(argument, "suffix", where).lower()
    return lambda v: isinstance(v, str) and v.lower().endswith(folded)


def _ignore_case_argument(argument: Any, operator: str, where: str) -> str:
    usage = f'{operator} takes a string or {{"equals-ignore-case": "<string>"}}'
    if not isinstance(argument, dict):
        raise PatternError(where, f"{usage}, got {_kind(argument)}")
    if list(argument) != ["equals-ignore-case"]:
        keys = ", ".join(repr(k) for k in argument) or "nothing"
        hint = _suggest(next(iter(argument), ""), ("equals-ignore-case",))
        raise PatternError(where, f"{usage}, got {keys}{hint}")
    value = argument["equals-ignore-case"]
    if not isinstance(value, str):
        raise PatternError(where, f"{usage}, got {_kind(value)} for equals-ignore-case")
    return value


def _equals_ignore_case(argument: Any, where: str) -> Test:
    if not isinstance(argument, str):
        raise PatternError(where, f"equals-ignore-case takes a string, got {_kind(argument)}")
    folded = argument.lower()
    return lambda v: isinstance(v, str) and v.lower() == folded


def _wildcard_test(argument: Any, where: str) -> Test:
    regex = _wildcard_regex(argument, "wildcard", where)
    return lambda v: isinstance(v, str) and regex(v) is not None


def _wildcard_regex(argument: Any, operator: str, where: str) -> Callable[[str], Any]:
    """'*' is any run of characters; '\\*' a literal star and '\\\\' a literal backslash."""
    if not isinstance(argument, str):
        raise PatternError(where, f"{operator} takes a string, got {_kind(argument)}")
    parts: list[str] = []
    i = 0
    previous_star = False
    while i < len(argument):
        char = argument[i]
        if char == "*":
            if previous_star:
                raise PatternError(
                    where, f"{operator}: consecutive wildcard characters at position {i}"
                )
            parts.append(".*")
            previous_star = True
        elif char == "\\":
            escaped = argument[i + 1 : i + 2]
            if escaped not in ("*", "\\"):
                raise PatternError(
                    where, f"{operator}: a backslash may only escape '*' or '\\' (position {i})"
                )
            parts.append(re.escape(escaped))
            previous_star = False
            i += 1
        else:
            parts.append(re.escape(char))
            previous_star = False
        i += 1
    return re.compile("".join(parts), re.DOTALL).fullmatch


def _numeric(argument: Any, where: str) -> Test:
    usage = 'numeric takes [op, number] or [">"|">=", number, "<"|"<=", number]'
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        got = f"{len(argument)} items" if isinstance(argument, list) else _kind(argument)
        raise PatternError(where, f"{usage}, got {got}")
    ops = argument[0::2]
    bounds = argument[1::2]
    for op in ops:
        if op not in _NUMERIC_OPERATORS:
            shown = op if isinstance(op, str) else _kind(op)
            raise PatternError(where, f"numeric: unknown comparison {shown!r} (use < <= = > >=)")
    for op, bound in zip(ops, bounds, strict=True):
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise PatternError(where, f"numeric: the value after {op!r} must be a number")
        _finite(bound, where, "a numeric bound")
    if len(ops) == 2:
        if ops[0] not in _LOWER_BOUNDS or ops[1] not in _UPPER_BOUNDS:
            raise PatternError(where, f"{usage}; a range is a lower bound then an upper bound")
        if not bounds[0] < bounds[1]:
            raise PatternError(where, "numeric: the lower bound must be below the upper bound")
    checks = tuple(_COMPARE[op](bound) for op, bound in zip(ops, bounds, strict=True))
    return lambda v: _is_number(v) and all(check(v) for check in checks)


_COMPARE: dict[str, Callable[[float], Test]] = {
    "<": lambda b: lambda v: v < b,
    "<=": lambda b: lambda v: v <= b,
    "=": lambda b: lambda v: v == b,
    ">": lambda b: lambda v: v > b,
    ">=": lambda b: lambda v: v >= b,
}


def _cidr(argument: Any, where: str) -> Test:
    if not isinstance(argument, str):
        raise PatternError(where, f"cidr takes a string like '10.0.0.0/24', got {_kind(argument)}")
    address, slash, bits = argument.partition("/")
    if not slash or "/" in bits:
        raise PatternError(where, f"cidr {argument!r}: needs exactly one '/'")
    if not bits.isdigit():
        raise PatternError(where, f"cidr {argument!r}: mask bits must be an integer")
    try:
        network = ipaddress.ip_network(argument, strict=False)
    except ValueError as err:
        raise PatternError(where, f"cidr {argument!r}: {err}") from None

    def test(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            return ipaddress.ip_address(value) in network
        except ValueError:
            return False

    return test


def _anything_but(argument: Any, where: str) -> Test:
    usage = (
        "anything-but takes a string, a number, a list of strings or of numbers, "
        "or {prefix|suffix|equals-ignore-case|wildcard: ...}"
    )
    if isinstance(argument, str):
        return lambda v: not (isinstance(v, str) and v == argument)
    if _is_number(argument):
        number = _finite(argument, where, "an anything-but value")
        return lambda v: not (_is_number(v) and v == number)
    if isinstance(argument, list):
        if not argument:
            raise PatternError(where, "anything-but list must not be empty")
        for item in argument:
            if not isinstance(item, str) and not _is_number(item):
                usage = "anything-but list items must be strings or numbers"
                raise PatternError(where, f"{usage}, got {_kind(item)}")
        if all(isinstance(item, str) for item in argument):
            strings = frozenset(argument)
            return lambda v: not (isinstance(v, str) and v in strings)
        if all(_is_number(item) for item in argument):
            numbers = frozenset(_finite(n, where, "an anything-but value") for n in argument)
            return lambda v: not (_is_number(v) and v in numbers)
        raise PatternError(where, "anything-but list must be all strings or all numbers")
    if isinstance(argument, dict):
        if len(argument) != 1:
            names = ", ".join(repr(k) for k in argument) or "nothing"
            raise PatternError(where, f"{usage}; got an object with {names}")
        [(operator, inner)] = argument.items()
        if operator not in _ANYTHING_BUT_OPERATORS:
            if operator in OPERATORS:
                raise PatternError(where, f"anything-but cannot wrap {operator!r}; {usage}")
            raise PatternError(where, _unknown(operator, _ANYTHING_BUT_OPERATORS, "anything-but"))
        return _anything_but_operator(operator, inner, where)
    raise PatternError(where, f"{usage}, got {_kind(argument)}")


def _anything_but_operator(operator: str, inner: Any, where: str) -> Test:
    items = inner if isinstance(inner, list) else [inner]
    if not items:
        raise PatternError(where, f"anything-but {operator} list must not be empty")
    for item in items:
        if not isinstance(item, str):
            usage = f"anything-but {operator} takes a string or a list of strings"
            raise PatternError(where, f"{usage}, got {_kind(item)}")
        if operator in ("prefix", "suffix") and not item:
            raise PatternError(where, f"anything-but {operator} must not be empty")
    if operator == "prefix":
        prefixes = tuple(items)
        return lambda v: not (isinstance(v, str) and v.startswith(prefixes))
    if operator == "suffix":
        suffixes = tuple(items)
        return lambda v: not (isinstance(v, str) and v.endswith(suffixes))
    if operator == "equals-ignore-case":
        folded = frozenset(item.lower() for item in items)
        return lambda v: not (isinstance(v, str) and v.lower() in folded)
    regexes = tuple(_wildcard_regex(item, "anything-but wildcard", where) for item in items)
    return lambda v: not (isinstance(v, str) and any(r(v) is not None for r in regexes))


_COMPILERS: dict[str, Callable[[Any, str], Test]] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard_test,
    "numeric": _numeric,
    "cidr": _cidr,
    "anything-but": _anything_but,
}


# ---------------------------------------------------------------------------------------------
# Helpers


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(number: int | float, where: str, what: str) -> int | float:
    if isinstance(number, float) and not math.isfinite(number):
        raise PatternError(where, f"{what} must be a finite JSON number, got {number!r}")
    return number


def _suggest(name: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name.lower(), choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown(name: str, choices: tuple[str, ...], what: str) -> str:
    hint = _suggest(name, choices) or f" (known: {', '.join(choices)})"
    return f"unknown {what} {name!r}{hint}"


@functools.lru_cache(maxsize=4096)
def _child(where: str, key: str) -> str:
    return f"{where}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{where}[{key!r}]"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
