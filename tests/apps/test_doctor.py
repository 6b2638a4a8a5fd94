"""`deca doctor`: every asset found or not, its size, checksum, check and where to get it."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from asset_server import HTML_PAGE, tiny_deca_checkpoint
from pydeca.apps.doctor import run_doctor
from pydeca.assets import integrity
from pydeca.assets.fetch import DATA_FILES
from pydeca.cli import main

PUBLISHED = {remote.name: remote for remote in DATA_FILES}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _line_after(text: str, start: str) -> str:
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(start))
    return lines[index + 1].strip()


@pytest.fixture
def flame_fixture(fixtures_dir: Path) -> Path:
    return fixtures_dir / "flame2020_synthetic_chumpy.pkl"


def test_doctor_on_a_folder_with_present_missing_and_corrupt_files(
    tmp_path: Path, capsys, topology_dir: Path, flame_fixture: Path
) -> None:
    assets = tmp_path / "data"
    (assets / "FLAME2020").mkdir(parents=True)
    # present and intact: two data files, and the FLAME model where DECA keeps it, fetched by pydeca
    for name in ("head_template.obj", "landmark_embedding.npy"):
        shutil.copy(topology_dir / name, assets / name)
    flame = assets / "FLAME2020" / "generic_model.pkl"
    flame.symlink_to(flame_fixture)
    integrity.record_fetch(assets, flame, url="http://127.0.0.1:1/flame", check="FLAME 2020 shapes")
    # corrupt: Google Drive's quota page saved as the checkpoint, and a damaged mask
    (assets / "deca_model.tar").write_bytes(HTML_PAGE)
    mask = bytearray((topology_dir / "uv_face_mask.png").read_bytes())
    mask[-1] ^= 0xFF
    (assets / "uv_face_mask.png").write_bytes(bytes(mask))
    # missing: uv_face_eye_mask.png, fixed_displacement_256.npy (required), mean texture, albedos

    assert main(["doctor", "--assets", str(assets), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    files = report["files"]
    found = {name for name, entry in files.items() if entry["found"]}
    assert found == {"flame_model", "checkpoint", "landmark_embedding", "head_template", "face_mask"}
    for name, entry in files.items():
        assert entry["how_to_get"], name
        if entry["found"]:
            path = Path(entry["path"])
            assert entry["size"] == path.stat().st_size
            assert entry["sha256"] == _sha(path)
    assert files["flame_model"]["path"] == str(flame)
    assert files["head_template"]["check"]["status"] == "ok"
    assert files["flame_model"]["check"]["status"] == "ok"
    assert files["checkpoint"]["check"]["status"] == "error"
    assert files["face_mask"]["check"]["status"] == "error"
    assert files["mean_texture"]["required"] is False
    assert "deca fetch data" in files["face_eye_mask"]["how_to_get"]
    assert len(report["problems"]) == 4
    assert report["ok"] is False

    assert main(["doctor", "--assets", str(assets)]) == 1
    text = capsys.readouterr().out
    head = PUBLISHED["head_template.obj"]
    assert re.search(rf"^  found    head_template\.obj +563,358 B  sha256 {head.sha256[:16]}…$", text, re.M)
    assert _line_after(text, "  found    head_template.obj") == "ok: matches DECA's published file (sha256)"
    assert _line_after(text, "  found    FLAME2020/generic_model.pkl").startswith(
        "ok: unchanged since fetched on"
    )
    assert "  found    deca_model.tar" in text
    assert f"{len(HTML_PAGE):,} B" in text
    assert _line_after(text, "  found    deca_model.tar") == (
        f"ERROR: {assets / 'deca_model.tar'} is an HTML page ('Google Drive - Quota exceeded'), not a "
        "checkpoint. -> `deca fetch deca` (the DECA weights, from Google Drive)"
    )
    assert _line_after(text, "  found    uv_face_mask.png").startswith(
        "ERROR: differs from DECA's published file (expected 12,112 B, sha256 bbf570444e3dddcd…): "
        "`deca fetch data` replaces it"
    )
    assert "  missing  uv_face_eye_mask.png         -> `deca fetch data`" in text
    assert "  missing  fixed_displacement_256.npy   -> `deca fetch data`" in text
    assert "  missing  mean_texture.jpg (optional)  -> `deca fetch data` (optional)" in text
    assert "4 problems:" in text


def test_doctor_reports_files_modified_since_fetch(
    tmp_path: Path, topology_dir: Path, flame_fixture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(integrity, "MIN_CHECKPOINT_BYTES", 0)  # the test checkpoint is 0.2 MB
    assets = tmp_path / "assets"
    assets.mkdir()
    for remote in DATA_FILES:
        shutil.copy(topology_dir / remote.name, assets / remote.name)
        integrity.record_fetch(assets, assets / remote.name, url="http://mirror/" + remote.name, check="sha")
    (assets / "generic_model.pkl").symlink_to(flame_fixture)
    checkpoint = assets / "deca_model.tar"
    checkpoint.write_bytes(tiny_deca_checkpoint())
    integrity.record_fetch(assets, checkpoint, url="http://mirror/deca_model.tar", check="loads strictly")
    before = run_doctor(assets)
    assert before["ok"] is True, before["text"]
    assert before["files"]["checkpoint"]["check"]["status"] == "ok"
    assert "unchanged since fetched" in before["files"]["checkpoint"]["check"]["message"]
    assert "no `deca fetch` record" in before["files"]["flame_model"]["check"]["message"]

    recorded = integrity.read_manifest(assets)["deca_model.tar"]
    with checkpoint.open("ab") as fh:
        fh.write(b"\0")
    (assets / "head_template.obj").write_text("v 0 0 0\n")
    after = run_doctor(assets)
    check = after["files"]["checkpoint"]["check"]
    assert check["status"] == "warning"  # maybe on purpose: reported, not a failure
    size, digest = recorded["size"], recorded["sha256"][:16]
    assert check["message"].startswith(
        f"modified since fetch: `deca fetch` wrote {size:,} B with sha256 {digest}…"
    )
    assert "WARNING: modified since fetch" in after["text"]
    template = after["files"]["head_template"]["check"]
    assert template["status"] == "error"
    # the rewritten template no longer loads (the loader's reason first), and it differs from both
    # the fetch record and DECA's published file
    assert template["message"].startswith(f"{assets / 'head_template.obj'}: no 'f' lines")
    assert "modified since fetch: `deca fetch` wrote 563,358 B" in template["message"]
    assert "differs from DECA's published file" in template["message"]
    assert after["ok"] is False


def test_doctor_assets_demo_reports_the_demo_pack(
    tmp_path: Path, capsys, demo_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYDECA_CACHE", str(demo_cache))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").mkdir()  # a folder named demo must not be taken for the demo pack
    assert main(["doctor", "--assets", "demo", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["is_demo"] is True
    assert Path(report["asset_dir"]).parent == demo_cache
    assert Path(report["asset_dir"]).name.startswith("demo-pack-v")
    assert report["files"]["flame_model"]["found"] is True
    assert report["files"]["checkpoint"]["required"] is False
    assert report["ok"] is True
    assert main(["doctor", "--assets", "demo"]) == 0
    text = capsys.readouterr().out
    assert f"asset directory: {report['asset_dir']} (the generated demo pack" in text
    assert "info: generated demo file" in text


def test_doctor_default_directory_without_flame_says_demo_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYDECA_HOME", str(tmp_path / "nothing-here"))
    report = run_doctor()
    assert report["demo_fallback"] is True
    assert report["asset_dir"] == str(tmp_path / "nothing-here")
    assert "no FLAME model here: commands run without --assets use the generated demo pack" in report["text"]
