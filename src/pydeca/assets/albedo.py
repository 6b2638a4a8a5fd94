"""Load a linear UV albedo model (reference §1.8) as RGB in [0, 1], resampled once to the UV size.

Two file formats, detected from the ``.npz`` keys:

* ``FLAME_albedo_from_BFM.npz`` (DECA's default, ``'BFM'``): ``MU`` with 3·R² values and ``PC``
  (…, 3·R², K) — each a flattened (R, R, 3) image, row-major, **BGR**, values ~[0, 1], basis
  columns already scaled by the component standard deviations.
* FLAME's ``FLAME_texture.npz`` (``'FLAME'``): ``mean`` (R, R, 3) and ``tex_dir`` (R, R, 3, K),
  same layout and channel order, 0–255 (divided by 255 here). DECA's loader for it is broken
  (missing config key); this one reads it like the BFM file.

Both have row 0 = v = 1. DECA computes the R = 512 albedo then resizes it to 256 with
``F.interpolate(mode='nearest')`` (source index ``floor(i·R/size)``); because that resampling is
linear per texel, resampling the mean and each component once here gives identical albedo maps.
Only the first ``num_components`` basis columns are read, streaming through the file, so the real
1.2 GB float64 basis never sits in memory whole. The result is cached as a plain ``.npz`` in the
cache directory, so later loads read ~40 MB instead of converting again (0.5 s for the demo pack,
seconds for BFM). The cache is keyed by the source file's *content* (SHA-256, computed once per file
version and remembered in ``albedo_index.json`` by path, size and mtime), so copies of one file at
several paths share one entry, and it is bounded: only the :data:`CACHE_KEEP` most recently used
conversions are kept. The result is validated (finite, consistent shapes) from either source.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from pydeca.assets.data import AlbedoBasis
from pydeca.assets.npz import read_npz_arrays
from pydeca.assets.paths import default_cache_dir, reading_asset, write_cache_file
from pydeca.assets.validate import validate_albedo
from pydeca.errors import AssetFormatError, AssetNotFoundError, PydecaError

__all__ = ["CACHE_KEEP", "load_albedo_basis", "resample_uv"]

_FORMATS = {"BFM": ("MU", "PC", 1.0), "FLAME": ("mean", "tex_dir", 1.0 / 255.0)}
_CHUNK_BYTES = 1 << 25
_CACHE_VERSION = 2
CACHE_KEEP = 2
"""Converted albedo models kept in the cache directory (least recently used ones are deleted)."""
_INDEX_FILE = "albedo_index.json"
_INDEX_KEEP = 64
_DIGESTS: dict[str, str] = {}
"""This process's memo: ``path|size|mtime_ns`` → content SHA-256."""


