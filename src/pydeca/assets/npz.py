"""Read pydeca's own ``.npz`` caches with bounded memory: no pickles, sizes checked before reading.

``np.load`` trusts each member's ``.npy`` header: a truncated or crafted cache can claim a shape of
terabytes and make it allocate that before noticing the data is missing. :func:`read_npz_arrays`
checks every claimed size against the member's stored size (and that against the archive's size)
and only then reads the bytes.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["read_npz_arrays"]


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> np.ndarray:
    if info.file_size > limit:
        raise ValueError(f"member {info.filename} claims {info.file_size:,} bytes, more than the archive")
    with archive.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        if dtype.hasobject:
            raise ValueError(f"member {info.filename} holds Python objects")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > info.file_size:
            raise ValueError(f"member {info.filename} claims shape {shape}, beyond its {info.file_size:,} B")
        raw = fh.read(nbytes)
    if len(raw) != nbytes:
        raise ValueError(f"member {info.filename} is truncated")
    return np.frombuffer(raw, dtype).reshape(shape, order="F" if fortran else "C").copy()


def read_npz_arrays(path: Path, names: list[str], *, ratio_limit: int = 4) -> dict[str, np.ndarray]:
    """The arrays ``names`` of an ``np.savez`` archive, each read after checking its claimed size.

    Args:
        path: the ``.npz`` file.
        names: member names without ``.npy``; each must be present.
        ratio_limit: the largest uncompressed/archive size ratio accepted (compression bombs).

    Returns:
        ``{name: array}``, plain (non-object) numpy arrays.

    Raises:
        ValueError: a missing member, an object array, a size claim beyond the data, truncation.
        OSError, zipfile.BadZipFile, EOFError: the archive itself cannot be read.
    """
    limit = max(path.stat().st_size, 1) * ratio_limit
    with zipfile.ZipFile(path) as archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        missing = [name for name in names if name not in members]
        if missing:
            raise ValueError(f"missing arrays {missing} (found {sorted(members)[:12]})")
        return {name: _read_member(archive, members[name], limit) for name in names}
