"""The UV raster: which template triangle covers each texel of an R × R UV image, and where.

Convention:
    - Row 0 of a UV image is v = 1 (top of the texture), column 0 is u = 0; texel (col, row) is
      sampled at its centre ``u = (col + 0.5)/R``, ``v = 1 − (row + 0.5)/R``.
    - A texel is covered when its centre lies inside or on the edge of a UV triangle; a texel
      covered by several triangles takes the one with the smallest index ("first covering
      triangle", reference §1.4). At R = 256 on DECA's template this covers 58,515 texels.

The raster depends only on the topology, so it is computed once (see
:mod:`pydeca.geometry.topology`); :func:`world2uv` is then a gather and a weighted sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pydeca.errors import ShapeError
from pydeca.geometry.rasterize import rasterize

__all__ = ["UVRaster", "rasterize_uv", "world2uv"]


@dataclass
class UVRaster:
    """Face id and barycentrics per texel of an R × R UV image (R = 256 for DECA)."""

    face_index: torch.Tensor
    """(R, R) int64 index into the template's (UV) faces, −1 outside the UV layout; [row, col]."""
    bary: torch.Tensor
    """(R, R, 3) float32 barycentric weights of the covering face's three corners (0 outside)."""

    @property
    def size(self) -> int:
        """R, the side of the UV image in texels."""
        return int(self.face_index.shape[-1])

    @property
    def mask(self) -> torch.Tensor:
        """(R, R) bool, True on covered texels."""
        return self.face_index >= 0

    def to(self, device: torch.device | str) -> UVRaster:
        """Return a copy on ``device``."""
        return UVRaster(self.face_index.to(device), self.bary.to(device))


def rasterize_uv(
    uvcoords: torch.Tensor | np.ndarray, uvfaces: torch.Tensor | np.ndarray, size: int = 256
) -> UVRaster:
    """Rasterize the UV layout once (inclusive edges, first covering triangle wins).

    Args:
        uvcoords: (T, 2) UV coordinates ``(u, v)`` in [0, 1] (v = 1 at the top of the image).
        uvfaces: (F, 3) int64 indices into ``uvcoords`` (same corner order as the 3D faces).
        size: R, the side of the square UV image in texels.

    Returns:
        :class:`UVRaster` on the device of ``uvcoords`` (CPU for numpy input). Barycentrics are
        computed in float64 on the CPU (a one-off per template; MPS has no float64) and stored as
        float32.

    Raises:
        ShapeError: if ``uvcoords`` is not (T, 2) or ``uvfaces`` not (F, 3).
    """
    device = uvcoords.device if isinstance(uvcoords, torch.Tensor) else torch.device("cpu")
    uv = torch.as_tensor(uvcoords).detach().cpu().to(torch.float64)
    tri = torch.as_tensor(uvfaces).cpu().to(torch.int64)
    if uv.ndim != 2 or uv.shape[1] != 2:
        raise ShapeError(f"rasterize_uv: uvcoords must be (T, 2), got {tuple(uv.shape)}")
    if tri.ndim != 2 or tri.shape[1] != 3:
        raise ShapeError(f"rasterize_uv: uvfaces must be (F, 3), got {tuple(tri.shape)}")
    # (u, v) -> NDC: x = 2u − 1 (left = u 0), y = 1 − 2v (top row = v 1); all at depth 0
    ndc = torch.stack([2.0 * uv[:, 0] - 1.0, 1.0 - 2.0 * uv[:, 1], torch.zeros_like(uv[:, 0])], -1)
    frags = rasterize(ndc.unsqueeze(0), tri, size, edge_rule="inclusive")
    bary = frags.bary[0].to(torch.float32)
    return UVRaster(face_index=frags.face_index[0].to(device), bary=bary.to(device))


