"""Faces and expression codes from the files users give: photos and saved parameter files.

A *source* is a photo (detected, cropped, encoded and decoded) or a parameter file written by
``deca reconstruct`` (``.npz`` / ``.json``, decoded from its codes). Expression transfer, animation
and the dashboard read their inputs through these functions, so every app accepts the same files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pydeca.constants import CROP_SIZE
from pydeca.detect import FaceDetector, get_detector
from pydeca.errors import InputError, PydecaError
from pydeca.io.images import load_image
from pydeca.io.params import check_codes, load_codes
from pydeca.model import DECA
from pydeca.nets import Codes
from pydeca.render.visualize import to_uint8
from pydeca.results import PhotoTexture, TextureMode

from .batch import reconstruct_batch
from .faces import FaceResult, prepare_faces

__all__ = [
    "GREY_TEXTURE",
    "PARAM_SUFFIXES",
    "codes_from_params",
    "face_from_params",
    "failure_text",
    "is_param_file",
    "load_expressions",
    "load_face",
]

PARAM_SUFFIXES = (".npz", ".json")
"""Suffixes of parameter files written by ``deca reconstruct``."""

GREY_TEXTURE = 0.7
"""Texture value used when a parameter file comes with no texture and there is no albedo model."""


def _file_texture(model: DECA, params_path: Path) -> Tensor | None:
    """The ``<name>.png`` texture ``deca reconstruct`` writes beside ``<name>.npz``, if usable."""
    png = params_path.with_suffix(".png")
    if not png.is_file():
        return None
    try:
        image = load_image(png)
    except (InputError, OSError):
        return None
    if image.shape[:2] != (model.uv_size, model.uv_size):
        return None
    return torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255.0).to(model.device)


def face_from_params(model: DECA, path: str | Path) -> FaceResult:
    """A :class:`FaceResult` decoded from a parameter file of ``deca reconstruct``.

    The texture is, in order of preference: the ``<name>.png`` written beside the file (the photo
    texture), the albedo model's shaded texture, or grey 0.7. There is no photo: ``image`` and
    ``crop`` are the face rendered with that texture (tform = identity).

    Raises:
        InputError: the file cannot be read or lacks codes.
    """
    path = Path(path)
    codes = load_codes(path)
    with torch.inference_mode():
        rec = model.decode(codes.to(model.device))
        texture = _file_texture(model, path)
        if texture is None and rec.model_texture is not None:
            texture = rec.model_texture.uv_texture
        if texture is None:
            texture = torch.full((1, 3, model.uv_size, model.uv_size), GREY_TEXTURE, device=model.device)
        rec = replace(rec, photo_texture=PhotoTexture(texture))
        crop, _ = model.renderer.render_texture(rec.trans_verts, texture, CROP_SIZE)
    image = to_uint8(crop[0])
    return FaceResult(path.stem, image, crop, np.eye(3, dtype=np.float64), rec)


def codes_from_params(arrays: dict[str, np.ndarray], source: str | Path = "parameters") -> Codes:
    """B = 1 :class:`Codes` from a loaded parameter file (arrays without batch dimension).

    Raises:
        InputError: naming ``source`` and the key, for a missing code, a wrong shape, NaN/inf or a
            value out of range (:func:`pydeca.io.params.check_codes`).
    """
    codes = check_codes(arrays, source)
    return Codes.from_numpy({k: v.astype(np.float32)[None] for k, v in codes.items()})


def load_face(
    model: DECA, path: str | Path, detector: FaceDetector | None = None, texture: TextureMode = "extract"
) -> FaceResult:
    """Reconstruct the largest face of a photo, or decode a parameter file (``.npz`` / ``.json``).

    Args:
        model: the DECA model.
        path: image or parameter file.
        detector: a :class:`~pydeca.detect.FaceDetector` (default: ``get_detector("auto")``).
        texture: texture mode for photos (see :meth:`DECA.decode`).

    Raises:
        InputError: unreadable input, no face (``NoFaceError``), non-finite codes.
    """
    path = Path(path)
    if path.suffix.lower() in PARAM_SUFFIXES:
        return face_from_params(model, path)
    detector = detector if detector is not None else get_detector("auto")
    prepared = prepare_faces(load_image(path), path.stem, detector, path)
    results, failures = reconstruct_batch(model, prepared, texture)
    if failures:
        raise InputError("; ".join(failures.values()))
    return results[0]


def load_expressions(
    model: DECA, paths: Sequence[Path], detector: FaceDetector | None = None
) -> tuple[list[str], Codes | None, dict[str, str]]:
    """Codes of expression inputs: photos are detected, cropped and encoded in one batch.

    Returns:
        ``(names, codes (E, ...), failures)`` — ``codes`` is ``None`` when every input failed;
        ``failures`` maps an input to its error message.
    """
    names: list[str] = []
    items: list[Codes | Tensor] = []
    failures: dict[str, str] = {}
    for path in paths:
        try:
            if path.suffix.lower() in PARAM_SUFFIXES:
                items.append(load_codes(path))
            else:
                detector = detector if detector is not None else get_detector("auto")
                items.append(prepare_faces(load_image(path), path.stem, detector, path)[0].crop)
        except (PydecaError, KeyError, ValueError, OSError) as exc:
            failures[str(path)] = failure_text(path, exc)
            continue
        names.append(path.stem)
    crops = [item for item in items if isinstance(item, Tensor)]
    encoded: list[Codes] = []
    if crops:
        with torch.inference_mode():
            batch = model.encode(torch.stack(crops).to(model.device))
        encoded = [batch[i] for i in range(len(crops))]
    encoded.reverse()
    codes = [item.to(model.device) if isinstance(item, Codes) else encoded.pop() for item in items]
    codes = [Codes(c.shape, c.tex, c.exp, c.pose, c.cam, c.light) for c in codes]  # detail unused
    return names, (Codes.cat(codes) if codes else None), failures


def failure_text(path: str | Path, error: BaseException) -> str:
    """One line for a failed input: the error's message, prefixed with the path unless it names it."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text if str(path) in text else f"{path}: {text}"


def is_param_file(path: str | Path) -> bool:
    """True for a parameter file of ``deca reconstruct`` (by suffix: ``.npz`` or ``.json``)."""
    return Path(path).suffix.lower() in PARAM_SUFFIXES
