"""Atomic file writes: write to a temporary file beside the target, then ``os.replace`` it.

A reader never sees a half-written file, and an exception while writing leaves no file behind (an
existing target is kept unchanged).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; move it onto ``path`` when the block succeeds.

    The temporary name keeps the target's suffix (``.x.tmp-ab12cd.png`` for ``x.png``), so writers
    that pick a format from the suffix (PIL, trimesh, ``np.savez``) behave as for the target. The
    parent folder is created if missing.

    Args:
        path: the final file path.

    Yields:
        The temporary path to write to. It need not exist when the block ends without error only
        if the writer wrote nothing; then nothing is replaced.

    Raises:
        Whatever the block raises; the temporary file is removed first.

    Example:
        >>> with atomic_write(tmp / "a.txt") as t:  # doctest: +SKIP
        ...     t.write_text("hello")
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.tmp-{secrets.token_hex(4)}{target.suffix}")
    try:
        yield tmp
        if tmp.exists():
            os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_write(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; return the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))
