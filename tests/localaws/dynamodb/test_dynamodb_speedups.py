"""dynamodb.query_partition (services/dynamodb/speedups.py): a Query on the table's key reads
its partition only, with moto's answers: items, order, paging, filters, counts, index queries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from payops.localaws.core.account import REGION
from payops.localaws.core.patch import restored
from payops.localaws.services.dynamodb import SERVICE

SPEEDUPS = SERVICE.speedup_patches
assert SPEEDUPS is not None


@pytest.fixture
def table() -> Iterator[Any]:
    with restored(SPEEDUPS), mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="access",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "plan", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-plan",
                    "KeySchema": [{"AttributeName": "plan", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for user in range(30):
            for sub in range(4):
                client.put_item(
                    TableName="access",
                    Item={
                        "pk": {"S": f"user#{user:02d}"},
                        "sk": {"S": f"subscription#{sub}" if sub else "state"},
                        "plan": {"S": ["basic", "pro"][sub % 2]},
                        "n": {"N": str(sub)},
                    },
                )
        yield client


QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "user#07"}}},
    {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :s)",
        "ExpressionAttributeValues": {":pk": {"S": "user#07"}, ":s": {"S": "subscription#"}},
        "ScanIndexForward": False,
    },
    {
        "KeyConditionExpression": "pk = :pk",
        "FilterExpression": "n > :one",
        "ExpressionAttributeValues": {":pk": {"S": "user#29"}, ":one": {"N": "1"}},
        "Select": "COUNT",
    },
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "nobody"}}},
    {
        "IndexName": "by-plan",
        "KeyConditionExpression": "#p = :p",
        "ExpressionAttributeNames": {"#p": "plan"},
        "ExpressionAttributeValues": {":p": {"S": "pro"}},
    },
]


def _answers(client: Any) -> list[Any]:
    answers = [
        {k: v for k, v in client.query(TableName="access", **q).items() if k != "ResponseMetadata"}
        for q in QUERIES
    ]
    pages, start = [], None
    while True:  # paging by Limit: every page and its LastEvaluatedKey
        extra = {"ExclusiveStartKey": start} if start else {}
        page = client.query(TableName="access", Limit=3, **QUERIES[0], **extra)
        pages.append((page["Items"], page.get("LastEvaluatedKey")))
        start = page.get("LastEvaluatedKey")
        if not start:
            return answers + [pages]


def test_answers_are_moto_s_and_the_table_is_not_sorted_whole(
    table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models.table import Table

    SPEEDUPS.uninstall()
    plain = _answers(table)
    SPEEDUPS.install()
    sorted_sizes: list[int] = []
    real_sorted = sorted

    def counting_sorted(items: Any, *args: Any, **kwargs: Any) -> Any:
        found = real_sorted(items, *args, **kwargs)
        sorted_sizes.append(len(found))
        return found

    monkeypatch.setattr(
        "payops.localaws.services.dynamodb.speedups.sorted", counting_sorted, raising=False
    )
    fast = _answers(table)
    assert fast == plain
    assert plain[0]["Count"] == 4 and plain[2]["Count"] == 2 and plain[3]["Items"] == []
    assert len(plain[4]["Items"]) == 60 and len(plain[5]) == 2  # the index query, 2 pages
    # Each table-key Query sorted its own partition (4 items, or none), never the 120.
    assert sorted_sizes and max(sorted_sizes) == 4
    assert Table.all_items.__module__ == "payops.localaws.services.dynamodb.speedups"


def _updates(client: Any) -> list[Any]:
    """The same expression with different values, on a new item (validated twice by moto) and
    on existing ones; then a bad expression, twice."""
    answers = []
    expression = "SET #s = :s, n = if_not_exists(n, :zero) + :one ADD seen :one REMOVE #p"
    for user, status in (("user#00", "active"), ("user#01", "past_due"), ("new#1", "trialing")):
        answers.append(
            client.update_item(
                TableName="access",
                Key={"pk": {"S": user}, "sk": {"S": "state"}},
                UpdateExpression=expression,
                ExpressionAttributeNames={"#s": "status", "#p": "plan"},
                ExpressionAttributeValues={
                    ":s": {"S": status}, ":zero": {"N": "0"}, ":one": {"N": "1"}
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        )  # fmt: skip
    for _ in range(2):
        with pytest.raises(client.exceptions.ClientError) as bad:
            client.update_item(
                TableName="access",
                Key={"pk": {"S": "user#00"}, "sk": {"S": "state"}},
                UpdateExpression="SET = :s",
                ExpressionAttributeValues={":s": {"S": "x"}},
            )
        answers.append(bad.value.response["Error"])
    return answers


def _undo_updates(client: Any) -> None:
    """The items `_updates` changes, back as the fixture made them (and the one it made, gone)."""
    for user in ("user#00", "user#01"):
        client.put_item(
            TableName="access",
            Item={"pk": {"S": user}, "sk": {"S": "state"}, "plan": {"S": "basic"}, "n": {"N": "0"}},
        )
    client.delete_item(TableName="access", Key={"pk": {"S": "new#1"}, "sk": {"S": "state"}})


def _moto_then_speedups(
    client: Any,
    run: Any,
    undo: Any,
    counted: tuple[type, str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Any, int, Any, int]:
    """`run(client)` in plain moto, `undo(client)`, then `run(client)` with the speed-ups: each
    run's answers and how many times it called `counted` (a class and one of its methods)."""
    owner, name = counted
    calls = {"n": 0}
    original = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    SPEEDUPS.uninstall()
    plain, plain_calls = run(client), calls["n"]
    undo(client)
    SPEEDUPS.install()
    calls["n"] = 0
    fast = run(client)
    return plain, plain_calls, fast, calls["n"]


