"""`load_assets` with files missing: one message naming every missing file and its fetch command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from pydeca.assets.bundle import load_assets, missing_assets
from pydeca.assets.demo_pack import ensure_demo_pack
from pydeca.cli import main
from pydeca.errors import AssetNotFoundError

DATA = "`deca fetch data` (DECA's public data files)"
EXPECTED_LINES = {
    "generic_model.pkl": "register at https://flame.is.tue.mpg.de, then `deca fetch flame`",
    "deca_model.tar": "`deca fetch deca` (the DECA weights, from Google Drive)",
    "landmark_embedding.npy": DATA,
    "head_template.obj": DATA,
    "uv_face_mask.png": DATA,
    "uv_face_eye_mask.png": DATA,
    "fixed_displacement_256.npy": DATA,
}


@pytest.fixture
def flame_only(tmp_path: Path, fixtures_dir: Path) -> Path:
    """An asset directory holding only the FLAME model (as after `deca fetch flame`)."""
    folder = tmp_path / "flame-only"
    folder.mkdir()
    (folder / "generic_model.pkl").symlink_to(fixtures_dir / "flame2020_synthetic_chumpy.pkl")
    return folder


def test_message_lists_every_missing_file_with_its_command(flame_only: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(AssetNotFoundError) as info:
        load_assets(flame_only, cache_dir=cache)
    lines = str(info.value).splitlines()
    assert lines[0] == f"the asset directory {flame_only} lacks 6 required files:"
    expected = [f"  {name} not found: {how}" for name, how in EXPECTED_LINES.items()]
    assert lines[1:-1] == expected[1:]  # everything but the FLAME model, in one message
    assert lines[-1] == (
        f"`deca fetch all --assets {flame_only}` gets them all; `deca doctor --assets {flame_only}` "
        "shows every asset (sizes, checksums); `--assets demo` runs on the generated demo pack instead."
    )
    assert not cache.exists()  # checked before anything was parsed or cached


def test_empty_directory_names_all_seven(tmp_path: Path) -> None:
    with pytest.raises(AssetNotFoundError) as info:
        load_assets(tmp_path)
    message = str(info.value)
    assert "lacks 7 required files:" in message
    for name, how in EXPECTED_LINES.items():
        assert f"  {name} not found: {how}\n" in message


def test_one_missing_file_is_singular(tmp_path: Path, demo_cache: Path) -> None:
    pack = ensure_demo_pack(demo_cache)
    copy = tmp_path / "pack"
    shutil.copytree(pack, copy, ignore=shutil.ignore_patterns("deca_model.tar", "flame_*.npz"))
    assert missing_assets(copy, demo=True) == []  # the demo pack draws its weights itself
    (copy / "pydeca_demo.json").unlink()
    (copy / "uv_face_mask.png").unlink()
    assert missing_assets(copy) == ["checkpoint", "face_mask"]
    (copy / "deca_model.tar").write_bytes(b"")
    with pytest.raises(AssetNotFoundError, match=r"lacks 1 required file:\n  uv_face_mask\.png not found"):
        load_assets(copy, cache_dir=tmp_path / "cache")


def test_reconstruct_prints_the_whole_list(flame_only: Path, tmp_path: Path, capsys) -> None:
    photo = tmp_path / "face.png"
    Image.new("RGB", (64, 64)).save(photo)
    argv = ["reconstruct", str(photo), "-o", str(tmp_path / "out"), "--assets", str(flame_only), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"deca: error: the asset directory {flame_only} lacks 6 required files:")
    for name in list(EXPECTED_LINES)[1:]:
        assert f"  {name} not found: " in err
    assert "deca doctor" in err
    assert "--assets demo" in err
