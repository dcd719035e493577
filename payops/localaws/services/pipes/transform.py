"""What a pipe does to a record before its enrichment and target, as EventBridge Pipes documents it.

- Implicit body parsing: an SQS record's `body` that is JSON is matched and transformed as the
  parsed object (`$.body.detail.id`), not as text.
- Filter criteria: up to five patterns, any of which keeps the record; a record that matches none
  is dropped (for SQS, deleted from the queue). Patterns are matched by payops.patterns, the
  project's own EventBridge matcher (moto's is wrong inside arrays and on misspelt operators).
- Input templates: `<$.json.path>` and the reserved `<aws.pipes.*>` variables. A variable inside a
  JSON string is inserted escaped (EventBridge keeps the output valid JSON); outside quotes it is
  inserted as JSON in a JSON template, and as plain text in a free-text template.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from payops.patterns import matches

_PLACEHOLDER = re.compile(r"<(\$[^<>\s]*|aws\.pipes\.[a-z.-]+)>")
_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


class TransformError(ValueError):
    pass


def parsed(record: dict[str, Any]) -> dict[str, Any]:
    """The record as filters and templates see it: a JSON body parsed."""
    body = record.get("body")
    if isinstance(body, str):
        try:
            return {**record, "body": json.loads(body)}
        except ValueError:
            pass
    return record


def kept(pipe: Any, record: dict[str, Any]) -> bool:
    """True if the pipe has no filter or one of its patterns matches the (parsed) record."""
    criteria = ((pipe.source_parameters or {}).get("FilterCriteria") or {}).get("Filters") or []
    if not criteria:
        return True
    view = parsed(record)
    return any(matches(json.loads(f["Pattern"]), view) for f in criteria)


def _lookup(data: Any, path: str) -> Any:
    """`$`, `$.a.b`, `$.a[0].b`; a missing step gives None."""
    if path == "$":
        return data
    node = data
    for name, index in _STEP.findall(path[1:]):
        if name:
            node = node.get(name) if isinstance(node, dict) else None
        else:
            node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else None
    return node


def _reserved(name: str, pipe: Any) -> str:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "aws.pipes.pipe-arn": pipe.arn,
        "aws.pipes.pipe-name": pipe.name,
        "aws.pipes.source-arn": pipe.source,
        "aws.pipes.enrichment-arn": pipe.enrichment or "",
        "aws.pipes.target-arn": pipe.target,
        "aws.pipes.event.ingestion-time": now,
    }.get(name, "")


def render(template: str, data: Any, pipe: Any) -> Any:
    """The template filled from `data`: a JSON value for a JSON template, else text."""
    is_json = template.lstrip().startswith(("{", "["))
    out: list[str] = []
    in_string = False
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        literal = template[position : match.start()]
        in_string = _string_state(literal, in_string)
        out.append(literal)
        name = match.group(1)
        if name == "aws.pipes.event.json":
            value: Any = data
        elif name.startswith("$"):
            value = _lookup(data, name)
        else:
            value = _reserved(name, pipe)
        if in_string:
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            out.append(json.dumps("" if value is None else text, ensure_ascii=False)[1:-1])
        elif is_json or not isinstance(value, str):
            out.append(json.dumps(value, ensure_ascii=False))
        else:
            out.append(value)
        position = match.end()
    out.append(template[position:])
    text = "".join(out)
    if not is_json:
        return text
    try:
        return json.loads(text)
    except ValueError as err:
        raise TransformError(f"pipe {pipe.name}: input template gave invalid JSON: {err}") from None


def _string_state(literal: str, in_string: bool) -> bool:
    """Whether a JSON template is inside a string after `literal` (escapes honoured)."""
    escaped = False
    for char in literal:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = in_string
        elif char == '"':
            in_string = not in_string
    return in_string
