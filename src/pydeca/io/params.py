"""Parameter files: named arrays (codes, landmarks, transforms) as ``.npz`` and ``.json``.

``save_params("out/photo", {"shape": ..., "cam": ...}, {"demo": True})`` writes ``out/photo.npz``
(the arrays, plus the metadata as a JSON string under ``meta_json``) and ``out/photo.json``
(``{"meta": {...}, "arrays": {name: nested lists}, "dtypes": {name: dtype}}``), both atomically.
Both load back without pickle; :func:`load_codes` reads the codes of a ``deca reconstruct`` parameter
file back as :class:`~pydeca.nets.Codes`, ready for ``DECA.decode``.

Reading is bounded, so a damaged or hostile file is an :class:`~pydeca.errors.InputError` naming the
file, never a ``MemoryError``, ``RecursionError`` or a zip/parse traceback:
    - a file larger than :data:`MAX_PARAM_FILE_BYTES` (16 MiB; real ones are a few KiB) is refused
      before it is read;
    - ``.npz``: every member's ``.npy`` header is read first and its shape × item size must equal
      the member's stored size (at most :data:`MAX_PARAM_ARRAY_BYTES` in all) before anything is
      allocated; only numeric and boolean arrays (and the metadata string) are accepted — complex,
      object and structured arrays are refused;
    - ``.json``: nesting deeper than :data:`MAX_JSON_DEPTH` is refused by a linear scan before
      parsing; the same dtype rules apply.

:func:`load_codes` also checks every code against :data:`CODE_SHAPES` and :data:`CODE_LIMITS`.

A video's parameter file (``deca video``'s ``<stem>_params.npz``, one row per frame) is collected and
written by :class:`ParameterTable`.
"""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pydeca.assets.npz import NpzFormatError, read_npz
from pydeca.constants import NUM_CAM, NUM_DETAIL, NUM_EXP, NUM_LIGHT, NUM_POSE, NUM_SHAPE, NUM_TEX
from pydeca.errors import InputError, ShapeError

from .atomic import atomic_write, atomic_write_text

if TYPE_CHECKING:
    import torch

    from pydeca.nets import Codes

__all__ = [
    "CODE_LIMITS",
    "CODE_NAMES",
    "CODE_SHAPES",
    "MAX_JSON_DEPTH",
    "MAX_PARAM_ARRAY_BYTES",
    "MAX_PARAM_FILE_BYTES",
    "META_KEY",
    "VIDEO_ROW_SHAPES",
    "ParameterTable",
    "check_codes",
    "json_depth",
    "load_codes",
    "load_params",
    "save_params",
]

CODE_NAMES = ("shape", "tex", "exp", "pose", "cam", "light", "detail")
"""Codes stored in a ``deca reconstruct`` parameter file, one face each, without batch dimension:
``shape`` (100,), ``tex`` (50,), ``exp`` (50,), ``pose`` (6,), ``cam`` (3,), ``light`` (9, 3),
``detail`` (128,, optional)."""