def test_an_update_expression_is_parsed_once_and_answers_as_moto(
    table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    plain, plain_parses, fast, parses = _moto_then_speedups(
        table, _updates, _undo_updates, (UpdateExpressionParser, "parse"), monkeypatch
    )
    assert fast == plain
    assert fast[2]["status"] == {"S": "trialing"} and fast[1]["n"] == {"N": "1"}
    assert plain_parses >= 2 * 3 + 2 and parses == 1 + 2  # one good parse, bad ones again


def _conditional_writes(client: Any) -> list[Any]:
    """One claim-like ConditionExpression with different names and values, kept and refused;
    a filter on a Query."""
    answers: list[Any] = []
    condition = "attribute_not_exists(pk) OR (#s <> :done AND lease_until < :now)"
    for user, status, now in (
        ("claim#1", "x", "5"),
        ("claim#1", "done", "9"),
        ("claim#2", "x", "1"),
    ):
        try:
            client.put_item(
                TableName="access",
                Item={"pk": {"S": user}, "sk": {"S": "state"}, "status": {"S": status}},
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":done": {"S": "done"}, ":now": {"N": now}},
            )
            answers.append("written")
        except client.exceptions.ConditionalCheckFailedException as refused:
            answers.append(refused.response["Error"])
    answers.append(
        client.query(
            TableName="access",
            KeyConditionExpression="pk = :pk",
            FilterExpression="n BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": "user#03"}, ":lo": {"N": "1"}, ":hi": {"N": "2"}
            },
        )["Items"]
    )  # fmt: skip
    return answers


