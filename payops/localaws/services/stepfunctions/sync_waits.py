"""`.sync` Task waits woken by the child's ending instead of a half-second poll.

moto's `.sync` / `.sync:2` integration (startExecution above all: fulfilment-retry starts the
fulfilment workflow with it) checks whether the child has finished, and if not sleeps 0.5 s before
checking again. The first check comes right after the child started, so every `.sync` Task took
at least half a second however fast its child ran. The check is unchanged; the sleep between
checks now ends as soon as any execution ends (endings.py, signalled by the status-change
bridge), and at the latest after moto's 0.5 s, so a child that is not an execution (or a moto
without the signal) is checked exactly as often as before.
"""

from __future__ import annotations

import threading
import time
from types import ModuleType
from typing import Any

from payops.localaws.core.patch import Patch
from payops.localaws.services.stepfunctions.endings import endings, wait_for_an_ending

SPEEDUPS: dict[str, str] = {
    "sfn.sync_waits": (
        "A `.sync` Task slept 0.5 s between checks of its child, so each one took at least "
        "half a second (13 fulfilment-retry runs: 6.5 s); now the wait between checks ends "
        "when an execution ends (moto's 0.5 s at the latest)."
    ),
}
_MODULE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"
_checked = threading.local()  # endings() as of this thread's last check of its child


class _TimeModule(ModuleType):
    """The `time` module, but for `sleep`: what moto's `.sync` loop sees."""

    def __init__(self) -> None:
        super().__init__("time")

    @staticmethod
    def sleep(seconds: float) -> None:
        seen = getattr(_checked, "endings", None)
        if seen is None:  # not between two checks of a `.sync` child
            time.sleep(seconds)
        else:
            wait_for_an_ending(seen, seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def sync_waits_patches() -> list[Patch]:
    from importlib import import_module

    module = import_module(_MODULE + ".state_task_service_callback")
    if module.__dict__.get("time") is not time:
        raise RuntimeError(f"{module.__name__} no longer sleeps through `time`")
    callback_task = module.StateTaskServiceCallback
    original = callback_task._eval_sync

    def _eval_sync(self: Any, env: Any, sync_resolver: Any, *args: Any, **kwargs: Any) -> Any:
        if sync_resolver is None:
            return original(self, env, sync_resolver, *args, **kwargs)

        def checked() -> Any:
            # Counted before the check: an ending during the check wakes the next wait.
            _checked.endings = endings()
            return sync_resolver()

        try:
            return original(self, env, checked, *args, **kwargs)
        finally:
            _checked.endings = None

    return [
        Patch(module, "time", _TimeModule(), key="state_task_service_callback.time"),
        Patch(callback_task, "_eval_sync", _eval_sync),
    ]
