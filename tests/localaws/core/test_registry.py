"""The layout's promises: one folder per service, registered once, documented, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from payops.localaws import bridges
from payops.localaws.core import registry
from payops.localaws.core.moto_pin import MOTO_VERSION

LOCALAWS = Path(__file__).resolve().parents[3] / "payops" / "localaws"
SERVICES = LOCALAWS / "services"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_every_service_folder_is_registered_once() -> None:
    folders = sorted(p.name for p in SERVICES.iterdir() if (p / "__init__.py").is_file())
    assert sorted(registry.SERVICE_NAMES) == folders
    assert len(set(registry.SERVICE_NAMES)) == len(registry.SERVICE_NAMES)
    assert [s.name for s in registry.services()] == ["moto_core", *registry.SERVICE_NAMES]


@pytest.mark.parametrize("service", registry.services(), ids=lambda s: s.name)
def test_each_service_docstring_lists_the_gaps_it_bridges(service: registry.Service) -> None:
    home = SERVICES / service.name / "__init__.py"
    if service.name == "moto_core":  # moto's own core: speed-ups only, beside the registry
        home = LOCALAWS / "core" / "moto_core.py"
    doc = home.read_text().split('"""')[1]
    listed = {line[2:].strip() for line in doc.splitlines() if line.startswith("- ")}
    assert listed == set(service.gaps) | set(service.speedups)


def test_payops_local_lists_every_services_gaps() -> None:
    every = {name for service in registry.services() for name in service.gaps}
    assert set(bridges()) == every and all(bridges().values())


@pytest.mark.parametrize(
    "path", sorted(SERVICES.rglob("*.py")), ids=lambda p: str(p.relative_to(LOCALAWS))
)
def test_a_service_imports_core_never_another_service(path: Path) -> None:
    own = path.relative_to(SERVICES).parts[0]
    others = {
        name
        for name in _imports(path)
        if name.startswith("payops.localaws.")
        and not name.startswith(("payops.localaws.core", f"payops.localaws.services.{own}"))
    }
    assert others == set(), f"{path}: ask core.registry instead"


def test_core_imports_no_service_and_no_deploy() -> None:
    for path in (LOCALAWS / "core").glob("*.py"):
        assert not {
            n
            for n in _imports(path)
            if n.startswith(("payops.localaws.services", "payops.localaws.deploy"))
        }, path


def test_no_module_is_over_600_lines() -> None:
    sizes = {
        str(p.relative_to(LOCALAWS)): len(p.read_text().splitlines())
        for p in LOCALAWS.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > 600} == {}


def test_the_moto_version_is_written_once_in_the_code() -> None:
    holders = [p for p in LOCALAWS.rglob("*.py") if MOTO_VERSION in p.read_text()]
    assert holders == [LOCALAWS / "core" / "moto_pin.py"]


def test_checks_and_resources_cover_each_bridged_type() -> None:
    checks = registry.checks()
    for resource_type in registry.resource_bridges():
        assert resource_type in checks, f"{resource_type}: bridged but never checked after deploy"
