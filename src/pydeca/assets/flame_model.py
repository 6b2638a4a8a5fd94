"""Load the FLAME model (``generic_model.pkl``) safely, with a plain ``.npz`` cache.

The first load unpickles the file with :func:`pydeca.assets.safe_pickle.safe_load` (no chumpy, no
arbitrary code), converts it to :class:`~pydeca.assets.data.FlameModelData` and writes the arrays
to ``flame_<sha256[:16]>_v1.npz`` (written atomically; read back with ``allow_pickle=False``). Later
loads of the same file content read only the ``.npz``.

Conversion (reference §1.1): ``shapedirs`` (V, 3, S+E) splits into identity ``[..., :300]`` and
expression ``[..., 300:]``; ``J_regressor`` is densified; ``kintree_table[0]`` becomes ``parents``
with the root at −1; floats become float32, faces int64. Unknown keys are ignored.

Every load is validated (:func:`~pydeca.assets.validate.validate_flame_data`: shapes agree, no NaN,
the kinematic tree is a tree), from the pickle and from the cache alike. A cache that cannot be
read or fails validation (truncated, garbage, wrong keys or shapes, NaN) is rebuilt from the
pickle with a one-line warning naming it.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from pydeca.assets.data import FlameModelData
from pydeca.assets.npz import read_npz_arrays
from pydeca.assets.paths import default_cache_dir, reading_asset, write_cache_file
from pydeca.assets.safe_pickle import safe_load
from pydeca.assets.validate import check_finite, validate_flame_data
from pydeca.errors import AssetFormatError, AssetNotFoundError, PydecaError

__all__ = ["NUM_FLAME_IDENTITY", "flame_data_from_dict", "flame_file_digest", "load_flame_model"]

NUM_FLAME_IDENTITY = 300
"""Identity components at the front of FLAME's ``shapedirs`` (FLAME 2020: 300 + 100 expression)."""

_CACHE_VERSION = 1
_REQUIRED_KEYS = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")
_UINT32_MINUS_ONE = 2**32 - 1
_MAX_DENSE = 1 << 28
"""Largest sparse matrix densified (elements); FLAME's J_regressor has 5 × 5023."""


def flame_file_digest(path: str | Path) -> str:
    """sha256 (hex) of a file's content, read in 4 MiB blocks (~0.05 s for the 67 MB model).

    Raises:
        AssetError: the file cannot be read (permission denied, a folder, an I/O error).
    """
    digest = hashlib.sha256()
    with reading_asset(path), Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _dense(value: Any, key: str, source: str) -> np.ndarray:
    """A numeric ndarray from an array, array-like or scipy sparse matrix."""
    if scipy.sparse.issparse(value):
        if math.prod(value.shape) > _MAX_DENSE:
            raise AssetFormatError(f"{source}: key {key!r} is a sparse matrix too large ({value.shape})")
        return np.asarray(value.toarray())
    if not isinstance(value, np.ndarray | list | tuple | int | float):
        raise AssetFormatError(f"{source}: key {key!r} is not an array ({type(value).__name__})")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise AssetFormatError(f"{source}: key {key!r} is not an array ({type(value).__name__})") from exc
    if array.dtype.kind not in "biuf":
        raise AssetFormatError(f"{source}: key {key!r} is not numeric (dtype {array.dtype})")
    check_finite(array, key, source)
    return array


def _check_shape(array: np.ndarray, expected: tuple[int | None, ...], key: str, source: str) -> None:
    ok = array.ndim == len(expected) and all(
        e is None or e == s for e, s in zip(expected, array.shape, strict=False)
    )
    if not ok:
        spec = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise AssetFormatError(f"{source}: key {key!r} has shape {array.shape}, expected {spec}")


