"""The one timing method every benchmark uses: warm-up, synchronised repeats, median and IQR.

    from _timing import environment, set_threads, time_it

    set_threads(2)
    print(environment(device="cpu"))
    t = time_it(lambda: model(x), repeat=15, warmup=3, device="cpu")
    print(f"{t.median_ms:.1f} ms (IQR {t.iqr_ms:.1f} ms), {t.ratio(60.0):.2f}× the 60 ms target")

Method (see README.md): ``warmup`` untimed calls (caches, allocator, lazy initialisation), then
``repeat`` timed calls, each bracketed by a device synchronisation (CUDA and MPS run
asynchronously: without it a GPU call would time only its launch), wall clock by
``time.perf_counter``; the median is reported (robust to a busy shared machine), with the IQR as
its spread.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["Timing", "environment", "set_threads", "synchronize", "time_it"]


@dataclass(frozen=True)
class Timing:
    """Wall times of the timed calls of :func:`time_it`, in milliseconds."""

    times_ms: tuple[float, ...]
    """Every timed call, in order."""

    @property
    def median_ms(self) -> float:
        """Median of :attr:`times_ms`."""
        return statistics.median(self.times_ms)

    @property
    def iqr_ms(self) -> float:
        """Interquartile range of :attr:`times_ms` (0 for fewer than two calls)."""
        if len(self.times_ms) < 2:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.times_ms, n=4)
        return q3 - q1

    @property
    def median_s(self) -> float:
        """Median in seconds."""
        return self.median_ms / 1e3

    def ratio(self, target_ms: float) -> float:
        """Median over a target time (below 1: the target is met)."""
        return self.median_ms / target_ms


def synchronize(device: str | torch.device = "cpu") -> None:
    """Wait for queued work on ``device`` (CUDA, MPS); nothing to wait for on the CPU."""
    kind = torch.device(device).type
    if kind == "cuda":
        torch.cuda.synchronize(device)
    elif kind == "mps":
        torch.mps.synchronize()


def time_it(
    fn: Callable[[], object], *, repeat: int = 15, warmup: int = 3, device: str | torch.device = "cpu"
) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeat`` timed ones, synchronising ``device``.

    Args:
        fn: the work, no arguments (bind them with a closure or default arguments).
        repeat: timed calls (at least 1).
        warmup: untimed calls before them.
        device: the device ``fn`` runs on, synchronised before and after every timed call.

    Returns:
        The :class:`Timing` of the ``repeat`` calls.
    """
    if repeat < 1:
        raise ValueError(f"repeat: expected at least 1, got {repeat}")
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append((time.perf_counter() - start) * 1e3)
    return Timing(tuple(times))


def set_threads(threads: int) -> int:
    """Set torch's intra-op CPU threads (and ``OMP_NUM_THREADS`` for child processes); return it."""
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    return torch.get_num_threads()


def environment(device: str | torch.device = "cpu") -> str:
    """One line naming what the numbers depend on: machine, cores, versions, threads, load."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"machine {platform.machine()} {platform.processor() or ''}".rstrip()
        + f", {os.cpu_count()} cores, python {platform.python_version()}, torch {torch.__version__}, "
        f"device {device}, {torch.get_num_threads()} threads, load {load:.2f}"
    )
