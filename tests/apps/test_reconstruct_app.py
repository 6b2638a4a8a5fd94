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

import pydeca
from pydeca.cli import main
from pydeca.io.params import load_codes, load_params
from pydeca.pipeline import to_trimesh

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
    out = tmp_path_factory.mktemp("examples-out")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYDECA_CACHE", str(demo_cache))
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
        assert Image.open(folder / f"{name}_depth.jpg").size == (224, 224)  # reference name, §3.1
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
        glb = trimesh.load(folder / f"{name}.glb", force="mesh", process=False)
        assert isinstance(glb.visual, trimesh.visual.TextureVisuals)
        assert glb.visual.uv.shape == (len(glb.vertices), 2)
        assert glb.visual.uv.min() >= 0.0
        assert glb.visual.uv.max() <= 1.0
        material = glb.visual.material
        texture = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
        assert texture is not None
        assert texture.size == (256, 256)
        ply = trimesh.load(folder / f"{name}.ply", process=False)
        assert len(ply.vertices) == len(demo_model.flame.v_template)
        colors = ply.visual.vertex_colors[:, :3]
        assert colors.shape == (len(ply.vertices), 3)
        assert len(np.unique(colors, axis=0)) > 50, "colours sampled from the texture, not one default"
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
    from pydeca.detect import get_detector
    from pydeca.io.images import load_image
    from pydeca.pipeline import prepare_faces, reconstruct_batch

    detector = get_detector("auto")
    paths = sorted((shared / "images" / "examples").glob("*.png"))[:3]
    prepared = [f for p in paths for f in prepare_faces(load_image(p), p.stem, detector, p)]
    batched, _ = reconstruct_batch(demo_model, prepared)
    for face, result in zip(prepared, batched, strict=True):
        (single,), _ = reconstruct_batch(demo_model, [face])
        torch.testing.assert_close(result.codes.cam, single.codes.cam, atol=1e-4, rtol=0)
        torch.testing.assert_close(
            result.reconstruction.vertices, single.reconstruction.vertices, atol=1e-5, rtol=0
        )


def test_python_api_round_trip(shared: Path, demo_model, tmp_path: Path):
    photo = shared / "images" / "examples" / "alfw1.png"
    result = pydeca.reconstruct(demo_model, photo)
    assert result.landmarks.shape == (68, 2)
    assert len(to_trimesh(demo_model, result).vertices) == demo_model.flame.v_template.shape[0]
    written = pydeca.save(demo_model, result, tmp_path, formats=("npz", "obj"))
    assert str(tmp_path / "alfw1" / "alfw1.npz") in written
    for path in ("alfw1.mtl", "alfw1.png", "alfw1_normals.png"):
        assert str(tmp_path / "alfw1" / path) in written, "every written file is listed"
    assert all(Path(path).is_file() for path in written)
    codes = load_codes(tmp_path / "alfw1" / "alfw1.npz")
    assert codes.batch_size == 1
    assert codes.detail is not None
    with torch.inference_mode():
        again = demo_model.decode(codes)
    torch.testing.assert_close(again.vertices, result.reconstruction.vertices, atol=1e-6, rtol=0)
    with torch.inference_mode():
        from_json = demo_model.decode(load_codes(tmp_path / "alfw1" / "alfw1.json"))
    torch.testing.assert_close(from_json.vertices, result.reconstruction.vertices, atol=1e-6, rtol=0)
    meta = json.loads(str(load_params(tmp_path / "alfw1" / "alfw1.npz")["meta_json"]))
    assert meta["input"] == str(photo)


def test_skip_existing_and_save_mat(shared: Path, tmp_path: Path, cache_env):
    from scipy.io import loadmat

    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(shared / "images" / "examples" / "alfw1.png", inputs / "alfw1.png")
    out = tmp_path / "out"
    args = ["reconstruct", str(inputs), "-o", str(out), "--assets", "demo", "--device", "cpu", "--quiet"]
    assert main([*args, "--save-mat", "--no-save-vis", "--no-save-obj", "--save-images"]) == 0
    width, height = Image.open(inputs / "alfw1.png").size
    for key in ("inputs", "rendered_images", "shape_images", "shape_detail_images", "landmarks2d"):
        assert Image.open(out / "alfw1" / f"alfw1_{key}.jpg").size == (224, 224)  # reference §3.1
        assert Image.open(out / "alfw1" / f"orig_alfw1_{key}.jpg").size == (width, height)
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


