"""`statemachines/*.asl.json`: Amazon States Language files with `${Placeholder}` substitutions.

The files stay valid JSON (placeholders sit inside strings), so Workflow Studio opens them. The
stack passes the file unchanged as a plain `DefinitionString` with `DefinitionSubstitutions`
(CloudFormation fills the placeholders; cfn-lint's E3601 validates a plain string, not the
Fn::Join that splicing tokens in would make; `DefinitionBody.from_file` would make an S3 asset
that moto ignores); tests fill them with plain values. A placeholder without a value, or a value
without a placeholder, is an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

STATEMACHINES_DIR = Path(__file__).resolve().parent.parent / "statemachines"
PLACEHOLDER_RE = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


class AslError(ValueError):
    pass


def asl_path(name: str) -> Path:
    return STATEMACHINES_DIR / f"{name}.asl.json"


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER_RE.findall(text))


def checked(name: str, values: Mapping[str, object]) -> str:
    """The text of `statemachines/<name>.asl.json`, once every placeholder has exactly one value."""
    path = asl_path(name)
    text = path.read_text(encoding="utf-8")
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        raise AslError(f"{path.name}: not valid JSON: {err.msg} (line {err.lineno})") from None
    wanted = placeholders(text)
    missing = sorted(wanted - values.keys())
    unused = sorted(values.keys() - wanted)
    if missing or unused:
        raise AslError(f"{path.name}: placeholders without a value: {missing}; unused: {unused}")
    return text


def render(name: str, values: Mapping[str, str]) -> str:
    """The definition of `statemachines/<name>.asl.json` with every placeholder filled."""
    text = checked(name, values)
    return PLACEHOLDER_RE.sub(lambda m: str(values[m.group(1)]), text)
