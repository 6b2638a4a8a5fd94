"""Test media helpers: mono audio tracks written into PyAV containers."""

from __future__ import annotations

import numpy as np

_FORMATS = {np.dtype(np.float32): "fltp", np.dtype(np.int16): "s16"}


def mux_tone(container, stream, samples: np.ndarray, rate: int, chunk: int = 1024) -> None:
    """Encode mono ``samples`` (1, N) float32 or int16 into ``stream`` in chunks (pts in samples).

    The stream is not flushed: the caller flushes its streams in the order it needs.
    """
    import av  # imported here: the test modules skip themselves when PyAV is missing

    for k in range(0, samples.shape[1], chunk):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, k : k + chunk]), format=_FORMATS[samples.dtype], layout="mono"
        )
        frame.sample_rate, frame.pts = rate, k
        for packet in stream.encode(frame):
            container.mux(packet)