CODE_SHAPES: dict[str, tuple[int, ...]] = {
    "shape": (NUM_SHAPE,),
    "tex": (NUM_TEX,),
    "exp": (NUM_EXP,),
    "pose": (NUM_POSE,),
    "cam": (NUM_CAM,),
    "light": (NUM_LIGHT // 3, 3),
    "detail": (NUM_DETAIL,),
}
"""Shape of each code in a parameter file (one face, no batch dimension)."""

CODE_LIMITS: dict[str, float] = {
    "shape": 20.0,
    "exp": 20.0,
    "tex": 1e3,
    "pose": 2.0 * math.pi,
    "cam": 1e3,
    "light": 1e3,
    "detail": 1e3,
}
"""Largest accepted ``|value|`` of each code, generous on purpose (real codes are far inside):
``shape``/``exp`` are FLAME PCA coefficients in standard deviations (DECA's stay within ±4: 20 σ);
``pose`` is axis-angle in radians (2π: a full turn); ``tex`` albedo, ``light`` spherical-harmonics
and ``detail`` latent coefficients (single digits in practice: 1000); ``cam`` = ``(s, tx, ty)``
with the scale ``s`` also required > 0 (DECA's crops give s ≈ 8–10) and ``|tx|, |ty|`` ≤ 1000."""

META_KEY = "meta_json"
"""Key of the metadata (a 0-d unicode array holding JSON) in the ``.npz`` and in loaded dicts."""

MAX_PARAM_FILE_BYTES = 16 * 1024 * 1024
"""Largest parameter file read (16 MiB); ``deca reconstruct`` writes a few KiB."""
MAX_PARAM_ARRAY_BYTES = 64 * 1024 * 1024
"""Largest total size of the arrays of one ``.npz`` once loaded (64 MiB)."""
MAX_JSON_DEPTH = 64
"""Deepest ``[``/``{`` nesting accepted in a ``.json`` parameter file (real ones use 4)."""

_NUMERIC_KINDS = "biuf"
_REWRITE = "write it again with 'deca reconstruct' or pydeca.io.save_params"


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
        InputError: for a reserved name, an object/string/complex array, or metadata JSON cannot
            encode.
    """
    stem = Path(path_stem)
    if stem.suffix in (".npz", ".json"):
        stem = stem.with_suffix("")
    if META_KEY in arrays:
        raise InputError(f"{stem}: array name {META_KEY!r} is reserved for the metadata; rename it")
    data = {name: _as_numpy(value) for name, value in arrays.items()}
    for name, arr in data.items():
        if arr.dtype.kind not in _NUMERIC_KINDS:
            raise InputError(f"{stem}: array {name!r} has dtype {arr.dtype}; only real numbers and booleans")
    try:
        meta_text = json.dumps(meta or {}, sort_keys=True)
    except TypeError as exc:
        raise InputError(f"{stem}: metadata is not JSON-serialisable ({exc})") from exc
    npz_path = stem.with_name(stem.name + ".npz")
    json_path = stem.with_name(stem.name + ".json")
    with atomic_write(npz_path) as tmp:
        np.savez(tmp, allow_pickle=False, **data, **{META_KEY: np.array(meta_text)})
    document = {
        "meta": meta or {},
        "dtypes": {name: arr.dtype.str for name, arr in data.items()},
        "arrays": {name: arr.tolist() for name, arr in data.items()},
    }
    atomic_write_text(json_path, json.dumps(document, indent=1) + "\n")
    return npz_path, json_path


# ------------------------------------------------------------------------------- bounded reading
def _check_dtype(p: Path, name: str, dtype: np.dtype) -> None:
    """Refuse anything but real numbers and booleans (the metadata key may hold a string)."""
    if dtype.kind in _NUMERIC_KINDS and not dtype.fields and not dtype.subdtype:
        return
    if name == META_KEY and dtype.kind == "U":
        return
    kinds = {"c": "complex", "O": "object", "V": "structured", "U": "string", "S": "bytes"}
    what = kinds.get(dtype.kind, "unsupported")
    raise InputError(f"{p}: array {name!r} has {what} dtype {dtype}; only real numbers: {_REWRITE}")


def _load_npz(p: Path) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` (:func:`pydeca.assets.npz.read_npz`: sizes checked before reading)."""
    try:
        return read_npz(
            p,
            max_total_bytes=MAX_PARAM_ARRAY_BYTES,
            check_dtype=lambda name, dtype: _check_dtype(p, name, dtype),
        )
    except NpzFormatError as error:
        raise InputError(f"{p}: {error}; the file is damaged or not a parameter file: {_REWRITE}") from error


_JSON_ESCAPE = re.compile(r"\\.", re.DOTALL)
_JSON_STRING = re.compile(r'"[^"]*"')


def json_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting of a JSON text, by a linear scan (strings ignored), no recursion.

    Example:
        >>> json_depth('{"a": [[1], "[[["]}')
        3
    """
    # escapes first (so no string holds a quote), then whole strings: two linear passes, no backtracking
    code = _JSON_STRING.sub("", _JSON_ESCAPE.sub("", text)).encode("utf-8", "replace")
    chars = np.frombuffer(code, dtype=np.uint8)
    steps = np.isin(chars, (ord("["), ord("{"))).astype(np.int64)
    steps -= np.isin(chars, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max()) if steps.size else 0


def _load_json(p: Path) -> dict[str, np.ndarray]:
    """Arrays of a ``.json`` parameter file (depth checked before parsing)."""
    text = p.read_text(encoding="utf-8")
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise InputError(f"{p}: JSON nested {depth} levels deep (limit {MAX_JSON_DEPTH}); {_REWRITE}")
    document = json.loads(text)
    if not isinstance(document, dict) or not isinstance(document.get("arrays"), dict):
        raise InputError(f"{p}: JSON without an 'arrays' object; {_REWRITE}")
    dtypes = document.get("dtypes", {})
    if not isinstance(dtypes, dict):
        raise InputError(f"{p}: 'dtypes' is not an object; {_REWRITE}")
    out = {}
    for name, values in document["arrays"].items():
        dtype = np.dtype(dtypes[name]) if name in dtypes else None
        if dtype is not None:
            _check_dtype(p, name, dtype)
        arr = np.asarray(values, dtype=dtype)
        _check_dtype(p, name, arr.dtype)
        out[name] = arr
    meta = document.get("meta", {})
    out[META_KEY] = np.array(json.dumps(meta, sort_keys=True))
    return out


def load_params(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a file written by :func:`save_params` (``.npz`` or ``.json``), with bounded parsing.

    Args:
        path: the ``.npz`` or ``.json`` file.

    Returns:
        name → array (dtype and shape as saved), plus ``"meta_json"``: a 0-d unicode array holding
        the metadata as JSON (``json.loads(str(d["meta_json"]))``).

    Raises:
        InputError: if the file is missing, unreadable, has another suffix, is larger than
            :data:`MAX_PARAM_FILE_BYTES`, empty, truncated or damaged, nested deeper than
            :data:`MAX_JSON_DEPTH`, has an array whose header disagrees with its size, or holds a
            complex, object or string array (see the module docstring).
    """
    p = Path(path)
    if p.suffix.lower() not in (".npz", ".json"):
        raise InputError(f"{p}: unknown parameter file suffix {p.suffix!r}; use .npz or .json")
    if not p.is_file():
        raise InputError(f"{p}: parameter file not found; check the path")
    try:
        size = p.stat().st_size
        if size == 0:
            raise InputError(f"{p}: parameter file is empty (0 bytes); {_REWRITE}")
        if size > MAX_PARAM_FILE_BYTES:
            raise InputError(
                f"{p}: {size} bytes is too large for a parameter file (limit {MAX_PARAM_FILE_BYTES}); "
                "pass the .npz or .json written by 'deca reconstruct'"
            )
        return _load_npz(p) if p.suffix.lower() == ".npz" else _load_json(p)
    except InputError:
        raise
    except PermissionError as exc:
        denied = f"{p}: permission denied: this user may not read the file; check its permissions"
        raise InputError(denied) from exc
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        ValueError,
        KeyError,
        TypeError,
        OverflowError,
        RecursionError,  # a backstop only: json_depth refuses deep files before parsing
        OSError,
        UnicodeDecodeError,
    ) as exc:
        raise InputError(
            f"{p}: cannot read parameters ({type(exc).__name__}: {exc}); the file is damaged or not a "
            f"parameter file: {_REWRITE}"
        ) from exc