def test_video_input_gives_one_result_per_kept_frame(tmp_path: Path, cache_env, monkeypatch):
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
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "clip_frame000000",
        "clip_frame000002",
        "clip_frame000004",
    ]
    # a complete video is skipped whole, without decoding it again
    stamp = (out / "clip_frame000002" / "clip_frame000002.npz").stat().st_mtime_ns

    def no_decoding(*args, **kwargs):
        raise AssertionError("a complete video must not be decoded")

    monkeypatch.setattr("pydeca.io.video.iter_video_frames", no_decoding)
    assert run_cli([str(clip)], out, "--every", "2", "--no-save-obj", "--no-save-vis", "--skip-existing") == 0
    assert (out / "clip_frame000002" / "clip_frame000002.npz").stat().st_mtime_ns == stamp


def test_all_faces_and_no_crop(tmp_path: Path, cache_env):
    from skimage import data

    face = data.astronaut()[:256, 96:352]
    two = np.concatenate([face, np.zeros((256, 64, 3), np.uint8), face], axis=1)
    Image.fromarray(two).save(tmp_path / "two.png")
    out = tmp_path / "out"
    assert run_cli([str(tmp_path / "two.png")], out, "--face", "all", "--no-save-obj", "--no-save-vis") == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["two_face0", "two_face1"]
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
    from pydeca.detect import get_detector
    from pydeca.io.images import load_image
    from pydeca.pipeline import prepare_faces, reconstruct_batch

    path = shared / "images" / "examples" / "alfw1.png"
    prepared = prepare_faces(load_image(path), "alfw1", get_detector("auto"), path)
    original = demo_model.encode

    def broken(images, **kwargs):
        codes = original(images, **kwargs)
        codes.exp[:] = float("nan")
        return codes

    monkeypatch.setattr(demo_model, "encode", broken)
    results, failures = reconstruct_batch(demo_model, prepared)
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


# ----------------------------------------------------------------------------- names, streaming, resume

PARAMS_ONLY = ("--no-save-obj", "--no-save-vis", "--no-save-kpt", "--no-save-depth")


def _params_only(**kwargs):
    from pydeca.apps.reconstruct import ReconstructOptions

    fields = {"save_obj": False, "save_vis": False, "save_kpt": False, "save_depth": False}
    return ReconstructOptions(**fields, **kwargs)


def _astronaut_face() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:256, 96:352])


def test_unique_output_names_rule():
    from pydeca.io.output_names import unique_output_names

    names = unique_output_names([Path("a/face.png"), Path("b/face.png"), Path("a/face.JPG"), Path("x.png")])
    assert names == ["face_a_png", "face_b_png", "face_a_JPG", "x"]
    assert unique_output_names([Path("a/face.png"), Path("b/face.png")]) == ["face_a", "face_b"]
    assert unique_output_names([Path("a/face.png"), Path("a/face.jpg")]) == ["face_png", "face_jpg"]
    # deeper folders only when the nearest ones tie
    assert unique_output_names([Path("p/a/face.png"), Path("q/a/face.png")]) == ["face_p_a", "face_q_a"]
    # a generated name never takes another input's plain stem; case-only differences are numbered
    assert unique_output_names([Path("face_png.png"), Path("d/face.png"), Path("d/face.jpg")]) == [
        "face_png",
        "face_png_2",
        "face_jpg",
    ]
    assert unique_output_names([Path("d/Face.png"), Path("d/face.PNG")]) == ["Face_png", "face_PNG_2"]


