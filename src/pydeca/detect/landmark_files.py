"""68-point landmark files beside a photo: ``<stem>.mat`` (AFLW2000 ``pt3d_68``) or ``<stem>.txt``.

DECA's priority (reference §2.1): the ``.mat`` file first, then the ``.txt`` file. Both give iBUG-68
points in photo pixels (x = column, y = row); the face box is their bounding box (crop rule
``kpt68``).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pydeca.errors import InputError

from .types import Face

__all__ = [
    "MAX_LANDMARK_FILE_BYTES",
    "LandmarkFileDetector",
    "find_landmark_file",
    "read_landmark_face",
    "read_landmarks68",
]


def find_landmark_file(image_path: Path) -> Path | None:
    """``<stem>.mat`` or else ``<stem>.txt`` beside ``image_path`` if it exists, else None."""
    for suffix in (".mat", ".txt"):
        candidate = Path(image_path).with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


MAX_LANDMARK_FILE_BYTES = 128 * 1024
"""Largest landmark file read (bytes). 68 points take ~3 kB as text and ~2 kB as ``.mat`` (AFLW2000
files with all their parameters < 20 kB); the cap also bounds what a compressed ``.mat`` can inflate to."""

_MAT_NUMERIC = frozenset(
    {"double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}
)
"""MATLAB classes ``whosmat`` reports for real numeric arrays."""


def _mat_errors() -> tuple[type[BaseException], ...]:
    """What SciPy's MAT reader raises on damaged files (its parser has no single error type)."""
    import struct  # noqa: PLC0415
    import zlib  # noqa: PLC0415

    from scipy.io.matlab import MatReadError  # noqa: PLC0415

    return (
        MatReadError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OverflowError,
        EOFError,
        OSError,
        NotImplementedError,
        # A tag claiming up to 4 GB makes SciPy allocate that much before it finds the file short.
        MemoryError,
        struct.error,
        zlib.error,
    )


def _read_mat_points(p: Path) -> npt.NDArray[np.float64]:
    """``pt3d_68`` of a ``.mat`` file, after checking its declared class and shape from the header.

    The (size-capped) file is parsed from memory: a length field claiming gigabytes then reads
    only what the file holds, instead of SciPy allocating the claimed size for a file read.
    """
    import scipy.io  # noqa: PLC0415 - only needed for .mat files

    try:
        data = p.read_bytes()
        declared = {name: (shape, cls) for name, shape, cls in scipy.io.whosmat(io.BytesIO(data))}
        if "pt3d_68" not in declared:
            raise InputError(
                f"{p}: no 'pt3d_68' entry (variables: {sorted(declared)[:10]}); not a 68-point landmark file"
            )
        shape, cls = declared["pt3d_68"]
        if cls not in _MAT_NUMERIC or tuple(shape) not in {(2, 68), (3, 68), (68, 2), (68, 3)}:
            raise InputError(
                f"{p}: 'pt3d_68' is a {'×'.join(map(str, shape))} {cls} array; expected 3×68 or 68×3 numbers"
            )
        points = scipy.io.loadmat(io.BytesIO(data), variable_names=["pt3d_68"])["pt3d_68"]
    except InputError:
        raise
    except _mat_errors() as exc:
        raise InputError(
            f"{p}: not a readable MATLAB .mat landmark file ({type(exc).__name__}: {exc})"
        ) from exc
    points = np.asarray(points)
    if points.dtype.kind not in "biuf":  # whosmat's class and the data disagree: a damaged file
        raise InputError(f"{p}: 'pt3d_68' holds {points.dtype} values, not numbers; the file is damaged")
    points = points.astype(np.float64)
    return points.T if points.shape[0] in (2, 3) and points.shape[1] == 68 else points


def read_landmarks68(path: Path) -> npt.NDArray[np.float64]:
    """Read 68 points from a ``.mat`` (key ``pt3d_68``, 3×68 or 68×3) or ``.txt`` (68×2 / 68×3).

    Reading is bounded: files over :data:`MAX_LANDMARK_FILE_BYTES` are refused, and a ``.mat``
    file's ``pt3d_68`` is loaded only after its header declares a small numeric array.

    Returns:
        (68, 2) float64 ``(x, y)`` photo pixels, all finite.

    Raises:
        InputError: if the file is too large, cannot be parsed, holds another shape or holds NaN or
            infinite coordinates.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputError(f"{p}: cannot read landmarks ({type(exc).__name__}: {exc})") from exc
    if size > MAX_LANDMARK_FILE_BYTES:
        raise InputError(
            f"{p}: {size} bytes is too large for a 68-point landmark file (limit {MAX_LANDMARK_FILE_BYTES}); "
            "check it is the right file"
        )
    if p.suffix == ".mat":
        points = _read_mat_points(p)
    else:
        try:
            with warnings.catch_warnings():  # an empty file: the shape check below names it
                warnings.simplefilter("ignore", UserWarning)
                points = np.loadtxt(p, dtype=np.float64, ndmin=2)
        except (ValueError, OSError) as exc:
            raise InputError(f"{p}: cannot read landmarks ({type(exc).__name__}: {exc})") from exc
    if points.ndim != 2 or points.shape[0] != 68 or points.shape[1] not in (2, 3):
        raise InputError(f"{p}: expected 68 rows of x y [z] landmark coordinates, got shape {points.shape}")
    if not np.isfinite(points[:, :2]).all():
        raise InputError(f"{p}: landmark coordinates hold NaN or infinite values; fix or remove the file")
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

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """No face: pixels alone carry no landmark file (see the class docstring)."""
        del rgb
        return []

    def detect_file(self, image_path: str | Path) -> list[Face]:
        """The face of the landmark file beside ``image_path``, or [] when there is none."""
        found = find_landmark_file(Path(image_path))
        return [] if found is None else [read_landmark_face(found)]
