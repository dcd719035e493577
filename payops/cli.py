"""`payops`: the project's command line (rule catalogue, matching, local AWS)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from payops.settings import SETTING_KEYS, Settings, SettingsError


class UsageError(ValueError):
    pass


def _parse_context(pairs: Sequence[str]) -> dict[str, str]:
    context: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"-c expects key=value, got {pair!r}")
        if key not in SETTING_KEYS:
            raise UsageError(f"-c {key}: unknown setting (known: {', '.join(SETTING_KEYS)})")
        context[key] = value
    return context


def _settings(args: argparse.Namespace) -> Settings:
    context = _parse_context(args.context)
    if args.ingress:
        context["ingress"] = args.ingress
    return Settings.load(context)


def cmd_rules(args: argparse.Namespace) -> int:
    from payops.rules import load_catalogue

    rules = load_catalogue(_settings(args))
    if args.json:
        print(json.dumps({rule.name: rule.pattern for rule in rules}, indent=2))
    else:
        width = max(len(rule.name) for rule in rules)
        for rule in rules:
            print(f"{rule.name:<{width}}  {rule.description}")
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    from payops.envelope import EventFileError, load_events
    from payops.patterns import matches
    from payops.rules import deployed_patterns, load_catalogue

    settings = _settings(args)
    rules = load_catalogue(settings)
    failed = False
    for name in args.events:
        try:
            loaded = load_events(Path(name), settings)
        except EventFileError as err:
            print(f"error: {err}", file=sys.stderr)
            failed = True
            continue
        for event in loaded:
            names = [
                rule.name
                for rule in rules
                if any(matches(pattern, event.envelope) for pattern in deployed_patterns(rule))
            ]
            if args.json:
                print(json.dumps({"event": event.label, "rules": names}))
            else:
                print(f"{event.label}: {', '.join(names) if names else '(no rule matches)'}")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--ingress",
        choices=("partner", "webhook"),
        help="ingress mode (default: partner, or the ingress setting)",
    )
    common.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting, as with `cdk -c` (e.g. largeOrderThresholdJpy=50000)",
    )

    parser = argparse.ArgumentParser(
        prog="payops", description="Stripe events into payment operations on AWS."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    rules = sub.add_parser("rules", parents=[common], help="list the rule catalogue")
    rules.add_argument("--json", action="store_true", help="print each rule's effective pattern")
    rules.set_defaults(func=cmd_rules)

    match = sub.add_parser("match", parents=[common], help="which rules match each event file")
    match.add_argument(
        "events",
        nargs="+",
        metavar="EVENT.json",
        help="EventBridge envelope or Stripe Event (file, directory or list)",
    )
    match.add_argument("--json", action="store_true", help="one JSON line per event")
    match.set_defaults(func=cmd_match)

    from payops.localaws.cli import _add_stripe_data, add_commands
    from payops.serve import add_command as add_serve

    add_commands(sub, common)
    add_serve(sub, common, _add_stripe_data)
    # Analytics (issue 16): payops report.
    from payops.analytics.report import add_command as add_report

    add_report(sub, common, _add_stripe_data)
    return parser


def cmd_local_aws(args: argparse.Namespace) -> int:
    """`local`, `replay`, `serve`, `report`: settings are validated here, before anything starts."""
    from payops.localaws.core.gc_tuning import tune_gc

    tune_gc()  # this process runs a local AWS from here to its end
    context = _parse_context(args.context)
    if args.ingress:
        context["ingress"] = args.ingress
    Settings.load(context)
    return args.local_func(args, context)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from payops.rules import RuleError

    try:
        if hasattr(args, "local_func"):
            return cmd_local_aws(args)
        return args.func(args)
    except (SettingsError, RuleError, UsageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run() -> int:
    """The `payops` command (and `python -m payops`): `main`, then, the process ending, its heap
    left to the OS instead of walked once more by the interpreter's shutdown (a local AWS's
    objects: ~1.4 s of a `payops serve` stop; core/gc_tuning.py). `main` itself leaves the
    collector alone, for callers that go on, e.g. tests."""
    from payops.localaws.core.gc_tuning import leave_heap_at_exit

    code = main()
    leave_heap_at_exit()
    return code


if __name__ == "__main__":
    sys.exit(run())
