"""EventBridge speed-up `events.input_paths`: moto's EventTemplateParser.parse (a target's input,
from its InputTransformer or moto's default template, for the deliveries moto makes itself) line for
line, but each JSONPath parsed once (LRU cache) instead of by a new jsonpath_ng parser.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.patch import Patch


def event_input_paths_patches() -> list[Patch]:
    """moto's EventTemplateParser.parse, with each input path parsed once."""
    found: list[Patch] = []
    import functools
    import json

    from jsonpath_ng.ext import parse as parse_uncached
    from moto.events.utils import EventTemplateParser

    parse = functools.lru_cache(maxsize=1024)(parse_uncached)  # parsed paths are immutable

    def template_parse(
        input_template: str, input_paths_map: dict[str, Any], event: Any
    ) -> dict[str, Any]:
        # Line for line the pinned moto's EventTemplateParser.parse, but for the cached parse.
        template = input_template or EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
        paths = input_paths_map or EventTemplateParser.DEFAULT_EVENT_INPUT_PATHS_MAP
        for name in paths:
            matches = parse(paths[name]).find(event)
            result = EventTemplateParser._stringify(matches[0].value) if matches else None
            if result:
                template = template.replace(f"<{name}>", result)
        defaults = {
            "aws.events.event.json": event,
            "aws.events.event.ingestion-time": event["ingestion-time"],
        }
        for name, value in defaults.items():
            template = template.replace(f"<{name}>", EventTemplateParser._stringify(value))
        return json.loads(template)

    found.append(Patch(EventTemplateParser, "parse", staticmethod(template_parse)))
    return found


SPEEDUPS: dict[str, str] = {
    "events.input_paths": (
        "Every rule delivery through moto (SQS, archive, log targets) re-parsed each input path "
        "with a new jsonpath_ng yacc parser (~5 ms each)."
    ),
}
