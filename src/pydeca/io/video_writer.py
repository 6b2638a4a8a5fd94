"""Streaming MP4 writing with PyAV: open once, write RGB frames one by one, atomic on close.

- Frames are (H, W, 3) uint8 RGB; the first frame fixes the size, later frames must match. Odd
  sizes are padded by one replicated row/column to even (yuv420p needs even sides).
- Video: H.264 (``libx264``, yuv420p, ``crf`` quality) when the FFmpeg build has it, else MPEG-4 Part 2.
- Audio: with ``audio_from``, the first audio stream of that file is copied packet by packet
  (no re-encoding), interleaved as the video advances, when MP4 can hold its codec; otherwise it
  is left out and :attr:`VideoWriter.audio_note` says why.
- Atomic: everything goes to a temporary file beside the target, moved onto it by ``os.replace``
  when :meth:`VideoWriter.close` succeeds; on an exception (context manager) the temporary file is
  removed and an existing target is left unchanged.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from pydeca.errors import InputError, ShapeError

__all__ = ["MP4_AUDIO_CODECS", "VideoWriter", "pick_video_codec"]

MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"})
"""Audio codecs copied into MP4 unchanged; others are re-encoded to AAC (noted in ``audio_note``)."""


def pick_video_codec() -> str:
    """``"libx264"`` when PyAV's FFmpeg can encode it, else ``"mpeg4"``."""
    import av  # noqa: PLC0415 - optional extra

    try:
        av.codec.Codec("libx264", "w")
    except (av.FFmpegError, ValueError, KeyError):
        return "mpeg4"
    return "libx264"


