"""The subset of AppSync's VTL (Velocity) resolver templates that the local AppSync executes.

Supported, and nothing else (anything else is a TemplateError naming the construct and line, at
deploy time, so a resolver the local AWS would run differently from AppSync never runs):

- text, and `##` comments to the end of the line;
- references `$context` / `$ctx` with dotted fields (`$ctx.arguments.input`, `$ctx.args`,
  `$ctx.identity.username`, `$ctx.result`, `$ctx.source`), and the literals `null`, `true`,
  `false`, "strings";
- `$util.toJson(x)`, `$util.isNull(x)`, `$util.isNullOrEmpty(x)`, `$util.unauthorized()`,
  `$util.error("message")`;
- `#if(cond)` ... `#else` ... `#end`, where cond is `a == b`, `a != b`, `!a`, `a`, joined by
  `&&` / `||` (left to right, no parentheses).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


class TemplateError(ValueError):
    """A template uses VTL the local AppSync does not execute (or is malformed)."""


class Unauthorized(Exception):
    """$util.unauthorized(): AppSync answers "Unauthorized" and runs nothing else."""


class ResolverError(Exception):
    """$util.error(message)."""


_UTIL = {"toJson": 1, "isNull": 1, "isNullOrEmpty": 1, "unauthorized": 0, "error": 1}
_TOKEN = re.compile(r"##[^\n]*|#if\(|#else\b|#end\b|#\w+|\$\{?[A-Za-z]")
_REF = re.compile(r"\$(context|ctx)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
_UTIL_CALL = re.compile(r"\$util\.([A-Za-z]+)\(")
_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"|(null|true|false)\b')
_CONTEXT_KEYS = {"arguments", "args", "identity", "result", "source", "stash", "request"}


@dataclass
class _Node:
    kind: str  # text | expr | if
    value: Any = None
    line: int = 0
    then: list[_Node] | None = None
    otherwise: list[_Node] | None = None


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _closing(text: str, start: int, where: str) -> int:
    """Index just after the parenthesis that closes the one before `start`."""
    depth, i, quoted = 1, start, False
    while i < len(text):
        char = text[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise TemplateError(f"{where}: line {_line(text, start)}: unclosed '('")


def _operand(text: str, pos: int, where: str) -> tuple[Any, int]:
    """One value expression at `pos`: (parsed, end)."""
    if m := _UTIL_CALL.match(text, pos):
        name = m.group(1)
        if name not in _UTIL:
            raise TemplateError(
                f"{where}: line {_line(text, pos)}: $util.{name} is not supported by the local "
                f"AppSync (supported: {', '.join('$util.' + n for n in _UTIL)})"
            )
        end = _closing(text, m.end(), where)
        inner = text[m.end() : end - 1].strip()
        args = [] if not inner else [_operand(inner, 0, where)[0]]
        if len(args) != _UTIL[name]:
            raise TemplateError(
                f"{where}: line {_line(text, pos)}: $util.{name} takes {_UTIL[name]} argument(s)"
            )
        return ("util", name, args), end
    if m := _REF.match(text, pos):
        path = [p for p in m.group(2).split(".") if p]
        if path and path[0] not in _CONTEXT_KEYS:
            raise TemplateError(
                f"{where}: line {_line(text, pos)}: $context.{path[0]} is not supported by the "
                f"local AppSync (supported: {', '.join(sorted(_CONTEXT_KEYS))})"
            )
        return ("ref", path), m.end()
    if m := _LITERAL.match(text, pos):
        if m.group(1) is not None:
            return ("lit", json.loads(f'"{m.group(1)}"')), m.end()
        return ("lit", {"null": None, "true": True, "false": False}[m.group(2)]), m.end()
    snippet = text[pos : pos + 30].split("\n")[0]
    raise TemplateError(
        f"{where}: line {_line(text, pos)}: {snippet!r} is not supported by the local AppSync"
    )


def _condition(text: str, where: str) -> Any:
    """cond := term ((&&|||) term)*; term := !operand | operand [(==|!=) operand]."""
    terms: list[Any] = []
    joins: list[str] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        negate = text.startswith("!", pos) and not text.startswith("!=", pos)
        if negate:
            pos += 1
        left, pos = _operand(text, pos, where)
        rest = text[pos:].lstrip()
        pos = len(text) - len(rest)
        term: Any = ("not", left) if negate else ("truthy", left)
        for op in ("==", "!="):
            if rest.startswith(op) and not negate:
                right_start = pos + 2
                while right_start < len(text) and text[right_start].isspace():
                    right_start += 1
                right, pos = _operand(text, right_start, where)
                term = (op, left, right)
                break
        terms.append(term)
        rest = text[pos:].lstrip()
        if not rest:
            return ("cond", terms, joins)
        if rest[:2] not in ("&&", "||"):
            raise TemplateError(f"{where}: condition {text!r}: unexpected {rest[:10]!r}")
        joins.append(rest[:2])
        pos = len(text) - len(rest) + 2


def parse(text: str, where: str = "template") -> list[_Node]:
    """Parse a template; raise TemplateError for what the local AppSync does not support."""
    root: list[_Node] = []
    stack: list[tuple[_Node, list[_Node]]] = []  # open #if nodes and the list they sit in
    out = root
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.start() < pos:
            continue
        if m.start() > pos:
            out.append(_Node("text", text[pos : m.start()]))
        token = m.group(0)
        line = _line(text, m.start())
        if token.startswith("##"):
            pos = m.end() + (1 if text[m.end() : m.end() + 1] == "\n" else 0)
            continue
        if token == "#if(":
            end = _closing(text, m.end(), where)
            node = _Node("if", _condition(text[m.end() : end - 1], where), line, [], [])
            out.append(node)
            stack.append((node, out))
            out = node.then  # type: ignore[assignment]
            pos = end
        elif token == "#else":
            if not stack:
                raise TemplateError(f"{where}: line {line}: #else without #if")
            out = stack[-1][0].otherwise  # type: ignore[assignment]
            pos = m.end()
        elif token == "#end":
            if not stack:
                raise TemplateError(f"{where}: line {line}: #end without #if")
            out = stack.pop()[1]
            pos = m.end()
        elif token.startswith("#"):
            raise TemplateError(
                f"{where}: line {line}: {token} is not supported by the local AppSync "
                "(supported directives: #if, #else, #end)"
            )
        else:
            if token.startswith("${"):
                raise TemplateError(f"{where}: line {line}: ${{...}} references are not supported")
            value, pos = _operand(text, m.start(), where)
            out.append(_Node("expr", value, line))
    if stack:
        raise TemplateError(f"{where}: line {stack[-1][0].line}: #if without #end")
    if pos < len(text):
        out.append(_Node("text", text[pos:]))
    return root


def _value(expr: Any, context: dict[str, Any]) -> Any:
    kind = expr[0]
    if kind == "lit":
        return expr[1]
    if kind == "ref":
        value: Any = context
        for part in expr[1]:
            part = "arguments" if part == "args" and value is context else part
            value = value.get(part) if isinstance(value, dict) else None
        return value
    _, name, args = expr
    values = [_value(a, context) for a in args]
    if name == "toJson":
        return json.dumps(values[0], separators=(",", ":"), ensure_ascii=False)
    if name == "isNull":
        return values[0] is None
    if name == "isNullOrEmpty":
        return values[0] is None or values[0] == "" or values[0] == [] or values[0] == {}
    if name == "unauthorized":
        raise Unauthorized()
    raise ResolverError(str(values[0]))


def _holds(cond: Any, context: dict[str, Any]) -> bool:
    _, terms, joins = cond
    results = []
    for term in terms:
        if term[0] == "not":
            results.append(not _value(term[1], context))
        elif term[0] == "truthy":
            results.append(bool(_value(term[1], context)))
        else:
            equal = _value(term[1], context) == _value(term[2], context)
            results.append(equal if term[0] == "==" else not equal)
    held = results[0]
    for join, result in zip(joins, results[1:], strict=True):
        held = (held and result) if join == "&&" else (held or result)
    return held


def render(nodes: list[_Node], context: dict[str, Any]) -> str:
    """The template's text for `context` ({"arguments", "identity", "result", ...})."""
    out: list[str] = []
    for node in nodes:
        if node.kind == "text":
            out.append(node.value)
        elif node.kind == "expr":
            value = _value(node.value, context)
            out.append(
                "" if value is None else value if isinstance(value, str) else json.dumps(value)
            )
        else:
            branch = node.then if _holds(node.value, context) else node.otherwise
            out.append(render(branch or [], context))
    return "".join(out)
