"""The generated diagrams: committed files are current, and they draw what is deployed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from payops import diagram

ROOT = Path(__file__).resolve().parent.parent
STATEMACHINES = ROOT / "statemachines"


def _asl(name: str) -> dict[str, Any]:
    return json.loads((STATEMACHINES / f"{name}.asl.json").read_text(encoding="utf-8"))


def _mermaid(text: str) -> list[str]:
    blocks = re.findall(r"```mermaid\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "one Mermaid block per document"
    return [line.strip() for line in blocks[0].splitlines()]


@pytest.fixture(scope="module")
def drawn() -> dict[str, Any]:
    """The template the committed pictures show (diagram.DIAGRAM_CONTEXT)."""
    return diagram._synthesized_template()


def test_committed_diagrams_are_current(drawn) -> None:
    generated = diagram.documents(drawn)
    stale = [
        str(path)
        for path, text in generated.items()
        if not (ROOT / path).exists() or (ROOT / path).read_text(encoding="utf-8") != text
    ]
    assert not stale, f"out of date, run `make diagrams`: {stale}"
    committed = {p.relative_to(ROOT) for p in (ROOT / diagram.STATEMACHINE_DOCS).glob("*.md")}
    assert committed <= set(generated), "a workflow page without its ASL file"


def test_readme_shows_the_current_architecture(drawn) -> None:
    architecture = diagram.documents(drawn)[diagram.ARCHITECTURE_DOC]
    readme = (ROOT / diagram.README).read_text(encoding="utf-8")
    assert diagram.with_readme_diagram(readme, architecture) == readme, "run `make diagrams`"


def test_architecture_draws_every_rule_with_its_bus_and_targets(partner) -> None:
    resources = partner.json["Resources"]
    lines = set(_mermaid(diagram.documents(partner.json)[diagram.ARCHITECTURE_DOC]))
    rules = {k: r for k, r in resources.items() if r["Type"] == "AWS::Events::Rule"}
    assert rules
    # The Stripe bus, and the app event bus (the stack's own events; rule twins for events the
    # stack puts back): each rule is drawn from the bus it sits on.
    buses = [k for k, r in resources.items() if r["Type"] == "AWS::Events::EventBus"]
    for logical_id, rule in rules.items():
        name = rule["Properties"]["Name"].removeprefix("StripePayOps-")
        assert f'{logical_id}(["{name}"])' in lines
        if rule["Properties"]["EventBusName"] == "default":  # the backstop: Step Functions
            assert f'Workflows -.->|"runs no Catch saw"| {logical_id}' in lines
        else:
            (bus,) = [b for b in buses if b in json.dumps(rule["Properties"]["EventBusName"])]
            assert f"{bus} --> {logical_id}" in lines
        for target in rule["Properties"].get("Targets", []):
            arn = target["Arn"]
            target_id = arn["Ref"] if "Ref" in arn else arn["Fn::GetAtt"][0]
            assert f"{logical_id} --> {target_id}" in lines, (logical_id, target_id)


def test_architecture_follows_topics_to_queues_and_pipes_to_workflows(partner) -> None:
    resources = partner.json["Resources"]
    lines = {line.strip() for line in diagram.architecture(partner.json).splitlines()}
    subscriptions = [r for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    assert subscriptions
    for sub in subscriptions:
        topic = sub["Properties"]["TopicArn"]["Ref"]
        queue = sub["Properties"]["Endpoint"]["Fn::GetAtt"][0]
        assert f"{topic} --> {queue}" in lines
    for pipe in (r for r in resources.values() if r["Type"] == "AWS::Pipes::Pipe"):
        source = pipe["Properties"]["Source"]["Fn::GetAtt"][0]
        target = pipe["Properties"]["Target"]["Ref"]
        assert f'{source} -->|"EventBridge Pipe"| {target}' in lines


def test_architecture_draws_the_chat_and_ticket_pipes_out_to_their_apis(drawn) -> None:
    resources = drawn["Resources"]
    lines = {line.strip() for line in diagram.architecture(drawn).splitlines()}
    pipes = {k: r for k, r in resources.items() if r["Type"] == "AWS::Pipes::Pipe"}
    outside = {"Chat": "Slack", "Ticket": "Backlog"}
    for consumer, api in outside.items():
        (pipe,) = [p["Properties"] for k, p in pipes.items() if k.startswith(f"Outbound{consumer}")]
        queue = pipe["Source"]["Fn::GetAtt"][0]
        enrichment = pipe["Enrichment"]["Ref"]
        destination = pipe["Target"]["Fn::GetAtt"][0]
        assert f'{queue} -->|"EventBridge Pipe (filter)"| {enrichment}' in lines
        assert f'{enrichment} -->|"enriched"| {destination}' in lines
        assert any(line.startswith(f'{destination} -->|"HTTPS, ') and line.endswith(api)
                   for line in lines), (destination, api)  # fmt: skip


def test_architecture_does_not_depend_on_resource_order(partner) -> None:
    template = partner.json
    reordered = {**template, "Resources": dict(reversed(list(template["Resources"].items())))}
    assert diagram.architecture(reordered) == diagram.architecture(template)


MACHINES = sorted(p.name.removesuffix(".asl.json") for p in STATEMACHINES.glob("*.asl.json"))


def _transitions(states: dict[str, Any]) -> list[tuple[str, str]]:
    """(state, next state) for every Next, Default, Choice and Catch, nested states included."""
    found = []
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [rule["Next"] for rule in state.get("Choices", [])]
        targets += [catcher["Next"] for catcher in state.get("Catch", [])]
        found += [(name, target) for target in targets if target]
        nested = [state.get("ItemProcessor") or state.get("Iterator"), *state.get("Branches", [])]
        for inner in filter(None, nested):
            found += _transitions(inner["States"])
    return found


def _state_names(states: dict[str, Any]) -> list[str]:
    names = list(states)
    for state in states.values():
        nested = [state.get("ItemProcessor") or state.get("Iterator"), *state.get("Branches", [])]
        for inner in filter(None, nested):
            names += _state_names(inner["States"])
    return names


@pytest.mark.parametrize("name", MACHINES)
def test_state_diagram_has_every_state_and_transition(name: str) -> None:
    asl = _asl(name)
    lines = [line.strip() for line in diagram.state_machine(asl).splitlines()]
    assert lines[0] == "stateDiagram-v2"
    assert f"[*] --> {asl['StartAt']}" in lines
    for state in _state_names(asl["States"]):
        assert any(
            line.startswith(f"{state} : ") or line == f"state {state} {{" for line in lines
        ), state
    for source, target in _transitions(asl["States"]):
        edge = f"{source} --> {target}"
        assert any(line == edge or line.startswith(edge + " : ") for line in lines), edge


@pytest.mark.parametrize("name", MACHINES)
def test_state_diagram_labels_cannot_break_mermaid(name: str) -> None:
    for line in diagram.state_machine(_asl(name)).splitlines()[1:]:
        _, sep, label = line.partition(" : ")
        if sep:
            assert not re.search(r"[:;#{}]", label), line


def test_workflow_pages_say_the_deployed_workflow_type(partner) -> None:
    docs = diagram.documents(partner.json)
    machines = [
        r["Properties"]
        for r in partner.json["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    assert machines
    for properties in machines:
        name = properties["StateMachineName"].removeprefix("StripePayOps-")
        page = docs[diagram.STATEMACHINE_DOCS / f"{name}.md"]
        assert f"type: {properties.get('StateMachineType', 'STANDARD').title()}." in page


@pytest.mark.parametrize(
    ("rule", "wording"),
    [
        (
            {"Variable": "$.detail.data.object.amount_total", "NumericGreaterThanEquals": 30000},
            "object.amount_total >= 30000",
        ),
        (
            {"Variable": "$.detail.type", "StringMatches": "customer.*"},
            "detail.type matches 'customer.*'",
        ),
        ({"Variable": "$.x.email", "IsPresent": False}, "x.email not present"),
        (
            {
                "Or": [
                    {"Variable": "$.stack.status", "StringEquals": "CREATE_COMPLETE"},
                    {"Variable": "$.stack.status", "StringEquals": "UPDATE_COMPLETE"},
                ]
            },
            "stack.status in 'CREATE_COMPLETE', 'UPDATE_COMPLETE'",
        ),
        (
            {
                "And": [
                    {"Variable": "$.a.email", "IsPresent": True},
                    {"Variable": "$.a.email", "IsString": True},
                    {"Variable": "$.a.total", "NumericLessThanPath": "$.limits.max"},
                ]
            },
            "a.email present, string and a.total < limits.max",
        ),
        ({"Not": {"Variable": "$.s.paid", "BooleanEquals": True}}, "not (s.paid = true)"),
    ],
)
def test_choice_conditions_in_words(rule: dict[str, Any], wording: str) -> None:
    assert diagram.condition({**rule, "Next": "Somewhere"}) == wording
