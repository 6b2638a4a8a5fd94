"""Barycentric interpolation of vertex / face-corner attributes over rasterized fragments."""

from __future__ import annotations

import torch

from pydeca.errors import ShapeError
from pydeca.render.rasterize import Fragments

__all__ = ["interpolate_face_attributes", "interpolate_vertex_attributes"]


def interpolate_face_attributes(fragments: Fragments, face_attrs: torch.Tensor) -> torch.Tensor:
    """Interpolate per-face-corner attributes at every pixel.

    Args:
        fragments: output of :func:`pydeca.render.rasterize.rasterize` for B images of H × W.
        face_attrs: (B, F, 3, C) attribute of each face corner (in the faces' corner order).

    Returns:
        (B, C, H, W) channels-first image: ``Σ_k bary_k · attr[face, k]``, zeros on background.
        Differentiable with respect to ``face_attrs`` and the fragments' barycentrics.

    Raises:
        ShapeError: if ``face_attrs`` is not (B, F, 3, C) with the fragments' batch size.
    """
    batch, height, width = fragments.face_index.shape
    if face_attrs.ndim != 4 or face_attrs.shape[0] != batch or face_attrs.shape[2] != 3:
        raise ShapeError(
            f"interpolate_face_attributes: face_attrs must be (B={batch}, F, 3, C), "
            f"got {tuple(face_attrs.shape)}"
        )
    channels = face_attrs.shape[3]
    fidx = fragments.face_index.clamp(min=0).view(batch, -1, 1, 1).expand(-1, -1, 3, channels)
    corners = torch.gather(face_attrs, 1, fidx)  # (B, H·W, 3, C)
    bary = fragments.bary.to(face_attrs.dtype).view(batch, -1, 3, 1)
    mask = fragments.mask.view(batch, -1, 1).to(face_attrs.dtype)
    out = (corners * bary).sum(2) * mask  # (B, H·W, C)
    return out.view(batch, height, width, channels).permute(0, 3, 1, 2)


def interpolate_vertex_attributes(
    fragments: Fragments, attrs: torch.Tensor, faces: torch.Tensor
) -> torch.Tensor:
    """Interpolate per-vertex attributes at every pixel.

    Args:
        fragments: output of :func:`pydeca.render.rasterize.rasterize` for B images of H × W.
        attrs: (B, V, C) per-vertex attributes (each batch element its own).
        faces: (F, 3) or (B, F, 3) int64, the faces the fragments were rasterized with.

    Returns:
        (B, C, H, W) channels-first image, zeros on background.

    Raises:
        ShapeError: on a batch or rank mismatch.
    """
    batch, height, width = fragments.face_index.shape
    if attrs.ndim != 3 or attrs.shape[0] != batch:
        raise ShapeError(
            f"interpolate_vertex_attributes: attrs must be (B={batch}, V, C), got {tuple(attrs.shape)}"
        )
    if faces.ndim == 2:
        faces = faces.unsqueeze(0).expand(batch, -1, -1)
    faces = faces.to(device=attrs.device, dtype=torch.int64)
    channels = attrs.shape[-1]
    fidx = fragments.face_index.clamp(min=0).view(batch, -1)  # (B, H·W)
    tri = torch.gather(faces, 1, fidx.unsqueeze(-1).expand(-1, -1, 3))  # (B, H·W, 3)
    corners = torch.gather(attrs, 1, tri.reshape(batch, -1, 1).expand(-1, -1, channels))
    corners = corners.view(batch, -1, 3, channels)
    bary = fragments.bary.to(attrs.dtype).view(batch, -1, 3, 1)
    mask = fragments.mask.view(batch, -1, 1).to(attrs.dtype)
    out = (corners * bary).sum(2) * mask
    return out.view(batch, height, width, channels).permute(0, 3, 1, 2)
