"""DynamoDB speed-ups: same answers, less work (found profiling long replays).

moto answers a Query on a table's own key by sorting every item of the table and then keeping
those of the asked partition: O(table) per Query, so the access workflow (one Query per
subscription event) slowed a replay as its table grew. A Query on the table's key now reads that
partition's items only; everything after the lookup (range conditions, filters, limits, paging,
order) is moto's own code on the same items, in the same order.

moto parses an UpdateItem's UpdateExpression twice per call (once to check the names and values
it uses, once to apply it), and the workflows send the same few expressions again and again. A
parsed expression is now kept by its text: every user of it in the pinned moto only reads it
(`find_clauses`) or deep-copies it before changing it (the validator), so one parse serves all.

Before applying it, moto's validator deep-copies the expression's tree (it replaces nodes as it
resolves names and values), with `copy.deepcopy`'s generic reduce protocol for every node. The
tree's nodes are plain objects (a type name, children, a parent link), so they are now copied
by a loop that knows them: the same graph, parent links included, memo and all; anything else
still by `copy.deepcopy`.

Each of the validator's passes over that tree (a dozen per UpdateItem) rebuilt its map of node
types to handlers twice per node visited (`nodes_to_be_processed()`, `process()`); every pass
returns the same map of its own bound methods, so each pass now builds it once.

moto lexes a ConditionExpression (and a KeyConditionExpression's filter, a Query's or Scan's
FilterExpression) character by character with a list of regular expressions, on every call; the
idempotency claims send the same few expressions on every Task. The lexed tokens depend on the
text alone (names and values are looked up after lexing) and are immutable tuples nothing
changes, so each text is lexed once.

The validator's first three passes only check the expression's shape: one clause of each kind
(`ActionCountValidator`), no path set twice (`OverlappingPathsValidator`), no key attribute
changed (`UpdateHashRangeKeyValidator`). Their verdict depends on the parsed tree, the names
and the table's key attributes alone, never on the item or the values; and the first two call
`find_clauses` on every clause node of the tree, each walking the subtree below it (0.8 ms of
an UpdateItem's 1.7 ms for the workflows' ten-action SETs). A tree that passed them with the same
names and keys is not checked again; one that fails them is never remembered, so it fails again.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

from payops.localaws.core.patch import Patch

SPEEDUPS: dict[str, str] = {
    "dynamodb.query_partition": (
        "A Query on the table's own key sorted every item of the table to keep one partition's "
        "(O(items) per Query, so a replay slowed as the table grew); now it reads that "
        "partition's items, in moto's order."
    ),
    "dynamodb.update_expressions": (
        "Each UpdateItem parsed its UpdateExpression twice; a parsed expression is kept by its "
        "text (its users only read it or deep-copy it first)."
    ),
    "dynamodb.condition_lexing": (
        "Each condition or filter expression was lexed with a dozen regular expressions per "
        "token on every call; its tokens (which depend on its text alone) are kept by text."
    ),
    "dynamodb.update_copies": (
        "Each UpdateItem deep-copied its expression's tree through copy.deepcopy's reduce "
        "protocol, node by node; the nodes are now copied by a loop that knows them."
    ),
    "dynamodb.update_checks": (
        "Each UpdateItem re-ran three shape checks on its expression (one clause of a kind, no "
        "overlapping paths, no key attribute), walking each subtree once per clause node; a "
        "verdict that depends on the expression, its names and the table's keys is kept."
    ),
    "dynamodb.validator_maps": (
        "Each validator pass over an update expression rebuilt its node-type map twice per "
        "node it visited; it is built once per pass."
    ),
}
_asked = threading.local()  # (table, hash key) while this thread runs a Query on the table's key


def _sort_key(item: Any) -> Any:  # moto's Table.all_items order
    return (item.hash_key, item.range_key) if item.range_key else item.hash_key


def query_partition_patches() -> list[Patch]:
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_all_items = Table.all_items

    def all_items(self: Any) -> list[Any]:
        asked = getattr(_asked, "query", None)
        if asked is None or asked[0] is not self:
            return original_all_items(self)
        partition = self.items.get(asked[1])  # .get: the defaultdict must not grow a key
        if partition is None:
            return []
        found = list(partition.values()) if self.range_key_attr else [partition]
        return sorted(found, key=_sort_key)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto's backend passes index_name as the 8th positional argument (after hash_key's 7).
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None or getattr(_asked, "query", None):
            return original_query(self, hash_key, *args, **kwargs)
        _asked.query = (self, hash_key)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _asked.query = None

    return [Patch(Table, "all_items", all_items), Patch(Table, "query", query)]


def update_expressions_patches() -> list[Patch]:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    # A failed parse raises and is not kept: the same error again next time.
    parse = functools.lru_cache(maxsize=1024)(UpdateExpressionParser.make.__func__)
    return [Patch(UpdateExpressionParser, "make", classmethod(parse))]


def condition_lexing_patches() -> list[Patch]:
    from collections import deque

    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = ConditionExpressionParser._lex_condition_expression

    # As update_expressions: kept by text, and a text that does not lex raises, not kept.
    @functools.lru_cache(maxsize=4096)
    def tokens_of(text: str) -> tuple[Any, ...]:
        return tuple(original(ConditionExpressionParser(text, None, None)))  # reads text alone

    def lex(self: Any) -> deque[Any]:
        # A new deque each time: the parser pops from it. The tokens are namedtuples whose
        # `children` lists are empty and never appended to (moto builds new nodes instead).
        return deque(tokens_of(self.condition_expression))

    return [Patch(ConditionExpressionParser, "_lex_condition_expression", lex)]


_LEAVES = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _is_plain(kind: type) -> bool:
    """A class copy.deepcopy copies by its __dict__ alone (no hooks, no slots)."""
    return (
        not hasattr(kind, "__deepcopy__")
        and kind.__reduce_ex__ is object.__reduce_ex__
        and kind.__reduce__ is object.__reduce__
        and not hasattr(kind, "__setstate__")
        and "__slots__" not in vars(kind)
        and kind.__getstate__ is object.__getstate__  # type: ignore[attr-defined]
    )


def node_copy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """copy.deepcopy for moto's expression trees: a node shared or linked back to (its parent)
    is copied once, as deepcopy's memo does; a node class with copy hooks, and anything that is
    not a node, a list or an immutable leaf, goes to copy.deepcopy with the same memo."""
    from moto.dynamodb.parsing.ast_nodes import Node

    memo = {} if memo is None else memo

    def copied(item: Any) -> Any:
        kind = type(item)
        if kind in _LEAVES:
            return item
        done = memo.get(id(item))
        if done is not None:
            return done
        if kind is list:
            new_list: list[Any] = []
            memo[id(item)] = new_list
            new_list.extend(copied(element) for element in item)
            return new_list
        if isinstance(item, Node) and _is_plain(kind):
            node = object.__new__(kind)
            memo[id(item)] = node
            node.__dict__.update({key: copied(field) for key, field in vars(item).items()})
            return node
        return copy.deepcopy(item, memo)

    return copied(value)


def update_copies_patches() -> list[Patch]:
    from moto.dynamodb.parsing import validators

    if validators.__dict__.get("deepcopy") is not copy.deepcopy:
        raise RuntimeError("moto's DynamoDB validators no longer copy with copy.deepcopy")
    return [Patch(validators, "deepcopy", node_copy, key="validators.deepcopy")]


def validator_maps_patches() -> list[Patch]:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser

    def _map(self: Any) -> dict[type, Any]:
        # A pass's _processing_map() is {node type: one of its own bound methods}, the same
        # every time it is asked (the pinned moto's passes keep no state in it).
        found = self.__dict__.get("_node_handlers")
        if found is None:
            found = self._processing_map()
            self.__dict__["_node_handlers"] = found
            self.__dict__["_node_types"] = tuple(found)
        return found

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        _map(self)
        return self.__dict__["_node_types"]

    def process(self: Any, node: Any) -> Any:
        for class_key, processor in _map(self).items():
            if isinstance(node, class_key):
                return processor(node)
        return None

    return [
        Patch(DepthFirstTraverser, "nodes_to_be_processed", nodes_to_be_processed),
        Patch(DepthFirstTraverser, "process", process),
    ]


def update_checks_patches() -> list[Patch]:
    from moto.dynamodb.parsing import validators

    shape_checks = (
        validators.ActionCountValidator,
        validators.OverlappingPathsValidator,
        validators.UpdateHashRangeKeyValidator,
    )
    validator = validators.UpdateExpressionValidator
    original_init = validator.__init__
    # (id(tree), names, key attributes) -> the tree itself: holding it keeps its id its own.
    passed: dict[tuple[Any, ...], Any] = {}

    def __init__(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, expression, *args, **kwargs)
        if tuple(type(p) for p in self.processors[:3]) != shape_checks:
            return  # a moto whose validator starts otherwise: all its passes, every time
        names = self.expression_attribute_names or {}
        key = (id(expression), tuple(sorted(names.items())), tuple(self.table.table_key_attrs))
        if passed.get(key) is expression:
            self.processors = self.processors[3:]
        else:
            self.__dict__["_shape_key"] = (key, expression)

    def validate(self: Any) -> Any:
        pending = self.__dict__.pop("_shape_key", None)
        node = self.node_to_validate
        for processor in self.processors:
            node = processor.traverse(node)
            if pending is not None and type(processor) is shape_checks[-1]:
                if len(passed) >= 4096:
                    passed.clear()
                passed[pending[0]] = pending[1]
                pending = None
        return node

    return [Patch(validator, "__init__", __init__), Patch(validator, "validate", validate)]
