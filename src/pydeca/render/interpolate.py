"""Barycentric interpolation of vertex / face-corner attributes over rasterized fragments."""

from __future__ import annotations

import torch

from pydeca.errors import ShapeError
from pydeca.geometry.rasterize import Fragments

__all__ = ["interpolate_face_attributes", "interpolate_vertex_attributes"]


def interpolate_face_attributes(fragments: Fragments, face_attrs: torch.Tensor) -> torch.Tensor:
    """Interpolate per-face-corner attributes at every pixel.

    Args:
        fragments: output of :func:`pydeca.geometry.rasterize.rasterize` for B images of H × W.
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
    batch_ids, pixels, faces_hit, bary = _covered(fragments, face_attrs.dtype)
    flat = face_attrs.reshape(batch * face_attrs.shape[1], 3, channels)
    corners = flat[batch_ids * face_attrs.shape[1] + faces_hit]  # (N, 3, C), covered pixels only
    values = (corners * bary.unsqueeze(-1)).sum(1)
    return _scatter_image(values, batch_ids, pixels, (batch, channels, height, width))


def interpolate_vertex_attributes(
    fragments: Fragments, attrs: torch.Tensor, faces: torch.Tensor
) -> torch.Tensor:
    """Interpolate per-vertex attributes at every pixel.

    Args:
        fragments: output of :func:`pydeca.geometry.rasterize.rasterize` for B images of H × W.
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
    num_verts, channels = attrs.shape[1], attrs.shape[2]
    batch_ids, pixels, faces_hit, bary = _covered(fragments, attrs.dtype)
    flat_attrs = attrs.reshape(batch * num_verts, channels)
    corner_ids = (
        faces.reshape(-1, 3)[batch_ids * faces.shape[1] + faces_hit] + (batch_ids * num_verts)[:, None]
    )
    # Three gathers of (N, C) instead of one (N, 3, C) product: less memory on large images.
    values = flat_attrs[corner_ids[:, 0]] * bary[:, 0, None]
    for k in (1, 2):
        values = values + flat_attrs[corner_ids[:, k]] * bary[:, k, None]
    return _scatter_image(values, batch_ids, pixels, (batch, channels, height, width))


def _covered(
    fragments: Fragments, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Covered pixels: batch ids (N,), flat pixel ids (N,), their faces (N,), barycentrics (N, 3)."""
    batch = fragments.face_index.shape[0]
    flat_index = fragments.face_index.reshape(batch, -1)
    batch_ids, pixels = torch.nonzero(flat_index >= 0, as_tuple=True)
    bary = fragments.bary.reshape(batch, -1, 3)[batch_ids, pixels].to(dtype)
    return batch_ids, pixels, flat_index[batch_ids, pixels], bary


def _scatter_image(
    values: torch.Tensor, batch_ids: torch.Tensor, pixels: torch.Tensor, shape: tuple[int, int, int, int]
) -> torch.Tensor:
    """(N, C) values of covered pixels → (B, C, H, W) image with zeros elsewhere."""
    batch, channels, height, width = shape
    out = values.new_zeros(batch, height * width, channels)
    out = out.index_put((batch_ids, pixels), values)
    return out.view(batch, height, width, channels).permute(0, 3, 1, 2)
