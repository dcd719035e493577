"""Shared fixtures: CDK synthesis happens once per ingress mode per test session."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# No test may reach AWS: fake credentials and a fixed region for boto3 and moto.
for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}.items():
    os.environ[_key] = _value
for _key in [k for k in os.environ if k.startswith("PAYOPS_")]:
    del os.environ[_key]  # settings must come from each test, not the developer's shell

# The app's code does not change during a session: each settings combination is synthesized
# once, and every later LocalAws start with those settings deploys that assembly again.
from payops.localaws.core.gc_tuning import tune_gc  # noqa: E402
from payops.localaws.runtime import reuse_syntheses  # noqa: E402

reuse_syntheses()
tune_gc()  # the session runs local AWSs in this process (core/gc_tuning.py)

from kept_session import share_model_loaders  # noqa: E402

share_model_loaders()

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
PARTNER_SOURCE = "aws.partner/stripe.com/ed_test_61SampleDestination"


class Synthesized:
    """One ingress mode's app, synthesized once for the whole session.

    Its template is read from the assembly the local AWS deploys for the same settings
    (payops/localaws/syntheses.py: one synthesis per settings, shared by the pytest-xdist
    workers and the processes tests start). The app and its stack, for the tests that read the
    construct tree (cdk-nag, the rule catalogue), are built when first asked for, once per
    process; test_templates.py checks that the stack's template is the assembly's."""

    def __init__(self, ingress: str, **settings: Any) -> None:
        self.ingress = ingress
        self.context = {"ingress": ingress, "stripeEventSourceName": PARTNER_SOURCE, **settings}
        self._built: tuple[Any, Any] | None = None

    @functools.cached_property
    def assembly(self) -> str:
        """The cloud assembly's directory (shared: deploy it, never change it)."""
        from payops.localaws.syntheses import synthesize as synthesize_assembly

        return synthesize_assembly(self.context, None).directory

    @functools.cached_property
    def _template_text(self) -> str:
        from payops.app_factory import STACK_NAME

        return (Path(self.assembly) / f"{STACK_NAME}.template.json").read_text()

    @property
    def json(self) -> dict[str, Any]:
        """The template, a fresh copy each time: a test may change its own."""
        return json.loads(self._template_text)

    @functools.cached_property
    def template(self) -> Any:  # aws_cdk.assertions.Template
        from aws_cdk.assertions import Template

        return Template.from_json(self.json)

    @property
    def settings(self) -> Any:
        """What the app is built from (build_app loads the same context)."""
        from payops.settings import Settings

        return Settings.load(self.context)

    def _build(self) -> tuple[Any, Any]:
        if self._built is None:
            from payops.app_factory import build_app

            self._built = build_app(self.context, nag=False)
            SYNTH_COUNT["n"] += 1
        return self._built

    @property
    def app(self) -> Any:
        return self._build()[0]

    @property
    def stack(self) -> Any:
        return self._build()[1]


_SYNTHESIZED: dict[str, Synthesized] = {}
SYNTH_COUNT = {"n": 0}  # the apps built here for their construct tree (make bench reports it)


def synthesize(ingress: str) -> Synthesized:
    if ingress not in _SYNTHESIZED:
        _SYNTHESIZED[ingress] = Synthesized(ingress)
    return _SYNTHESIZED[ingress]


@pytest.fixture(scope="session")
def partner() -> Synthesized:
    return synthesize("partner")


@pytest.fixture(scope="session")
def webhook() -> Synthesized:
    return synthesize("webhook")


@pytest.fixture(scope="session", params=["partner", "webhook"])
def synthesized(request: pytest.FixtureRequest) -> Synthesized:
    return synthesize(request.param)


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


# --- analytics export (issue 16): the service bridges' tests -------------------------------------
@pytest.fixture
def bridged():
    """An in-process moto with every local-AWS service bridge installed (undone afterwards)."""
    from moto import mock_aws

    from payops.localaws.core import registry

    with mock_aws():
        registry.install()
        try:
            yield
        finally:
            registry.uninstall()


# --- pytest-xdist (`make test`: -n 2 --dist loadfile --no-loadscope-reorder): long files first --
# A free worker takes the next file in collection order, so a long file near the end leaves the
# other worker idle; taken first, the short files fill in around them. (pytest-xdist otherwise
# orders files by how many tests they hold, which ran the CDK CLI's file last: one worker idled
# 8 s at the end.) The files that start other processes (the CDK CLI, `cdk synth`, `payops serve`,
# replay workers) use more than their worker's core, so they alternate with in-process ones: the
# first two files run side by side, then each worker takes its next. Seconds per file in a
# `make test` run (2026-12-01, evening). Order only: a stale list costs seconds, never a result.
LONGEST_FILES = (
    "tests/localaws/deploy/test_cdk_deploy_server.py",
    "tests/hardening/test_duplicate_storms.py",
    "tests/test_operational_security.py",
    "tests/localaws/test_replay_real_events.py",
    "tests/test_serve.py",
    "tests/test_receiver_properties.py",
    "tests/localaws/test_replay_workers.py",
    "tests/workflows/test_subscriptions.py",
    "tests/localaws/test_replay_cli.py",
    "tests/localaws/deploy/test_deploy.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):
        return  # not an xdist worker: collection order
    rank = {path: index for index, path in enumerate(LONGEST_FILES)}
    # A stable sort: each file's tests stay together and in their order.
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


# --- one synthesis per settings for the whole session ----------------------------------------
# The controller (or the only process) names a directory of synthesized assemblies that its
# pytest-xdist workers and the `payops replay` / `payops serve` processes tests start share
# (payops/localaws/syntheses.py): each settings combination is synthesized once per session,
# not once per process. Removed when the session ends.
_SHARED_DIRECTORY = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    import tempfile

    from payops.localaws.syntheses import SHARED_ASSEMBLIES_ENV

    if hasattr(config, "workerinput") or os.environ.get(SHARED_ASSEMBLIES_ENV):
        return  # a worker inherits the controller's directory
    directory = tempfile.mkdtemp(prefix="payops-assemblies-")
    os.environ[SHARED_ASSEMBLIES_ENV] = directory
    config.stash[_SHARED_DIRECTORY] = directory


@pytest.hookimpl(trylast=True)  # after pytest's own last collection (its unraisable errors)
def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    from payops.localaws.core.gc_tuning import leave_heap_at_exit

    leave_heap_at_exit(collect=False)  # every process of the session: controller and workers

    from payops.localaws.syntheses import SHARED_ASSEMBLIES_ENV

    directory = config.stash.get(_SHARED_DIRECTORY, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
        os.environ.pop(SHARED_ASSEMBLIES_ENV, None)
