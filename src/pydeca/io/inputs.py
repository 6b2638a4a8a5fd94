"""Expanding command-line inputs (files, folders, glob patterns) into image and video files.

Rules of :func:`list_inputs` and :func:`expand_inputs`:
    - A folder contributes the image and video files directly inside it (not recursive), sorted by
      name; sub-folders and other files are ignored.
    - A glob pattern (``*``, ``?``, ``[``) contributes its matching image and video files, sorted.
    - An explicit file is kept as given; it must have an image or a video suffix.
    - Suffixes are compared lower-case: images are :data:`~pydeca.io.images.IMAGE_EXTENSIONS`
      (animated GIF, WebP and APNG included: :func:`~pydeca.io.images.load_image` reads their first
      frame), videos are :data:`VIDEO_EXTENSIONS`.
    - A file reached twice (also through another spelling of its path) is kept at its first
      occurrence only.

Decoding the files is elsewhere: photos in :mod:`pydeca.io.images`, videos in :mod:`pydeca.io.video`.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from pydeca.errors import InputError

from .images import IMAGE_EXTENSIONS, is_image

__all__ = ["VIDEO_EXTENSIONS", "expand_inputs", "is_video", "list_inputs"]

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm"})
"""Video suffixes accepted in folders and globs (compared lower-case)."""

_IMAGES_TEXT = ", ".join(sorted(IMAGE_EXTENSIONS))
_VIDEOS_TEXT = ", ".join(sorted(VIDEO_EXTENSIONS))


def is_video(path: str | os.PathLike[str]) -> bool:
    """True when the suffix of ``path`` is one of :data:`VIDEO_EXTENSIONS`.

    Example:
        >>> is_video("clip.MP4"), is_video("photo.jpg")
        (True, False)
    """
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def _is_input_file(path: Path) -> bool:
    """True when ``path`` has an image or a video suffix (whether or not it exists)."""
    return is_image(path) or is_video(path)


def _folder_files(folder: Path) -> list[Path]:
    """Image and video files directly inside ``folder`` (not recursive), sorted by name."""
    return sorted(f for f in folder.iterdir() if f.is_file() and _is_input_file(f))


def _expand_one(text: str) -> list[Path]:
    """The image and video files one command-line input stands for.

    Raises:
        InputError: if the input does not exist, is an empty folder or an unreadable one, a pattern
            matching no image or video, or a file with another suffix.
    """
    p = Path(text)
    if p.is_dir():
        try:
            files = _folder_files(p)
        except PermissionError as exc:
            raise InputError(
                f"{p}: permission denied: this folder cannot be listed; check its permissions"
            ) from exc
        if not files:
            raise InputError(
                f"{p}: folder holds no image or video files (suffixes: {_IMAGES_TEXT}, {_VIDEOS_TEXT}); "
                "check the folder or remove it from the inputs"
            )
        return files
    if p.is_file():
        if not _is_input_file(p):
            raise InputError(
                f"{p}: unsupported file type {p.suffix!r}; pass an image ({_IMAGES_TEXT}) or a video "
                f"({_VIDEOS_TEXT}), or remove it from the inputs"
            )
        return [p]
    if glob.has_magic(text):
        matches = (Path(m) for m in glob.glob(text))
        files = sorted(m for m in matches if m.is_file() and _is_input_file(m))
        if not files:
            raise InputError(f"{text}: pattern matches no image or video file; check the pattern")
        return files
    raise InputError(f"{p}: no such file or folder; check the path (relative paths start at {Path.cwd()})")


def expand_inputs(inputs: Sequence[str | os.PathLike[str]]) -> list[tuple[str, list[Path] | InputError]]:
    """Expand command-line inputs one by one, keeping each input's error instead of raising it.

    Same rules as :func:`list_inputs`; a file reached twice (also through another spelling of its
    path) is kept at its first occurrence only, so a later input may expand to ``[]``.

    Args:
        inputs: paths, folder paths or glob patterns.

    Returns:
        ``(input as given, files or the InputError saying why it is unusable)`` per input, in order.
    """
    seen: set[Path] = set()
    out: list[tuple[str, list[Path] | InputError]] = []
    for item in inputs:
        text = os.fspath(item)
        try:
            files = _expand_one(text)
        except InputError as error:
            out.append((text, error))
            continue
        kept = []
        for f in files:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                kept.append(f)
        out.append((text, kept))
    return out


def list_inputs(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand command-line inputs (files, folders, globs) into a list of image and video files.

    Folders contribute their image and video files (not recursive), sorted by name; globs
    (``*``, ``?``, ``[``) are expanded and sorted; an explicit file is kept as given. Duplicates
    (the same file, however spelled) are dropped, keeping the first occurrence. Use
    :func:`is_video` to tell videos apart, and :func:`expand_inputs` to keep going past a bad input.

    Args:
        inputs: paths, folder paths or glob patterns.

    Returns:
        The files, in input order (each folder/glob expansion sorted).

    Raises:
        InputError: if a path does not exist, a glob or folder yields no image or video, or an
            explicit file has an unsupported suffix (the first such input).
    """
    found: list[Path] = []
    for _, files in expand_inputs(inputs):
        if isinstance(files, InputError):
            raise files
        found.extend(files)
    return found