class VideoWriter:
    """Write an MP4 frame by frame.

    Args:
        path: target ``.mp4`` path (its folder is created).
        fps: frames per second (> 0; fractional rates are kept as a fraction).
        audio_from: optional media file whose first audio stream is copied through.
        codec: ``None`` for :func:`pick_video_codec`, or an FFmpeg encoder name.
        crf: H.264 constant-rate factor (lower = better; 18–23 look good).

    Example:
        >>> with VideoWriter(tmp / "out.mp4", 25) as w:  # doctest: +SKIP
        ...     for frame in frames:
        ...         w.write(frame)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        *,
        audio_from: str | os.PathLike[str] | None = None,
        codec: str | None = None,
        crf: int = 20,
    ) -> None:
        try:
            import av  # noqa: PLC0415 - optional extra
        except ImportError as exc:
            raise InputError("writing videos needs PyAV: `pip install 'pydeca[video]'`") from exc
        if not fps > 0:
            raise ValueError(f"fps: expected > 0, got {fps}")
        self._av = av
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.stem}.tmp-{secrets.token_hex(4)}{self.path.suffix}")
        self.fps = Fraction(fps).limit_denominator(1001)
        self.codec = codec or pick_video_codec()
        self.crf = int(crf)
        self.frames = 0
        self.size: tuple[int, int] | None = None
        """(H, W) of the frames as given (the file's may be one larger, to be even)."""
        self.audio_note = ""
        self._container = av.open(str(self.tmp), mode="w", format="mp4")
        self._stream: Any = None
        self._audio_in: Any = None
        self._audio_out: Any = None
        self._audio_packets: Any = None
        self._audio_pending: Any = None
        self._resampler: Any = None
        self._closed = False
        if audio_from is not None:
            self._open_audio(Path(audio_from))

    # ------------------------------------------------------------------ audio
    def _open_audio(self, source: Path) -> None:
        av = self._av
        try:
            src = av.open(str(source))
        except (av.FFmpegError, OSError, ValueError):
            self.audio_note = f"{source}: not readable, no audio copied"
            return
        if not src.streams.audio:
            src.close()
            return
        stream = src.streams.audio[0]
        name = stream.codec_context.name
        self._audio_in = src
        self._audio_packets = src.demux(stream)
        if name in MP4_AUDIO_CODECS:
            self._audio_out = self._container.add_stream_from_template(stream)
            return
        # MP4 cannot hold this codec (e.g. PCM from a .mov/.mkv): re-encode it to AAC.
        rate = stream.codec_context.sample_rate or 48000
        channels = stream.codec_context.channels or 2
        layout = "mono" if channels == 1 else "stereo"  # AAC's common layouts; more channels are downmixed
        self._audio_out = self._container.add_stream("aac", rate=rate)
        self._audio_out.layout = layout
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self.audio_note = f"{source}: audio codec '{name}' re-encoded to AAC for MP4"

    def _pump_audio(self, until: float | None) -> None:
        """Mux source audio packets whose start time is before ``until`` seconds (None: all)."""
        if self._audio_packets is None:
            return
        while True:
            packet = self._audio_pending
            if packet is None:
                try:
                    packet = next(self._audio_packets)
                except (StopIteration, self._av.FFmpegError):
                    self._audio_packets = None
                    return
                if packet.dts is None or packet.size == 0:
                    continue
            if until is not None and packet.pts is not None and float(packet.pts * packet.time_base) >= until:
                self._audio_pending = packet
                return
            self._audio_pending = None
            if self._resampler is None:
                packet.stream = self._audio_out
                self._container.mux(packet)
            else:
                self._transcode(packet)

    def _transcode(self, packet: Any) -> None:
        """Decode a source audio packet, resample to AAC's sample format and encode it (None: flush)."""
        frames = packet.decode() if packet is not None else [None]
        for frame in frames:
            resampled = self._resampler.resample(frame)
            for chunk in resampled:
                chunk.pts = None
                for out in self._audio_out.encode(chunk):
                    self._container.mux(out)
        if packet is None:
            for out in self._audio_out.encode(None):
                self._container.mux(out)

    # ------------------------------------------------------------------ video
    def _open_video(self, height: int, width: int) -> None:
        from av import VideoStream  # noqa: PLC0415 - optional extra (imported by __init__)

        stream = self._container.add_stream(self.codec, rate=self.fps)
        if not isinstance(stream, VideoStream):
            raise InputError(f"codec: {self.codec!r} is not a video encoder; use e.g. 'libx264' or 'mpeg4'")
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        if self.codec == "libx264":
            stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        else:
            stream.options = {"qscale": "3"}
            stream.bit_rate = 8_000_000
        self._stream = stream
        self.size = (height, width)

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame (same H, W as the first)."""
        image = np.asarray(frame)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ShapeError(f"frame: expected (H, W, 3) uint8, got {image.shape} {image.dtype}")
        if self._closed:
            raise ValueError(f"{self.path}: writer is closed")
        if self._stream is None:
            self._open_video(*image.shape[:2])
        if image.shape[:2] != self.size:
            raise ShapeError(f"frame: expected {self.size} like the first frame, got {image.shape[:2]}")
        pad_h, pad_w = image.shape[0] % 2, image.shape[1] % 2
        if pad_h or pad_w:
            image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        video_frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        video_frame.pts = self.frames
        video_frame.time_base = 1 / self.fps
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames += 1
        self._pump_audio(float(self.frames / self.fps))

    def close(self) -> Path:
        """Flush the encoder, copy remaining audio, and move the file onto the target path.

        Raises:
            ValueError: no frame was written (nothing is created).
        """
        if self._closed:
            return self.path
        self._closed = True
        try:
            if self._stream is None:
                raise ValueError(f"{self.path}: no frame was written; no video created")
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._pump_audio(float(self.frames / self.fps))  # audio beyond the last frame is cut
            if self._resampler is not None:
                self._transcode(None)  # flush the resampler and the AAC encoder
            self._container.close()
            os.replace(self.tmp, self.path)
        finally:
            self._cleanup()
        return self.path

    def abort(self) -> None:
        """Stop without producing a file (the temporary file is removed)."""
        self._closed = True
        self._cleanup()

    def _cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()
        if self._audio_in is not None:
            with contextlib.suppress(Exception):
                self._audio_in.close()
            self._audio_in = None
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
