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

from .inputs import is_video

__all__ = ["is_video", "iter_video_frames", "video_info"]

_INSTALL = "`pip install 'pydeca[video]'` (PyAV)"


def _import_av() -> ModuleType:
    """``import av``, or an InputError naming the extra to install."""
    try:
        import av  # noqa: PLC0415 - optional extra, imported when a video is read
    except ImportError as exc:
        raise InputError(f"reading videos needs PyAV: {_INSTALL}") from exc
    return av


_IMAGE_FORMATS = frozenset({"image2", "image2pipe"})
"""FFmpeg demuxers of still images (besides the ``*_pipe`` ones: ``jpeg_pipe``, ``png_pipe``, ...)."""


def _no_frames(p: Path, why: str) -> InputError:
    return InputError(f"{p}: has no frames ({why}); re-export the video or remove it from the inputs")


def _open(av: ModuleType, p: Path) -> Any:
    """Open ``p`` with PyAV; InputError when it is missing, empty, an image or not a readable video."""
    if not p.is_file():
        raise InputError(f"{p}: video file not found; check the path")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: video file is empty (0 bytes); re-export it or remove it from the inputs")
    try:
        container = av.open(str(p))
    except EOFError as exc:  # e.g. a Matroska / WebM file whose header is followed by no frame
        raise _no_frames(p, "the file ends before its first frame") from exc
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InputError(
            f"{p}: cannot be opened as a video ({type(exc).__name__}: {exc}); the file is damaged or "
            "not a video: re-export it (e.g. as H.264 .mp4) or remove it from the inputs"
        ) from exc
    fmt = container.format.name
    if fmt in _IMAGE_FORMATS or fmt.endswith("_pipe"):
        container.close()
        kind = fmt.removesuffix("_pipe").upper() if fmt.endswith("_pipe") else "still"
        raise InputError(
            f"{p}: is an image ({kind}), not a video — use deca reconstruct for photos "
            "(or give it its image suffix)"
        )
    if not container.streams.video:
        has_audio = bool(container.streams.audio)
        streams = len(container.streams)
        container.close()
        if streams == 0:  # e.g. an MP4 / MOV written without a single frame
            raise _no_frames(p, "the container holds no stream")
        what = "audio only" if has_audio else "no picture stream"
        raise InputError(f"{p}: holds no video stream ({what}); pass a video with picture frames")
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
        InputError: PyAV missing, or the file is missing, damaged, an image (e.g. a JPEG renamed
            ``.mp4``), has no video stream or no frames at all (an empty MP4 / MKV).
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
        codec = stream.codec_context
        if codec is None:
            raise InputError(f"{p}: the video stream has no decodable codec; re-encode it (e.g. H.264 MP4)")
        return {
            "fps": float(rate) if rate else 0.0,
            "frames": frames,
            "width": int(codec.width),
            "height": int(codec.height),
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
        InputError: PyAV missing, or the file is missing, damaged, an image, has no video stream
            or no frame at all; a stream that breaks mid-way raises after the frames decoded so
            far were yielded.
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
        if index < 0:
            raise _no_frames(p, "its video stream holds no picture")
