"""Benchmark the pure-PyTorch rasterizer on a FLAME-size mesh (5023 vertices, 9976 faces).

The head template is projected orthographically (front view) to fill ~70 % of the image, then
rasterized at 224² (batch 1 and 8) and 512² (batch 1). Prints the median wall time of several runs.

    python benchmarks/bench_rasterize.py [--template PATH] [--repeats N] [--threads T] [--device D]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from pydeca.assets.template import load_template_mesh
from pydeca.render.rasterize import rasterize

_DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "shared" / "flame-topology" / "head_template.obj"


def head_ndc(path: Path, fill: float = 0.7) -> tuple[torch.Tensor, torch.Tensor]:
    """Template vertices in NDC (front view, y down, smaller z nearer) and faces."""
    mesh = load_template_mesh(path)
    v = np.asarray(mesh.verts, dtype=np.float64)
    centre = (v.max(0) + v.min(0)) / 2
    scale = 2 * fill / (v.max(0) - v.min(0))[:2].max()
    ndc = (v - centre) * scale * np.array([1.0, -1.0, -1.0])
    return torch.from_numpy(ndc).float()[None], torch.from_numpy(mesh.faces)


def time_it(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=_DEFAULT_TEMPLATE)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    verts, faces = head_ndc(args.template)
    verts, faces = verts.to(args.device), faces.to(args.device)
    sync = torch.cuda.synchronize if verts.device.type == "cuda" else (lambda: None)
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}")
    print(f"mesh: {verts.shape[1]} vertices, {faces.shape[0]} faces")
    for size, batch in ((224, 1), (224, 8), (512, 1)):
        v = verts.expand(batch, -1, -1).contiguous()

        def run(v=v, size=size) -> None:
            frags = rasterize(v, faces, size)
            sync()
            del frags

        ms = time_it(run, args.repeats)
        cov = (rasterize(v[:1], faces, size).face_index >= 0).float().mean().item()
        print(
            f"{size:4d}² batch {batch}: median {ms:8.1f} ms  ({ms / batch:6.1f} ms/image, coverage {cov:.1%})"
        )


if __name__ == "__main__":
    main()
