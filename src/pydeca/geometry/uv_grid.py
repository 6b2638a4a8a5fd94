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

from .normals import vertex_normals

__all__ = ["displacement_normals", "uv_grid_faces"]

_MARGIN_X = 2
_MARGIN_Y = 5
_REFERENCE_SIZE = 256


def uv_grid_faces(size: int = 256, *, device: torch.device | str | None = None) -> Tensor:
    """Triangles of DECA's UV grid over a ``size × size`` texel image.

    The margins (2 texels left, 3 right; 5 top, 6 bottom at 256²) are scaled from DECA's 256² band.

    Returns:
        (F, 3) int64 row-major texel ids; F = 122,990 at size 256.

    Example:
        >>> uv_grid_faces(256).shape
        torch.Size([122990, 3])
    """
    scale = size / _REFERENCE_SIZE
    x0, x1 = round(_MARGIN_X * scale), size - 1 - round(3 * scale)
    y0, y1 = round(_MARGIN_Y * scale), size - 1 - round(6 * scale)
    ys, xs = torch.meshgrid(
        torch.arange(y0, y1 + 1, device=device), torch.arange(x0, x1 + 1, device=device), indexing="ij"
    )
    top_left = (ys * size + xs).reshape(-1)
    top_right, bottom_left, bottom_right = top_left + 1, top_left + size, top_left + size + 1
    first = torch.stack([top_left, bottom_left, top_right], dim=-1)
    second = torch.stack([top_right, bottom_left, bottom_right], dim=-1)
    return torch.stack([first, second], dim=1).reshape(-1, 3)


def displacement_normals(
    uv_positions: Tensor,
    uv_normals: Tensor,
    displacement: Tensor,
    grid_faces: Tensor,
) -> Tensor:
    """Normals of the surface displaced along the coarse normals, per texel.

    Args:
        uv_positions: (B, 3, R, R) world positions of the coarse surface per texel (``world2uv``).
        uv_normals: (B, 3, R, R) interpolated (not re-normalised) coarse normals per texel.
        displacement: (B, 1, R, R) displacement along the normal, metres (already masked / with the
            fixed displacement added, as the caller wants).
        grid_faces: (F, 3) texel-id triangles from :func:`uv_grid_faces`.

    Returns:
        (B, 3, R, R) unit normals (zero on texels no grid triangle touches), world frame.
    """
    dims = check_shapes(
        uv_positions=(uv_positions, "B 3 R R"),
        uv_normals=(uv_normals, "B 3 R R"),
        displacement=(displacement, "B 1 R R"),
    )
    batch, size = dims["B"], dims["R"]
    dense = uv_positions + displacement * uv_normals
    dense = dense.permute(0, 2, 3, 1).reshape(batch, size * size, 3)
    normals = vertex_normals(dense, grid_faces)
    return normals.reshape(batch, size, size, 3).permute(0, 3, 1, 2)
