"""DynamoDB: a condition, filter or key condition expression that cannot be used is refused.

The pinned moto parses these expressions and lets Python's own errors escape: a syntax error is a
bare `ValueError` ("Cannot parse condition starting at:?"), a `#name` or `:value` the request does
not define a bare `KeyError` (':now'). Through a client that is a Python exception from deep in
moto; a Step Functions Task caught it as `DynamoDB.AmazonDynamoDBException` with the cause
"':now'". DynamoDB answers a ValidationException that names
what is wrong; so does the local AWS now, with the expression it could not use. (DynamoDB's
message starts with the field, "Invalid ConditionExpression: ..."; the parser is not told which
field it reads, so the local message quotes the expression instead.) Scan, which moto already
answers with "Bad Filter Expression: ...", still does: the error is a ValueError to it too.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.patch import Patch

GAPS: dict[str, str] = {
    "dynamodb.expression_errors": (
        "a condition, filter or key condition expression with a syntax error or an undefined "
        "#name or :value is a ValidationException naming it (moto: a bare ValueError/KeyError)"
    ),
}


def expression_error_patches() -> list[Patch]:
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.exceptions import MockValidationException

    class ExpressionError(MockValidationException, ValueError):
        """A ValidationException to the caller, and still a ValueError to moto's own handlers."""

        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.plain = message

        def __str__(self) -> str:  # what Scan puts after "Bad Filter Expression: "
            return self.plain

    original = ConditionExpressionParser.parse

    def parse(self: Any) -> Any:
        expression = self.condition_expression
        try:
            return original(self)
        except ExpressionError:
            raise
        except KeyError as err:  # moto looks the placeholders up without checking
            placeholder = str(err.args[0]) if err.args else "?"
            if placeholder.startswith(":"):
                detail = (
                    "An expression attribute value used in expression is not defined; "
                    f"attribute value: {placeholder}"
                )
            else:
                detail = (
                    "An expression attribute name used in the document path is not defined; "
                    f"attribute name: {placeholder}"
                )
            raise ExpressionError(f'Invalid expression "{expression}": {detail}') from None
        except ValueError as err:
            detail = f"Syntax error; {err}"
            raise ExpressionError(f'Invalid expression "{expression}": {detail}') from None

    return [Patch(ConditionExpressionParser, "parse", parse)]
