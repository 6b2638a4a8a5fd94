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
cache directory (keyed by the source file's path, size and modification time and the options), so
later loads read ~40 MB instead of converting again (0.5 s for the demo pack, seconds for BFM).
"""

from __future__ import annotations

import hashlib
import warnings
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from pydeca.assets.data import AlbedoBasis
from pydeca.assets.paths import default_cache_dir, write_cache_file
from pydeca.errors import AssetFormatError, AssetNotFoundError

__all__ = ["load_albedo_basis", "resample_uv"]

_FORMATS = {"BFM": ("MU", "PC", 1.0), "FLAME": ("mean", "tex_dir", 1.0 / 255.0)}
_CHUNK_BYTES = 1 << 25
_CACHE_VERSION = 1


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


def _read_exact(fh: IO[bytes], nbytes: int, source: str, key: str) -> bytes:
    data = fh.read(nbytes)
    if len(data) != nbytes:
        raise AssetFormatError(f"{source}: entry {key!r} is truncated")
    return data


def _read_mean(zf: zipfile.ZipFile, member: str, source: str, key: str) -> np.ndarray:
    """The whole mean array, flattened in the (R, R, 3) row-major texel order."""
    with zf.open(member) as fh:
        shape, fortran, dtype = _read_header(fh, source, key)
        count = int(np.prod(shape))
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
        n = int(np.prod(lead))
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


def _cache_file(path: Path, cache_dir: Path, size: int, num_components: int, interpolation: str) -> Path:
    """``albedo_<key>.npz``; the key changes with the file (path, size, mtime) and the options."""
    stat = path.stat()
    text = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{size}|{num_components}|{interpolation}"
    return cache_dir / f"albedo_{hashlib.sha256(text.encode()).hexdigest()[:16]}_v{_CACHE_VERSION}.npz"


def _read_cached(cache_file: Path) -> AlbedoBasis | None:
    try:
        with np.load(cache_file, allow_pickle=False) as npz:
            return AlbedoBasis(mean=npz["mean"], basis=npz["basis"], source=str(npz["source"]))
    except (OSError, KeyError, ValueError) as exc:
        warnings.warn(f"ignoring unreadable albedo cache {cache_file} ({exc})", stacklevel=3)
        return None


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
        AssetFormatError: unknown keys, non-square layout, or too few components.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise AssetNotFoundError(
            f"albedo model not found: {path}. Create FLAME_albedo_from_BFM.npz with the BFM_to_FLAME "
            "tool (Basel Face Model 2017 licence) or download FLAME_texture.npz from the FLAME "
            "website, and put it in the asset directory (see `deca fetch`)."
        )
    cache_file = _cache_file(
        path,
        Path(cache_dir) if cache_dir is not None else default_cache_dir(),
        size,
        num_components,
        interpolation,
    )
    if cache_file.is_file() and (cached := _read_cached(cache_file)) is not None:
        return cached
    albedo = _convert(path, size, num_components, interpolation)
    arrays = {"mean": albedo.mean, "basis": albedo.basis, "source": np.array(albedo.source)}
    write_cache_file(cache_file, lambda fh: np.savez(fh, **arrays))
    return albedo


def _convert(path: Path, size: int, num_components: int, interpolation: str) -> AlbedoBasis:
    """Read and resample the albedo file (see :func:`load_albedo_basis`)."""
    source = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
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
