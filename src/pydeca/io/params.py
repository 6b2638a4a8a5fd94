"""Parameter files: named arrays (codes, landmarks, transforms) as ``.npz`` and ``.json``.

``save_params("out/photo", {"shape": ..., "cam": ...}, {"demo": True})`` writes ``out/photo.npz``
(the arrays, plus the metadata as a JSON string under ``meta_json``) and ``out/photo.json``
(``{"meta": {...}, "arrays": {name: nested lists}, "dtypes": {name: dtype}}``), both atomically.
Both load back without pickle; :func:`load_codes` reads the codes of a ``deca reconstruct`` parameter
file back as :class:`~pydeca.nets.Codes`, ready for ``DECA.decode``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pydeca.errors import InputError

from .atomic import atomic_write, atomic_write_text

if TYPE_CHECKING:
    import torch

    from pydeca.nets import Codes

__all__ = ["CODE_NAMES", "META_KEY", "load_codes", "load_params", "save_params"]

CODE_NAMES = ("shape", "tex", "exp", "pose", "cam", "light", "detail")
"""Codes stored in a ``deca reconstruct`` parameter file, one face each, without batch dimension:
``shape`` (100,), ``tex`` (50,), ``exp`` (50,), ``pose`` (6,), ``cam`` (3,), ``light`` (9, 3),
``detail`` (128,, optional)."""

META_KEY = "meta_json"
"""Key of the metadata (a 0-d unicode array holding JSON) in the ``.npz`` and in loaded dicts."""


def _as_numpy(value: Any) -> np.ndarray:
    """Numpy copy of a numpy array, a torch tensor (any device) or a Python number/list."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def save_params(
    path_stem: str | os.PathLike[str], arrays: dict[str, Any], meta: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write named arrays to ``<stem>.npz`` and ``<stem>.json``.

    Args:
        path_stem: output path without suffix (a given ``.npz``/``.json`` suffix is stripped).
        arrays: name → numpy array or torch tensor (any shape, numeric or bool dtype). Names must
            not be ``meta_json``.
        meta: JSON-serialisable metadata, e.g. ``{"demo": True, "image": "photo.jpg"}``.

    Returns:
        ``(npz_path, json_path)``.

    Raises:
        InputError: for a reserved name, an object/string array, or metadata JSON cannot encode.
    """
    stem = Path(path_stem)
    if stem.suffix in (".npz", ".json"):
        stem = stem.with_suffix("")
    if META_KEY in arrays:
        raise InputError(f"{stem}: array name {META_KEY!r} is reserved for the metadata; rename it")
    data = {name: _as_numpy(value) for name, value in arrays.items()}
    for name, arr in data.items():
        if arr.dtype.kind not in "biuf":
            raise InputError(f"{stem}: array {name!r} has dtype {arr.dtype}; only numbers and booleans")
    try:
        meta_text = json.dumps(meta or {}, sort_keys=True)
    except TypeError as exc:
        raise InputError(f"{stem}: metadata is not JSON-serialisable ({exc})") from exc
    npz_path = stem.with_name(stem.name + ".npz")
    json_path = stem.with_name(stem.name + ".json")
    with atomic_write(npz_path) as tmp:
        np.savez(tmp, **data, **{META_KEY: np.array(meta_text)})
    document = {
        "meta": meta or {},
        "dtypes": {name: arr.dtype.str for name, arr in data.items()},
        "arrays": {name: arr.tolist() for name, arr in data.items()},
    }
    atomic_write_text(json_path, json.dumps(document, indent=1) + "\n")
    return npz_path, json_path


def load_params(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a file written by :func:`save_params` (``.npz`` or ``.json``).

    Args:
        path: the ``.npz`` or ``.json`` file.

    Returns:
        name → array (dtype and shape as saved), plus ``"meta_json"``: a 0-d unicode array holding
        the metadata as JSON (``json.loads(str(d["meta_json"]))``).

    Raises:
        InputError: if the file is missing, has another suffix, or cannot be parsed.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: parameter file not found; check the path")
    try:
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as npz:
                return {name: npz[name] for name in npz.files}
        if p.suffix == ".json":
            document = json.loads(p.read_text(encoding="utf-8"))
            dtypes = document.get("dtypes", {})
            out = {
                name: np.asarray(values, dtype=np.dtype(dtypes[name]) if name in dtypes else None)
                for name, values in document["arrays"].items()
            }
            out[META_KEY] = np.array(json.dumps(document.get("meta", {}), sort_keys=True))
            return out
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise InputError(
            f"{p}: cannot read parameters ({type(exc).__name__}: {exc}); rewrite the file"
        ) from exc
    raise InputError(f"{p}: unknown parameter file suffix {p.suffix!r}; use .npz or .json")


def load_codes(path: str | os.PathLike[str], *, device: str | torch.device | None = None) -> Codes:
    """The codes of a ``deca reconstruct`` parameter file (``.npz`` or ``.json``) as a B = 1 batch.

    The inverse of what ``deca reconstruct`` / ``FaceResult.save`` write: decoding the loaded codes
    with the same model gives the same vertices.

    Args:
        path: ``<name>.npz`` or ``<name>.json``.
        device: where the tensors go (default: CPU).

    Returns:
        :class:`~pydeca.nets.Codes` with batch size 1, float32 (``detail`` ``None`` if not stored).

    Raises:
        InputError: the file is missing or unreadable, lacks a code, or a code has the wrong shape.

    Example:
        >>> codes = load_codes("out/photo/photo.npz")  # doctest: +SKIP
        >>> model.decode(codes.to(model.device)).vertices.shape  # doctest: +SKIP
        torch.Size([1, 5023, 3])
    """
    from pydeca.nets import Codes  # noqa: PLC0415 - io stays importable without the networks

    arrays = load_params(path)
    batch = {name: np.asarray(arrays[name], dtype=np.float32)[None] for name in CODE_NAMES if name in arrays}
    try:
        return Codes.from_numpy(batch, device=device)
    except (KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise InputError(
            f"{Path(path)}: not a DECA parameter file ({message}); write one with 'deca reconstruct'"
        ) from exc
