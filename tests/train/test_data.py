"""Training data: manifest, DECA's training crop, the K-per-identity dataset and the layout adapters."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from pydeca.errors import InputError
from pydeca.train.data import (
    FaceDataset,
    ManifestRow,
    TrainingCrop,
    read_manifest,
    read_row_landmarks,
    rows_from_bupt,
    rows_from_folders,
    rows_from_vggface2,
    rows_from_voxceleb2,
    training_square,
    write_manifest,
)

COLORS = {"alice": (200, 40, 40), "bob": (40, 200, 40), "carol": (40, 40, 200)}


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, 68, endpoint=False)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _photo(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (96, 80), seed: int = 0) -> Path:
    """A (H, W) = size photo: the identity's colour plus a little texture (so crops differ)."""
    rng = np.random.default_rng(seed)
    img = np.clip(np.array(color)[None, None] + rng.integers(-20, 20, (*size, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return path


def _row(tmp: Path, identity: str, n: int, **kw: object) -> ManifestRow:
    image = _photo(tmp / identity / f"{n:03d}.png", COLORS[identity], seed=n)
    lmk = tmp / identity / f"{n:03d}.npy"
    np.save(lmk, kw.get("points", _ellipse(40.0, 48.0, 12.0, 15.0)))
    return ManifestRow(identity, image, lmk, None, None)


@pytest.fixture
def rows(tmp_path: Path) -> list[ManifestRow]:
    counts = {"alice": 5, "bob": 3, "carol": 2}
    return [_row(tmp_path, ident, i) for ident, n in counts.items() for i in range(n)]


def _quiet_dataset(rows: list[ManifestRow], **kw: object) -> FaceDataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FaceDataset(rows, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- crop
def test_training_square_hand_computed() -> None:
    pts = np.array([[10.0, 20.0], [110.0, 80.0], [50.0, 50.0]])
    # box 100 × 60 → old = 80, centre (60, 50); scale 1.5 → size int(120) = 120
    center, size = training_square(pts, (0.0, 0.0), 1.5)
    np.testing.assert_allclose(center, [60.0, 50.0])
    assert size == 120.0
    # shift (0.5, −0.25) · old = (40, −20); 1.23 · 80 = 98.4 → int → 98
    center, size = training_square(pts, (0.5, -0.25), 1.23)
    np.testing.assert_allclose(center, [100.0, 30.0])
    assert size == 98.0


def test_crop_maps_box_centre_to_crop_centre_and_box_size_to_224_over_scale() -> None:
    pts = np.array([[10.0, 20.0], [110.0, 80.0]])
    crop = TrainingCrop(scale_min=1.5, scale_max=1.5)
    tform = crop.transform(pts, np.random.default_rng(0))
    # size 120, s = 223/120: box centre → crop pixel 111.5 (the crop centre), NDC 0
    centre = tform @ [60.0, 50.0, 1.0]
    np.testing.assert_allclose(centre[:2], [111.5, 111.5])
    # box sides 100 × 60 px → × 223/120 (corners map to 0 and 223, so "224/scale" is 223/scale)
    lo, hi = tform @ [10.0, 20.0, 1.0], tform @ [110.0, 80.0, 1.0]
    np.testing.assert_allclose(hi[:2] - lo[:2], [100.0 * 223 / 120, 60.0 * 223 / 120])
    # the mean side (old = 80) spans 80 · 223/120 = 223/1.5 crop px
    np.testing.assert_allclose(((hi - lo)[0] + (hi - lo)[1]) / 2, 223 / 1.5)
    _, lmk, _ = crop.apply(np.zeros((100, 120, 3), np.uint8), np.array([[60.0, 50.0]]), None, tform)
    np.testing.assert_allclose(lmk[0].numpy(), [0.0, 0.0, 1.0], atol=1e-6)


def test_crop_random_ranges() -> None:
    pts = _ellipse(50.0, 50.0, 20.0, 20.0)  # old = 40
    crop = TrainingCrop(trans_scale=0.1)
    rng = np.random.default_rng(1)
    for _ in range(50):
        t = crop.transform(pts, rng)
        size = 223.0 / t[0, 0]
        assert 40 * 1.4 - 1 <= size <= 40 * 1.8
        centre = np.linalg.solve(t, [111.5, 111.5, 1.0])[:2]
        assert np.all(np.abs(centre - 50.0) <= 0.1 * 40 + 1e-9)


def test_landmark_ndc_matches_warped_image() -> None:
    # a non-square photo with a Gaussian blob at a sub-pixel landmark
    h, w = 90, 130
    target = np.array([71.3, 38.6])  # (x, y)
    yy, xx = np.mgrid[0:h, 0:w]
    blob = np.exp(-((xx - target[0]) ** 2 + (yy - target[1]) ** 2) / (2 * 2.0**2))
    image = np.repeat((blob * 255).round().astype(np.uint8)[..., None], 3, axis=2)
    pts = _ellipse(65.0, 45.0, 20.0, 25.0)
    pts[30] = target
    crop = TrainingCrop(trans_scale=0.2)
    tform = crop.transform(pts, np.random.default_rng(3))
    img, lmk, msk = crop.apply(image, pts, None, tform)
    assert img.shape == (3, 224, 224)
    assert lmk.shape == (68, 3)
    assert msk.shape == (224, 224)
    assert torch.all(msk == 1)
    # NDC → crop pixels with centres at integer + 0.5 in NDC: col = ((x + 1) · 224 − 1) / 2
    expected = ((lmk[30, :2].numpy() + 1.0) * 224 - 1.0) / 2
    weights = img[0].numpy() ** 4  # sharpen the blob, suppress the bilinear tails
    ys, xs = np.mgrid[0:224, 0:224]
    found = np.array([(weights * xs).sum(), (weights * ys).sum()]) / weights.sum()
    np.testing.assert_allclose(found, expected, atol=0.3)
    assert torch.all(lmk[:, 2] == 1)


def test_mask_is_warped_with_the_image() -> None:
    image = np.full((100, 100, 3), 255, np.uint8)
    mask = np.zeros((100, 100), np.float32)
    mask[:, :50] = 1.0  # left half of the photo
    crop = TrainingCrop(scale_min=1.0, scale_max=1.0)
    pts = _ellipse(50.0, 50.0, 25.0, 25.0)  # crop square = [25, 75]², photo x = 50 at crop centre
    img, _, msk = crop.apply(image, pts, mask, crop.transform(pts, np.random.default_rng(0)))
    assert msk[112, 20] == 1.0
    assert msk[112, 200] == 0.0
    assert torch.allclose(img, torch.ones_like(img))


# --------------------------------------------------------------------------------------- manifest
def test_manifest_round_trip_relative_paths(tmp_path: Path, rows: list[ManifestRow]) -> None:
    inline = ManifestRow(
        "bob", rows[0].image, tuple(map(tuple, _ellipse(40, 48, 12, 15).tolist())), None, "clip7"
    )
    all_rows = [*rows, inline]
    path = write_manifest(tmp_path / "manifest.jsonl", all_rows)
    first = json.loads(path.read_text().splitlines()[0])
    assert first["image"] == "alice/000.png"
    assert first["landmarks"] == "alice/000.npy"
    back = read_manifest(path)
    assert [r.identity for r in back] == [r.identity for r in all_rows]
    assert back[0].image == (tmp_path / "alice/000.png")
    assert back[-1].clip == "clip7"
    np.testing.assert_allclose(read_row_landmarks(back[-1]), _ellipse(40, 48, 12, 15))
    np.testing.assert_allclose(read_row_landmarks(back[0]), _ellipse(40, 48, 12, 15))


def test_manifest_bad_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"identity": "a", "image": "x.png", "landmarks": "x.npy"}\n\n{"identity": "b"}\n')
    with pytest.raises(InputError, match=r"m\.jsonl:3"):
        read_manifest(path)


# ---------------------------------------------------------------------------------------- dataset
def test_item_layout(rows: list[ManifestRow]) -> None:
    ds = FaceDataset(rows, k=3, seed=0)
    assert len(ds) == 3
    assert ds.identities == ["alice", "bob", "carol"]
    item = ds[0]
    assert item["image"].shape == (3, 3, 224, 224)
    assert item["image"].dtype == torch.float32
    assert item["landmarks"].shape == (3, 68, 3)
    assert item["mask"].shape == (3, 224, 224)
    assert float(item["image"].min()) >= 0.0
    assert float(item["image"].max()) <= 1.0
    assert torch.all(item["mask"] == 1)
    assert item["identity"].dtype == torch.int64
    assert not ds.skipped


def test_k_images_come_from_one_identity(rows: list[ManifestRow]) -> None:
    ds = FaceDataset(rows, k=4, seed=5)  # carol has 2 images: drawn with replacement
    for index in range(len(ds)):
        item = ds[index]
        color = torch.tensor(COLORS[ds.identities[int(item["identity"])]], dtype=torch.float32) / 255
        centre = item["image"][:, :, 100:124, 100:124].mean(dim=(2, 3))  # (K, 3)
        torch.testing.assert_close(centre, color.expand(4, 3), atol=0.03, rtol=0)


def test_seeded_determinism(rows: list[ManifestRow]) -> None:
    a, b, c = FaceDataset(rows, k=2, seed=1), FaceDataset(rows, k=2, seed=1), FaceDataset(rows, k=2, seed=2)
    for i in range(len(a)):
        torch.testing.assert_close(a[i], b[i])
    assert not torch.equal(a[0]["landmarks"], c[0]["landmarks"])
    before = a[0]["landmarks"]
    a.set_epoch(1)
    assert not torch.equal(a[0]["landmarks"], before)


def test_dataloader_workers_match_single_process(rows: list[ManifestRow]) -> None:
    ds = FaceDataset(rows, k=2, seed=3)
    single = list(DataLoader(ds, batch_size=2, num_workers=0))
    multi = list(DataLoader(ds, batch_size=2, num_workers=2))
    assert len(single) == len(multi) == 2
    for x, y in zip(single, multi, strict=True):
        torch.testing.assert_close(x, y)
    assert single[0]["image"].shape == (2, 2, 3, 224, 224)


def test_bad_rows_are_reported_and_skipped(tmp_path: Path, rows: list[ManifestRow]) -> None:
    missing = ManifestRow("alice", tmp_path / "nope.png", rows[0].landmarks)
    corrupt = tmp_path / "bob" / "corrupt.png"
    corrupt.write_bytes(b"\x00not an image at all" * 10)
    outside = _row(tmp_path, "bob", 50, points=_ellipse(540.0, 48.0, 12.0, 15.0))
    nan_pts = _ellipse(40.0, 48.0, 12.0, 15.0)
    nan_pts[3, 0] = np.nan
    nan_row = _row(tmp_path, "carol", 51, points=nan_pts)
    bad = [missing, ManifestRow("bob", corrupt, rows[0].landmarks), outside, nan_row]
    with pytest.warns(UserWarning, match="skipped 4 bad row"):
        ds = FaceDataset([*rows, *bad], k=2)
    reasons = {Path(s.path).name: s.reason for s in ds.skipped}
    assert set(reasons) == {"nope.png", "corrupt.png", "050.png", "051.png"}
    assert "not found" in reasons["nope.png"]
    assert "outside" in reasons["050.png"]
    assert "NaN" in reasons["051.png"]
    assert len(ds) == 3
    ds[1]  # still loads


def test_unreadable_pixels_draw_another_image(tmp_path: Path) -> None:
    good = _row(tmp_path, "alice", 0)
    broken = _row(tmp_path, "alice", 1)
    data = broken.image.read_bytes()
    broken.image.write_bytes(data[: len(data) // 2])  # header intact: passes the cheap check
    only_broken = _row(tmp_path, "bob", 2)
    only_broken.image.write_bytes(only_broken.image.read_bytes()[:60])
    ds = FaceDataset([good, broken, only_broken], k=3, seed=0)
    assert not ds.skipped
    with pytest.warns(UserWarning, match="skipping"):
        item = ds[0]
    assert int(item["identity"]) == 0
    assert item["image"].shape[0] == 3
    assert any(Path(s.path) == broken.image for s in ds.skipped)
    # bob's only image cannot load: the next identity (alice) stands in
    with pytest.warns(UserWarning, match="FaceDataset") as record:
        item = ds[1]
    messages = [str(w.message) for w in record]
    assert any("no image of identity 'bob'" in m for m in messages)
    assert any(m.startswith(f"FaceDataset: skipping {only_broken.image}: cannot be read") for m in messages)
    assert int(item["identity"]) == 0


def test_mask_file_is_used(tmp_path: Path) -> None:
    row = _row(tmp_path, "alice", 0)
    mask = np.zeros((96, 80), np.float32)
    mask[:, :40] = 1.0
    np.save(tmp_path / "m.npy", mask)
    ds = FaceDataset([ManifestRow("alice", row.image, row.landmarks, tmp_path / "m.npy")], k=1)
    m = ds[0]["mask"][0]
    assert m[112, 10] == 1.0
    assert m[112, 215] == 0.0


# --------------------------------------------------------------------------------------- adapters
def _tree(root: Path, rels: list[str], labels: Path | None = None) -> None:
    for i, rel in enumerate(rels):
        image = _photo(root / rel, (120, 120, 120), size=(64, 64), seed=i)
        label_dir = image.parent if labels is None else labels / Path(rel).parent
        label_dir.mkdir(parents=True, exist_ok=True)
        np.save(label_dir / f"{image.stem}.npy", np.hstack([_ellipse(32, 32, 10, 12), np.ones((68, 1))]))


def test_vggface2_adapter_with_labels_folder(tmp_path: Path) -> None:
    root, labels = tmp_path / "train", tmp_path / "train_annotated_torch7"
    _tree(root, ["n000002/0001_01.jpg", "n000002/0002_01.jpg", "n000009/0001_01.jpg"], labels)
    _photo(root / "n000009" / "0002_01.jpg", (1, 2, 3), size=(64, 64))  # no landmarks
    with pytest.warns(UserWarning, match="skipped 1"):
        scan = rows_from_vggface2(root, labels=labels)
    assert [(r.identity, r.image.name) for r in scan.rows] == [
        ("n000002", "0001_01.jpg"),
        ("n000002", "0002_01.jpg"),
        ("n000009", "0001_01.jpg"),
    ]
    assert scan.rows[0].landmarks == labels / "n000002" / "0001_01.npy"
    assert [(Path(s.path).name, s.reason) for s in scan.skipped] == [("0002_01.jpg", "no landmark file")]
    assert read_row_landmarks(scan.rows[0]).shape == (68, 2)  # (68, 3) file → x, y


def test_voxceleb2_adapter(tmp_path: Path) -> None:
    _tree(tmp_path, ["id00012/clipA/00001.png", "id00012/clipA/00002.png", "id00012/clipB/00001.jpg"])
    scan = rows_from_voxceleb2(tmp_path)
    assert [(r.identity, r.clip, r.image.name) for r in scan.rows] == [
        ("id00012", "clipA", "00001.png"),
        ("id00012", "clipA", "00002.png"),
        ("id00012", "clipB", "00001.jpg"),
    ]
    assert not scan.skipped


def test_bupt_adapter_and_plain_folders(tmp_path: Path) -> None:
    bupt = tmp_path / "bupt"
    _tree(bupt, ["African/m.0abc/1.jpg", "Asian/m.0xyz/1.jpg", "Asian/m.0xyz/2.jpg"])
    _photo(bupt / "Asian" / "stray.jpg", (0, 0, 0), size=(64, 64))  # wrong depth
    with pytest.warns(UserWarning, match="skipped 1"):
        scan = rows_from_bupt(bupt)
    assert [r.identity for r in scan.rows] == ["African/m.0abc", "Asian/m.0xyz", "Asian/m.0xyz"]
    assert len(scan.skipped) == 1
    assert "depth" in scan.skipped[0].reason
    plain = tmp_path / "plain"
    _tree(plain, ["ann/a.png", "ben/b.png"])
    scan = rows_from_folders(plain)
    assert [r.identity for r in scan.rows] == ["ann", "ben"]
    ds = FaceDataset(scan.rows, k=2)
    assert ds[1]["image"].shape == (2, 3, 224, 224)
    with pytest.raises(InputError, match="not a folder"):
        rows_from_folders(tmp_path / "missing")
