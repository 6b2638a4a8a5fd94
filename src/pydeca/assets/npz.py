"""Read ``.npz`` archives with bounded memory: no pickles, every size checked before reading.

``np.load`` trusts each member's ``.npy`` header: a truncated or crafted archive can claim a shape
of terabytes and make it allocate that before noticing the data is missing. :func:`read_npz`
checks each member's header against the bytes the member really stores (and the stored sizes
against the archive's own size, against compression bombs) and only then reads the array.

One reader for every ``.npz`` pydeca opens: its own caches (FLAME, albedo) here, and users'
parameter files (:mod:`pydeca.io.params`, which adds its own dtype rule and size limit).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

__all__ = ["NpzFormatError", "read_npz", "read_npz_arrays"]


class NpzFormatError(ValueError):
    """An ``.npz`` archive that is not what it claims; the message names the member, not the file."""


def _npy_header(member: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from an ``.npy`` header (ValueError for a bad or unsupported header)."""
    version = npy_format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = npy_format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = npy_format.read_array_header_2_0(member)
    else:
        raise NpzFormatError(f".npy format version {version} is not supported")
    return tuple(int(n) for n in shape), dtype


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, check_dtype: Callable[[str, np.dtype], None] | None
) -> np.ndarray:
    """One member, after checking its header against the bytes it stores."""
    name = info.filename.removesuffix(".npy")
    with archive.open(info) as member:
        shape, dtype = _npy_header(member)
        if check_dtype is not None:
            check_dtype(name, dtype)
        if dtype.hasobject:
            raise NpzFormatError(f"array {name!r} holds Python objects")
        stored = max(0, info.file_size - member.tell())
        claimed = math.prod(shape) * dtype.itemsize
        if claimed != stored:
            raise NpzFormatError(
                f"array {name!r} claims shape {shape} ({claimed} bytes) but holds {stored} bytes"
            )
    with archive.open(info) as member:
        return npy_format.read_array(member, allow_pickle=False)


def read_npz(
    path: str | Path,
    names: Sequence[str] | None = None,
    *,
    ratio_limit: int = 4,
    max_total_bytes: int | None = None,
    check_dtype: Callable[[str, np.dtype], None] | None = None,
) -> dict[str, np.ndarray]:
    """Arrays of an ``np.savez`` archive, each read only after its claimed size was checked.

    Args:
        path: the ``.npz`` file.
        names: member names (without ``.npy``) to read, each required; None = every member (then
            every member must be an ``.npy`` array and there must be at least one).
        ratio_limit: largest accepted ratio of the members' stored bytes to the archive's size
            (``np.savez_compressed`` of real data stays far below 4).
        max_total_bytes: optional cap on the stored bytes of the members read.
        check_dtype: called as ``check_dtype(name, dtype)`` before a member is read; raises to
            refuse it (object arrays are always refused).

    Returns:
        ``{name: array}``, plain (non-object) numpy arrays.

    Raises:
        NpzFormatError: a missing member, no member, a non-``.npy`` member, an object array, a size
            claim that differs from the stored data, too many bytes.
        OSError, zipfile.BadZipFile, EOFError, ValueError: the archive itself cannot be read.
    """
    path = Path(path)
    with zipfile.ZipFile(path) as archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        if names is None:
            if not members:
                raise NpzFormatError("the archive holds no arrays")
            strays = [info.filename for info in members.values() if not info.filename.endswith(".npy")]
            if strays:
                raise NpzFormatError(f"member {strays[0]!r} is not a .npy array")
            names = list(members)
        missing = [name for name in names if name not in members]
        if missing:
            raise NpzFormatError(f"missing arrays {missing} (found {sorted(members)[:12]})")
        total = sum(members[name].file_size for name in names)
        if max_total_bytes is not None and total > max_total_bytes:
            raise NpzFormatError(f"arrays would take {total} bytes (limit {max_total_bytes})")
        if total > max(path.stat().st_size, 1) * ratio_limit:
            raise NpzFormatError(f"members claim {total:,} bytes, over {ratio_limit}× the archive's size")
        return {name: _read_member(archive, members[name], check_dtype) for name in names}


def read_npz_arrays(path: Path, names: list[str], *, ratio_limit: int = 4) -> dict[str, np.ndarray]:
    """The arrays ``names`` of one of pydeca's own ``.npz`` caches (see :func:`read_npz`)."""
    return read_npz(path, names, ratio_limit=ratio_limit)
