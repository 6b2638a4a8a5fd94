"""Reading videos frame by frame with PyAV (optional extra ``pydeca[video]``).

Frames are ``(H, W, 3)`` uint8 RGB numpy arrays, row 0 at the top, like
:func:`pydeca.io.images.load_image`. Frame indices count decoded frames of the first video stream
from 0, in presentation order as the decoder emits them. DECA splits a video into **all** its
frames (reference §2.1); ``every`` keeps frames 0, every, 2·every, ... instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from pydeca.errors import InputError

from .images import is_video

__all__ = ["is_video", "iter_video_frames", "video_info"]

_INSTALL = "`pip install 'pydeca[video]'` (PyAV)"


def _import_av() -> ModuleType:
    """``import av``, or an InputError naming the extra to install."""
    try:
        import av  # noqa: PLC0415 - optional extra, imported when a video is read
    except ImportError as exc:
        raise InputError(f"reading videos needs PyAV: {_INSTALL}") from exc
    return av


def _open(av: ModuleType, p: Path) -> Any:
    """Open ``p`` with PyAV; InputError when it is missing or not a readable video."""
    if not p.is_file():
        raise InputError(f"{p}: video file not found; check the path")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: video file is empty (0 bytes); re-export it or remove it from the inputs")
    try:
        container = av.open(str(p))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InputError(
            f"{p}: cannot be opened as a video ({type(exc).__name__}: {exc}); the file is damaged or "
            "not a video: re-export it (e.g. as H.264 .mp4) or remove it from the inputs"
        ) from exc
    if not container.streams.video:
        container.close()
        raise InputError(f"{p}: holds no video stream; pass a video with picture frames")
    return container


def video_info(path: str | os.PathLike[str]) -> dict[str, float | int]:
    """Frame rate, frame count and size of a video's first video stream.

    Args:
        path: a video file (.mp4, .mov, .avi, .mkv, .webm, ...).

    Returns:
        ``{"fps": float (frames per second; 0.0 if unknown), "frames": int, "width": int,
        "height": int}``. ``frames`` is the container's count, or the number of video packets
        when the container does not store it.

    Raises:
        InputError: PyAV missing, or the file is missing, damaged or has no video stream.
    """
    av = _import_av()
    p = Path(path)
    with _open(av, p) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        frames = int(stream.frames or 0)
        try:
            if frames == 0:
                frames = sum(1 for packet in container.demux(stream) if packet.size > 0)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise InputError(f"{p}: video is damaged ({type(exc).__name__}: {exc}); re-export it") from exc
        return {
            "fps": float(rate) if rate else 0.0,
            "frames": frames,
            "width": int(stream.codec_context.width),
            "height": int(stream.codec_context.height),
        }


def iter_video_frames(path: str | os.PathLike[str], every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Decode a video's frames one at a time.

    Args:
        path: a video file.
        every: keep frames whose index is a multiple of ``every`` (1 = all frames).

    Yields:
        ``(index, rgb)``: the frame index (0-based, counting every decoded frame) and the frame as
        (H, W, 3) uint8 RGB.

    Raises:
        ValueError: ``every`` < 1.
        InputError: PyAV missing, or the file is missing, damaged or has no video stream; a
            stream that breaks mid-way raises after the frames decoded so far were yielded.
    """
    if int(every) < 1:
        raise ValueError(f"every: expected an integer >= 1, got {every!r}")
    step = int(every)
    av = _import_av()
    p = Path(path)
    with _open(av, p) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = -1
        try:
            for frame in container.decode(stream):
                index += 1
                if index % step == 0:
                    yield index, np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
        except (av.FFmpegError, OSError) as exc:
            raise InputError(
                f"{p}: video is damaged after frame {index} ({type(exc).__name__}: {exc}); re-export it"
            ) from exc
