"""Files a browser uploads: checked, parsed in a private folder, never trusted.

An upload is a name and bytes from a client. Only the name's suffix is used, and only when it is
one of :data:`UPLOAD_SUFFIXES`; the bytes are written to a fresh private temporary folder under a
fixed name (``upload<suffix>``) and read by the same bounded readers as files on disk
(:func:`pydeca.io.images.load_image`, :func:`pydeca.io.params.load_codes`). No client string ever
becomes a path, and every failure is an :class:`UploadError` with a message for the panel.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

from pydeca.detect import FaceDetector
from pydeca.errors import InputError, PydecaError
from pydeca.io.images import IMAGE_EXTENSIONS, load_image
from pydeca.io.output_names import safe_stem
from pydeca.io.params import load_codes
from pydeca.model import DECA
from pydeca.nets import Codes
from pydeca.pipeline.faces import prepare_faces
from pydeca.pipeline.sources import PARAM_SUFFIXES

__all__ = ["MAX_UPLOAD_BYTES", "UPLOAD_SUFFIXES", "UploadError", "expression_from_upload", "upload_label"]

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
"""Largest upload accepted (20 MiB): a phone photo or a parameter file fits."""

UPLOAD_SUFFIXES: tuple[str, ...] = (*PARAM_SUFFIXES, *sorted(IMAGE_EXTENSIONS))
"""Suffixes an upload may have: parameter files and photos."""

_Parsed = TypeVar("_Parsed")


class UploadError(InputError):
    """An upload that cannot be used; the message is shown in the dashboard's panel."""


def upload_label(name: str) -> str:
    """A display name for an upload: its stem made safe (no path, no control characters)."""
    return safe_stem(Path(name.replace("\\", "/")).stem or "upload")


def _suffix(name: str) -> str:
    suffix = Path(name.replace("\\", "/")).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise UploadError(
            f"{upload_label(name)}: not a photo or parameter file; upload one of {', '.join(UPLOAD_SUFFIXES)}"
        )
    return suffix


def _parse_privately(name: str, content: bytes, parse: Callable[[Path], _Parsed]) -> _Parsed:
    """Write ``content`` to ``<private tmp>/upload<suffix>`` and parse it there; clean up after."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"{upload_label(name)}: {len(content) / 2**20:.1f} MiB is over the "
            f"{MAX_UPLOAD_BYTES // 2**20} MiB upload limit; upload a smaller file"
        )
    if not content:
        raise UploadError(f"{upload_label(name)}: the file is empty")
    suffix = _suffix(name)
    with tempfile.TemporaryDirectory(prefix="pydeca-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(content)
        try:
            return parse(path)
        except (PydecaError, OSError, ValueError, KeyError) as error:
            text = str(error).replace(str(path), upload_label(name)).splitlines()[0] if str(error) else ""
            raise UploadError(f"{upload_label(name)}: {text or type(error).__name__}") from error


def expression_from_upload(model: DECA, name: str, content: bytes, detector: FaceDetector) -> Codes:
    """The expression codes (B = 1) of an uploaded photo or parameter file.

    Args:
        model: the model (a photo's largest face is encoded with it).
        name: the client's file name (only its suffix is used).
        content: the file's bytes.
        detector: face detector for photos.

    Returns:
        B = 1 codes on the model's device (a photo's are encoded; a parameter file's are read).

    Raises:
        UploadError: too large, empty, an unsupported suffix, unreadable, no face, bad codes.
    """

    def parse(path: Path) -> Codes:
        if path.suffix in PARAM_SUFFIXES:
            return load_codes(path, device=model.device)
        face = prepare_faces(load_image(path), "upload", detector, None)[0]
        with torch.inference_mode():
            codes = model.encode(face.crop[None].to(model.device), use_detail=False)
        if not all(torch.isfinite(t).all() for t in (codes.exp, codes.pose)):
            raise UploadError("the networks returned non-finite codes for this photo")
        return codes

    return _parse_privately(name, content, parse)