# ------------------------------------------------------------------------------- code validation
def check_codes(arrays: dict[str, np.ndarray], source: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Validate the codes of one face: present, right shape, finite, within :data:`CODE_LIMITS`.

    Args:
        arrays: name → array without batch dimension (e.g. from :func:`load_params`); keys other
            than :data:`CODE_NAMES` are ignored; ``detail`` is optional.
        source: the file the codes came from (named in errors).

    Returns:
        name → float64 array of :data:`CODE_SHAPES` shape, for every code present.

    Raises:
        InputError: naming ``source`` and the key, for a missing code, a wrong shape, NaN/inf, a
            value outside its limit, or a camera scale ≤ 0.
    """
    missing = [name for name in CODE_NAMES if name != "detail" and name not in arrays]
    if missing:
        raise InputError(f"{source}: not a DECA parameter file (missing codes {missing}); {_REWRITE}")
    out = {}
    for name in CODE_NAMES:
        if name not in arrays:
            continue
        arr = np.asarray(arrays[name])
        if arr.dtype.kind not in _NUMERIC_KINDS:
            raise InputError(f"{source}: code {name!r} has dtype {arr.dtype}; only real numbers; {_REWRITE}")
        arr = arr.astype(np.float64)
        if arr.shape != CODE_SHAPES[name]:
            raise InputError(
                f"{source}: code {name!r} has shape {arr.shape}, expected {CODE_SHAPES[name]}; {_REWRITE}"
            )
        if not np.isfinite(arr).all():
            raise InputError(f"{source}: code {name!r} holds NaN or infinite values; {_REWRITE}")
        limit = CODE_LIMITS[name]
        largest = float(np.abs(arr).max())
        if largest > limit:
            raise InputError(
                f"{source}: code {name!r} has a value of magnitude {largest:.3g}, beyond the limit "
                f"{limit:.3g} of real faces; {_REWRITE}"
            )
        if name == "cam" and not arr[0] > 0:
            raise InputError(f"{source}: code 'cam' has scale s = {arr[0]:.3g}; it must be > 0; {_REWRITE}")
        out[name] = arr
    return out


def load_codes(path: str | os.PathLike[str], *, device: str | torch.device | None = None) -> Codes:
    """The codes of a ``deca reconstruct`` parameter file (``.npz`` or ``.json``) as a B = 1 batch.

    The inverse of what ``deca reconstruct`` / ``pydeca.save`` write: decoding the loaded codes
    with the same model gives the same vertices.

    Args:
        path: ``<name>.npz`` or ``<name>.json``.
        device: where the tensors go (default: CPU).

    Returns:
        :class:`~pydeca.nets.Codes` with batch size 1, float32 (``detail`` ``None`` if not stored).

    Raises:
        InputError: the file is missing, unreadable or damaged (see :func:`load_params`), lacks a
            code, or a code has the wrong shape, NaN/inf or a value out of range (:func:`check_codes`).

    Example:
        >>> codes = load_codes("out/photo/photo.npz")  # doctest: +SKIP
        >>> model.decode(codes.to(model.device)).vertices.shape  # doctest: +SKIP
        torch.Size([1, 5023, 3])
    """
    from pydeca.nets import Codes  # noqa: PLC0415 - io stays importable without the networks

    codes = check_codes(load_params(path), Path(path))
    batch = {name: arr.astype(np.float32)[None] for name, arr in codes.items()}
    return Codes.from_numpy(batch, device=device)


# ------------------------------------------------------------------------------- video parameters
VIDEO_ROW_SHAPES: dict[str, tuple[int, ...]] = {
    "exp": CODE_SHAPES["exp"],
    "pose": CODE_SHAPES["pose"],
    "cam": CODE_SHAPES["cam"],
    "light": CODE_SHAPES["light"],
    "tform": (3, 3),
    "raw_exp": CODE_SHAPES["exp"],
    "raw_pose": CODE_SHAPES["pose"],
    "raw_cam": CODE_SHAPES["cam"],
}
"""Per-frame values of a video's parameter file besides ``frame``, ``tracked`` and ``track`` (one
frame, no batch dimension): the smoothed ``exp``, ``pose``, ``cam`` (crop camera of ``tform``),
``light``, ``tform`` (photo pixel → crop pixel) and the unsmoothed ``raw_exp``, ``raw_pose``,
``raw_cam``."""


class ParameterTable:
    """The rows of a video's parameter file, one per written frame (in memory: ~1 kB per frame).

    :meth:`save` writes, for T rows:
        - ``frame`` (T,) int64 source frame index; ``tracked`` (T,) bool;
        - ``track`` (T,) int32 track number: 0, then +1 at each restart of the tracking, −1
          untracked (motion is continuous within a track);
        - ``exp`` (T, 50), ``pose`` (T, 6), ``cam`` (T, 3) (crop camera of ``tform``),
          ``light`` (T, 9, 3), ``raw_exp``, ``raw_pose``, ``raw_cam`` (unsmoothed) float32 and
          ``tform`` (T, 3, 3) float64 photo pixel → crop pixel (:data:`VIDEO_ROW_SHAPES`), NaN
          on untracked rows;
        - the identity, float32, the same on every row: ``shape`` (T, 100), ``tex`` (T, 50),
          ``detail`` (T, 128) (``deca video``); then the extra arrays as given (``fps``, ``is_demo``).

    Example:
        >>> table = ParameterTable()
        >>> table.add_untracked(0)
        >>> len(table), table.columns[:4]
        (1, ('frame', 'tracked', 'track', 'exp'))
    """

    _FLOAT32 = tuple(key for key in VIDEO_ROW_SHAPES if key != "tform")

    def __init__(self) -> None:
        self.columns = ("frame", "tracked", "track", *VIDEO_ROW_SHAPES)
        self._rows: dict[str, list[np.ndarray]] = {key: [] for key in self.columns}

    def __len__(self) -> int:
        return len(self._rows["frame"])

    def add(self, frame: int, track: int, values: Mapping[str, Any]) -> None:
        """Append a tracked frame's row.

        Args:
            frame: source frame index.
            track: 0-based number of the track the frame belongs to.
            values: every key of :data:`VIDEO_ROW_SHAPES` → an array of that shape.

        Raises:
            ShapeError: a key is missing or extra, or a value's shape differs.
        """
        arrays = {key: np.asarray(value) for key, value in values.items()}
        if set(arrays) != set(VIDEO_ROW_SHAPES):
            raise ShapeError(f"parameter row: expected keys {sorted(VIDEO_ROW_SHAPES)}, got {sorted(arrays)}")
        for key, shape in VIDEO_ROW_SHAPES.items():
            if arrays[key].shape != shape:
                raise ShapeError(f"parameter row: {key!r} has shape {arrays[key].shape}, expected {shape}")
        self._append(frame, True, track, arrays)

    def add_untracked(self, frame: int) -> None:
        """Append the row of a frame without a face: track −1, NaN values."""
        self._append(
            frame, False, -1, {key: np.full(shape, np.nan) for key, shape in VIDEO_ROW_SHAPES.items()}
        )

    def _append(self, frame: int, tracked: bool, track: int, values: dict[str, np.ndarray]) -> None:
        for key, value in {"frame": frame, "tracked": tracked, "track": track, **values}.items():
            self._rows[key].append(np.asarray(value))

    def save(
        self,
        path: str | os.PathLike[str],
        identity: Mapping[str, np.ndarray],
        extra: Mapping[str, np.ndarray],
    ) -> Path:
        """Write the table as an ``.npz`` (atomically).

        Args:
            path: the file to write (``<stem>_params.npz``).
            identity: per-clip codes without batch dimension (``shape``, ``tex``, ``detail``), stored
                as one identical row per frame.
            extra: scalars or arrays stored as given (``fps``, ``is_demo``).

        Returns:
            ``path`` as a :class:`~pathlib.Path`.
        """
        out = {key: np.stack(rows) for key, rows in self._rows.items()}
        count = len(out["frame"])
        for key, value in identity.items():
            out[key] = np.broadcast_to(value.astype(np.float32), (count, *value.shape)).copy()
        for key in self._FLOAT32:
            out[key] = out[key].astype(np.float32)
        out["track"] = out["track"].astype(np.int32)
        with atomic_write(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, allow_pickle=False, **out, **extra)
        return Path(path)
