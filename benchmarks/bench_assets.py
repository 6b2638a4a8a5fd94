"""Asset loading and albedo speed: FLAME model from its converted cache, albedo for batch 1.

    .venv/bin/python benchmarks/bench_assets.py          # needs ../shared (or PYDECA_SHARED)

Targets (issue 2): FLAME from the converted cache < 0.5 s; albedo batch 1 < 5 ms (the original
resamples a 512² map every call, ~90 ms). Prints medians (``_timing.time_it``) and ratios to the
targets.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from _timing import environment, set_threads, time_it
from pydeca.assets.data import AlbedoBasis
from pydeca.assets.flame_model import load_flame_model
from pydeca.flame import AlbedoModel

SHARED = Path(os.environ.get("PYDECA_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def main() -> None:
    set_threads(2)
    print(environment())
    pickle_path = SHARED / "fixtures" / "flame2020_synthetic_chumpy.pkl"
    with tempfile.TemporaryDirectory() as cache:
        # the first call converts and fills the cache: timed once, no warm-up
        first = time_it(lambda: load_flame_model(pickle_path, cache_dir=cache), repeat=1, warmup=0)
        cached = time_it(lambda: load_flame_model(pickle_path, cache_dir=cache), repeat=5, warmup=0)
    print(f"FLAME pickle (first load, converts): {first.median_ms:8.1f} ms")
    print(f"FLAME from cache: {cached.median_ms:8.1f} ms   target 500 ms  ratio {cached.ratio(500.0):.3f}")

    rng = np.random.default_rng(0)
    basis = AlbedoBasis(
        mean=rng.random((3, 256, 256), dtype=np.float32),
        basis=rng.standard_normal((50, 3, 256, 256), dtype=np.float32) * 0.01,
        source="BFM",
    )
    model = AlbedoModel(basis).eval()
    code = torch.randn(1, 50)
    with torch.inference_mode():
        albedo = time_it(lambda: model(code), repeat=50, warmup=5)
    print(f"albedo (B=1, 256², 50): {albedo.median_ms:8.2f} ms   target 5 ms   ratio {albedo.ratio(5.0):.3f}")


if __name__ == "__main__":
    main()