def flame_data_from_dict(
    model: dict[str, Any], source: str = "<dict>", *, num_identity: int = NUM_FLAME_IDENTITY
) -> FlameModelData:
    """Convert the unpickled FLAME dict into :class:`FlameModelData` (float32 / int64 arrays).

    Args:
        model: the dict of ``generic_model.pkl`` (chumpy / sparse values already converted).
        source: file name for error messages.
        num_identity: identity components at the front of ``shapedirs``; the rest are expression.

    Raises:
        AssetFormatError: a required key is missing, has an inconsistent shape, holds NaN/inf, or
            the kinematic tree is not a tree (:func:`~pydeca.assets.validate.validate_flame_data`).
    """
    if not isinstance(model, dict):
        raise AssetFormatError(f"{source}: expected a pickled dict, found {type(model).__name__}")
    for key in _REQUIRED_KEYS:
        if key not in model:
            raise AssetFormatError(
                f"{source}: required key {key!r} is missing (found {sorted(map(str, model))}); "
                "this is not a FLAME generic_model.pkl"
            )
    arr = {key: _dense(model[key], key, source) for key in _REQUIRED_KEYS}
    v_template = arr["v_template"]
    _check_shape(v_template, (None, 3), "v_template", source)
    num_verts = v_template.shape[0]
    _check_shape(arr["f"], (None, 3), "f", source)
    _check_shape(arr["shapedirs"], (num_verts, 3, None), "shapedirs", source)
    _check_shape(arr["posedirs"], (num_verts, 3, None), "posedirs", source)
    _check_shape(arr["J_regressor"], (None, num_verts), "J_regressor", source)
    num_joints = arr["J_regressor"].shape[0]
    _check_shape(arr["weights"], (num_verts, num_joints), "weights", source)
    _check_shape(arr["kintree_table"], (2, num_joints), "kintree_table", source)
    if arr["shapedirs"].shape[2] <= num_identity:
        raise AssetFormatError(
            f"{source}: shapedirs has {arr['shapedirs'].shape[2]} components, expected more than "
            f"{num_identity} identity components followed by expression components"
        )
    for key in ("kintree_table", "f"):
        table = arr[key]
        if table.dtype.kind == "f" and not np.array_equal(table, np.round(table)):
            raise AssetFormatError(f"{source}: key {key!r} holds non-integer indices")
        if table.size and (table.min() < -(2**31) or table.max() > _UINT32_MINUS_ONE):
            raise AssetFormatError(f"{source}: key {key!r} holds indices outside the 32-bit range")
    parents = arr["kintree_table"][0].astype(np.int64)
    parents[parents == _UINT32_MINUS_ONE] = -1
    parents[0] = -1  # the root, as DECA sets it
    faces = arr["f"].astype(np.int64)
    shapedirs = arr["shapedirs"].astype(np.float32)
    data = FlameModelData(
        v_template=v_template.astype(np.float32),
        faces=faces,
        shapedirs=np.ascontiguousarray(shapedirs[..., :num_identity]),
        exprdirs=np.ascontiguousarray(shapedirs[..., num_identity:]),
        posedirs=arr["posedirs"].astype(np.float32),
        J_regressor=arr["J_regressor"].astype(np.float32),
        lbs_weights=arr["weights"].astype(np.float32),
        parents=parents,
    )
    validate_flame_data(data, source)
    return data


def _writable_dir(directory: Path) -> bool:
    """Writable for us *and* not marked read-only (root ignores permission bits in ``os.access``)."""
    return (
        directory.is_dir()
        and os.access(directory, os.W_OK | os.X_OK)
        and bool(directory.stat().st_mode & 0o222)
    )


def _cache_candidates(path: Path, cache_dir: str | Path | None) -> list[Path]:
    if cache_dir is not None:
        return [Path(cache_dir).expanduser()]
    return [path.parent, default_cache_dir()]


