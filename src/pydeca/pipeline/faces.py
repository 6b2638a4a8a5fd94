"""Faces of a photo, ready for the encoders, and the reconstructed faces the writers take.

:func:`prepare_faces` detects the faces of one photo and crops each with DECA's rule (reference
§2.1) into a :class:`PreparedFace`; :func:`~pydeca.pipeline.batch.reconstruct_batch` turns prepared
faces into :class:`FaceResult` records. Both are plain data: a photo, a crop, the crop transform and
(for results) the decoded :class:`~pydeca.results.Reconstruction`; the model that made them is not
kept (the writers take it as an argument).

Convention:
    - Photo pixels: x = column, y = row, pixel ``i`` centred at ``i`` (:mod:`pydeca.detect.crop`).
    - ``tform`` is ``T``, photo pixel → crop pixel, a (3, 3) similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from pydeca.constants import CROP_SIZE
from pydeca.detect import FaceDetector, detect_faces, select_faces
from pydeca.detect.crop import crop_ndc_to_photo_px, face_transform, warp_crop
from pydeca.detect.types import FaceSelection
from pydeca.errors import NoFaceError, OptionError
from pydeca.io.output_names import face_name, safe_stem
from pydeca.nets import Codes
from pydeca.results import Reconstruction

__all__ = ["FaceResult", "LandmarkKey", "PreparedFace", "landmarks_in_photo", "prepare_faces"]

LandmarkKey = Literal["landmarks2d", "landmarks3d"]
"""The landmark sets of a :class:`~pydeca.results.Reconstruction` (both 68 points, crop NDC)."""


@dataclass(frozen=True, eq=False)
class PreparedFace:
    """One face of a photo, cropped for the encoders."""

    name: str
    """Output name (safe image stem, ``_face<k>`` appended when several faces are kept)."""
    image: np.ndarray
    """(H, W, 3) uint8 RGB original photo."""
    crop: torch.Tensor
    """(3, 224, 224) encoder input, RGB in [0, 1]."""
    tform: np.ndarray
    """(3, 3) float64 ``T``, photo pixel → crop pixel (x = column, y = row)."""
    source: Path | None = None
    """The photo's file (None for in-memory images and video frames)."""
    faces_found: int = 1
    """How many faces the detector found in the photo (more than kept with ``which="largest"``)."""


@dataclass(frozen=True, eq=False)
class FaceResult:
    """One reconstructed face: its photo, crop, crop transform and decoded reconstruction (B = 1).

    Plain data: write it with :func:`pydeca.pipeline.writers.save_face` (or
    :func:`pydeca.pipeline.save`), passing the model that made it (its topology and renderer).
    """

    name: str
    """Output name (a safe stem, see :func:`pydeca.io.output_names.safe_stem`)."""
    image: np.ndarray
    """(H, W, 3) uint8 RGB original photo."""
    crop: torch.Tensor
    """(1, 3, 224, 224) encoder input, RGB in [0, 1]."""
    tform: np.ndarray
    """(3, 3) ``T``, photo pixel → crop pixel."""
    reconstruction: Reconstruction
    """The decoded face (B = 1): geometry in the FLAME world frame, landmarks in crop NDC."""
    source: Path | None = None
    """The photo's file, if it came from one (recorded in the parameter metadata)."""

    @property
    def codes(self) -> Codes:
        """The face's :class:`~pydeca.nets.Codes` (B = 1)."""
        return self.reconstruction.codes

    @property
    def landmarks(self) -> np.ndarray:
        """(68, 2) float64 2D landmarks in photo pixels (x = column, y = row)."""
        return landmarks_in_photo(self, "landmarks2d")


def landmarks_in_photo(result: FaceResult, key: LandmarkKey = "landmarks2d") -> np.ndarray:
    """A face's landmarks in photo pixels, through its crop transform.

    Args:
        result: a reconstructed face (B = 1).
        key: ``"landmarks2d"`` (the 2D-fitting landmarks) or ``"landmarks3d"`` (the fixed 3D ones;
            their z and visibility are dropped).

    Returns:
        (68, 2) float64 ``(x, y)`` photo pixels (x = column, y = row, pixel centres at integers);
        see :func:`pydeca.detect.crop.crop_ndc_to_photo_px`.
    """
    ndc = getattr(result.reconstruction, key)[0].detach().float()
    return crop_ndc_to_photo_px(ndc, result.tform, CROP_SIZE)


def prepare_faces(
    image: np.ndarray,
    name: str,
    detector: FaceDetector,
    source: Path | None = None,
    which: FaceSelection = "largest",
) -> list[PreparedFace]:
    """Detect the faces of a photo and crop them with DECA's rule (reference §2.1).

    Args:
        image: (H, W, 3) uint8 RGB photo.
        name: output name of the photo (made safe with :func:`pydeca.io.output_names.safe_stem`).
        detector: a :class:`~pydeca.detect.FaceDetector`.
        source: the photo's path (landmark files next to it are honoured).
        which: ``"largest"`` (one face) or ``"all"``.

    Returns:
        The kept faces, largest first, each with ``faces_found`` = the number detected.

    Raises:
        NoFaceError: no face was found (the message names the photo and the way out).
        OptionError: ``which`` is neither ``"largest"`` nor ``"all"``.
    """
    if which not in ("largest", "all"):
        raise OptionError(f"which: expected 'largest' or 'all', got {which!r}")
    name = safe_stem(name)
    detected = detect_faces(detector, image, source)
    if not detected:
        raise NoFaceError(
            f"{name}: no face found by the '{detector.name}' detector; try another detector "
            "(--detector) or '--detector none' for an already cropped face"
        )
    kept = select_faces(detected, which)
    photo = torch.from_numpy(image).permute(2, 0, 1)[None].float().div_(255.0)
    prepared = []
    for k, face in enumerate(kept):
        tform = face_transform(face, image.shape, crop_size=CROP_SIZE)
        crop = warp_crop(photo, torch.from_numpy(tform)[None].float())[0]
        name_k = face_name(name, k, len(kept))
        prepared.append(PreparedFace(name_k, image, crop, tform, source, faces_found=len(detected)))
    return prepared
