"""End-to-end `deca reconstruct` speed on the 9 sample photos, and the detail-OBJ writer.

    .venv/bin/python benchmarks/bench_reconstruct.py     # needs ../shared (or PYDECA_SHARED)

Targets (issue 4, 2 CPU threads): default outputs under 0.5 s per image, process start included
(the original fork: ~2–3 s per image); at least 5 images/s with only the `.npz` parameters and
`--batch-size 8`; writing the dense detail OBJ under 60 ms (the original: ~470 ms). Runs on the
demo asset pack (the same networks and mesh sizes as the real assets).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("PYDECA_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DECA = str(Path(sys.executable).with_name("deca"))


def timed_run(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([DECA, *args], check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    photos = SHARED / "images" / "examples"
    count = len(list(photos.glob("*.*")))
    env = dict(os.environ, OMP_NUM_THREADS="2")
    print(f"{count} photos, 2 threads, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        env["PYDECA_CACHE"] = str(Path(tmp) / "cache")
        base = ["reconstruct", str(photos), "--assets", "demo", "--device", "cpu", "--quiet"]
        timed_run([*base, "-o", str(Path(tmp) / "warm"), "--no-save-vis"], env)  # builds the caches
        runs = []
        for i in range(3):
            out = Path(tmp) / f"full{i}"
            runs.append(timed_run([*base, "-o", str(out)], env))
            shutil.rmtree(out)
        full = statistics.median(runs) / count
        params_only = [
            "--no-save-obj",
            "--no-save-vis",
            "--no-save-kpt",
            "--no-save-depth",
            "--batch-size",
            "8",
        ]
        fast = statistics.median(
            timed_run([*base, "-o", str(Path(tmp) / f"p{i}"), *params_only], env) for i in range(3)
        )
    print(
        f"default outputs: {full:6.3f} s/image (process start included)  target 0.5  ratio {full / 0.5:.2f}"
    )
    print(
        f"params only, batch 8:  {count / fast:6.2f} images/s (process start included)  target 5   "
        f"ratio {5 / (count / fast):.2f}"
    )

    from pydeca.io.mesh import write_obj

    rng = np.random.default_rng(0)
    verts = rng.random((58_515, 3)).astype(np.float32) * 0.2
    faces = rng.integers(0, 58_515, (115_455, 3))
    colors = rng.integers(0, 256, (58_515, 3)).astype(np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        times = []
        for _ in range(7):
            start = time.perf_counter()
            write_obj(Path(tmp) / "d.obj", verts, faces, vertex_colors=colors)
            times.append(time.perf_counter() - start)
    obj = statistics.median(times) * 1e3
    print(f"detail OBJ (58,515 v, 115,455 f): {obj:6.1f} ms   target 60 ms   ratio {obj / 60:.2f}")


if __name__ == "__main__":
    main()
