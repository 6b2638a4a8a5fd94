"""Baseline for the rasterizer benchmark: a straightforward per-face loop (what a naive port does).

Each face is rasterised over its pixel bounding box with vectorised edge functions and merged with
a z-buffer — one Python iteration per face, like the original C++ loop transcribed to PyTorch. Not
used by the package; kept only so `bench_rasterize.py` can print pydeca's speed-up over it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def naive_rasterize(verts_ndc: Tensor, faces: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
    """(V, 3) NDC vertices, (F, 3) faces → (face index (H, W) with −1 background, depth (H, W))."""
    xs = (torch.arange(width, dtype=verts_ndc.dtype) * 2 + 1) / width - 1
    ys = (torch.arange(height, dtype=verts_ndc.dtype) * 2 + 1) / height - 1
    zbuf = torch.full((height, width), math.inf, dtype=verts_ndc.dtype)
    index = torch.full((height, width), -1, dtype=torch.long)
    tri = verts_ndc[faces]
    for f in range(faces.shape[0]):
        (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = tri[f].tolist()
        c0 = max(0, math.floor(((min(x0, x1, x2) + 1) * width - 1) / 2))
        c1 = min(width - 1, math.ceil(((max(x0, x1, x2) + 1) * width - 1) / 2))
        r0 = max(0, math.floor(((min(y0, y1, y2) + 1) * height - 1) / 2))
        r1 = min(height - 1, math.ceil(((max(y0, y1, y2) + 1) * height - 1) / 2))
        if c1 < c0 or r1 < r0:
            continue
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if area == 0:
            continue
        px = xs[c0 : c1 + 1][None, :]
        py = ys[r0 : r1 + 1][:, None]
        w0 = ((x1 - px) * (y2 - py) - (x2 - px) * (y1 - py)) / area
        w1 = ((x2 - px) * (y0 - py) - (x0 - px) * (y2 - py)) / area
        w2 = 1 - w0 - w1
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        z = w0 * z0 + w1 * z1 + w2 * z2
        window = zbuf[r0 : r1 + 1, c0 : c1 + 1]
        better = inside & (z < window)
        window[better] = z[better]
        index[r0 : r1 + 1, c0 : c1 + 1][better] = f
    return index, zbuf