def test_a_condition_is_lexed_once_and_answers_as_moto(
    table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    def undo(client: Any) -> None:
        for claim in ("claim#1", "claim#2"):
            client.delete_item(TableName="access", Key={"pk": {"S": claim}, "sk": {"S": "state"}})

    plain, plain_tokens, fast, tokens = _moto_then_speedups(
        table, _conditional_writes, undo, (ConditionExpressionParser, "_lex_one_node"), monkeypatch
    )
    assert fast == plain
    assert fast[:3] == ["written", fast[1], "written"] and fast[1]["Code"] == (
        "ConditionalCheckFailedException"
    )
    assert len(fast[3]) == 2
    # Plain moto lexed the claim's ~20 tokens on each of its three writes; now once (its names
    # and values are looked up after lexing, per call).
    assert plain_tokens - tokens >= 2 * 20, (plain_tokens, tokens)


def _same_graph(a: Any, b: Any, seen: dict[int, int]) -> None:
    """`a` (a deepcopy) and `b` (a node_copy) are the same object graph: the same types and
    leaves, a node reached twice (a parent link) is one object in each."""
    from moto.dynamodb.parsing.ast_nodes import Node

    assert type(a) is type(b)
    if isinstance(a, (list, Node)):
        if id(a) in seen:
            assert seen[id(a)] == id(b)
            return
        seen[id(a)] = id(b)
        pairs = zip(a, b, strict=True) if isinstance(a, list) else None
        if pairs is None:
            assert vars(a).keys() == vars(b).keys()
            pairs = zip(vars(a).values(), vars(b).values(), strict=True)
        for left, right in pairs:
            _same_graph(left, right, seen)
    else:
        assert a == b


def test_an_update_tree_is_copied_as_deepcopy_copies_it(table: Any) -> None:
    import copy

    from moto.dynamodb.parsing.ast_nodes import Node
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    from payops.localaws.services.dynamodb.speedups import node_copy

    # REMOVE of list elements: normalize() re-parents the actions under the root, and their
    # parent links still point at the clauses they came from (reached only through them).
    tree = UpdateExpressionParser.make(
        "SET a.b[1] = if_not_exists(a.b[1], :v) + :one, #n = list_append(#n, :l) "
        "REMOVE c[2], c[0] ADD s :set DELETE t :set"
    )
    deep, fast = copy.deepcopy(tree), node_copy(tree)
    _same_graph(deep, fast, {})

    def nodes(root: Any) -> list[Any]:
        found, stack = [], [root]
        while stack:
            node = stack.pop()
            if isinstance(node, Node) and all(node is not f for f in found):
                found.append(node)
                stack.extend([*(node.children or []), node.parent])
        return found

    original_ids = {id(n) for n in nodes(tree)}
    assert len(nodes(fast)) == len(nodes(tree)) > 20
    assert not original_ids & {id(n) for n in nodes(fast)}  # shares no node with the original


def test_each_validator_pass_builds_its_node_map_once_and_updates_answer_as_moto(
    table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.parsing.validators import ExpressionAttributeValueProcessor

    plain, plain_built, fast, built = _moto_then_speedups(
        table,
        _updates,
        _undo_updates,
        (ExpressionAttributeValueProcessor, "_processing_map"),
        monkeypatch,
    )
    assert fast == plain
    # Three good updates, each validated once or twice: plain moto built the map twice for every
    # node of the tree (about 20); now once per pass.
    assert plain_built > 3 * 20 and built <= 2 * 3, (plain_built, built)


def _shape_cases(client: Any) -> list[Any]:
    """One expression text, its verdict changed only by its names or the table's keys: each
    case twice, so a verdict kept from the first call would show on the second."""
    client.create_table(
        TableName="owners",
        KeySchema=[{"AttributeName": "owner", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "owner", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    expression = "SET #a = :a, #b = :b, n = :a"
    cases = [
        ("owners", {"owner": {"S": "o1"}}, {"#a": "pk", "#b": "plan"}),  # pk: no key here
        ("access", {"pk": {"S": "user#00"}, "sk": {"S": "state"}}, {"#a": "pk", "#b": "plan"}),
        ("access", {"pk": {"S": "user#01"}, "sk": {"S": "state"}}, {"#a": "kind", "#b": "plan"}),
        ("access", {"pk": {"S": "user#01"}, "sk": {"S": "state"}}, {"#a": "kind", "#b": "kind"}),
        ("access", {"pk": {"S": "user#01"}, "sk": {"S": "state"}}, {"#a": "n", "#b": "plan"}),
    ]
    answers: list[Any] = []
    for table_name, key, names in cases * 2:
        try:
            answers.append(
                client.update_item(
                    TableName=table_name,
                    Key=key,
                    UpdateExpression=expression,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={":a": {"S": "x"}, ":b": {"S": "pro"}},
                    ReturnValues="ALL_NEW",
                )["Attributes"]
            )
        except client.exceptions.ClientError as refused:
            answers.append(refused.response["Error"])
    client.delete_table(TableName="owners")
    return answers


def test_shape_checks_are_kept_per_expression_names_and_keys_and_answer_as_moto(
    table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.parsing.validators import ActionCountValidator

    # Counted: whole-tree runs of the first shape check.
    plain, plain_checked, fast, checked = _moto_then_speedups(
        table, _shape_cases, _undo_updates, (ActionCountValidator, "traverse"), monkeypatch
    )
    assert fast == plain
    # Refused each time: pk is this table's key; two names for one attribute; a name and a
    # plain path for one attribute. Accepted: pk where it is no key, distinct attributes.
    codes = [answer.get("Code") for answer in fast]
    refused = "ValidationException"
    assert codes == [None, refused, None, refused, refused] * 2
    assert "key" in fast[1]["Message"] and "overlap" in fast[3]["Message"], fast
    # Plain moto checked the tree on each of the 10 calls (twice for the new item: 11); now the
    # two accepted cases once each, the three refused ones on each of their 2 calls.
    assert (plain_checked, checked) == (11, 2 + 3 * 2)