def test_same_stem_inputs_keep_every_result(shared: Path, tmp_path: Path, cache_env, capsys):
    examples = shared / "images" / "examples"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(examples / "alfw1.png", tmp_path / "a" / "face.png")
    shutil.copy(examples / "alfw2.png", tmp_path / "b" / "face.png")
    shutil.copy(examples / "IMG_0392_inputs.jpg", tmp_path / "a" / "face.JPG")
    out = tmp_path / "out"
    inputs = [str(tmp_path / "a"), str(tmp_path / "b" / "face.png")]
    assert run_cli(inputs, out, *PARAMS_ONLY, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    expected = {"face_a_png": "a/face.png", "face_b_png": "b/face.png", "face_a_JPG": "a/face.JPG"}
    assert sorted(summary["outputs"]) == sorted(expected)
    stamps = {}
    for name, source in expected.items():
        meta = json.loads((out / name / f"{name}.json").read_text())["meta"]
        assert meta["input"] == str(tmp_path / source), "each output holds its own photo's result"
        assert meta["image_size"]["width"] == Image.open(tmp_path / source).size[0]
        stamps[name] = (out / name / f"{name}.npz").stat().st_mtime_ns
    assert run_cli(inputs, out, *PARAMS_ONLY, "--json", "--skip-existing") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["succeeded"] == 0
    assert sorted(summary["skipped"]) == sorted(str(tmp_path / source) for source in expected.values())
    for name in expected:
        assert (out / name / f"{name}.npz").stat().st_mtime_ns == stamps[name]


def test_inputs_are_decoded_one_batch_at_a_time(tmp_path: Path, demo_model, monkeypatch):
    import pydeca.apps.reconstruct as app
    from pydeca.apps.reconstruct import run_reconstruct

    face = _astronaut_face()
    for k in range(5):
        Image.fromarray(np.roll(face, 4 * k, axis=1)).save(tmp_path / f"p{k}.png")
    decoded: list[str] = []
    batches: list[tuple[int, int]] = []  # (faces in the batch, photos decoded so far)
    real_load, real_batch = app.load_image, app.reconstruct_batch

    def counting_load(path, **kwargs):
        decoded.append(Path(path).name)
        return real_load(path, **kwargs)

    def recording_batch(model, faces, *args, **kwargs):
        batches.append((len(faces), len(decoded)))
        return real_batch(model, faces, *args, **kwargs)

    monkeypatch.setattr(app, "load_image", counting_load)
    monkeypatch.setattr(app, "reconstruct_batch", recording_batch)
    out = tmp_path / "out"
    options = _params_only(batch_size=2, detector="none")
    summary = run_reconstruct([str(tmp_path / "*.png")], out, options, model=demo_model, quiet=True)
    assert len(summary.outputs) == 5
    # the third photo is decoded only after the first batch ran: never more than a batch in memory
    assert batches == [(2, 2), (2, 4), (1, 5)]
    # --skip-existing decides before decoding: nothing is read again
    decoded.clear()
    options.skip_existing = True
    summary = run_reconstruct([str(tmp_path / "*.png")], out, options, model=demo_model, quiet=True)
    assert decoded == []
    assert len(summary.skipped) == 5


def test_skip_existing_with_every_face(tmp_path: Path, demo_model, monkeypatch):
    import pydeca.apps.reconstruct as app
    from pydeca.apps.reconstruct import run_reconstruct

    face = _astronaut_face()
    two = np.concatenate([face, np.zeros((256, 64, 3), np.uint8), face], axis=1)
    photo = tmp_path / "two.png"
    Image.fromarray(two).save(photo)
    out = tmp_path / "out"
    options = _params_only(faces="all")
    first = run_reconstruct([str(photo)], out, options, model=demo_model, quiet=True)
    assert sorted(first.outputs) == ["two_face0", "two_face1"]
    decoded: list[Path] = []
    real_load = app.load_image
    monkeypatch.setattr(app, "load_image", lambda path, **kw: decoded.append(path) or real_load(path, **kw))
    options.skip_existing = True
    again = run_reconstruct([str(photo)], out, options, model=demo_model, quiet=True)
    assert again.skipped == [str(photo)]
    assert again.outputs == {}
    assert decoded == []
    # an output removed by hand makes the input incomplete: it is done again
    (out / "two_face1" / "two_face1.npz").unlink()
    redo = run_reconstruct([str(photo)], out, options, model=demo_model, quiet=True)
    assert sorted(redo.outputs) == ["two_face0", "two_face1"]
    assert (out / "two_face1" / "two_face1.npz").is_file()


def test_several_faces_note(tmp_path: Path, cache_env, capsys):
    face = _astronaut_face()
    two = np.concatenate([face, np.zeros((256, 64, 3), np.uint8), face[:, ::-1]], axis=1)
    Image.fromarray(two).save(tmp_path / "two.png")
    out = tmp_path / "out"
    args = ["reconstruct", str(tmp_path / "two.png"), "-o", str(out), "--assets", "demo", "--device", "cpu"]
    assert main([*args, *PARAMS_ONLY, "--json"]) == 0
    captured = capsys.readouterr()
    note = "2 faces found, reconstructed the largest; --face all for every face"
    assert f"{tmp_path / 'two.png'}: {note}" in captured.err
    assert json.loads(captured.out)["notes"] == {str(tmp_path / "two.png"): note}
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["two"]


def test_bad_inputs_among_good_ones_fail_alone(shared: Path, tmp_path: Path, cache_env, capsys):
    good = tmp_path / "good.png"
    shutil.copy(shared / "images" / "examples" / "alfw1.png", good)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    missing, pattern = tmp_path / "missing.png", str(tmp_path / "nomatch*.jpg")
    out = tmp_path / "out"
    status = run_cli([str(good), str(notes), str(missing), pattern], out, *PARAMS_ONLY, "--json")
    assert status == 1
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert list(summary["outputs"]) == ["good"]
    assert (out / "good" / "good.npz").is_file()
    assert set(summary["failed"]) == {str(notes), str(missing), pattern}
    assert "unsupported file type '.txt'" in summary["failed"][str(notes)]
    assert "no such file or folder; check the path" in summary["failed"][str(missing)]
    assert "matches no image or video file" in summary["failed"][pattern]
    for label in (str(notes), str(missing), pattern):
        assert f"deca: failed: {label}" in captured.err, "printed even with --quiet"
    # no usable input at all: one clear usage error naming each
    assert run_cli([str(notes), str(missing)], tmp_path / "none") == 2
    err = capsys.readouterr().err
    assert "no usable input" in err
    assert "notes.txt" in err
    assert "missing.png" in err
    assert not (tmp_path / "none").exists()


def test_a_bad_in_memory_image_fails_alone(shared: Path, tmp_path: Path, demo_model):
    from pydeca.apps.reconstruct import ReconstructOptions, run_reconstruct
    from pydeca.io.images import load_image

    good = load_image(shared / "images" / "examples" / "alfw1.png")
    bad = np.zeros((40, 40, 7), np.uint8)  # seven channels: not an image layout
    options = ReconstructOptions(save_obj=False, save_vis=False, save_kpt=False, save_depth=False)
    summary = run_reconstruct(
        [],
        tmp_path / "out",
        named_images=[("bad", bad), ("good", good)],
        options=options,
        model=demo_model,
        quiet=True,
    )
    assert list(summary.outputs) == ["good"]
    assert list(summary.failed) == ["bad"]
    assert (tmp_path / "out" / "good" / "good.npz").is_file()


def test_non_finite_codes_through_the_cli(shared: Path, tmp_path: Path, cache_env, monkeypatch, capsys):
    from pydeca.model import DECA

    real_encode = DECA.encode

    def nan_encode(self, images, **kwargs):
        codes = real_encode(self, images, **kwargs)
        codes.exp = torch.full_like(codes.exp, float("nan"))
        return codes

    monkeypatch.setattr(DECA, "encode", nan_encode)
    out = tmp_path / "out"
    assert run_cli([str(shared / "images" / "examples" / "alfw1.png")], out, *PARAMS_ONLY) == 1
    err = capsys.readouterr().err
    assert "deca: failed: alfw1: the networks returned non-finite codes (NaN/inf)" in err
    assert not (out / "alfw1").exists()
    assert not (out / ".deca-completed.jsonl").exists(), "a failed input is not recorded as complete"


def test_a_face_that_cannot_be_saved_fails_alone(tmp_path: Path, demo_model, monkeypatch, capsys):
    import pydeca.apps.reconstruct as app
    from pydeca.apps.reconstruct import run_reconstruct

    face = _astronaut_face()
    for name in ("disk", "bug", "fine"):
        Image.fromarray(face).save(tmp_path / f"{name}.png")
    real_save = app.save_face

    def flaky_save(model, result, out_dir, options):
        if result.name == "disk":
            raise OSError(28, "No space left on device", str(out_dir / "disk" / "disk.npz"))
        if result.name == "bug":
            raise TypeError("unsupported operand")
        return real_save(model, result, out_dir, options)

    monkeypatch.setattr(app, "save_face", flaky_save)
    options = _params_only(detector="none")
    out = tmp_path / "out"
    summary = run_reconstruct([str(tmp_path / "*.png")], out, options, model=demo_model, quiet=True)
    assert list(summary.outputs) == ["fine"]
    assert "disk: could not write its outputs: [Errno 28] No space left on device" in summary.failed["disk"]
    assert "unexpected TypeError: unsupported operand" in summary.failed["bug"]
    assert "bug in pydeca" in summary.failed["bug"]
    err = capsys.readouterr().err
    assert "deca: failed: disk" in err
    assert "deca: failed: bug" in err


def test_exif_rotated_and_cmyk_photos_through_the_cli(tmp_path: Path, cache_env, capsys):
    upright = np.ascontiguousarray(_astronaut_face()[:, 16:224])  # 208 wide, 256 high
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # as a camera stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    stored.save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    Image.fromarray(_astronaut_face()).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    out = tmp_path / "out"
    inputs = [str(tmp_path / "rotated.jpg"), str(tmp_path / "cmyk.jpg")]
    assert run_cli(inputs, out, "--no-save-obj", "--no-save-kpt", "--no-save-depth", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert sorted(summary["outputs"]) == ["cmyk", "rotated"]
    meta = json.loads((out / "rotated" / "rotated.json").read_text())["meta"]
    assert meta["image_size"] == {"width": 208, "height": 256}, "the EXIF orientation is honoured"
    assert Image.open(out / "rotated_vis_original_size.jpg").size[1] == 256
    with np.load(out / "rotated" / "rotated.npz") as params:
        points = params["landmarks2d_image_px"]
    assert points[:, 0].max() < 1.1 * 208
    assert points[:, 1].max() < 1.1 * 256
    assert json.loads((out / "cmyk" / "cmyk.json").read_text())["meta"]["image_size"]["width"] == 256


def test_quiet_progress_and_summary_line(shared: Path, tmp_path: Path, cache_env, capsys):
    photo = str(shared / "images" / "examples" / "alfw1.png")
    assert run_cli([photo], tmp_path / "q", *PARAMS_ONLY) == 0  # run_cli passes --quiet, --assets demo
    assert capsys.readouterr().err == "", "--quiet with an explicit --assets demo prints nothing"
    args = ["reconstruct", photo, "-o", str(tmp_path / "loud"), "--assets", "demo", "--device", "cpu"]
    assert main([*args, *PARAMS_ONLY]) == 0
    err = capsys.readouterr().err
    assert "deca: using the generated DEMO asset pack (--assets demo)" in err
    assert "deca: 1 succeeded, 0 failed, 0 skipped in " in err
    assert f"-> {tmp_path / 'loud'} (DEMO assets: not real reconstructions)" in err
    assert "1/1" in err, "the progress bar counts inputs"


def test_demo_fallback_is_announced_loudly(shared: Path, tmp_path: Path, cache_env, monkeypatch, capsys):
    empty = tmp_path / "no-assets"
    empty.mkdir()
    monkeypatch.setenv("PYDECA_HOME", str(empty))
    photo = str(shared / "images" / "examples" / "alfw1.png")
    args = ["reconstruct", photo, "--device", "cpu", *PARAMS_ONLY, "--json"]
    assert main([*args, "-o", str(tmp_path / "quiet"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["demo"] is True
    (line,) = captured.err.splitlines()  # --quiet keeps exactly one warning line
    expected = ("WARNING", f"no DECA/FLAME assets in {empty}", "DEMO", "NOT real", "fetch", "deca doctor")
    for text in expected:
        assert text in line
    assert main([*args, "-o", str(tmp_path / "loud")]) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if "WARNING" in line]
    assert len(warning) >= 3
    assert f"no DECA/FLAME assets were found in {empty} ($PYDECA_HOME)" in err
    assert "NOT real reconstructions" in err
    assert "deca fetch" in err
    assert "deca doctor" in err


def test_detector_gets_the_device_and_is_built_before_the_model(tmp_path: Path, monkeypatch):
    import pydeca.apps.reconstruct as app
    from pydeca.apps.reconstruct import run_reconstruct
    from pydeca.errors import MissingDependencyError

    Image.fromarray(_astronaut_face()).save(tmp_path / "p.png")
    calls: list[tuple[str, str]] = []

    def fake_detector(name, *, device):
        calls.append((name, device))
        raise MissingDependencyError("fan is not installed")

    def no_model(*args, **kwargs):
        raise AssertionError("the model must not be loaded before the detector is checked")

    monkeypatch.setattr(app, "get_detector", fake_detector)
    monkeypatch.setattr(app, "load_model", no_model)
    with pytest.raises(MissingDependencyError):
        run_reconstruct([str(tmp_path / "p.png")], tmp_path / "out", _params_only(detector="fan"))
    assert calls == [("fan", "cpu")]  # the resolved device ("auto" is the CPU here)
    assert not (tmp_path / "out").exists()


def test_api_reconstruct_all_is_every_face_largest_first(demo_model):
    """``reconstruct_all``: one result per face, largest first, named like ``--face all``;
    ``reconstruct`` is its largest face."""
    from pydeca.detect import get_detector
    from pydeca.errors import NoFaceError

    face = _astronaut_face()
    small = np.asarray(Image.fromarray(face).resize((192, 192)))
    two = np.zeros((256, 512, 3), np.uint8)
    two[:, :256], two[32:224, 288:480] = face, small
    results = pydeca.reconstruct_all(demo_model, two)
    assert [r.name for r in results] == ["image_face0", "image_face1"]
    scales = [float(np.linalg.det(r.tform[:2, :2])) for r in results]
    assert scales[0] < scales[1], "the larger face needs the smaller photo → crop scale"
    largest = pydeca.reconstruct(demo_model, two)
    assert largest.name == "image"
    torch.testing.assert_close(largest.codes.to_flame_vector(), results[0].codes.to_flame_vector())
    for result in results:
        assert isinstance(result, pydeca.FaceResult)
        assert result.reconstruction.batch_size == 1
        assert result.landmarks.shape == (68, 2)
    with pytest.raises(NoFaceError):
        pydeca.reconstruct(demo_model, np.zeros((128, 128, 3), np.uint8))
    none = get_detector("none")
    (whole,) = pydeca.reconstruct_all(demo_model, face, detector=none)
    assert whole.name == "image"


def test_api_arrays_match_files(tmp_path: Path, demo_model):
    from pydeca.errors import InputError, ShapeError

    rgb = _astronaut_face()
    reference = pydeca.reconstruct(demo_model, rgb).codes

    def same(result, expected=reference):
        torch.testing.assert_close(result.codes.to_flame_vector(), expected.to_flame_vector())

    same(pydeca.reconstruct(demo_model, rgb.astype(np.float32) / 255.0))  # float in [0, 1]
    same(pydeca.reconstruct(demo_model, rgb.astype(np.uint16) * 257))  # 16-bit
    chw = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0
    same(pydeca.reconstruct(demo_model, chw))  # torch (3, H, W)
    rgba = np.concatenate([rgb, np.full((256, 256, 1), 40, np.uint8)], axis=2)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    same(pydeca.reconstruct(demo_model, rgba), pydeca.reconstruct(demo_model, tmp_path / "rgba.png").codes)
    same(pydeca.reconstruct(demo_model, rgba), reference)  # alpha dropped as for files
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    Image.fromarray(grey).save(tmp_path / "grey.png")
    from_file = pydeca.reconstruct(demo_model, tmp_path / "grey.png").codes
    same(pydeca.reconstruct(demo_model, grey), from_file)
    same(pydeca.reconstruct(demo_model, grey.astype(np.float64) / 255.0), from_file)
    with pytest.raises(InputError, match=r"float values must lie in \[0, 1\].*divide"):
        pydeca.reconstruct(demo_model, rgb.astype(np.float32))  # 0-255 floats: no silent cast
    with pytest.raises(ShapeError):
        pydeca.reconstruct(demo_model, np.zeros((64, 64, 5), np.uint8))
    with pytest.raises(InputError, match="too small"):
        pydeca.reconstruct(demo_model, np.zeros((20, 20, 3), np.uint8))
