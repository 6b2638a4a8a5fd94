"""Benchmark the pure-PyTorch rasterizer on the FLAME mesh (5023 vertices, 9976 faces).

The head template is centred and projected orthographically (front view) so that its larger x/y
extent spans NDC ±0.9 (a real face crop), then rasterized at 224² (batch 1 and 8), 1024² and
4000 × 3000 (a 12 MP photo; x is scaled by H/W to keep the aspect). Prints the median wall time of
pydeca and of the per-face-loop baseline (``naive_rasterizer.py``, 224² and 1024² only), the
speed-up, the ratio to the targets (8 ms at 224², 60 ms at 1024²), and the peak RSS of rasterizing
at 4000 × 3000, measured in fresh subprocesses as ``ru_maxrss`` minus that of a baseline process
that imports torch and builds the same inputs.

    python benchmarks/bench_rasterize.py [--template PATH] [--repeats N] [--threads T] [--device D]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from _timing import environment, set_threads, time_it
from pydeca.assets.template import load_template_mesh
from pydeca.geometry.rasterize import rasterize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from naive_rasterizer import naive_rasterize

_DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "shared" / "flame-topology" / "head_template.obj"
_TARGET_MS = {(224, 224): 8.0, (1024, 1024): 60.0}
_BIG = (3000, 4000)


def head_ndc(
    path: Path, fill: float = 0.9, size: tuple[int, int] = (1, 1)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Template vertices (1, V, 3) in NDC (front view, y down, smaller z nearer) and faces (F, 3).

    The larger x/y extent spans ``±fill``; for a non-square ``size = (H, W)`` x is scaled by H / W
    so the head keeps its aspect in pixels.
    """
    mesh = load_template_mesh(path)
    v = np.asarray(mesh.verts, dtype=np.float64)
    centre = (v.max(0) + v.min(0)) / 2
    scale = 2 * fill / (v.max(0) - v.min(0))[:2].max()
    ndc = (v - centre) * scale * np.array([size[0] / size[1], -1.0, -1.0])
    return torch.from_numpy(ndc).float()[None], torch.from_numpy(mesh.faces)


def _rss_child(template: Path, threads: int, mode: str) -> None:
    """Subprocess body: build the 12 MP inputs, optionally rasterize, print ru_maxrss in MB."""
    torch.set_num_threads(threads)
    verts, faces = head_ndc(template, size=_BIG)
    if mode == "raster":
        with torch.no_grad():
            frags = rasterize(verts, faces, _BIG)
        del frags
    print(_peak_rss_mb())


def _peak_rss_mb() -> float:
    """Peak RSS of this process in MB: ``VmHWM`` (per address space, so not inflated by the parent
    at fork) where /proc exists, else ``ru_maxrss``."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mb(template: Path, threads: int) -> tuple[float, float]:
    """(baseline, rasterize) peak RSS in MB of fresh subprocesses (Linux: ru_maxrss is in KiB)."""
    out = []
    for mode in ("baseline", "raster"):
        cmd = [sys.executable, __file__, "--template", str(template), "--threads", str(threads)]
        res = subprocess.run([*cmd, "--rss-child", mode], capture_output=True, text=True, check=True)
        out.append(float(res.stdout.split()[-1]))
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=_DEFAULT_TEMPLATE)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-naive", action="store_true", help="skip the slow per-face baseline")
    parser.add_argument("--rss-child", choices=("baseline", "raster"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        _rss_child(args.template, args.threads, args.rss_child)
        return
    set_threads(args.threads)
    base, peak = peak_rss_mb(args.template, args.threads)  # first, while this process is small
    print(environment(args.device))
    for size, batch in (((224, 224), 1), ((224, 224), 8), ((1024, 1024), 1), (_BIG, 1)):
        verts, faces = head_ndc(args.template, size=size)
        v = verts.expand(batch, -1, -1).contiguous().to(args.device)
        f = faces.to(args.device)

        def run(v: torch.Tensor = v, f: torch.Tensor = f, size: tuple[int, int] = size) -> None:
            rasterize(v, f, size)

        repeats = args.repeats if size[0] * size[1] * batch < 2_000_000 else max(3, args.repeats // 5)
        ms = time_it(run, repeat=repeats, warmup=1, device=args.device).median_ms
        cov = (rasterize(v[:1], f, size).face_index >= 0).float().mean().item()
        line = f"{size[0]:4d}×{size[1]:<4d} B={batch}: pydeca {ms:8.1f} ms ({ms / batch:6.1f} ms/image"
        line += f", cov {cov:.1%})"
        if batch == 1 and size in _TARGET_MS:
            line += f"  target {_TARGET_MS[size]:.0f} ms → ×{ms / _TARGET_MS[size]:.2f} of target"
            if not args.no_naive:
                vc, fc = verts[0].cpu(), faces.cpu()
                naive_run = lambda vc=vc, fc=fc, size=size: naive_rasterize(vc, fc, *size)  # noqa: E731
                naive = time_it(naive_run, repeat=1, warmup=1).median_ms
                line += f"  naive {naive:8.1f} ms → speed-up ×{naive / ms:.1f}"
        print(line)
    base, peak = peak_rss_mb(args.template, args.threads)
    print(
        f"{_BIG[1]}×{_BIG[0]} peak RSS: {peak:.0f} MB, baseline (torch + inputs) {base:.0f} MB, "
        f"rasterize adds {peak - base:.0f} MB"
    )


if __name__ == "__main__":
    main()