def _read_cache(cache_file: Path, model_path: Path) -> tuple[FlameModelData | None, str]:
    """The cached arrays, validated; ``(None, reason)`` if the cache is unreadable or invalid."""
    names = [f.name for f in fields(FlameModelData)]
    try:
        data = FlameModelData(**read_npz_arrays(cache_file, names))
        validate_flame_data(data, str(cache_file))
        if data.faces.dtype != np.int64 or data.parents.dtype != np.int64:
            raise ValueError("faces/parents are not int64")
    except Exception as exc:  # a cache is ours to rebuild: any defect means "rebuild"
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        warnings.warn(
            f"FLAME cache {cache_file} is corrupt ({reason}); rebuilding it from {model_path}",
            stacklevel=3,
        )
        return None, reason
    return data, ""


def _write_cache(data: FlameModelData, cache_file: Path) -> bool:
    """Write the arrays atomically; False if the directory is not writable."""
    arrays = {f.name: getattr(data, f.name) for f in fields(FlameModelData)}
    return write_cache_file(cache_file, lambda fh: np.savez(fh, **arrays))


def load_flame_model(
    path: str | Path,
    *,
    cache_dir: str | Path | None = None,
    num_identity: int = NUM_FLAME_IDENTITY,
) -> FlameModelData:
    """Load FLAME's ``generic_model.pkl`` (chumpy inside or plain numpy) without executing code.

    Args:
        path: the pickle file.
        cache_dir: where the converted ``.npz`` is looked up and written; default: next to the
            pickle if that directory is writable, else :func:`~pydeca.assets.paths.default_cache_dir`.
        num_identity: identity components at the front of ``shapedirs`` (300 in FLAME 2020).

    Returns:
        :class:`FlameModelData`: ``v_template`` (V, 3) metres, ``faces`` (F, 3) int64,
        ``shapedirs`` (V, 3, 300), ``exprdirs`` (V, 3, E), ``posedirs`` (V, 3, 36),
        ``J_regressor`` (J, V), ``lbs_weights`` (V, J), ``parents`` (J,) int64 with −1 at the root.

    Raises:
        AssetNotFoundError: ``path`` does not exist.
        UnsafePickleError: the pickle references globals outside the allow-list.
        AssetFormatError: a required key is missing or malformed, the arrays disagree or hold
            NaN/inf, the kinematic tree is not a tree, or ``path`` is a folder.
        AssetError: the file cannot be read (permission denied, I/O error).
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise AssetFormatError(
            f"FLAME model path {path} is a folder: pass the file generic_model.pkl inside it, or "
            "remove the folder and run `deca fetch flame`"
        )
    if not path.is_file():
        raise AssetNotFoundError(
            f"FLAME model not found: {path}. Run `deca fetch flame` (needs a free FLAME account, "
            "https://flame.is.tue.mpg.de) or pass the asset directory that holds generic_model.pkl."
        )
    digest = flame_file_digest(path)
    cache_name = f"flame_{digest[:16]}_n{num_identity}_v{_CACHE_VERSION}.npz"
    candidates = _cache_candidates(path, cache_dir)
    corrupt: list[tuple[Path, str]] = []
    for directory in candidates:
        cache_file = directory / cache_name
        if cache_file.is_file():
            cached, reason = _read_cache(cache_file, path)
            if cached is not None:
                return cached
            corrupt.append((cache_file, reason))
    data = _convert(path, num_identity, corrupt)
    for directory in candidates:
        if (cache_dir is not None or _writable_dir(directory) or not directory.exists()) and _write_cache(
            data, directory / cache_name
        ):
            break
    return data


def _convert(path: Path, num_identity: int, corrupt: list[tuple[Path, str]]) -> FlameModelData:
    """Parse the pickle; when it fails after a corrupt cache was found, name both files."""
    try:
        with reading_asset(path):
            return flame_data_from_dict(safe_load(path), str(path), num_identity=num_identity)
    except PydecaError as err:
        if not corrupt:
            raise
        cache_file, reason = corrupt[0]
        raise type(err)(
            f"the FLAME cache {cache_file} is corrupt ({reason}) and rebuilding it from {path} "
            f"failed: {err}. Delete the cache and replace {path.name} (`deca fetch flame`)"
        ) from err
