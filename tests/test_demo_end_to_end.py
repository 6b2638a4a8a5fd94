"""End to end on the generated demo asset pack: load, encode, decode, CLI outputs, failure isolation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import trimesh

from pydeca.cli import main
from pydeca.model import DECA


def test_demo_model_puts_the_head_in_frame(demo_model: DECA):
    from skimage import data

    assert demo_model.is_demo
    image = torch.from_numpy(data.astronaut()[:224, 120:344]).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        codes = demo_model.encode(image)
        rec = demo_model.decode(codes)
    assert rec.vertices.shape[1] == demo_model.flame.v_template.shape[0]
    lmk = rec.landmarks2d[0]
    assert lmk.shape == (68, 2)
    assert bool((lmk.abs() < 1).all()), "all 68 landmarks project inside the 224² crop"
    assert 5.0 < float(codes.cam[0, 0]) < 15.0
    assert rec.detail is not None
    assert torch.isfinite(rec.detail.uv_detail_normals).all()
    assert rec.is_demo


def test_euler_jaw_type_converts_the_regressed_jaw(demo_model: DECA, demo_cache: Path):
    from scipy.spatial.transform import Rotation

    from pydeca.assets.bundle import load_assets

    euler_model = DECA(load_assets("demo", cache_dir=demo_cache), jaw_type="euler")
    image = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    raw = demo_model.encode(image, use_detail=False).pose  # the jaw as regressed (read as Euler)
    converted = euler_model.encode(image, use_detail=False).pose
    torch.testing.assert_close(converted[:, :3], raw[:, :3])
    expected = Rotation.from_euler("XYZ", raw[:, 3:].double().numpy()).as_rotvec()  # R = Rx·Ry·Rz
    np.testing.assert_allclose(converted[:, 3:].numpy(), expected, atol=1e-6)
    assert not torch.allclose(converted[:, 3:], raw[:, 3:], atol=1e-6)


def test_cli_demo_writes_parseable_outputs(tmp_path: Path, demo_cache: Path, monkeypatch, capsys):
    monkeypatch.setenv("PYDECA_CACHE", str(demo_cache))
    out = tmp_path / "out"
    status = main(["demo", "--assets", "demo", "-o", str(out), "--device", "cpu", "--save-ply"])
    assert status == 0
    folder = out / "astronaut"
    # the printout lists every file written, and each exists
    err = capsys.readouterr().err
    wrote = [Path(line.split("wrote ", 1)[1]) for line in err.splitlines() if line.startswith("  wrote ")]
    assert all(path.is_file() for path in wrote)
    names = {path.name for path in wrote}
    for name in ("astronaut.obj", "astronaut.mtl", "astronaut.png", "astronaut_normals.png"):
        assert name in names
    for name in ("astronaut_detail.obj", "astronaut.ply", "astronaut_depth.jpg", "astronaut.npz"):
        assert name in names
    assert {"astronaut_vis.jpg", "astronaut_vis_original_size.jpg", "astronaut.json"} <= names
    written = {p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert written == set(wrote), "nothing written is left out of the list"
    assert "DEMO asset pack" in err
    mesh = trimesh.load(folder / "astronaut.obj", force="mesh", process=False)
    assert len(mesh.faces) == len(demo_model_faces(demo_cache))
    detail = (folder / "astronaut_detail.obj").read_text().splitlines()
    assert detail[0].startswith("#")
    assert "DEMO" in detail[0]
    assert sum(line.startswith("v ") for line in detail) > 10_000
    meta = json.loads((folder / "astronaut.json").read_text())
    assert meta["meta"]["demo"] is True
    assert meta["meta"]["format_version"] == 1
    assert len(meta["arrays"]["shape"]) == 100
    assert np.array(meta["arrays"]["light"]).shape == (9, 3)
    with np.load(folder / "astronaut.npz") as params:
        assert params["cam"].shape == (3,)
        assert params["landmarks3d"].shape == (68, 4)
    kpt = np.loadtxt(folder / "astronaut_kpt2d.txt")
    assert kpt.shape == (68, 2)
    assert np.abs(kpt).max() < 1
    from PIL import Image

    vis = Image.open(out / "astronaut_vis.jpg")
    assert vis.size == (224 * 9, 224)  # 7 renders + UV texture + UV normals
    banner = np.asarray(vis)[2:10, 2:200].astype(float)
    assert banner[..., 0].mean() > 120
    assert banner[..., 1].mean() < 90, "red demo banner"


def demo_model_faces(cache: Path) -> np.ndarray:
    from pydeca.assets.demo_pack import ensure_demo_pack
    from pydeca.assets.template import load_template_mesh

    return load_template_mesh(ensure_demo_pack(cache) / "head_template.obj").faces


def test_bad_inputs_fail_alone(tmp_path: Path, demo_cache: Path, monkeypatch, capsys):
    import numpy as np
    from PIL import Image
    from skimage import data

    monkeypatch.setenv("PYDECA_CACHE", str(demo_cache))
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(data.astronaut()).save(inputs / "a_good.png")
    (inputs / "b_corrupt.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    (inputs / "c_empty.png").write_bytes(b"")
    (inputs / "d_text.bmp").write_text("hello")
    Image.new("RGB", (20, 20)).save(inputs / "e_tiny.png")
    Image.fromarray(np.full((300, 300, 3), 128, np.uint8)).save(inputs / "f_noface.png")
    out = tmp_path / "out"
    args = ["reconstruct", str(inputs), "-o", str(out), "--assets", "demo", "--device", "cpu", "--quiet"]
    status = main([*args, "--no-save-obj", "--json"])
    assert status == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["succeeded"] == 1
    assert (out / "a_good_vis.jpg").is_file()
    failed = summary["failed"]
    assert len(failed) == 5
    for name in ("b_corrupt", "c_empty", "d_text", "e_tiny", "f_noface"):
        (message,) = [text for key, text in failed.items() if name in key]
        assert name in message, "every message names its file"
        assert not (out / name).exists()
    assert "no face" in next(text for key, text in failed.items() if "f_noface" in key)
    assert "32 px" in next(text for key, text in failed.items() if "e_tiny" in key)


def test_loaded_encoders_run_channels_last_with_the_same_codes(demo_model: DECA, demo_cache: Path):
    from pydeca.assets.bundle import load_assets

    plain = DECA(load_assets("demo", cache_dir=demo_cache))  # the default memory layout
    weight = demo_model.E_flame.encoder.conv1.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert not weight.is_contiguous()
    assert plain.E_flame.encoder.conv1.weight.is_contiguous()
    # same parameters under the same names, only the layout differs
    state, plain_state = demo_model.state_dict(), plain.state_dict()
    assert list(state) == list(plain_state)
    assert all(torch.equal(state[k], plain_state[k]) for k in state)
    image = torch.rand(3, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    fast, reference = demo_model.encode(image), plain.encode(image)
    for name in ("shape", "exp", "pose", "cam", "light", "tex", "detail"):
        torch.testing.assert_close(getattr(fast, name), getattr(reference, name), rtol=1e-4, atol=1e-5)
