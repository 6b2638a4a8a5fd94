"""Landmarks on the FLAME mesh: barycentric gathering and DECA's yaw-binned jaw contour.

Reference §1.2 (embedding file) and §2.4 (landmarks). A landmark sits on a triangle with fixed
barycentric weights, so it moves with the posed mesh; the same gathering interpolates any
per-vertex quantity (positions, normals, colours).
"""

from __future__ import annotations

import math

import torch

from pydeca.checks import check_shapes
from pydeca.errors import ShapeError
from pydeca.geometry.rotations import rotation_matrix_to_yaw

__all__ = ["MAX_YAW_DEGREES", "dynamic_contour_bins", "vertices_to_landmarks"]

MAX_YAW_DEGREES = 39
"""The dynamic contour table has bins for yaw 0…39° and −1…−39° (79 rows)."""


def vertices_to_landmarks(
    vertices: torch.Tensor, faces: torch.Tensor, lmk_faces: torch.Tensor, lmk_bary: torch.Tensor
) -> torch.Tensor:
    """Interpolate a per-vertex quantity at landmarks given by triangle ids and barycentrics.

    ``out[b, l] = Σ_k lmk_bary[b, l, k] · vertices[b, faces[lmk_faces[b, l], k]]``.

    Args:
        vertices: (B, V, C) any per-vertex quantity (positions in metres, normals, ...).
        faces: (F, 3) int64 vertex indices.
        lmk_faces: (L,) or (B, L) int64 triangle ids (shared by the batch or per sample).
        lmk_bary: (L, 3) or (B, L, 3) barycentric weights.

    Returns:
        (B, L, C) interpolated values, dtype of ``vertices``.

    Raises:
        ShapeError: if the shapes or batch sizes disagree.
    """
    if lmk_bary.dim() not in (2, 3):
        raise ShapeError(f"lmk_bary: expected (L, 3) or (B, L, 3), got {tuple(lmk_bary.shape)}")
    bary_spec = "L 3" if lmk_bary.dim() == 2 else "B L 3"
    if lmk_faces.dim() == 1:
        check_shapes(
            vertices=(vertices, "B V C"),
            faces=(faces, "F 3"),
            lmk_faces=(lmk_faces, "L"),
            lmk_bary=(lmk_bary, bary_spec),
        )
        corners = vertices[:, faces[lmk_faces]]  # (B, L, 3, C)
    elif lmk_faces.dim() == 2:
        check_shapes(
            vertices=(vertices, "B V C"),
            faces=(faces, "F 3"),
            lmk_faces=(lmk_faces, "B L"),
            lmk_bary=(lmk_bary, bary_spec),
        )
        batch_ids = torch.arange(vertices.shape[0], device=vertices.device)[:, None, None]
        corners = vertices[batch_ids, faces[lmk_faces]]  # (B, L, 3, C)
    else:
        raise ShapeError(f"lmk_faces: expected (L,) or (B, L), got {tuple(lmk_faces.shape)}")
    return (lmk_bary.to(vertices.dtype)[..., None] * corners).sum(dim=-2)


def dynamic_contour_bins(global_rot: torch.Tensor, neck_rot: torch.Tensor) -> torch.Tensor:
    """Row of the dynamic contour table for each sample, from the head's yaw (DECA's rule).

    Convention (reference §2.4): ``rel = R_global · R_neck`` (DECA builds both with its Rodrigues,
    :func:`~pydeca.geometry.axis_angle_to_matrix`);
    ``yaw = atan2(−rel[2, 0], sqrt(rel[0, 0]² + rel[1, 0]²))`` in degrees (DECA's **+yaw**);
    clamped above at 39; rounded half-to-even; bin = yaw for yaw ≥ 0, ``39 − yaw`` for
    −39 ≤ yaw < 0, 78 below −39.

    Args:
        global_rot: (B, 3, 3) rotation of the root joint.
        neck_rot: (B, 3, 3) local rotation of the neck joint.

    Returns:
        (B,) int64 bin indices in [0, 78].
    """
    check_shapes(global_rot=(global_rot, "B 3 3"), neck_rot=(neck_rot, "B 3 3"))
    yaw_deg = rotation_matrix_to_yaw(global_rot @ neck_rot) * (180.0 / math.pi)
    yaw = torch.round(yaw_deg.clamp(max=MAX_YAW_DEGREES)).long()
    negative = torch.where(yaw < -MAX_YAW_DEGREES, 2 * MAX_YAW_DEGREES, MAX_YAW_DEGREES - yaw)
    return torch.where(yaw < 0, negative, yaw)
