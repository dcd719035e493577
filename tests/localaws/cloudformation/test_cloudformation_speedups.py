"""services/cloudformation/speedups.py (cfn.json_templates): a JSON template is read as JSON,
to the same dict moto's YAML reading gives; YAML templates still go to moto's reader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from moto.cloudformation.models import Stack

from payops.localaws.core.patch import restored
from payops.localaws.core.registry import SPEEDUPS as speedups

YAML_TEMPLATE = """
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-q"  # a short-form tag and a comment: not JSON
Outputs:
  Url:
    Value: !Ref Queue
"""


@pytest.fixture
def plain_and_fast() -> Iterator[tuple[Any, Any]]:
    with restored(speedups):
        speedups.uninstall()
        plain = Stack.parse_template
        speedups.install()
        yield plain, Stack.parse_template


def test_a_cdk_template_reads_to_moto_s_own_dict_without_yaml(
    plain_and_fast: tuple[Any, Any], webhook: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, fast = plain_and_fast
    assert fast is not plain
    text = json.dumps(webhook.json)
    expected = plain(text)
    assert expected["Resources"]  # moto's YAML reading of the real template
    edge = json.dumps(
        {"Values": ["yes", "on", "0x1F", "1e5", 1.5e5, "2026-12-01", None, True, "\u00e9", ""]}
    )
    expected_edge = plain(edge)

    def no_yaml(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a JSON template went through YAML")

    monkeypatch.setattr(yaml, "load", no_yaml)
    assert fast(text) == expected
    assert fast(edge) == expected_edge


def test_yaml_templates_still_go_to_moto_s_reader(plain_and_fast: tuple[Any, Any]) -> None:
    plain, fast = plain_and_fast
    parsed = fast(YAML_TEMPLATE)
    assert parsed == plain(YAML_TEMPLATE)
    assert parsed["Outputs"]["Url"]["Value"] == {"Ref": "Queue"}
    raised = []
    for parse in (plain, fast):  # text neither reader takes: moto's own error, as before
        with pytest.raises(Exception) as caught:
            parse('{"not": "closed"')
        raised.append(type(caught.value))
    assert raised[0] is raised[1]
