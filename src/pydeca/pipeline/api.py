"""The Python API for photos: a photo in, reconstructed faces out; faces to files and meshes.

Example:
    >>> import pydeca                                                   # doctest: +SKIP
    >>> model = pydeca.DECA.load(assets="demo")                         # doctest: +SKIP
    >>> face = pydeca.reconstruct(model, "selfie.jpg")                  # doctest: +SKIP
    >>> face.codes.shape.shape, face.landmarks.shape                    # doctest: +SKIP
    (torch.Size([1, 100]), (68, 2))
    >>> pydeca.save(model, face, "out/", formats=("obj", "npz"))        # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import numpy as np
from torch import Tensor

from pydeca.detect import FaceDetector, get_detector
from pydeca.detect.types import FaceSelection
from pydeca.errors import InputError, OptionError
from pydeca.io.images import load_image, photo_from_array
from pydeca.model import DECA
from pydeca.results import TextureMode

from .batch import reconstruct_batch
from .faces import FaceResult, prepare_faces
from .writers import OutputOptions, save_face

if TYPE_CHECKING:
    import trimesh

__all__ = ["ImageInput", "reconstruct", "reconstruct_all", "save", "to_trimesh"]

ImageInput = str | os.PathLike[str] | np.ndarray | Tensor
"""A photo file path, or the photo as an array (see :func:`reconstruct`)."""


def reconstruct(
    model: DECA,
    image: ImageInput,
    *,
    detector: str | FaceDetector = "auto",
    texture: TextureMode = "extract",
) -> FaceResult:
    """Reconstruct the largest face of a photo.

    An array gives the same result as the same image read from a file: greyscale (H, W) and
    (H, W, 1) are tiled, RGBA (H, W, 4) loses its alpha, uint16 is scaled to 8 bits, float must
    lie in [0, 1]; a torch tensor may be (C, H, W). See :func:`pydeca.io.images.photo_from_array`.

    The result has ``.codes``, ``.reconstruction`` (geometry in the FLAME world frame, metres;
    landmarks in crop NDC), ``.landmarks`` (photo pixels); :func:`save` writes its files,
    :func:`to_trimesh` gives its mesh. ``pydeca.io.params.load_codes`` reads saved parameters back
    for :meth:`DECA.decode`.

    Args:
        model: the model (its device runs the networks).
        image: a photo file path, or the photo as an array (see above).
        detector: a detector name (:func:`pydeca.detect.get_detector`) or a detector object.
        texture: ``uv_texture_gt`` mode (see :meth:`pydeca.model.DECA.decode`).

    Returns:
        The largest face (B = 1), named after the file's stem (``"image"`` for an array).

    Raises:
        OptionError: unknown ``texture`` or detector name (checked before the image is read).
        InputError: the image cannot be read, its values are out of range (a float image in 0–255,
            say), or the networks returned non-finite codes.
        NoFaceError: no face was found (an ``InputError``).
        ShapeError: unsupported array shape.
    """
    return _reconstruct(model, image, detector, texture, "largest")[0]


def reconstruct_all(
    model: DECA,
    image: ImageInput,
    *,
    detector: str | FaceDetector = "auto",
    texture: TextureMode = "extract",
) -> list[FaceResult]:
    """Reconstruct every face of a photo, largest first (see :func:`reconstruct`).

    Returns:
        One result (B = 1) per face, named ``<stem>_face<k>`` (k = 0 for the largest) when there
        are several, else ``<stem>``; encoded and decoded in one batch.

    Raises:
        The same errors as :func:`reconstruct`; a face with non-finite codes fails the call.
    """
    return _reconstruct(model, image, detector, texture, "all")


def _reconstruct(
    model: DECA,
    image: ImageInput,
    detector: str | FaceDetector,
    texture: TextureMode,
    which: FaceSelection,
) -> list[FaceResult]:
    choices = get_args(TextureMode)
    if texture not in choices:
        raise OptionError(f"texture: expected one of {', '.join(map(repr, choices))}, got {texture!r}")
    if isinstance(image, (str, os.PathLike)):
        source: Path | None = Path(image)
        photo, name = load_image(image), Path(image).stem
    else:
        source, photo, name = None, photo_from_array(image), "image"
    if isinstance(detector, str):
        detector = get_detector(detector, device=str(model.device))
    prepared = prepare_faces(photo, name, detector, source, which)
    results, failures = reconstruct_batch(model, prepared, texture)
    if failures:
        raise InputError("; ".join(failures.values()))
    return results


def save(
    model: DECA,
    face: FaceResult,
    out_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str] = ("obj", "npz", "vis"),
) -> list[str]:
    """Write a face's outputs into ``out_dir`` (``out_dir/<name>/`` and side files), all or nothing.

    Args:
        model: the model that made ``face`` (topology and renderer).
        face: a reconstructed face (B = 1).
        out_dir: output folder (created if missing).
        formats: any of ``obj`` (coarse + detail OBJ), ``ply``, ``glb``, ``npz`` (``.npz`` +
            ``.json`` parameters), ``kpt``, ``depth``, ``vis``, ``mat``, ``images``, ``orig``
            (see :class:`~pydeca.pipeline.writers.OutputOptions`).

    Returns:
        Every written path, as strings (see :func:`~pydeca.pipeline.writers.save_face`).

    Raises:
        ValueError: an unknown format name.
        OSError: a file cannot be written (nothing of the face is left then).
    """
    return save_face(model, face, Path(out_dir), OutputOptions.from_formats(formats))


def to_trimesh(model: DECA, face: FaceResult) -> trimesh.Trimesh:
    """The face's coarse mesh as a :class:`trimesh.Trimesh` (V vertices, FLAME world frame, metres).

    Args:
        model: the model that made ``face`` (its topology gives the triangles).
        face: a reconstructed face (B = 1).
    """
    import trimesh  # noqa: PLC0415 - slow to import, only needed here

    verts = face.reconstruction.vertices[0].detach().cpu().numpy()
    return trimesh.Trimesh(verts, np.asarray(model.topology.faces), process=False)
