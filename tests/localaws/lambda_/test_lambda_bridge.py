"""The Lambda bridge: handlers run in-process, like Lambda, where the pinned moto needs Docker."""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import socket
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import moto
import pytest
import requests
from moto import mock_aws

from payops.localaws.core.account import REGION
from payops.localaws.core.moto_pin import MOTO_VERSION
from payops.localaws.core.recorder import RECORDER
from payops.localaws.services import lambda_ as lambda_bridge


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


ECHO = """
import os
import socket
CALLS = []

def handler(event, context):
    CALLS.append(1)
    print("echo called")
    return {
        "event": event,
        "colour": os.environ.get("COLOUR"),
        "fn_env": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "remaining": context.get_remaining_time_in_millis(),
        "calls": len(CALLS),
    }
"""


@pytest.fixture
def bridge() -> Iterator[None]:
    """The bridge installed for the test; the process-wide state is put back afterwards."""
    was_installed = lambda_bridge.is_installed()
    lambda_bridge.install()
    yield
    lambda_bridge.unregister_code_dirs()
    lambda_bridge.set_endpoint_url(None)
    if not was_installed:
        lambda_bridge.uninstall()


@functools.cache
def client(service: str) -> Any:
    """One client per service for the module (creating clients is the slow part of these tests)."""
    return boto3.client(service, region_name=REGION)


@pytest.fixture
def lam() -> Iterator[Any]:
    with mock_aws():
        yield client("lambda")


def create(
    lam: object,
    name: str,
    files: dict[str, str],
    handler: str = "index.handler",
    env: dict[str, str] | None = None,
) -> str:
    role = client("iam").create_role(RoleName=f"role-{name}", AssumeRolePolicyDocument="{}")[
        "Role"
    ]["Arn"]
    response = lam.create_function(  # type: ignore[attr-defined]
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler=handler,
        Code={"ZipFile": zipped(files)},
        Environment={"Variables": env or {}},
        Timeout=30,
    )
    return response["FunctionArn"]


def invoke(lam: object, name: str, payload: object, **kwargs: str) -> dict:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), **kwargs)  # type: ignore[attr-defined]
    response["Body"] = response["Payload"].read()
    return response


def test_plain_moto_needs_docker_and_the_bridge_runs_the_handler(lam: object) -> None:
    was_installed = lambda_bridge.is_installed()
    lambda_bridge.uninstall()
    try:
        create(lam, "echo", {"index.py": ECHO}, env={"COLOUR": "teal"})
        plain = invoke(lam, "echo", {"n": 1})
        assert plain.get("FunctionError") and b"docker" in plain["Body"]  # the gap

        lambda_bridge.install()
        mark = RECORDER.mark()
        bridged = invoke(lam, "echo", {"n": 1})
    finally:
        if not was_installed:
            lambda_bridge.uninstall()
    assert "FunctionError" not in bridged
    result = json.loads(bridged["Body"])
    assert result["event"] == {"n": 1}
    assert result["colour"] == "teal" and result["fn_env"] == "echo"
    assert result["function_name"] == "echo" and result["request_id"]
    assert 0 < result["remaining"] <= 30_000
    assert [f.data for f in RECORDER.since(mark, "lambda_invoked")] == [
        {"function": "echo", "error": None}
    ]


def test_environment_and_sys_path_are_restored_and_state_stays_warm(
    lam: object, bridge: None
) -> None:
    create(lam, "echo", {"index.py": ECHO}, env={"COLOUR": "teal"})
    path_before, modules_before = list(sys.path), set(sys.modules)
    assert "COLOUR" not in os.environ
    first = json.loads(invoke(lam, "echo", {})["Body"])
    second = json.loads(invoke(lam, "echo", {})["Body"])
    assert (first["calls"], second["calls"]) == (1, 2)  # module state survives: a warm container
    assert first["request_id"] != second["request_id"]
    assert "COLOUR" not in os.environ and "AWS_LAMBDA_FUNCTION_NAME" not in os.environ
    assert sys.path == path_before
    assert not {m for m in set(sys.modules) - modules_before if "lambda" in m or m == "index"}


def test_functions_are_isolated_from_each_other(lam: object, bridge: None) -> None:
    index = "import util\n\ndef handler(event, context):\n    return util.WHO\n"
    create(lam, "one", {"index.py": index, "util.py": "WHO = 'one'\n"})
    create(lam, "two", {"index.py": index, "util.py": "WHO = 'two'\n"})
    answers = [json.loads(invoke(lam, name, {})["Body"]) for name in ("one", "two", "one")]
    assert answers == ["one", "two", "one"]
    assert "util" not in sys.modules and "index" not in sys.modules


