"""deploy/assets.py: a directory asset is zipped once per process, by its CDK asset id."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from payops.localaws.deploy import assets
from payops.localaws.deploy.assembly import FileAsset


def _asset(asset_id: str, source: Path) -> FileAsset:
    return FileAsset(asset_id, source, "zip", "cdk-hnb659fds-assets-x", f"{asset_id}.zip")


def test_assets_with_one_id_share_one_zip_and_another_id_is_zipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assets, "_ASSET_ZIPS", {})
    zipped: list[Path] = []
    original = assets.zip_directory

    def counting(directory: Path) -> bytes:
        zipped.append(directory)
        return original(directory)

    monkeypatch.setattr(assets, "zip_directory", counting)
    for name in ("one", "two", "three"):  # two assemblies' copies of one asset, and another
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.py").write_text(f"NAME = {name!r}\n")
    first = assets.asset_zip(_asset("a" * 64, tmp_path / "one"))
    again = assets.asset_zip(_asset("a" * 64, tmp_path / "two"))
    other = assets.asset_zip(_asset("b" * 64, tmp_path / "three"))
    assert zipped == [tmp_path / "one", tmp_path / "three"]
    assert again == first
    for body, name in ((first, "one"), (other, "three")):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            assert archive.read("index.py").decode() == f"NAME = {name!r}\n"
