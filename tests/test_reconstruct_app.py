"""`deca reconstruct` end to end on the sample photos with the demo pack, and the Python API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from pydeca.cli import main
from pydeca.io.params import load_params
from pydeca.nets import Codes

CODE_SHAPES = {
    "shape": (100,),
    "tex": (50,),
    "exp": (50,),
    "pose": (6,),
    "cam": (3,),
    "light": (9, 3),
    "detail": (128,),
}


@pytest.fixture
def cache_env(demo_cache: Path, monkeypatch) -> Path:
    monkeypatch.setenv("PYDECA_CACHE", str(demo_cache))
    return demo_cache


@pytest.fixture(scope="module")
def examples_run(shared: Path, tmp_path_factory, demo_cache: Path):
    """One CLI run over the 9 sample photos with the demo pack (batched), shared by the checks."""
    import os

    os.environ["PYDECA_CACHE"] = str(demo_cache)
    out = tmp_path_factory.mktemp("examples-out")
    status = main(
        [
            "reconstruct",
            str(shared / "images" / "examples"),
            "-o",
            str(out),
            "--assets",
            "demo",
            "--device",
            "cpu",
            "--quiet",
            "--batch-size",
            "4",
            "--save-glb",
            "--save-ply",
        ]
    )
    return status, out, sorted((shared / "images" / "examples").glob("*.*"))


def test_every_sample_photo_gives_every_output(examples_run, demo_model):
    status, out, photos = examples_run
    assert status == 0
    assert len(photos) == 9
    faces = len(demo_model.topology.faces)
    for photo in photos:
        name = photo.stem
        folder = out / name
        mesh = trimesh.load(folder / f"{name}.obj", force="mesh", process=False)
        assert len(mesh.faces) == faces
        mtl = (folder / f"{name}.mtl").read_text()
        for line in mtl.splitlines():
            if line.split()[0] in ("map_Kd", "norm", "map_Bump", "disp"):
                referenced = folder / line.split()[-1]
                assert referenced.is_file(), f"{name}.mtl references missing {referenced.name}"
        assert Image.open(folder / f"{name}.png").size == (256, 256)
        assert Image.open(folder / f"{name}_normals.png").size == (256, 256)
        assert Image.open(folder / f"{name}_depth.png").size == (224, 224)
        detail = (folder / f"{name}_detail.obj").read_text().splitlines()
        assert sum(line.startswith("v ") for line in detail) == len(demo_model.topology.dense.bary)
        assert sum(line.startswith("f ") for line in detail) == len(demo_model.topology.dense.faces)
        with np.load(folder / f"{name}.npz") as params:
            for key, shape in CODE_SHAPES.items():
                assert params[key].shape == shape, key
            assert params["tform"].shape == (3, 3)
            assert params["landmarks2d_image_px"].shape == (68, 2)
        document = json.loads((folder / f"{name}.json").read_text())
        assert document["meta"]["format_version"] == 1
        assert document["meta"]["demo"] is True
        size = Image.open(photo).size
        assert document["meta"]["image_size"] == {"width": size[0], "height": size[1]}
        assert np.loadtxt(folder / f"{name}_kpt3d.txt").shape == (68, 4)
        assert trimesh.load(folder / f"{name}.glb", force="mesh").vertices.shape[1] == 3
        assert len(trimesh.load(folder / f"{name}.ply", process=False).vertices) == len(
            demo_model.flame.v_template
        )
        assert Image.open(out / f"{name}_vis.jpg").size[1] == 224
        assert (out / f"{name}_vis_original_size.jpg").is_file()


def test_landmarks_in_photo_pixels_lie_on_the_face(examples_run):
    _, out, photos = examples_run
    for photo in photos:
        with np.load(out / photo.stem / f"{photo.stem}.npz") as params:
            points = params["landmarks2d_image_px"]
        width, height = Image.open(photo).size
        # The demo head lands on the detected face: its landmark box is inside the photo.
        assert points[:, 0].min() > -0.1 * width
        assert points[:, 0].max() < 1.1 * width
        assert points[:, 1].min() > -0.1 * height
        assert points[:, 1].max() < 1.1 * height


def test_batched_equals_single(shared: Path, demo_model):
    from pydeca.apps.pipeline import prepare_faces, reconstruct_faces
    from pydeca.detect import get_detector
    from pydeca.io.images import load_image

    detector = get_detector("auto")
    paths = sorted((shared / "images" / "examples").glob("*.png"))[:3]
    prepared = [f for p in paths for f in prepare_faces(load_image(p), p.stem, detector, p)]
    batched, _ = reconstruct_faces(demo_model, prepared)
    for face, result in zip(prepared, batched, strict=True):
        (single,), _ = reconstruct_faces(demo_model, [face])
        torch.testing.assert_close(result.codes.cam, single.codes.cam, atol=1e-4, rtol=0)
        torch.testing.assert_close(
            result.reconstruction.vertices, single.reconstruction.vertices, atol=1e-5, rtol=0
        )


def test_python_api_round_trip(shared: Path, demo_model, tmp_path: Path):
    photo = shared / "images" / "examples" / "alfw1.png"
    result = demo_model.reconstruct(photo)
    assert result.landmarks.shape == (68, 2)
    assert len(result.mesh.vertices) == demo_model.flame.v_template.shape[0]
    written = result.save(tmp_path, formats=("npz", "obj"))
    assert str(tmp_path / "alfw1" / "alfw1.npz") in written
    params = load_params(tmp_path / "alfw1" / "alfw1.npz")
    codes = Codes(**{key: torch.from_numpy(np.asarray(params[key]))[None] for key in CODE_SHAPES})
    with torch.inference_mode():
        again = demo_model.decode(codes)
    torch.testing.assert_close(again.vertices, result.reconstruction.vertices, atol=1e-6, rtol=0)
    from_json = load_params(tmp_path / "alfw1" / "alfw1.json")
    np.testing.assert_allclose(from_json["shape"], params["shape"], rtol=1e-6)


def test_skip_existing_and_save_mat(shared: Path, tmp_path: Path, cache_env):
    from scipy.io import loadmat

    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(shared / "images" / "examples" / "alfw1.png", inputs / "alfw1.png")
    out = tmp_path / "out"
    args = ["reconstruct", str(inputs), "-o", str(out), "--assets", "demo", "--device", "cpu", "--quiet"]
    assert main([*args, "--save-mat", "--no-save-vis", "--no-save-obj"]) == 0
    mat = loadmat(out / "alfw1" / "alfw1.mat")
    assert mat["vertices"].shape[1:] == (3,)
    assert mat["landmarks3d"].shape == (68, 4)
    stamp = (out / "alfw1" / "alfw1.npz").stat().st_mtime_ns
    assert main([*args, "--skip-existing", "--json"]) == 0
    assert (out / "alfw1" / "alfw1.npz").stat().st_mtime_ns == stamp


def run_cli(inputs: list[str], out: Path, *extra: str) -> int:
    return main(
        ["reconstruct", *inputs, "-o", str(out), "--assets", "demo", "--device", "cpu", "--quiet", *extra]
    )


def test_video_input_gives_one_result_per_kept_frame(tmp_path: Path, cache_env):
    av = pytest.importorskip("av")
    from skimage import data

    face = np.ascontiguousarray(data.astronaut()[:256, 96:352])
    clip = tmp_path / "clip.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
        for _ in range(5):
            for packet in stream.encode(av.VideoFrame.from_ndarray(face, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out = tmp_path / "out"
    assert run_cli([str(clip)], out, "--every", "2", "--no-save-obj", "--no-save-vis") == 0
    assert sorted(p.name for p in out.iterdir()) == ["clip_frame0000", "clip_frame0002", "clip_frame0004"]


def test_all_faces_and_no_crop(tmp_path: Path, cache_env):
    from skimage import data

    face = data.astronaut()[:256, 96:352]
    two = np.concatenate([face, np.zeros((256, 64, 3), np.uint8), face], axis=1)
    Image.fromarray(two).save(tmp_path / "two.png")
    out = tmp_path / "out"
    assert run_cli([str(tmp_path / "two.png")], out, "--face", "all", "--no-save-obj", "--no-save-vis") == 0
    assert sorted(p.name for p in out.iterdir()) == ["two_face0", "two_face1"]
    Image.fromarray(np.ascontiguousarray(face[16:240, 16:240])).save(tmp_path / "crop.png")
    out = tmp_path / "nocrop"
    assert run_cli([str(tmp_path / "crop.png")], out, "--no-crop", "--no-save-obj", "--no-save-vis") == 0
    with np.load(out / "crop" / "crop.npz") as params:
        np.testing.assert_allclose(params["tform"], np.eye(3), atol=1e-6)  # 224² passes through


def test_deca_data_folder_layout_and_missing_assets(tmp_path: Path, demo_cache: Path, cache_env, capsys):
    from pydeca.assets.bundle import load_assets
    from pydeca.assets.demo_pack import ensure_demo_pack

    pack = ensure_demo_pack(demo_cache)
    data_dir = tmp_path / "data"
    shutil.copytree(pack, data_dir)
    (data_dir / "FLAME2020").mkdir()
    (data_dir / "generic_model.pkl").rename(data_dir / "FLAME2020" / "generic_model.pkl")
    bundle = load_assets(data_dir, cache_dir=tmp_path / "cache")
    assert bundle.sources["flame_model"].endswith("FLAME2020/generic_model.pkl")
    empty = tmp_path / "empty"
    empty.mkdir()
    photo = str(tmp_path / "input.png")
    Image.new("RGB", (64, 64)).save(photo)
    status = main(["reconstruct", photo, "-o", str(tmp_path / "o"), "--assets", str(empty), "--quiet"])
    assert status == 2
    message = capsys.readouterr().err
    assert "generic_model.pkl not found" in message
    assert "deca fetch flame" in message


def test_non_finite_codes_fail_that_face(shared: Path, demo_model, monkeypatch):
    from pydeca.apps.pipeline import prepare_faces, reconstruct_faces
    from pydeca.detect import get_detector
    from pydeca.io.images import load_image

    path = shared / "images" / "examples" / "alfw1.png"
    prepared = prepare_faces(load_image(path), "alfw1", get_detector("auto"), path)
    original = demo_model.encode

    def broken(images, **kwargs):
        codes = original(images, **kwargs)
        codes.exp[:] = float("nan")
        return codes

    monkeypatch.setattr(demo_model, "encode", broken)
    results, failures = reconstruct_faces(demo_model, prepared)
    assert results == []
    assert "non-finite" in failures["alfw1"]


def test_large_and_expression_photos(shared: Path, tmp_path: Path, cache_env):
    """The teaser photos (up to 3.2 MB, several megapixels) and the expression set reconstruct."""
    out = tmp_path / "out"
    inputs = [str(shared / "images" / "teaser"), str(shared / "images" / "exp" / "4.jpg")]
    assert run_cli(inputs, out, "--no-save-obj", "--no-save-kpt", "--no-save-depth", "--batch-size", "4") == 0
    for photo in [*sorted((shared / "images" / "teaser").glob("*.jpg")), shared / "images" / "exp" / "4.jpg"]:
        vis = Image.open(out / f"{photo.stem}_vis_original_size.jpg")
        width, height = Image.open(photo).size
        assert vis.size[1] == min(512, height)
        with np.load(out / photo.stem / f"{photo.stem}.npz") as params:
            assert params["landmarks2d_image_px"][:, 0].max() <= 1.1 * width