def test_a_host_module_the_function_also_ships_is_restored_after_every_call(
    lam: object, bridge: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Lambda dependencies ship modules the host has imported too (typing_extensions): the
    # host's copy must be back after each call, warm calls included, or the host's next import
    # of that name loads a second copy (aws_cdk then fails with a metaclass conflict).
    host = ModuleType("shipped_too")
    monkeypatch.setitem(sys.modules, "shipped_too", host)
    index = "import shipped_too\n\ndef handler(event, context):\n    return shipped_too.WHO\n"
    create(lam, "ships", {"index.py": index, "shipped_too.py": "WHO = 'function'\n"})
    for _ in range(3):
        assert json.loads(invoke(lam, "ships", {})["Body"]) == "function"
        assert sys.modules["shipped_too"] is host


def test_a_host_package_the_function_also_ships_is_its_own_submodules_included(
    lam: object, bridge: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A package both sides have (the host imported `shipped_pkg.sub` too): inside the call the
    # function's own package and submodule, afterwards the host's, every call.
    host, host_sub = ModuleType("shipped_pkg"), ModuleType("shipped_pkg.sub")
    host.__path__ = []  # type: ignore[attr-defined]
    host_sub.WHO = "host"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shipped_pkg", host)
    monkeypatch.setitem(sys.modules, "shipped_pkg.sub", host_sub)
    index = (
        "import shipped_pkg.sub\n\ndef handler(event, context):\n    return shipped_pkg.sub.WHO\n"
    )
    files = {"index.py": index, "shipped_pkg/__init__.py": "", "shipped_pkg/sub.py": "WHO = 'fn'\n"}
    create(lam, "ships-package", files)
    for _ in range(3):
        assert json.loads(invoke(lam, "ships-package", {})["Body"]) == "fn"
        assert sys.modules["shipped_pkg"] is host and sys.modules["shipped_pkg.sub"] is host_sub


def test_an_exception_is_an_unhandled_function_error(lam: object, bridge: None) -> None:
    create(lam, "boom", {"index.py": "def handler(e, c):\n    raise ValueError('bad ' + e['x'])\n"})
    mark = RECORDER.mark()
    response = invoke(lam, "boom", {"x": "input"})
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Body"])
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "bad input"
    assert any("raise ValueError" in line for line in error["stackTrace"])
    assert RECORDER.since(mark, "lambda_invoked")[0].data == {
        "function": "boom",
        "error": "ValueError",
    }


@pytest.mark.parametrize(
    ("files", "handler", "error_type"),
    [
        ({"index.py": "import not_a_module_here\n"}, "index.handler", "Runtime.ImportModuleError"),
        ({"index.py": "x = 1\n"}, "index.handler", "Runtime.HandlerNotFound"),
        (
            {"index.py": "def handler(e, c):\n    return object()\n"},
            "index.handler",
            "Runtime.MarshalError",
        ),
        (
            {"index.py": "def handler(e, c):\n    return 1\n"},
            "missing.handler",
            "Runtime.ImportModuleError",
        ),
    ],
)
def test_runtime_errors_look_like_lambdas(
    lam: object, bridge: None, files: dict[str, str], handler: str, error_type: str
) -> None:
    create(lam, "broken", files, handler=handler)
    response = invoke(lam, "broken", {})
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Body"])["errorType"] == error_type


def test_registered_code_dir_wins_over_the_stored_zip(
    lam: object, bridge: None, tmp_path: Path
) -> None:
    arn = create(lam, "asset", {"index.py": "def handler(e, c):\n    return 'from zip'\n"})
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "main.py").write_text("def run(e, c):\n    return 'from dir'\n")
    assert json.loads(invoke(lam, "asset", {})["Body"]) == "from zip"
    lambda_bridge.register_code_dir(arn, str(tmp_path))
    lam.update_function_configuration(FunctionName="asset", Handler="app.main.run")  # type: ignore[attr-defined]
    assert json.loads(invoke(lam, "asset", {})["Body"]) == "from dir"
    assert "app" not in sys.modules


def test_a_function_without_code_says_what_to_do(lam: object, bridge: None) -> None:
    from moto.awslambda.utils import get_backend

    create(lam, "nocode", {"index.py": ""})
    get_backend("123456789012", REGION).get_function("nocode").code_bytes = b""  # a CDK asset
    response = invoke(lam, "nocode", {})
    assert response["FunctionError"] == "Unhandled"
    assert "register_code_dir" in json.loads(response["Body"])["errorMessage"]


SLEEPER = """
import time

def handler(event, context):
    time.sleep(event["seconds"])
    return "slept"
"""


def _invoke_together(lam: object, seconds: list[float]) -> list[dict]:
    """One thread per call, released together; the decoded payloads in call order."""
    start = threading.Barrier(len(seconds))
    answers: list[dict] = [{}] * len(seconds)

    def call(i: int) -> None:
        start.wait()
        answers[i] = json.loads(invoke(lam, "sleeper", {"seconds": seconds[i]})["Body"])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(seconds))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_calls_queue_while_others_finish_and_only_a_stuck_holder_is_refused(
    lam: object, bridge: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handlers run one at a time in-process. Twelve 0.1 s calls at once wait 1.2 s for the
    last one, over the limit of 0.8 s: that is a queue that moves (each call holds the lock an
    eighth of the limit, room for a loaded machine), and every call runs (a duplicate storm queues
    a hundred formatter calls). Only a call that holds the lock past the limit makes the others
    give up, with an error that names the cause."""
    from payops.localaws.services.lambda_ import invoke as invoke_module

    monkeypatch.setattr(invoke_module, "LOCK_TIMEOUT_S", 0.8)
    monkeypatch.setattr(invoke_module, "LOCK_POLL_S", 0.05)
    create(lam, "sleeper", {"index.py": SLEEPER})
    assert _invoke_together(lam, [0.1] * 12) == ["slept"] * 12

    stuck = threading.Thread(target=invoke, args=(lam, "sleeper", {"seconds": 1.5}))
    stuck.start()
    while not invoke_module._held["depth"]:  # until the stuck call holds the lock
        time.sleep(0.01)
    refused = json.loads(invoke(lam, "sleeper", {"seconds": 0})["Body"])
    stuck.join()
    assert refused["errorType"] == "LocalBridge.Busy"
    assert "held the lock for over 0.8s" in refused["errorMessage"]


def test_async_and_tail_invocations(lam: object, bridge: None) -> None:
    create(lam, "echo", {"index.py": ECHO})
    mark = RECORDER.mark()
    queued = invoke(lam, "echo", {}, InvocationType="Event")
    assert queued["StatusCode"] == 202 and queued["Body"] == b""
    assert len(RECORDER.since(mark, "lambda_invoked")) == 1  # it ran
    tail = invoke(lam, "echo", {}, LogType="Tail")
    assert "echo called" in base64.b64decode(tail["LogResult"]).decode()


def test_install_is_pinned_to_the_moto_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto, "__version__", "5.2.6")
    with pytest.raises(RuntimeError, match=f"moto=={MOTO_VERSION}"):
        lambda_bridge.install()


def test_install_is_idempotent_and_bridges_are_described(bridge: None) -> None:
    from moto.awslambda.models import LambdaFunction

    patched = LambdaFunction.invoke
    lambda_bridge.install()
    assert LambdaFunction.invoke is patched
    assert lambda_bridge.invoke.GAPS and all(
        isinstance(v, str) and v and "\n" not in v for v in lambda_bridge.invoke.GAPS.values()
    )


def test_under_threaded_moto_server_calls_go_to_the_server(
    bridge: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.server import ThreadedMotoServer

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="localhost", port=port, verbose=False)
    server.start()
    endpoint = f"http://localhost:{port}"
    try:
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
        iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint)
        lam = boto3.client("lambda", region_name=REGION, endpoint_url=endpoint)
        url = sqs.create_queue(QueueName="from-handler")["QueueUrl"]
        handler = (
            "import boto3, os\n"
            "def handler(event, context):\n"
            "    boto3.client('sqs').send_message(QueueUrl=os.environ['OUT'], MessageBody='hi')\n"
            "    return os.environ['AWS_ENDPOINT_URL']\n"
        )
        role = iam.create_role(RoleName="srv", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam.create_function(
            FunctionName="srv",
            Runtime="python3.12",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": zipped({"index.py": handler})},
            Environment={"Variables": {"OUT": url}},
        )
        refused = lam.invoke(FunctionName="srv", Payload=b"{}")
        assert json.loads(refused["Payload"].read())["errorType"] == "LocalBridge.NoEndpoint"
        lambda_bridge.set_endpoint_url(endpoint)
        answered = lam.invoke(FunctionName="srv", Payload=b"{}")
        assert json.loads(answered["Payload"].read()) == endpoint
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["hi"]
    finally:
        requests.post(f"{endpoint}/moto-api/reset", timeout=5)
        server.stop()
