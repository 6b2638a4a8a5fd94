"""The regular triangle grid over a UV image, and detail normals from a displacement map.

DECA turns its predicted displacement map into normals by displacing a dense point per texel and
taking vertex normals over a fixed grid triangulation of the UV image (reference §2.8): texel
``(row, col)`` has id ``row * R + col`` (row-major), each quad with top-left texel ``(y, x)`` for
``x ∈ [2, 252]``, ``y ∈ [5, 249]`` (at R = 256) gives the triangles ``(id(y,x), id(y+1,x), id(y,x+1))``
and ``(id(y,x+1), id(y+1,x), id(y+1,x+1))`` — 61,495 quads, 122,990 triangles. Texels outside the
band get zero normals.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pydeca.checks import check_shapes

__all__ = ["displacement_normals", "grid_band", "uv_grid_faces"]

_MARGIN_X = 2
_MARGIN_Y = 5
_REFERENCE_SIZE = 256
_EPS = 1e-6


def uv_grid_faces(size: int = 256, *, device: torch.device | str | None = None) -> Tensor:
    """Triangles of DECA's UV grid over a ``size × size`` texel image.

    The margins (2 texels left, 3 right; 5 top, 6 bottom at 256²) are scaled from DECA's 256² band.

    Returns:
        (F, 3) int64 row-major texel ids; F = 122,990 at size 256.

    Example:
        >>> uv_grid_faces(256).shape
        torch.Size([122990, 3])
    """
    x0, x1, y0, y1 = grid_band(size)
    ys, xs = torch.meshgrid(
        torch.arange(y0, y1 + 1, device=device), torch.arange(x0, x1 + 1, device=device), indexing="ij"
    )
    top_left = (ys * size + xs).reshape(-1)
    top_right, bottom_left, bottom_right = top_left + 1, top_left + size, top_left + size + 1
    first = torch.stack([top_left, bottom_left, top_right], dim=-1)
    second = torch.stack([top_right, bottom_left, bottom_right], dim=-1)
    return torch.stack([first, second], dim=1).reshape(-1, 3)


def grid_band(size: int) -> tuple[int, int, int, int]:
    """``(x0, x1, y0, y1)``: inclusive range of the top-left texels of DECA's grid quads at ``size``."""
    scale = size / _REFERENCE_SIZE
    return (
        round(_MARGIN_X * scale),
        size - 1 - round(3 * scale),
        round(_MARGIN_Y * scale),
        size - 1 - round(6 * scale),
    )


def displacement_normals(uv_positions: Tensor, uv_normals: Tensor, displacement: Tensor) -> Tensor:
    """Normals of the surface displaced along the coarse normals, per texel.

    Equal to :func:`~pydeca.geometry.normals.vertex_normals` of the displaced texel points over
    :func:`uv_grid_faces` (area-weighted, eps 1e-6), computed with shifted slices of the image
    instead of a scatter, since the grid is regular.

    Args:
        uv_positions: (B, 3, R, R) world positions of the coarse surface per texel (``world2uv``).
        uv_normals: (B, 3, R, R) interpolated (not re-normalised) coarse normals per texel.
        displacement: (B, 1, R, R) displacement along the normal, metres (already masked / with the
            fixed displacement added, as the caller wants).

    Returns:
        (B, 3, R, R) unit normals (zero on texels no grid triangle touches), world frame.
    """
    size = check_shapes(
        uv_positions=(uv_positions, "B 3 R R"),
        uv_normals=(uv_normals, "B 3 R R"),
        displacement=(displacement, "B 1 R R"),
    )["R"]
    x0, x1, y0, y1 = grid_band(size)
    points = uv_positions + displacement * uv_normals
    top = points[:, :, y0 : y1 + 1, x0 : x1 + 1]  # a = (y, x)
    below = points[:, :, y0 + 1 : y1 + 2, x0 : x1 + 1]  # b = (y + 1, x)
    right = points[:, :, y0 : y1 + 1, x0 + 1 : x1 + 2]  # c = (y, x + 1)
    diagonal = points[:, :, y0 + 1 : y1 + 2, x0 + 1 : x1 + 2]  # d = (y + 1, x + 1)
    first = torch.linalg.cross(below - top, right - top, dim=1)  # triangle (a, b, c)
    second = torch.linalg.cross(below - right, diagonal - right, dim=1)  # triangle (c, b, d)
    shared = first + second
    normals = torch.zeros_like(points)
    normals[:, :, y0 : y1 + 1, x0 : x1 + 1] += first
    normals[:, :, y0 + 1 : y1 + 2, x0 : x1 + 1] += shared
    normals[:, :, y0 : y1 + 1, x0 + 1 : x1 + 2] += shared
    normals[:, :, y0 + 1 : y1 + 2, x0 + 1 : x1 + 2] += second
    return normals / normals.norm(dim=1, keepdim=True).clamp(min=_EPS)
