"""Old module names of the local AWS, kept importable while callers move to the new layout.

`payops.localaws.stepfunctions_bridge` and the like were single modules before the local AWS was
laid out by service; each name now stands for the folder (or module) that replaced it, the very
same module object. Delete an entry once nothing imports it (`grep -rn <name> tests`).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from importlib import import_module
from types import ModuleType
from typing import Any

MOVED = {
    "cloudformation_bridge": "payops.localaws.services.cloudformation",
    "events_bridge": "payops.localaws.services.events",
    "lambda_bridge": "payops.localaws.services.lambda_",
    "pipes_bridge": "payops.localaws.services.pipes",
    "stepfunctions_bridge": "payops.localaws.services.stepfunctions",
    "fake_stripe": "payops.localaws.fakes.fake_stripe",
    "stripe_catalogue": "payops.localaws.fakes.stripe_catalogue",
}
_PREFIX = "payops.localaws."


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an old name with the module that replaced it (no second copy is made)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname.startswith(_PREFIX) and fullname[len(_PREFIX) :] in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = import_module(MOVED[spec.name[len(_PREFIX) :]])
        self._spec = module.__spec__  # the import system will overwrite it with the old name's
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self._spec


def install() -> None:
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
