"""Detector types: the :class:`Face` record, the :class:`FaceDetector` protocol, face selection.

All coordinates are original-photo pixels: x = column, y = row, pixel ``i`` centred at coordinate
``i`` (scikit-image's convention, which DECA's crop uses; reference §2.1). Back ends and the
name → back-end table live in :mod:`pydeca.detect.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

import numpy as np
import numpy.typing as npt

from pydeca.errors import OptionError, ShapeError

__all__ = [
    "CropRule",
    "Face",
    "FaceDetector",
    "FaceSelection",
    "WholeImageDetector",
    "check_rgb",
    "largest_face",
    "select_faces",
]

FaceSelection = Literal["largest", "all"]
"""Which faces of a photo to reconstruct (``--face largest|all``)."""
CropRule = Literal["bbox", "kpt68", "image"]
"""Where a face box comes from, which decides DECA's crop rule (:mod:`pydeca.detect.crop`)."""


@dataclass
class Face:
    """One detected face.

    The crop rule (:func:`pydeca.detect.crop.box_from_face`) follows from the fields: DECA's
    68-point rule when ``landmarks68`` is set, the whole-image rule for ``kind="image"``, else the
    detector-box rule.
    """

    box: npt.NDArray[np.float64]
    """(4,) float64 ``[left, top, right, bottom]``, photo pixels (may extend outside the photo)."""
    score: float
    """Detector confidence in [0, 1] (1.0 for landmark files and the whole-image box)."""
    landmarks68: npt.NDArray[np.float64] | None = None
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

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """Return the faces in ``rgb`` ((H, W, 3) uint8 RGB), largest first; [] when none."""
        ...


def check_rgb(rgb: np.ndarray) -> npt.NDArray[np.uint8]:
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
        OptionError: (a ``ValueError``) for another ``which``.
    """
    if which == "largest":
        face = largest_face(faces)
        return [] if face is None else [face]
    if which == "all":
        return sorted(faces, key=lambda f: f.area, reverse=True)
    choices = " or ".join(repr(c) for c in get_args(FaceSelection))
    raise OptionError(f"which: expected {choices}, got {which!r}")


class WholeImageDetector:
    """No crop: the whole photo is the face (``--detector none``); DECA's rule in crop.face_transform."""

    name = "none"

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """One face covering the photo: box ``[0, 0, W − 1, H − 1]``, kind ``"image"``."""
        h, w = np.asarray(rgb).shape[:2]
        return [Face(box=np.array([0.0, 0.0, w - 1.0, h - 1.0]), score=1.0, kind="image")]