def world2uv(attrs: torch.Tensor, faces: torch.Tensor, raster: UVRaster) -> torch.Tensor:
    """Map per-vertex attributes into UV space: a gather and a barycentric sum per texel.

    Args:
        attrs: (B, V, C) per-vertex attributes (positions, normals, colours...).
        faces: (F, 3) int64 3D vertex indices, corner-aligned with the UV faces of ``raster``.
        raster: the template's :class:`UVRaster` (R × R); any object with its ``face_index`` and
            ``bary`` fields works.

    Returns:
        (B, C, R, R) UV image (row 0 = v = 1), zeros on texels outside the UV layout;
        differentiable with respect to ``attrs``.

    Raises:
        ShapeError: if ``attrs`` is not (B, V, C) or ``faces`` not (F, 3).
    """
    if attrs.ndim != 3:
        raise ShapeError(f"world2uv: attrs must be (B, V, C), got {tuple(attrs.shape)}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ShapeError(f"world2uv: faces must be (F, 3), got {tuple(faces.shape)}")
    size = int(raster.face_index.shape[-1])  # only face_index and bary are read (duck-typed)
    faces = faces.to(device=attrs.device, dtype=torch.int64)
    fidx = raster.face_index.to(attrs.device)
    mask = (fidx >= 0).reshape(-1)
    vids = faces[fidx.clamp(min=0).reshape(-1)]  # (R·R, 3)
    bary = raster.bary.to(device=attrs.device, dtype=attrs.dtype).reshape(1, -1, 3, 1)
    corners = attrs[:, vids]  # (B, R·R, 3, C)
    out = (corners * bary).sum(2) * mask.to(attrs.dtype).view(1, -1, 1)  # (B, R·R, C)
    return out.transpose(1, 2).reshape(attrs.shape[0], attrs.shape[-1], size, size)


class UVGather(torch.nn.Module):
    """``world2uv`` with the raster's lookups precomputed: per-vertex attributes → UV image.

    Holds, for the N covered texels only, their row-major ids, the three vertex ids of their
    triangle and their barycentric weights, so each call is three gathers and a weighted sum.

    Args:
        faces: (F, 3) int64 3D vertex indices, corner-aligned with the UV faces of ``raster``.
        raster: the template's :class:`UVRaster` (R × R).
    """

    # non-persistent buffers (registered in __init__); declared here so type checkers see Tensors
    texels: torch.Tensor
    """(N,) int64 row-major ids of the covered texels."""
    vertex_ids: torch.Tensor
    """(N, 3) int64 vertex ids of each covered texel's triangle."""
    bary: torch.Tensor
    """(N, 3) float32 barycentric weights of each covered texel."""

    def __init__(self, faces: torch.Tensor, raster: UVRaster) -> None:
        super().__init__()
        face_index = torch.as_tensor(raster.face_index).reshape(-1)
        texels = torch.nonzero(face_index >= 0).squeeze(1)
        self.size = int(torch.as_tensor(raster.face_index).shape[-1])
        self.register_buffer("texels", texels, persistent=False)
        self.register_buffer(
            "vertex_ids", torch.as_tensor(faces, dtype=torch.long)[face_index[texels]], persistent=False
        )
        bary = torch.as_tensor(raster.bary, dtype=torch.float32).reshape(-1, 3)[texels]
        self.register_buffer("bary", bary, persistent=False)

    def forward(self, attrs: torch.Tensor) -> torch.Tensor:
        """(B, V, C) per-vertex attributes → (B, C, R, R), zeros outside the UV layout."""
        if attrs.ndim != 3:
            raise ShapeError(f"UVGather: attrs must be (B, V, C), got {tuple(attrs.shape)}")
        batch, _, channels = attrs.shape
        bary = self.bary.to(attrs.dtype)
        values = sum(attrs[:, self.vertex_ids[:, k]] * bary[None, :, k, None] for k in range(3))
        out = attrs.new_zeros(batch, self.size * self.size, channels)
        out[:, self.texels] = values
        return out.transpose(1, 2).reshape(batch, channels, self.size, self.size)
