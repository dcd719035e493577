"""Waiting for a Step Functions execution in the tests that drive moto directly."""

from __future__ import annotations

import time
from typing import Any


def ended(sfn: Any, arn: str, within_s: float = 15.0) -> dict[str, Any]:
    """DescribeExecution once the execution is no longer RUNNING; fails the test, naming the
    execution, if it still is after `within_s`."""
    deadline = time.monotonic() + within_s
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still RUNNING after {within_s} s"
        time.sleep(0.005)
    return described


def count_parses(monkeypatch: Any) -> list[str]:
    """The definitions parsed from now on: by moto's own parse (plain moto) or by the speed-ups'
    (program_store.parse_program, which falls back to moto's on an error: counted once)."""
    import threading

    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from payops.localaws.services.stepfunctions import program_store

    parsed: list[str] = []
    inside = threading.local()
    moto_parse, program_parse = AmazonStateLanguageParser.parse, program_store.parse_program

    def by_moto(definition: str) -> Any:
        if not getattr(inside, "on", False):
            parsed.append(definition)
        return moto_parse(definition)

    def by_speedups(definition: str) -> Any:
        parsed.append(definition)
        inside.on = True
        try:
            return program_parse(definition)
        finally:
            inside.on = False

    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(by_moto))
    monkeypatch.setattr(program_store, "parse_program", by_speedups)
    return parsed