def _read_header(fh: IO[bytes], source: str, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    except ValueError as exc:
        raise AssetFormatError(f"{source}: entry {key!r} is not a .npy array ({exc})") from exc
    if dtype.hasobject or dtype.kind not in "biuf":
        raise AssetFormatError(f"{source}: entry {key!r} has unsupported dtype {dtype}")
    return shape, fortran, dtype


def _check_member_claim(nbytes: int, info: zipfile.ZipInfo, source: str, key: str) -> None:
    """Refuse a header claiming more bytes than the member holds, before reading or allocating."""
    if nbytes > info.file_size:
        raise AssetFormatError(
            f"{source}: entry {key!r} claims {nbytes:,} bytes but holds {info.file_size:,}; the file "
            "is truncated or corrupt, create or download it again"
        )


def _read_exact(fh: IO[bytes], nbytes: int, source: str, key: str) -> bytes:
    data = fh.read(nbytes)
    if len(data) != nbytes:
        raise AssetFormatError(f"{source}: entry {key!r} is truncated")
    return data


def _read_mean(zf: zipfile.ZipFile, member: str, source: str, key: str) -> np.ndarray:
    """The whole mean array, flattened in the (R, R, 3) row-major texel order."""
    with zf.open(member) as fh:
        shape, fortran, dtype = _read_header(fh, source, key)
        count = int(np.prod(shape, dtype=object))
        _check_member_claim(count * dtype.itemsize, zf.getinfo(member), source, key)
        flat = np.frombuffer(_read_exact(fh, count * dtype.itemsize, source, key), dtype)
    array = flat.reshape(shape, order="F" if fortran else "C")
    return np.ascontiguousarray(array, np.float64).reshape(-1)


def _read_basis_columns(
    zf: zipfile.ZipFile, member: str, source: str, key: str, num: int
) -> tuple[np.ndarray, int]:
    """The first ``num`` components as (num, N) float32 (N = 3·R² texel values), streamed."""
    with zf.open(member) as fh:
        shape, fortran, dtype = _read_header(fh, source, key)
        if len(shape) < 2:
            raise AssetFormatError(f"{source}: entry {key!r} has shape {shape}, expected (..., N, K)")
        lead, total = tuple(shape[:-1]), int(shape[-1])
        if num > total:
            raise AssetFormatError(f"{source}: {key!r} has {total} components, {num} requested")
        n = int(np.prod(lead, dtype=object))
        _check_member_claim(n * total * dtype.itemsize, zf.getinfo(member), source, key)
        if fortran:  # component k is the contiguous block k, in column-major texel order
            block = np.frombuffer(_read_exact(fh, num * n * dtype.itemsize, source, key), dtype)
            block = block.reshape((num, *lead[::-1])).transpose(0, *range(len(lead), 0, -1))
            return np.ascontiguousarray(block, np.float32).reshape(num, n), n
        out = np.zeros((n, num), np.float32)
        rows_per_chunk = max(1, _CHUNK_BYTES // (total * dtype.itemsize))
        for start in range(0, n, rows_per_chunk):
            rows = min(rows_per_chunk, n - start)
            chunk = np.frombuffer(_read_exact(fh, rows * total * dtype.itemsize, source, key), dtype)
            out[start : start + rows] = chunk.reshape(rows, total)[:, :num]
        return np.ascontiguousarray(out.T), n


def _interp_matrix(size_in: int, size_out: int, interpolation: str) -> np.ndarray:
    """(size_out, size_in) resampling matrix with torch ``F.interpolate`` semantics."""
    scale = size_in / size_out
    dst = np.arange(size_out)
    weights = np.zeros((size_out, size_in), np.float64)
    if interpolation == "nearest":  # torch 'nearest': floor(dst * scale)
        weights[dst, np.minimum(np.floor(dst * scale).astype(np.int64), size_in - 1)] = 1.0
    elif interpolation == "bilinear":  # align_corners=False, source clamped at 0
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
        i1 = np.minimum(i0 + 1, size_in - 1)
        frac = src - i0
        np.add.at(weights, (dst, i0), 1.0 - frac)
        np.add.at(weights, (dst, i1), frac)
    else:
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    return weights


def resample_uv(images: np.ndarray, size: int, interpolation: str = "nearest") -> np.ndarray:
    """Resample square UV images (..., R, R) to (..., size, size) like ``F.interpolate``.

    Args:
        images: (..., R, R) float array.
        size: output resolution.
        interpolation: ``'nearest'`` (DECA's albedo resize) or ``'bilinear'``
            (``align_corners=False``).

    Returns:
        (..., size, size) float32.
    """
    r = images.shape[-1]
    if images.shape[-2] == size and r == size:
        return np.ascontiguousarray(images, np.float32)
    if interpolation == "nearest":
        idx = np.minimum(np.floor(np.arange(size) * (r / size)).astype(np.int64), r - 1)
        return np.ascontiguousarray(images[..., idx[:, None], idx[None, :]], np.float32)
    m = _interp_matrix(r, size, interpolation).astype(np.float32)
    return np.einsum("ir,...rc,jc->...ij", m, images.astype(np.float32), m, optimize=True)


def _content_digest(path: Path, cache_dir: Path) -> str:
    """SHA-256 of ``path``'s content; hashed once per (path, size, mtime), then remembered."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    if key in _DIGESTS:
        return _DIGESTS[key]
    index = _read_index(cache_dir)
    digest = index.get(key)
    if not isinstance(digest, str):
        sha = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                sha.update(block)
        digest = sha.hexdigest()
        index = {k: v for k, v in index.items() if k != key}
        index[key] = digest
        text = json.dumps(dict(list(index.items())[-_INDEX_KEEP:]), indent=0)
        write_cache_file(cache_dir / _INDEX_FILE, lambda fh: fh.write(text.encode("utf-8")))
    _DIGESTS[key] = digest
    return digest


def _read_index(cache_dir: Path) -> dict[str, str]:
    try:
        index = json.loads((cache_dir / _INDEX_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in index.items() if isinstance(v, str)} if isinstance(index, dict) else {}


def _cache_file(digest: str, cache_dir: Path, size: int, num_components: int, interpolation: str) -> Path:
    """``albedo_<key>_v2.npz``; the key changes with the file's content and the options."""
    text = f"{digest}|{size}|{num_components}|{interpolation}"
    return cache_dir / f"albedo_{hashlib.sha256(text.encode()).hexdigest()[:16]}_v{_CACHE_VERSION}.npz"


def _prune_cache(cache_dir: Path, keep: int = CACHE_KEEP) -> None:
    """Delete all but the ``keep`` most recently used ``albedo_*.npz`` files (older versions too)."""
    entries = []
    for file in cache_dir.glob("albedo_*.npz"):
        try:
            entries.append((file.stat().st_mtime_ns, file))
        except OSError:
            continue
    for _mtime, file in sorted(entries, reverse=True)[keep:]:
        file.unlink(missing_ok=True)


def _read_cached(cache_file: Path) -> AlbedoBasis | None:
    try:
        arrays = read_npz_arrays(cache_file, ["mean", "basis", "source"])
        albedo = AlbedoBasis(mean=arrays["mean"], basis=arrays["basis"], source=str(arrays["source"]))
        validate_albedo(albedo, str(cache_file))
    except Exception as exc:  # a cache is ours to rebuild: any defect means "rebuild"
        warnings.warn(f"albedo cache {cache_file} is corrupt ({exc}); rebuilding it", stacklevel=3)
        return None
    with contextlib.suppress(OSError):
        os.utime(cache_file)  # marks it recently used for _prune_cache
    return albedo


def load_albedo_basis(
    path: str | Path,
    *,
    size: int = 256,
    num_components: int = 50,
    interpolation: str = "nearest",
    cache_dir: str | Path | None = None,
) -> AlbedoBasis:
    """Load a BFM-converted or FLAME albedo model as RGB [0, 1] UV maps of ``size``².

    Args:
        path: ``FLAME_albedo_from_BFM.npz`` or ``FLAME_texture.npz`` (any square resolution R).
        size: UV resolution of the returned maps (DECA: 256).
        num_components: leading basis components kept (DECA: 50).
        interpolation: ``'nearest'`` reproduces DECA exactly; ``'bilinear'`` is smoother.
        cache_dir: where the converted basis is cached (default: ``$PYDECA_CACHE`` or the platform
            cache dir); a cache that cannot be written only costs the conversion next time.

    Returns:
        :class:`AlbedoBasis`: ``mean`` (3, size, size), ``basis`` (K, 3, size, size) float32 RGB,
        row 0 = v = 1; ``source`` 'BFM' or 'FLAME'.

    Raises:
        AssetNotFoundError: the file does not exist.
        AssetFormatError: unknown keys, non-square layout, too few components, sizes beyond the
            data, NaN/inf values, or ``path`` is a folder.
        AssetError: the file cannot be read (permission denied, an I/O error).
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise AssetFormatError(
            f"albedo model path {path} is a folder: pass the .npz file, or remove the folder"
        )
    if not path.is_file():
        raise AssetNotFoundError(
            f"albedo model not found: {path}. Create FLAME_albedo_from_BFM.npz with the BFM_to_FLAME "
            "tool (Basel Face Model 2017 licence) or download FLAME_texture.npz from the FLAME "
            "website, and put it in the asset directory (see `deca fetch`)."
        )
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    with reading_asset(path):
        cache_file = _cache_file(
            _content_digest(path, directory), directory, size, num_components, interpolation
        )
        if cache_file.is_file() and (cached := _read_cached(cache_file)) is not None:
            return cached
        try:
            albedo = _convert(path, size, num_components, interpolation)
        except (PydecaError, OSError):
            raise
        except Exception as exc:  # whatever the bytes, a PydecaError naming the file
            raise AssetFormatError(
                f"{path}: not a readable albedo model ({type(exc).__name__}: {str(exc)[:200]}); "
                "create or download it again"
            ) from exc
    validate_albedo(albedo, str(path))
    arrays = {"mean": albedo.mean, "basis": albedo.basis, "source": np.array(albedo.source)}
    if write_cache_file(cache_file, lambda fh: np.savez(fh, allow_pickle=False, **arrays)):
        _prune_cache(directory)
    return albedo


def _convert(path: Path, size: int, num_components: int, interpolation: str) -> AlbedoBasis:
    """Read and resample the albedo file (see :func:`load_albedo_basis`)."""
    source = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise AssetFormatError(f"{source}: not an .npz archive ({exc})") from exc
    with zf:
        members = {name.removesuffix(".npy"): name for name in zf.namelist()}
        kind = next((k for k, (m, b, _) in _FORMATS.items() if m in members and b in members), None)
        if kind is None:
            raise AssetFormatError(
                f"{source}: unknown albedo format with keys {sorted(members)}; expected 'MU'/'PC' "
                "(FLAME_albedo_from_BFM.npz) or 'mean'/'tex_dir' (FLAME_texture.npz)"
            )
        mean_key, basis_key, scale = _FORMATS[kind]
        mean = _read_mean(zf, members[mean_key], source, mean_key)
        basis, n = _read_basis_columns(zf, members[basis_key], source, basis_key, num_components)
    r = round(float(np.sqrt(n / 3)))
    if 3 * r * r != n or mean.size != n:
        raise AssetFormatError(
            f"{source}: {mean_key!r} has {mean.size} and {basis_key!r} {n} values per component; "
            "expected both to be 3·R² (a square R×R RGB image)"
        )
    # (…, R·R·3) row-major BGR → (…, 3, R, R) RGB
    mean_rgb = mean.reshape(r, r, 3)[..., ::-1].transpose(2, 0, 1) * scale
    basis_rgb = basis.reshape(num_components, r, r, 3)[..., ::-1].transpose(0, 3, 1, 2) * np.float32(scale)
    return AlbedoBasis(
        mean=resample_uv(np.asarray(mean_rgb, np.float32), size, interpolation),
        basis=resample_uv(basis_rgb, size, interpolation),
        source=kind,
    )
