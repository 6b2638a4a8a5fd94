"""FLAME forward speed on the CPU (batch 1 and 8), inference mode, 2 threads by default.

    .venv/bin/python benchmarks/bench_flame.py          # needs ../shared (or PYDECA_SHARED)
    .venv/bin/python benchmarks/bench_flame.py --json   # machine-readable result
    .venv/bin/python benchmarks/bench_flame.py --threads 1

On a machine whose other cores are busy, 2 threads can be far slower than 1 (OpenMP threads wait for
each other): compare both before reading anything into a number.

Uses the synthetic full-size FLAME fixture (5023 vertices, 100 shape + 50 expression components,
36 pose correctives) with random codes (seeded), and ``_timing.time_it`` (5 warm-up calls, then
``--repeat`` timed calls; median and IQR). Target: a FLAME forward pass (vertices + both landmark sets)
under 5 ms for batch 1. Prints the medians and their ratio to the target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import torch

from _timing import Timing, environment, set_threads, time_it
from pydeca.assets.embedding import load_landmark_embedding
from pydeca.assets.flame_model import load_flame_model
from pydeca.flame import FLAME

SHARED = Path(os.environ.get("PYDECA_SHARED", Path(__file__).resolve().parents[2] / "shared"))
TARGET_MS = 5.0


def time_forward(flame: FLAME, batch: int, repeat: int) -> Timing:
    gen = torch.Generator().manual_seed(batch)
    shape = torch.randn(batch, 100, generator=gen) * 0.5
    exp = torch.randn(batch, 50, generator=gen) * 0.3
    pose = torch.randn(batch, 6, generator=gen) * 0.1
    with torch.inference_mode():
        return time_it(lambda: flame(shape, exp, pose), repeat=repeat, warmup=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--repeat", type=int, default=200, help="timed calls per batch size (default 200)")
    args = parser.parse_args()
    set_threads(args.threads)
    with tempfile.TemporaryDirectory() as cache:
        model = load_flame_model(SHARED / "fixtures" / "flame2020_synthetic_chumpy.pkl", cache_dir=cache)
    embedding = load_landmark_embedding(SHARED / "flame-topology" / "landmark_embedding.npy")
    flame = FLAME(model, embedding).eval()
    results = {}
    for batch in (1, 8):
        t = time_forward(flame, batch, args.repeat)
        results[f"batch{batch}"] = {"median_ms": t.median_ms, "iqr_ms": t.iqr_ms}
    info = {
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "target_ms": TARGET_MS,
        **results,
    }
    if args.json:
        print(json.dumps(info))
        return
    print(environment())
    for batch in (1, 8):
        r = results[f"batch{batch}"]
        print(
            f"FLAME forward, batch {batch}: median {r['median_ms']:7.3f} ms  (IQR {r['iqr_ms']:.3f} ms)"
            f"  ratio to {TARGET_MS:g} ms target {r['median_ms'] / TARGET_MS:.3f}"
        )


if __name__ == "__main__":
    main()
