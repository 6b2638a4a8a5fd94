"""68-point landmark files beside a photo: ``<stem>.mat`` (AFLW2000 ``pt3d_68``) or ``<stem>.txt``.

DECA's priority (reference §2.1): the ``.mat`` file first, then the ``.txt`` file. Both give iBUG-68
points in photo pixels (x = column, y = row); the face box is their bounding box (crop rule
``kpt68``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pydeca.errors import InputError

from .base import Face

__all__ = ["LandmarkFileDetector", "find_landmark_file", "read_landmark_face", "read_landmarks68"]


def find_landmark_file(image_path: Path) -> Path | None:
    """``<stem>.mat`` or else ``<stem>.txt`` beside ``image_path`` if it exists, else None."""
    for suffix in (".mat", ".txt"):
        candidate = Path(image_path).with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def read_landmarks68(path: Path) -> np.ndarray:
    """Read 68 points from a ``.mat`` (key ``pt3d_68``, 3×68 or 68×3) or ``.txt`` (68×2 / 68×3).

    Returns:
        (68, 2) float64 ``(x, y)`` photo pixels.

    Raises:
        InputError: if the file cannot be parsed or holds another shape.
    """
    p = Path(path)
    try:
        if p.suffix == ".mat":
            import scipy.io  # noqa: PLC0415 - only needed for .mat files

            content = scipy.io.loadmat(p)
            if "pt3d_68" not in content:
                raise InputError(
                    f"{p}: no 'pt3d_68' entry (keys: {sorted(k for k in content if k[0] != '_')})"
                )
            points = np.asarray(content["pt3d_68"], dtype=np.float64)
            if points.shape[0] in (2, 3) and points.shape[1] == 68:
                points = points.T
        else:
            points = np.loadtxt(p, dtype=np.float64, ndmin=2)
    except InputError:
        raise
    except (ValueError, OSError, NotImplementedError) as exc:
        raise InputError(f"{p}: cannot read landmarks ({type(exc).__name__}: {exc})") from exc
    if points.ndim != 2 or points.shape[0] != 68 or points.shape[1] not in (2, 3):
        raise InputError(f"{p}: expected 68 rows of x y [z] landmark coordinates, got shape {points.shape}")
    return np.ascontiguousarray(points[:, :2])


def read_landmark_face(path: Path) -> Face:
    """A :class:`Face` from a landmark file: box = landmark bounding box, score 1, kind ``kpt68``."""
    points = read_landmarks68(path)
    box = np.concatenate([points.min(axis=0), points.max(axis=0)])
    return Face(box=box, score=1.0, landmarks68=points, kind="kpt68")


class LandmarkFileDetector:
    """``--detector landmarks``: faces come only from landmark files.

    The photo's path is needed, so use :func:`pydeca.detect.detect_faces` (``image_path=...``) or
    :meth:`detect_file`; :meth:`detect` alone cannot see files and returns no face.
    """

    name = "landmarks"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """No face: pixels alone carry no landmark file (see the class docstring)."""
        del rgb
        return []

    def detect_file(self, image_path: str | Path) -> list[Face]:
        """The face of the landmark file beside ``image_path``, or [] when there is none."""
        found = find_landmark_file(Path(image_path))
        return [] if found is None else [read_landmark_face(found)]
