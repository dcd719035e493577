"""The live-status picture (issue 15), drawn from a template synthesized with a user pool:
which events reach which AppSync mutation, and who subscribes. `make diagrams` writes it to
docs/live-status.md and between the README's live-status markers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LIVE_STATUS_DOC = Path("docs/live-status.md")
README_START = "<!-- live-status:start (make diagrams) -->"
README_END = "<!-- live-status:end -->"
EXAMPLE_POOL = "ap-northeast-1_Example1"  # any valid id: the picture does not depend on it
_SUBSCRIBERS = (  # (node, who, what they subscribe to)
    ("Page", "order-status page", "onOrderStatus(appUserId, checkoutSessionId)"),
    ("App", "signed-in app", "onAccessChanged(appUserId)"),
)


def _source_of(rule: Mapping[str, Any]) -> str:
    """The internal source a rule names, or "Stripe" (either ingress path's source)."""
    from payops.rules import INTERNAL_SOURCES

    source = rule["Properties"]["EventPattern"].get("source", [""])[0]
    return source if isinstance(source, str) and source in INTERNAL_SOURCES else "Stripe"


def _producers(resources: Mapping[str, Any]) -> dict[str, str]:
    """Internal source -> the workflow that puts it on the bus (by its definition's text)."""
    found = {}
    for logical, resource in resources.items():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            text = json.dumps(resource["Properties"].get("DefinitionString", ""))
            name = resource["Properties"].get("StateMachineName", logical).split("-", 1)[-1]
            for source in re.findall(r'Source\\\\?":\s*\\\\?"(payops\.[a-z-]+)', text):
                found[source] = name
    return found


def live_status(template: Mapping[str, Any]) -> str:
    resources = template["Resources"]
    lines = [
        "flowchart LR",
        '    Stripe(["Stripe"])',
        '    Bus{{"Stripe event bus"}}',
        '    AppBus{{"app event bus<br/>(the stack\'s own events)"}}',
    ]
    producers = _producers(resources)
    sources, edges = set(), []
    lines.append('    subgraph Rules["Rules (rules/*.json) with an AppSync target"]')
    for logical, rule in sorted(resources.items()):
        if rule["Type"] != "AWS::Events::Rule":
            continue
        for target in rule["Properties"].get("Targets", []):
            operation = (target.get("AppSyncParameters") or {}).get("GraphQLOperation")
            if not operation:
                continue
            field = re.search(r"\{\s*(\w+)\(", operation).group(1)  # type: ignore[union-attr]
            name = rule["Properties"]["Name"].split("-", 1)[-1]
            status = re.search(r'"status": "(\w+)"', target["InputTransformer"]["InputTemplate"])
            lines.append(f'        {logical}(["{name}"])')
            source = _source_of(rule)
            sources.add(source)
            edges.append(f"    {'Bus' if source == 'Stripe' else 'AppBus'} --> {logical}")
            label = f"{field} {status.group(1)}" if status else field
            edges.append(f'    {logical} -->|"{label}"| Api')
    lines.append("    end")
    for source in sorted(sources - {"Stripe"}):
        node = re.sub(r"\W", "", source.title())
        what = f"workflow {producers[source]}" if source in producers else "its workflow"
        lines.append(f'    {node}[["{what}<br/>source {source}"]]')
        edges.append(f"    {node} -->|PutEvents| AppBus")
    edges.append('    Stripe -->|"checkout.session.* events"| Bus')
    lines.append('    Api[/"AppSync GraphQL API<br/>NONE data source, VTL resolvers"/]')
    lines.append('    Cognito[("Cognito user pool")]')
    for node, title, subscription in _SUBSCRIBERS:
        lines.append(f'    {node}(["{title}"])')
        edges.append(f'    Api -->|"{subscription}: own updates only"| {node}')
        edges.append(f'    Cognito -.->|"ID token"| {node}')
    return "\n".join(lines + sorted(set(edges)))


def document(template: Mapping[str, Any]) -> str:
    from payops.diagram import GENERATED_NOTE

    return (
        "# Live status\n\n"
        f"{GENERATED_NOTE} Drawn from a template synthesized with `cognitoUserPoolId` set.\n\n"
        "```mermaid\n" + live_status(template) + "\n```\n\n"
        "Solid arrows: events and mutations (EventBridge signs with IAM, through a role that may "
        "call the two publish mutations only); the app and the page subscribe over AppSync's "
        "real-time WebSocket with the user's Cognito ID token.\n"
    )


def with_readme_diagram(readme: str, doc: str) -> str:
    from payops import diagram

    return diagram.with_readme_diagram(readme, doc, README_START, README_END)


def synthesized_template() -> dict[str, Any]:
    from payops.app_factory import build_app  # first: it quiets jsii's Node 20 banner

    from aws_cdk.assertions import Template  # isort: skip

    _app, stack = build_app({"ingress": "partner", "cognitoUserPoolId": EXAMPLE_POOL}, nag=False)
    return Template.from_stack(stack).to_json()
