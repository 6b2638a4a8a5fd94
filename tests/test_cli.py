"""The `deca` command: doctor, fetch wiring, usage errors (reconstruct/demo: test_demo_end_to_end.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pydeca.cli import build_parser, main


def test_doctor_lists_missing_assets_with_how_to_get_them(tmp_path: Path, capsys):
    status = main(["doctor", "--assets", str(tmp_path), "--json"])
    assert status == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["files"]["flame_model"]["found"] is False
    assert "deca fetch flame" in report["files"]["flame_model"]["how_to_get"]
    assert "deca fetch deca" in report["files"]["checkpoint"]["how_to_get"]


def test_doctor_reports_sizes_and_checksums(tmp_path: Path, capsys, topology_dir: Path):
    import hashlib
    import shutil

    shutil.copy(topology_dir / "head_template.obj", tmp_path / "head_template.obj")
    main(["doctor", "--assets", str(tmp_path), "--json"])
    entry = json.loads(capsys.readouterr().out)["files"]["head_template"]
    data = (topology_dir / "head_template.obj").read_bytes()
    assert entry["found"] is True
    assert entry["size"] == len(data)
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    main(["doctor", "--assets", str(tmp_path)])
    text = capsys.readouterr().out
    assert "found    head_template.obj" in text
    assert "missing  generic_model.pkl" in text


def test_fetch_without_network_fails_with_a_clear_message(tmp_path: Path, capsys, monkeypatch):
    import pydeca.assets.fetch as fetch_module

    def unreachable(*args, **kwargs):
        raise fetch_module.AssetError(f"could not reach github.com; put the file at {tmp_path}")

    monkeypatch.setattr(fetch_module, "download", unreachable)
    status = main(["fetch", "data", "--assets", str(tmp_path), "--quiet"])
    assert status == 2
    assert "could not reach" in capsys.readouterr().err


def test_boolean_output_flags():
    args = build_parser().parse_args(["reconstruct", "x.jpg", "-o", "out", "--no-save-obj", "--save-glb"])
    assert args.save_obj is False
    assert args.save_glb is True
    assert args.save_vis is True


def test_unknown_subcommand_is_a_usage_error():
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2


def test_animation_commands_are_wired(tmp_path: Path, capsys, demo_cache: Path, monkeypatch):
    monkeypatch.setenv("PYDECA_CACHE", str(demo_cache))
    not_a_video = tmp_path / "clip.mp4"
    not_a_video.write_text("not a video")
    status = main(["video", str(not_a_video), "-o", str(tmp_path / "v"), "--assets", "demo", "--quiet"])
    assert status == 2
    assert "clip.mp4" in capsys.readouterr().err
    for command in ("transfer", "animate", "video"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
