"""EventBridge event pattern semantics, as payops.patterns implements them.

Sources cited below:
- [UG]  EventBridge user guide: content filtering, arrays, exists, null/empty values.
- [RUL] aws/event-ruler README and JsonRuleCompiler (the library EventBridge runs on).
- [REC] AWS-recorded TestEventPattern fixtures (LocalStack's event_pattern_templates/<name>,
        snapshot-verified against real EventBridge); the fixture name follows the tag.
"""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import pytest

from payops.patterns import PatternError, compile_pattern, matches, validate_pattern

STRIPE_SOURCE = "aws.partner/stripe.com/ed_x"


def envelope(detail: Any = None, **top: Any) -> dict[str, Any]:
    """A full EventBridge envelope; keyword names use '_' for '-'."""
    event = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "test",
        "source": "test.source",
        "account": "123456789012",
        "time": "2024-05-01T00:00:00Z",
        "region": "ap-northeast-1",
        "resources": [],
        "detail": {} if detail is None else detail,
    }
    event.update({key.replace("_", "-"): value for key, value in top.items()})
    return event


def stripe(
    event_type: str = "checkout.session.completed",
    obj: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Stripe Event as the partner event source delivers it."""
    data: dict[str, Any] = {"object": obj if obj is not None else session()}
    if previous is not None:
        data["previous_attributes"] = previous
    detail = {"id": "evt_1", "object": "event", "type": event_type, "data": data}
    return envelope(detail, detail_type=event_type, source=STRIPE_SOURCE)


def session(**fields: Any) -> dict[str, Any]:
    obj = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "payment_status": "paid",
        "amount_total": 30000,
        "currency": "jpy",
        "line_items": {
            "data": [
                {"price": {"id": "price_basic"}, "quantity": 1},
                {"price": {"id": "price_pro"}, "quantity": 2},
            ]
        },
    }
    obj.update(fields)
    return obj


def line_item(price: str, quantity: int) -> dict[str, Any]:
    return {"price": {"id": price}, "quantity": quantity}


def check(pattern: dict, event: dict, expected: bool, **options: Any) -> None:
    assert matches(pattern, event, **options) is expected
    assert compile_pattern(pattern, **options).matches(event) is expected


# ---------------------------------------------------------------------------------------------
# Stripe cases: the project's rules against Stripe-shaped envelopes.

PAID_ORDER = {
    "source": [{"prefix": "aws.partner/stripe.com"}],
    "detail-type": ["checkout.session.completed", "checkout.session.async_payment_succeeded"],
    "detail": {"data": {"object": {"payment_status": ["paid"]}}},
}
LARGE_ORDER = {
    "source": [{"prefix": "aws.partner/stripe.com"}],
    "detail-type": ["checkout.session.completed"],
    "detail": {
        "data": {"object": {"amount_total": [{"numeric": [">=", 30000]}], "currency": ["jpy"]}}
    },
}
STATUS_CHANGED = {
    "detail-type": ["subscription_schedule.updated"],
    "detail": {"data": {"previous_attributes": {"status": [{"exists": True}]}}},
}
STATUS_UNCHANGED = {"detail": {"data": {"previous_attributes": {"status": [{"exists": False}]}}}}
BUYS_PRO = {
    "detail": {"data": {"object": {"line_items": {"data": {"price": {"id": ["price_pro"]}}}}}}
}
BUYS_TWO_PRO = {
    "detail": {
        "data": {
            "object": {
                "line_items": {"data": {"price": {"id": ["price_pro"]}, "quantity": [2]}},
            }
        }
    }
}
SUBSCRIPTION_STARTED = {
    "source": [{"prefix": "aws.partner/stripe.com"}],
    "detail": {"data": {"object": {"status": ["active", "trialing"]}}},
    "$or": [
        {"detail-type": ["customer.subscription.created"]},
        {
            "detail-type": ["customer.subscription.updated"],
            "detail": {"data": {"previous_attributes": {"status": ["incomplete"]}}},
        },
    ],
}
SUBSCRIPTION = {"object": "subscription", "status": "active"}
SCHEDULE = {"object": "subscription_schedule", "status": "released"}

STRIPE_CASES = [
    ("paid", PAID_ORDER, stripe(), True),
    ("paid later (async)", PAID_ORDER, stripe("checkout.session.async_payment_succeeded"), True),
    ("unpaid", PAID_ORDER, stripe(obj=session(payment_status="unpaid")), False),
    ("paid, other event type", PAID_ORDER, stripe("checkout.session.expired"), False),
    ("paid, webhook source", PAID_ORDER, {**stripe(), "source": "payops.webhook"}, False),
    ("status is case-sensitive", PAID_ORDER, stripe(obj=session(payment_status="PAID")), False),
    ("large: at threshold", LARGE_ORDER, stripe(), True),
    ("large: below", LARGE_ORDER, stripe(obj=session(amount_total=29999)), False),
    ("large: float total", LARGE_ORDER, stripe(obj=session(amount_total=30000.5)), True),
    ("large: total as string", LARGE_ORDER, stripe(obj=session(amount_total="30000")), False),
    ("large: total null", LARGE_ORDER, stripe(obj=session(amount_total=None)), False),
    ("large: other currency", LARGE_ORDER, stripe(obj=session(currency="usd")), False),
    ("large: currency case", LARGE_ORDER, stripe(obj=session(currency="JPY")), False),
    (
        "status changed",
        STATUS_CHANGED,
        stripe("subscription_schedule.updated", SCHEDULE, {"status": "active"}),
        True,
    ),
    (
        "status changed from null",  # exists is about presence: a null leaf is present
        STATUS_CHANGED,
        stripe("subscription_schedule.updated", SCHEDULE, {"status": None}),
        True,
    ),
    (
        "other attribute changed",
        STATUS_CHANGED,
        stripe("subscription_schedule.updated", SCHEDULE, {"metadata": {"a": "b"}}),
        False,
    ),
    (
        "no previous_attributes at all",
        STATUS_CHANGED,
        stripe("subscription_schedule.updated", SCHEDULE),
        False,
    ),
    (
        "status absent",
        STATUS_UNCHANGED,
        stripe("subscription_schedule.updated", SCHEDULE, {"metadata": {}}),
        True,
    ),
    ("status absent, parent absent too", STATUS_UNCHANGED, stripe(), True),
    (
        "status present",
        STATUS_UNCHANGED,
        stripe("subscription_schedule.updated", SCHEDULE, {"status": "active"}),
        False,
    ),
    ("price in 2nd line item", BUYS_PRO, stripe(), True),
    (
        "price in no line item",
        BUYS_PRO,
        stripe(obj=session(line_items={"data": [line_item("price_basic", 2)]})),
        False,
    ),
    ("no line items", BUYS_PRO, stripe(obj=session(line_items={"data": []})), False),
    ("price and quantity in one line item", BUYS_TWO_PRO, stripe(), True),
    (
        # [RUL] "JSON Array Matching": rulesForJSONEvent refuses matches that take two fields
        # from different elements of one array (price_pro x1 + price_basic x2 is not "2 x pro").
        "price and quantity in different line items",
        BUYS_TWO_PRO,
        stripe(
            obj=session(
                line_items={"data": [line_item("price_pro", 1), line_item("price_basic", 2)]}
            )
        ),
        False,
    ),
    (
        "sub created active",
        SUBSCRIPTION_STARTED,
        stripe("customer.subscription.created", SUBSCRIPTION),
        True,
    ),
    (
        "sub activated after incomplete",
        SUBSCRIPTION_STARTED,
        stripe("customer.subscription.updated", SUBSCRIPTION, {"status": "incomplete"}),
        True,
    ),
    (
        "sub updated, was already active",
        SUBSCRIPTION_STARTED,
        stripe("customer.subscription.updated", SUBSCRIPTION, {"status": "active"}),
        False,
    ),
    (
        "sub created but incomplete",
        SUBSCRIPTION_STARTED,
        stripe("customer.subscription.created", {**SUBSCRIPTION, "status": "incomplete"}),
        False,
    ),
]


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [case[1:] for case in STRIPE_CASES],
    ids=[case[0] for case in STRIPE_CASES],
)
def test_stripe_cases(pattern: dict, event: dict, expected: bool) -> None:
    check(pattern, event, expected)


def test_field_by_field_array_matching_is_available_on_request() -> None:
    mixed = stripe(
        obj=session(line_items={"data": [line_item("price_pro", 1), line_item("price_basic", 2)]})
    )
    check(BUYS_TWO_PRO, mixed, False)
    check(BUYS_TWO_PRO, mixed, True, array_consistent=False)


# ---------------------------------------------------------------------------------------------
# General semantics: (id, pattern, detail, expected). The event is envelope(detail).

MATCH_CASES: list[tuple[str, dict, Any, bool]] = [
    # AND across keys, OR within a leaf [UG event patterns]
    ("and: both", {"a": ["x"], "b": [1]}, {"a": "x", "b": 1}, True),
    ("and: one fails", {"a": ["x"], "b": [2]}, {"a": "x", "b": 1}, False),
    ("or in leaf", {"a": ["x", "y"]}, {"a": "y"}, True),
    ("or in leaf: none", {"a": ["x", "y"]}, {"a": "z"}, False),
    # event arrays: non-empty intersection [UG arrays] [REC arrays / arrays_NEG]
    ("event array intersects", {"a": ["x", "q"]}, {"a": ["z", "x"]}, True),
    ("event array disjoint", {"a": ["x", "q"]}, {"a": ["z"]}, False),
    ("empty event array vs null", {"a": [None]}, {"a": []}, False),  # [REC arrays_empty_null_NEG]
    (
        "object array flattened",
        {"items": {"sku": ["a"]}},
        {"items": [{"sku": "b"}, {"sku": "a"}]},
        True,
    ),
    (
        "nested arrays flattened",
        {"items": {"sku": ["a"]}},
        {"items": [[{"sku": "b"}], [[{"sku": "a"}]]]},
        True,
    ),
    ("scalar array under object path", {"items": {"sku": ["a"]}}, {"items": ["a"]}, False),
    # typed exact matching [UG] [RUL "JSON text matching"]
    ("string case-sensitive", {"a": ["Paid"]}, {"a": "paid"}, False),
    ("int matches float", {"a": [5]}, {"a": 5.0}, True),  # [REC number_comparison_float]
    ("float matches int", {"a": [300.0]}, {"a": 300}, True),
    ("number vs string", {"a": [5]}, {"a": "5"}, False),
    ("string vs number", {"a": ["5"]}, {"a": 5}, False),
    ("0 is not false", {"a": [0]}, {"a": False}, False),
    ("false is not 0", {"a": [False]}, {"a": 0}, False),
    ("1 is not true", {"a": [1]}, {"a": True}, False),
    ("true matches true", {"a": [True]}, {"a": True}, True),
    ("true is not false", {"a": [False]}, {"a": True}, False),  # [REC boolean_NEG]
    ("null matches null", {"a": [None]}, {"a": None}, True),  # [UG null values]
    ("null needs the field", {"a": [None]}, {}, False),
    ("null is not empty string", {"a": [None]}, {"a": ""}, False),
    ("empty string matches", {"a": [""]}, {"a": ""}, True),  # [REC string_empty]
    ("empty string is not null", {"a": [""]}, {"a": None}, False),
    # numeric: JSON numbers only [UG numeric matching]
    ("numeric range", {"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 5}, True),
    ("numeric range open bottom", {"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 0}, False),
    ("numeric =", {"n": [{"numeric": ["=", 3.018e2]}]}, {"n": 301.8}, True),
    ("numeric < alone", {"n": [{"numeric": ["<", 10]}]}, {"n": -3}, True),
    ("numeric int vs float", {"n": [{"numeric": [">", 100]}]}, {"n": 101.0}, True),  # [REC]
    ("numeric in array", {"n": [{"numeric": [">", 10]}]}, {"n": [1, 50]}, True),
    (
        "numeric on string",
        {"n": [{"numeric": [">", 1]}]},
        {"n": "10"},
        False,
    ),  # [REC numeric-string_NEG]
    ("numeric on bool", {"n": [{"numeric": [">", 0]}]}, {"n": True}, False),
    (
        "numeric on null",
        {"n": [{"numeric": [">", 0]}]},
        {"n": None},
        False,
    ),  # [REC numeric-null_NEG]
    ("numeric missing", {"n": [{"numeric": [">", 0]}]}, {}, False),
    # exists: leaves only [UG exists matching]
    ("exists: present", {"k": [{"exists": True}]}, {"k": "v"}, True),
    ("exists: null is present", {"k": [{"exists": True}]}, {"k": None}, True),
    (
        "exists: object is no leaf",
        {"k": [{"exists": True}]},
        {"k": {"S": "x"}},
        False,
    ),  # [REC exists_dynamodb_NEG]
    (
        "exists: empty array",
        {"k": [{"exists": True}]},
        {"k": []},
        False,
    ),  # [REC exists_list_empty_NEG]
    (
        "exists: in one object of an array",
        {"auto": {"id": [{"exists": True}]}},
        {"auto": [{"key1": "v"}, {"id": "x"}]},
        True,
    ),  # [REC list_within_dict]
    ("exists false: absent", {"k": [{"exists": False}]}, {"other": 1}, True),
    ("exists false: parent absent", {"p": {"k": [{"exists": False}]}}, {}, True),
    ("exists false: object", {"k": [{"exists": False}]}, {"k": {"c1": 100}}, True),  # [UG]
    ("exists false: empty array", {"k": [{"exists": False}]}, {"k": []}, True),
    ("exists false: present", {"k": [{"exists": False}]}, {"k": "v"}, False),
    (
        "exists false: deep leaf present",
        {"a": {"b": {"c": [{"exists": False}]}}},
        {"a": {"b": {"c": "v"}}},
        False,
    ),  # [REC content_exists_false_NEG]
    (
        "exists false or anything-but",
        {"h": {"S": [{"anything-but": ["roses"]}, {"exists": False}]}},
        {"p": {"N": "1"}},
        True,
    ),  # [REC or-exists-parent]
    # an object where the pattern has a leaf, or a leaf where it has an object
    ("object vs leaf", {"k": ["v"]}, {"k": {"v": 1}}, False),
    (
        "string vs object pattern",
        {"k": {"x": ["v"]}},
        {"k": '{"x": "v"}'},
        False,
    ),  # [REC nested_json_NEG]
    # every matcher but exists:false fails on a missing field
    ("missing: prefix", {"k": [{"prefix": ""}]}, {}, False),
    ("missing: anything-but", {"k": [{"anything-but": "x"}]}, {}, False),  # [REC *_missing_NEG]
    ("missing: anything-but prefix", {"k": [{"anything-but": {"prefix": "x"}}]}, {}, False),
    ("missing: equals-ignore-case", {"k": [{"equals-ignore-case": ""}]}, {}, False),
    # anything-but [UG anything-but] [REC content_anything_*]
    ("anything-but: other", {"s": [{"anything-but": "init"}]}, {"s": "running"}, True),
    ("anything-but: same", {"s": [{"anything-but": "init"}]}, {"s": "init"}, False),
    ("anything-but: null", {"s": [{"anything-but": "init"}]}, {"s": None}, True),
    ("anything-but: typed", {"s": [{"anything-but": 5}]}, {"s": "5"}, True),
    ("anything-but: 5 vs 5.0", {"s": [{"anything-but": 5}]}, {"s": 5.0}, False),
    ("anything-but: 0", {"s": [{"anything-but": 0}]}, {"s": 789}, True),
    ("anything-but: list", {"s": [{"anything-but": ["a", "b"]}]}, {"s": "b"}, False),
    ("anything-but: number list", {"s": [{"anything-but": [100, 200]}]}, {"s": 300}, True),
    ("anything-but: any array element", {"s": [{"anything-but": "a"}]}, {"s": ["a", "b"]}, True),
    ("anything-but prefix", {"s": [{"anything-but": {"prefix": "init"}}]}, {"s": "initial"}, False),
    ("anything-but prefix: number", {"s": [{"anything-but": {"prefix": "init"}}]}, {"s": 12}, True),
    (
        "anything-but prefix list",
        {"s": [{"anything-but": {"prefix": ["a", "b"]}}]},
        {"s": "bx"},
        False,
    ),
    ("anything-but suffix", {"f": [{"anything-but": {"suffix": ".png"}}]}, {"f": "a.jpg"}, True),
    (
        "anything-but ignore case",
        {"s": [{"anything-but": {"equals-ignore-case": "init"}}]},
        {"s": "INIT"},
        False,
    ),
    (
        "anything-but ignore case list: null",
        {"s": [{"anything-but": {"equals-ignore-case": ["a", "b"]}}]},
        {"s": None},
        True,
    ),
    (
        "anything-but wildcard",
        {"p": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"p": "/usr/lib/x"},
        False,
    ),
    (
        "anything-but wildcard: other",
        {"p": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"p": "/usr/bin/x"},
        True,
    ),
    # string matchers only match strings
    ("prefix", {"t": [{"prefix": "2017-10-02"}]}, {"t": "2017-10-02T18:43:48Z"}, True),
    ("prefix: case", {"t": [{"prefix": "Abc"}]}, {"t": "abcd"}, False),
    ("prefix: number", {"t": [{"prefix": "1"}]}, {"t": 12}, False),
    (
        "prefix ignore case",
        {"s": [{"prefix": {"equals-ignore-case": "EventB"}}]},
        {"s": "eventbridge"},
        True,
    ),
    ("suffix", {"f": [{"suffix": ".png"}]}, {"f": "a.png"}, True),
    (
        "suffix ignore case",
        {"f": [{"suffix": {"equals-ignore-case": ".png"}}]},
        {"f": "A.PNG"},
        True,
    ),
    ("equals-ignore-case", {"n": [{"equals-ignore-case": "alice"}]}, {"n": "ALICE"}, True),
    ("equals-ignore-case: empty", {"n": [{"equals-ignore-case": ""}]}, {"n": ""}, True),  # [REC]
    ("equals-ignore-case: bool", {"n": [{"equals-ignore-case": "true"}]}, {"n": True}, False),
    (
        "wildcard",
        {"a": [{"wildcard": "arn:aws:events:*:event-bus/*"}]},
        {"a": "arn:aws:events:us-east-1:1:event-bus/b"},
        True,
    ),  # [REC content_wildcard_simplified]
    ("wildcard: zero chars", {"a": [{"wildcard": "Simple*Service"}]}, {"a": "SimpleService"}, True),
    ("wildcard: whole string", {"a": [{"wildcard": "*.png"}]}, {"a": "a.png.txt"}, False),
    ("wildcard: escaped star", {"a": [{"wildcard": "a\\*b"}]}, {"a": "a*b"}, True),
    ("wildcard: escaped star is literal", {"a": [{"wildcard": "a\\*b"}]}, {"a": "axb"}, False),
    ("wildcard: escaped backslash", {"a": [{"wildcard": "a\\\\*"}]}, {"a": "a\\bc"}, True),
    ("wildcard: number", {"a": [{"wildcard": "1*"}]}, {"a": 12}, False),
    # cidr [UG IP address matching]
    ("cidr v4 in", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.255"}, True),
    ("cidr v4 out", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.1.0"}, False),
    ("cidr v6 in", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8:1::7"}, True),
    ("cidr v6 out", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db9::1"}, False),
    ("cidr v4 vs v6 value", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "::1"}, False),
    ("cidr not an ip", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "10.x"}, False),
    (
        "cidr number",
        {"ip": [{"cidr": "10.0.0.0/8"}]},
        {"ip": 123},
        False,
    ),  # [REC content_ip_address_bad_type_NEG]
    # $or at any level, AND-ed with siblings [RUL "$or"]
    ("$or: second", {"$or": [{"a": ["x"]}, {"b": ["y"]}]}, {"b": "y"}, True),
    ("$or: neither", {"$or": [{"a": ["x"]}, {"b": ["y"]}]}, {"a": "y", "b": "x"}, False),
    ("$or and sibling", {"c": [1], "$or": [{"a": ["x"]}, {"b": ["y"]}]}, {"a": "x", "c": 2}, False),
    (
        "$or nested",
        {"d": {"$or": [{"a": [1]}, {"b": {"$or": [{"c": [2]}, {"e": [3]}]}}]}},
        {"d": {"b": {"e": 3}}},
        True,
    ),
    ("$or branch is AND", {"$or": [{"a": [1], "b": [2]}, {"c": [3]}]}, {"a": 1, "b": 3}, False),
    # dotted keys join like Ruler does [REC dot_joining_pattern / dot_joining_event]
    ("dotted pattern key", {"state.status": ["running"]}, {"state": {"status": "running"}}, True),
    ("dotted event key", {"state": {"status": ["running"]}}, {"state.status": "running"}, True),
    # array consistency [RUL "JSON Array Matching"]
    (
        "same element",
        {"e": {"first": ["Anna"], "last": ["Smith"]}},
        {"e": [{"first": "John", "last": "Doe"}, {"first": "Anna", "last": "Smith"}]},
        True,
    ),
    (
        "different elements",
        {"e": {"first": ["Anna"], "last": ["Doe"]}},
        {"e": [{"first": "John", "last": "Doe"}, {"first": "Anna", "last": "Smith"}]},
        False,
    ),
    (
        "different arrays are independent",
        {"a": {"x": [1]}, "b": {"y": [2]}},
        {"a": [{"x": 0}, {"x": 1}], "b": [{"y": 2}, {"y": 0}]},
        True,
    ),
    (
        "exists false under array: some element has it",
        {"i": {"sku": [{"exists": False}]}},
        {"i": [{"sku": "a"}, {"name": "b"}]},
        False,
    ),
    (
        "exists false within the matched element",
        {"i": {"name": ["b"], "sku": [{"exists": False}]}},
        {"i": [{"sku": "a"}, {"name": "b"}]},
        True,
    ),
]


@pytest.mark.parametrize(
    ("pattern", "detail", "expected"),
    [case[1:] for case in MATCH_CASES],
    ids=[case[0] for case in MATCH_CASES],
)
def test_matching(pattern: dict, detail: Any, expected: bool) -> None:
    check({"detail": pattern}, envelope(detail), expected)


def test_top_level_envelope_fields_and_resources() -> None:
    event = envelope(resources=["arn:aws:ec2:us-east-1:1:instance/i-1", "arn:x"])
    check({"resources": ["arn:x"], "account": ["123456789012"]}, event, True)
    check({"resources": ["arn:y"]}, event, False)
    check({"resources": [{"exists": False}]}, envelope(), True)  # resources is []


def test_matching_mutates_nothing() -> None:
    pattern = copy.deepcopy(SUBSCRIPTION_STARTED)
    event = stripe("customer.subscription.created", SUBSCRIPTION)
    before = (copy.deepcopy(pattern), copy.deepcopy(event))
    assert matches(pattern, event)
    assert (pattern, event) == before


def test_an_invalid_pattern_raises_instead_of_matching() -> None:
    with pytest.raises(PatternError, match="did you mean 'prefix'"):
        matches({"source": [{"prefx": "aws."}]}, stripe())


def test_an_event_must_be_a_dict() -> None:
    with pytest.raises(TypeError, match="event must be a dict"):
        compile_pattern({"a": [1]}).matches([])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Validation: (id, pattern, expected path, fragment of the reason)

INVALID_CASES: list[tuple[str, Any, str, str]] = [
    ("not an object", ["a"], "$", "must be a JSON object"),
    ("empty pattern", {}, "$", "empty objects"),
    ("empty object", {"detail": {}}, "$.detail", "empty objects"),
    ("scalar leaf", {"source": "aws.ec2"}, "$.source", "must be an object or a non-empty array"),
    ("empty leaf", {"resources": []}, "$.resources", "empty arrays"),  # [REC arrays_empty_EXC]
    ("nested array in leaf", {"a": [["x"]]}, "$.a[0]", "nested arrays"),
    ("object value in leaf", {"a": [{}]}, "$.a[0]", "empty match expression"),
    ("non-finite number", {"a": [math.inf]}, "$.a[0]", "finite"),
    ("misspelt prefix", {"a": [{"prefx": "x"}]}, "$.a[0]", "did you mean 'prefix'"),
    ("misspelt numeric", {"a": [{"numerc": [">", 1]}]}, "$.a[0]", "did you mean 'numeric'"),
    ("misspelt exists", {"a": [{"exist": True}]}, "$.a[0]", "did you mean 'exists'"),
    ("operator case", {"a": [{"EXISTS": True}]}, "$.a[0]", "unknown operator 'EXISTS'"),  # [REC]
    ("unknown operator", {"a": [{"regex": "x"}]}, "$.a[0]", "known: anything-but"),
    ("two operators", {"a": [{"prefix": "x", "suffix": "y"}]}, "$.a[0]", "exactly one operator"),
    ("prefix number", {"t": [{"prefix": 123}]}, "$.t[0]", "prefix takes a string"),  # [REC]
    ("prefix list", {"t": [{"prefix": ["x"]}]}, "$.t[0]", "prefix takes a string"),  # [REC]
    ("prefix bad ignore-case", {"t": [{"prefix": {"equals-ignore-case": 1}}]}, "$.t[0]", "number"),
    (
        "prefix misspelt ignore-case",
        {"t": [{"prefix": {"equal-ignore-case": "x"}}]},
        "$.t[0]",
        "did you mean 'equals-ignore-case'",
    ),
    ("suffix list", {"f": [{"suffix": [".png"]}]}, "$.f[0]", "suffix takes a string"),  # [REC]
    ("numeric not a list", {"n": [{"numeric": 5}]}, "$.n[0]", "numeric takes"),
    ("numeric too short", {"n": [{"numeric": [">"]}]}, "$.n[0]", "numeric takes"),
    ("numeric 3 terms", {"n": [{"numeric": [">", 0, "<"]}]}, "$.n[0]", "numeric takes"),  # [REC]
    ("numeric 6 terms", {"n": [{"numeric": [">", 0, "<", 5, "<", 6]}]}, "$.n[0]", "numeric takes"),
    ("numeric string bound", {"n": [{"numeric": [">", "5"]}]}, "$.n[0]", "must be a number"),
    ("numeric bool bound", {"n": [{"numeric": [">", True]}]}, "$.n[0]", "must be a number"),
    ("numeric unknown op", {"n": [{"numeric": ["!=", 1]}]}, "$.n[0]", "unknown comparison '!='"),
    ("numeric = in range", {"n": [{"numeric": ["=", 1, "<", 2]}]}, "$.n[0]", "lower bound then"),
    (
        "numeric two lower",
        {"n": [{"numeric": [">", 0, ">", 0]}]},
        "$.n[0]",
        "lower bound then",
    ),  # [REC]
    ("numeric reversed", {"n": [{"numeric": ["<", 10, ">", 1]}]}, "$.n[0]", "lower bound then"),
    ("numeric empty range", {"n": [{"numeric": [">", 5, "<=", 5]}]}, "$.n[0]", "below the upper"),
    ("exists string", {"k": [{"exists": "true"}]}, "$.k[0]", "exists takes true or false"),
    ("exists number", {"k": [{"exists": 1}]}, "$.k[0]", "exists takes true or false"),
    (
        "ignore-case list",
        {"d": [{"equals-ignore-case": ["x"]}]},
        "$.d[0]",
        "takes a string",
    ),  # [REC]
    ("wildcard number", {"a": [{"wildcard": 123}]}, "$.a[0]", "wildcard takes a string"),  # [REC]
    (
        "wildcard consecutive",
        {"a": [{"wildcard": "a**b"}]},
        "$.a[0]",
        "consecutive wildcard",
    ),  # [REC]
    ("wildcard bad escape", {"a": [{"wildcard": "a\\b"}]}, "$.a[0]", "backslash"),
    ("wildcard trailing escape", {"a": [{"wildcard": "a\\"}]}, "$.a[0]", "backslash"),
    ("cidr no mask", {"ip": [{"cidr": "10.0.0.0"}]}, "$.ip[0]", "exactly one '/'"),  # [REC]
    ("cidr bad mask", {"ip": [{"cidr": "10.0.0.0/a"}]}, "$.ip[0]", "mask bits"),  # [REC]
    ("cidr mask too big", {"ip": [{"cidr": "10.0.0.0/33"}]}, "$.ip[0]", "cidr '10.0.0.0/33'"),
    ("cidr bad ip", {"ip": [{"cidr": "xx.11.xx/24"}]}, "$.ip[0]", "cidr 'xx.11.xx/24'"),  # [REC]
    ("cidr list", {"ip": [{"cidr": ["10.0.0.0/8"]}]}, "$.ip[0]", "cidr takes a string"),  # [REC]
    ("anything-but null", {"s": [{"anything-but": None}]}, "$.s[0]", "got null"),
    ("anything-but bool", {"s": [{"anything-but": True}]}, "$.s[0]", "got true"),
    ("anything-but empty list", {"s": [{"anything-but": []}]}, "$.s[0]", "must not be empty"),
    (
        "anything-but mixed list",
        {"s": [{"anything-but": ["a", 1]}]},
        "$.s[0]",
        "all strings or all",
    ),
    (
        "anything-but null in list",
        {"s": [{"anything-but": ["a", None]}]},
        "$.s[0]",
        "got null",
    ),  # [REC]
    (
        "anything-but empty prefix",
        {"s": [{"anything-but": {"prefix": ""}}]},
        "$.s[0]",
        "not be empty",
    ),  # [REC]
    (
        "anything-but prefix number",
        {"s": [{"anything-but": {"prefix": 123}}]},
        "$.s[0]",
        "prefix takes a string or a list",
    ),  # [REC content_anything_prefix_int_EXC]
    (
        "anything-but nested ignore-case",
        {"s": [{"anything-but": {"prefix": {"equals-ignore-case": "x"}}}]},
        "$.s[0]",
        "got an object",
    ),  # [REC content_anything_prefix_ignorecase_EXC]
    (
        "anything-but ignore-case number",
        {"s": [{"anything-but": {"equals-ignore-case": 123}}]},
        "$.s[0]",
        "got number 123",
    ),  # [REC content_anything_but_ignorecase_EXC]
    (
        "anything-but wildcard list type",
        {"s": [{"anything-but": {"wildcard": [123, "*/d/*"]}}]},
        "$.s[0]",
        "got number 123",
    ),  # [REC content_anything_wildcard_list_type_EXC]
    (
        "anything-but numeric",
        {"s": [{"anything-but": {"numeric": [">", 1]}}]},
        "$.s[0]",
        "cannot wrap 'numeric'",
    ),
    (
        "anything-but misspelt",
        {"s": [{"anything-but": {"prefx": "a"}}]},
        "$.s[0]",
        "did you mean 'prefix'",
    ),
    (
        "anything-but two keys",
        {"s": [{"anything-but": {"prefix": "a", "suffix": "b"}}]},
        "$.s[0]",
        "'prefix', 'suffix'",
    ),
    ("$or not a list", {"$or": {"a": [1]}}, "$.$or", "must be an array of objects"),
    ("$or one entry", {"$or": [{"a": [1]}]}, "$.$or", "at least 2"),
    ("$or scalar entry", {"$or": [{"a": [1]}, "b"]}, "$.$or[1]", "must be an object"),
    ("$or empty entry", {"$or": [{"a": [1]}, {}]}, "$.$or[1]", "empty objects"),
    (
        "$or invalid inside",
        {"detail": {"$or": [{"a": [1]}, {"b": [{"exist": True}]}]}},
        "$.detail.$or[1].b[0]",
        "did you mean 'exists'",
    ),
    (
        "$or operator as field",
        {"$or": [{"numeric": [1]}, {"a": [1]}]},
        "$.$or[0].numeric",
        "operator name",
    ),  # [RUL RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP]
    (
        "operator outside its list",
        {"detail": {"amount": {"numeric": [">", 1]}}},
        "$.detail.amount.numeric",
        "goes inside the field's list",
    ),
    (
        "operator object as leaf",
        {"source": {"prefix": "aws."}},
        "$.source.prefix",
        "operators go inside the field's list",
    ),
    (
        "same field twice via $or",
        {"a": ["x"], "$or": [{"a": ["y"]}, {"b": ["z"]}]},
        "$.$or[0].a",
        "already matched at $.a",
    ),
    (
        "same field twice via dots",
        {"a.b": [1], "a": {"b": [2]}},
        "$.a.b",
        "already matched at $['a.b']",
    ),
]


@pytest.mark.parametrize(
    ("pattern", "path", "fragment"),
    [case[1:] for case in INVALID_CASES],
    ids=[case[0] for case in INVALID_CASES],
)
def test_invalid_patterns(pattern: Any, path: str, fragment: str) -> None:
    with pytest.raises(PatternError) as caught:
        validate_pattern(pattern)
    assert caught.value.path == path
    assert fragment in caught.value.reason


def test_error_location_and_message_format() -> None:
    pattern = {"detail": {"data": {"object": {"amount_total": [{"numeric": [">=", "30000"]}]}}}}
    with pytest.raises(PatternError) as caught:
        validate_pattern(pattern)
    err = caught.value
    assert err.path == "$.detail.data.object.amount_total[0]"
    assert str(err) == f"{err.path}: {err.reason}"
    assert isinstance(err, ValueError)
    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.reason, str(again)) == (err.path, err.reason, str(err))


VALID_PATTERNS = [
    PAID_ORDER,
    LARGE_ORDER,
    STATUS_CHANGED,
    SUBSCRIPTION_STARTED,
    {"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}], "c": [{"numeric": [">", 0, "<=", 5]}]}},
    {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}], "n": [None, "", 0, False]}},
    {"detail": {"x": [{"anything-but": [100, 200.5]}], "y": [{"anything-but": 0}]}},
    {"s": [{"anything-but": {"equals-ignore-case": ["a", "b"]}}]},
    {"s": [{"anything-but": {"prefix": ["a", "b"]}}, {"anything-but": {"suffix": ".png"}}]},
    {"s": [{"anything-but": {"wildcard": ""}}, {"anything-but": {"wildcard": ["*/a/*", "b"]}}]},
    {"s": [{"prefix": {"equals-ignore-case": "E"}}, {"suffix": {"equals-ignore-case": "e"}}]},
    {"ip": [{"cidr": "2001:db8::/32"}, {"cidr": "10.0.0.1/24"}]},
    {"f": [{"wildcard": "a\\*b\\\\*"}, {"exists": False}, {"equals-ignore-case": ""}]},
    {"$or": [{"a": [1]}, {"b": {"$or": [{"c": [1]}, {"d": [1]}]}}], "e": [1]},
]


@pytest.mark.parametrize("pattern", VALID_PATTERNS)
def test_valid_patterns(pattern: dict) -> None:
    validate_pattern(pattern)
