"""Bundle a Python Lambda without Docker (none on these machines, nor on many CI runners).

The function's third-party dependencies are installed once, for the Lambda platform (arm64,
manylinux wheels only), into `build/lambda-deps/<function>/` by `make deps`; synth then only copies
that folder and the handler source into the asset, so `cdk synth` needs no network. The asset hash
is computed from the handler source and the pinned requirements, so templates are reproducible
across machines.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
DEPS_DIR = ROOT / "build" / "lambda-deps"
LAMBDA_PYTHON_VERSION = "3.14"
LAMBDA_PLATFORM = "manylinux2014_aarch64"


class BundlingError(RuntimeError):
    pass


def deps_dir(function: str) -> Path:
    return DEPS_DIR / function


def install_deps(function: str) -> Path:
    """pip-install the function's requirements for the Lambda platform (needs PyPI)."""
    requirements = FUNCTIONS_DIR / function / "requirements.txt"
    target = deps_dir(function)
    stamp = target / ".requirements.sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return target
    shutil.rmtree(target, ignore_errors=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
               "--target", str(target), "--platform", LAMBDA_PLATFORM,
               "--python-version", LAMBDA_PYTHON_VERSION, "--only-binary=:all:",
               "--implementation", "cp", "-r", str(requirements)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BundlingError(f"installing {requirements} for Lambda failed:\n{result.stderr}")
    stamp.write_text(digest)
    return target


@jsii.implements(ILocalBundling)
class _CopyPrebuilt:
    def __init__(self, function: str) -> None:
        self._function = function

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        shutil.copytree(
            deps_dir(self._function),
            output_dir,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(".requirements.sha256", "__pycache__"),
        )
        source = FUNCTIONS_DIR / self._function
        shutil.copytree(
            source,
            output_dir,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("requirements.txt", "__pycache__", "*.pyc"),
        )
        return True


def source_hash(function: str) -> str:
    digest = hashlib.sha256()
    source = FUNCTIONS_DIR / function
    for path in sorted(
        p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        digest.update(str(path.relative_to(source)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def python_function_code(function: str) -> lambda_.Code:
    """Code for `functions/<function>/` with its pinned requirements, bundled without Docker."""
    # Checked here, in Python: an error raised inside the jsii bundling callback loses its text.
    if not (deps_dir(function) / ".requirements.sha256").exists():
        raise BundlingError(
            f"Lambda dependencies for '{function}' are not installed: run `make deps` "
            f"(installs them into {deps_dir(function).relative_to(ROOT)})"
        )
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR / function),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_hash(function),
        bundling=BundlingOptions(
            # The image is never pulled: local bundling always succeeds or raises.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
            local=_CopyPrebuilt(function),
        ),
    )


if __name__ == "__main__":  # `python -m stacks.bundling webhook_receiver ...` (make deps)
    for name in sys.argv[1:] or [p.name for p in FUNCTIONS_DIR.iterdir() if p.is_dir()]:
        print(f"lambda deps for {name}: {install_deps(name).relative_to(ROOT)}")
