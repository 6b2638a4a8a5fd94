"""Animation files: a sequence of RGB frames written as GIF (Pillow) and/or MP4 (PyAV).

Frames are (H, W, 3) uint8 RGB arrays of one size. Both writers stream: the MP4 encoder receives
each frame as it comes, the GIF keeps only palette-quantised frames (one byte per pixel). Files are
written atomically (a temporary file beside the target, then ``os.replace``), so an interrupted run
leaves no half-written animation.

* GIF: ``duration = round(1000 / fps)`` milliseconds per frame (GIF stores centiseconds, so
  ``fps`` = 10 is exact, 30 becomes 33 ms), ``loop=0`` (repeat forever). A run of identical
  consecutive frames is stored once with the run's total duration (Pillow's encoder does this), so
  a GIF may hold fewer stored frames than were added; it plays for exactly ``count × duration``.
  The MP4 always holds every frame.
* MP4: H.264 (``libx264``) when PyAV's FFmpeg has it, else MPEG-4 part 2 (``mpeg4``); ``yuv420p``
  pixels, so odd widths/heights are padded to even sizes (see :class:`~pydeca.io.video_writer.VideoWriter`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
from PIL import Image

from pydeca.errors import InputError, ShapeError

from .atomic import atomic_write
from .video_writer import VideoWriter

__all__ = [
    "ANIMATION_FORMATS",
    "AnimationWriter",
    "gif_duration_ms",
    "write_animation",
]

ANIMATION_FORMATS = ("gif", "mp4")
"""Supported animation formats (file suffixes)."""


def gif_duration_ms(fps: float) -> int:
    """Milliseconds per GIF frame at ``fps`` frames per second (at least 10, GIF's resolution).

    Example:
        >>> gif_duration_ms(10), gif_duration_ms(30)
        (100, 33)
    """
    if not fps > 0:
        raise InputError(f"fps must be positive, got {fps}; pass e.g. --fps 10")
    return max(10, round(1000.0 / fps))


def _check_frame(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    array = np.asarray(frame)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ShapeError(f"animation frames must be (H, W, 3) uint8, got {array.shape} {array.dtype}")
    if size is not None and array.shape[:2] != size:
        raise ShapeError(f"animation frames must share one size: got {array.shape[:2]} after {size}")
    return np.ascontiguousarray(array)


class AnimationWriter:
    """Write frames to ``<stem>.gif`` and/or ``<stem>.mp4`` as they arrive.

    Use as a context manager; the files appear (atomically) when the block ends without error.

    Args:
        stem: output path without suffix (``out/animation`` → ``out/animation.gif``, ``.mp4``).
        formats: any of :data:`ANIMATION_FORMATS`.
        fps: frames per second.

    Example:
        >>> with AnimationWriter(tmp / "anim", ("gif",), fps=10) as writer:  # doctest: +SKIP
        ...     for frame in frames:
        ...         writer.add(frame)
        >>> writer.paths  # doctest: +SKIP
        [PosixPath('.../anim.gif')]
    """

    def __init__(
        self, stem: str | os.PathLike[str], formats: Sequence[str] = ANIMATION_FORMATS, fps: float = 10.0
    ):
        unknown = sorted(set(formats) - set(ANIMATION_FORMATS))
        if unknown or not formats:
            raise InputError(
                f"unknown animation formats {unknown or list(formats)}; choose from {ANIMATION_FORMATS}"
            )
        self.stem = Path(stem)
        self.formats = tuple(dict.fromkeys(formats))
        self.fps = float(fps)
        self.duration_ms = gif_duration_ms(self.fps)
        self.paths: list[Path] = []
        self.count = 0
        self._size: tuple[int, int] | None = None
        self._gif_frames: list[Image.Image] = []
        self._mp4: VideoWriter | None = None

    def __enter__(self) -> AnimationWriter:
        return self

    def add(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame."""
        frame = _check_frame(frame, self._size)
        self._size = frame.shape[:2]
        self.count += 1
        if "gif" in self.formats:
            self._gif_frames.append(
                Image.fromarray(frame).quantize(colors=256, method=Image.Quantize.MEDIANCUT)
            )
        if "mp4" in self.formats:
            if self._mp4 is None:
                self._mp4 = VideoWriter(self.stem.with_name(self.stem.name + ".mp4"), self.fps)
            self._mp4.write(frame)

    def close(self) -> list[Path]:
        """Finish the files; returns their paths (also in :attr:`paths`)."""
        if self.count == 0:
            raise InputError(f"{self.stem}: no frames to write")
        if self._mp4 is not None:
            self.paths.append(self._mp4.close())
            self._mp4 = None
        if self._gif_frames:
            path = self.stem.with_name(self.stem.name + ".gif")
            first, rest = self._gif_frames[0], self._gif_frames[1:]
            with atomic_write(path) as tmp:
                first.save(
                    tmp, format="GIF", save_all=True, append_images=rest, duration=self.duration_ms, loop=0
                )
            self.paths.insert(0, path)
            self._gif_frames = []
        return self.paths

    def abort(self) -> None:
        """Drop everything written so far (no file appears)."""
        if self._mp4 is not None:
            self._mp4.abort()
            self._mp4 = None
        self._gif_frames = []

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_animation(
    stem: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    formats: Sequence[str] = ANIMATION_FORMATS,
    fps: float = 10.0,
) -> list[Path]:
    """Write ``frames`` ((H, W, 3) uint8 RGB, one size) to ``<stem>.gif`` / ``<stem>.mp4``.

    Args:
        stem: output path without suffix.
        frames: any iterable of frames (consumed once, streamed).
        formats: any of ``"gif"``, ``"mp4"``.
        fps: frames per second.

    Returns:
        The written paths (GIF first).

    Raises:
        InputError: unknown format, non-positive fps, or no frames.
        ShapeError: a frame is not (H, W, 3) uint8 or differs in size from the first.
    """
    with AnimationWriter(stem, formats, fps) as writer:
        for frame in frames:
            writer.add(frame)
    return writer.paths
