"""Load the FLAME model (``generic_model.pkl``) safely, with a plain ``.npz`` cache.

The first load unpickles the file with :func:`pydeca.assets.safe_pickle.safe_load` (no chumpy, no
arbitrary code), converts it to :class:`~pydeca.assets.data.FlameModelData` and writes the arrays
to ``flame_<sha256[:16]>_v1.npz`` (written atomically; read back with ``allow_pickle=False``). Later
loads of the same file content read only the ``.npz``.

Conversion (reference §1.1): ``shapedirs`` (V, 3, S+E) splits into identity ``[..., :300]`` and
expression ``[..., 300:]``; ``J_regressor`` is densified; ``kintree_table[0]`` becomes ``parents``
with the root at −1; floats become float32, faces int64. Unknown keys are ignored.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from pydeca.assets.data import FlameModelData
from pydeca.assets.paths import default_cache_dir, write_cache_file
from pydeca.assets.safe_pickle import safe_load
from pydeca.errors import AssetFormatError, AssetNotFoundError

__all__ = ["NUM_FLAME_IDENTITY", "flame_data_from_dict", "flame_file_digest", "load_flame_model"]

NUM_FLAME_IDENTITY = 300
"""Identity components at the front of FLAME's ``shapedirs`` (FLAME 2020: 300 + 100 expression)."""

_CACHE_VERSION = 1
_REQUIRED_KEYS = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")
_UINT32_MINUS_ONE = 2**32 - 1


def flame_file_digest(path: str | Path) -> str:
    """sha256 (hex) of a file's content, read in 4 MiB blocks (~0.05 s for the 67 MB model)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _dense(value: Any, key: str, source: str) -> np.ndarray:
    """A numeric ndarray from an array, array-like or scipy sparse matrix."""
    if scipy.sparse.issparse(value):
        return np.asarray(value.toarray())
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:  # pragma: no cover - defensive
        raise AssetFormatError(f"{source}: key {key!r} is not an array ({type(value).__name__})") from exc
    if array.dtype.kind not in "biuf":
        raise AssetFormatError(f"{source}: key {key!r} is not numeric (dtype {array.dtype})")
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
        AssetFormatError: a required key is missing or has an inconsistent shape.
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
    parents = arr["kintree_table"][0].astype(np.int64)
    parents[parents == _UINT32_MINUS_ONE] = -1
    parents[0] = -1  # the root, as DECA sets it
    faces = arr["f"].astype(np.int64)
    if faces.size and (faces.min() < 0 or faces.max() >= num_verts):
        raise AssetFormatError(f"{source}: key 'f' indexes vertices outside 0..{num_verts - 1}")
    shapedirs = arr["shapedirs"].astype(np.float32)
    return FlameModelData(
        v_template=v_template.astype(np.float32),
        faces=faces,
        shapedirs=np.ascontiguousarray(shapedirs[..., :num_identity]),
        exprdirs=np.ascontiguousarray(shapedirs[..., num_identity:]),
        posedirs=arr["posedirs"].astype(np.float32),
        J_regressor=arr["J_regressor"].astype(np.float32),
        lbs_weights=arr["weights"].astype(np.float32),
        parents=parents,
    )


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


def _read_cache(cache_file: Path) -> FlameModelData | None:
    names = [f.name for f in fields(FlameModelData)]
    try:
        with np.load(cache_file, allow_pickle=False) as npz:
            return FlameModelData(**{name: npz[name] for name in names})
    except (OSError, KeyError, ValueError) as exc:
        warnings.warn(f"ignoring unreadable FLAME cache {cache_file} ({exc})", stacklevel=3)
        return None


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
        AssetFormatError: a required key is missing or malformed.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise AssetNotFoundError(
            f"FLAME model not found: {path}. Run `deca fetch flame` (needs a free FLAME account, "
            "https://flame.is.tue.mpg.de) or pass the asset directory that holds generic_model.pkl."
        )
    digest = flame_file_digest(path)
    cache_name = f"flame_{digest[:16]}_n{num_identity}_v{_CACHE_VERSION}.npz"
    candidates = _cache_candidates(path, cache_dir)
    for directory in candidates:
        cache_file = directory / cache_name
        if cache_file.is_file():
            cached = _read_cache(cache_file)
            if cached is not None:
                return cached
    data = flame_data_from_dict(safe_load(path), str(path), num_identity=num_identity)
    for directory in candidates:
        if (cache_dir is not None or _writable_dir(directory) or not directory.exists()) and _write_cache(
            data, directory / cache_name
        ):
            break
    return data
