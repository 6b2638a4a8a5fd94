"""Asset loading and albedo speed: FLAME model from its converted cache, albedo for batch 1.

    .venv/bin/python benchmarks/bench_assets.py          # needs ../shared (or PYDECA_SHARED)

Targets (issue 2): FLAME from the converted cache < 0.5 s; albedo batch 1 < 5 ms (the original
resamples a 512² map every call, ~90 ms). Prints medians and ratios to the targets.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pydeca.assets.data import AlbedoBasis
from pydeca.assets.flame_model import load_flame_model
from pydeca.flame import AlbedoModel

SHARED = Path(os.environ.get("PYDECA_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    torch.set_num_threads(2)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, 2 threads")
    pickle_path = SHARED / "fixtures" / "flame2020_synthetic_chumpy.pkl"
    with tempfile.TemporaryDirectory() as cache:
        first = median_seconds(lambda: load_flame_model(pickle_path, cache_dir=cache), 1)
        cached = median_seconds(lambda: load_flame_model(pickle_path, cache_dir=cache), 5)
    print(f"FLAME pickle (first load, converts): {first * 1e3:8.1f} ms")
    print(f"FLAME from cache: {cached * 1e3:8.1f} ms   target 500 ms  ratio {cached / 0.5:.3f}")

    rng = np.random.default_rng(0)
    basis = AlbedoBasis(
        mean=rng.random((3, 256, 256), dtype=np.float32),
        basis=rng.standard_normal((50, 3, 256, 256), dtype=np.float32) * 0.01,
        source="BFM",
    )
    model = AlbedoModel(basis).eval()
    code = torch.randn(1, 50)
    with torch.inference_mode():
        for _ in range(5):
            model(code)
        albedo = median_seconds(lambda: model(code), 50)
    print(f"albedo (B=1, 256², 50): {albedo * 1e3:8.2f} ms   target 5 ms   ratio {albedo / 0.005:.3f}")


if __name__ == "__main__":
    main()
