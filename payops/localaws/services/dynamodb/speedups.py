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

moto lexes a ConditionExpression (and a KeyConditionExpression's filter, a Query's or Scan's
FilterExpression) character by character with a list of regular expressions, on every call; the
idempotency claims send the same few expressions on every Task. The lexed tokens depend on the
text alone (names and values are looked up after lexing) and are immutable tuples nothing
changes, so each text is lexed once.
"""

from __future__ import annotations

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
    import functools

    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    # A failed parse raises and is not kept: the same error again next time.
    parse = functools.lru_cache(maxsize=1024)(UpdateExpressionParser.make.__func__)
    return [Patch(UpdateExpressionParser, "make", classmethod(parse))]


def condition_lexing_patches() -> list[Patch]:
    from collections import deque

    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = ConditionExpressionParser._lex_condition_expression
    lexed: dict[str, tuple[Any, ...]] = {}  # expression text -> its tokens

    def lex(self: Any) -> deque[Any]:
        # A new deque each time: the parser pops from it. The tokens are namedtuples whose
        # `children` lists are empty and never appended to (moto builds new nodes instead).
        text = self.condition_expression
        tokens = lexed.get(text)
        if tokens is None:
            tokens = tuple(original(self))  # a text that does not lex raises: nothing kept
            if len(lexed) < 4096:
                lexed[text] = tokens
        return deque(tokens)

    return [Patch(ConditionExpressionParser, "_lex_condition_expression", lex)]
