"""The dense detail mesh: one vertex per covered UV texel, triangulated along the texel grid.

This regenerates DECA's missing dense template (``texture_data_256.npy``, reference §1.4, §2.14)
from the UV raster, and reproduces ``dense_template.npz`` of the parity fixtures exactly (same
vertices, same triangles in the same order and winding):

1. Vertices: the covered texels, ordered by id = col · R + row (column-major). Each carries the
   FLAME vertex ids of its covering face and the barycentrics of its centre.
2. Candidate triangles on the 4-neighbour grid, for every top-left texel (r, c):
   ``((r, c), (r+1, c), (r, c+1))`` and ``((r, c+1), (r+1, c), (r+1, c+1))``, kept when all three
   texels are covered; all first-kind triangles, then all second-kind ones, each ordered by the
   column-major id of (r, c).
3. Seam rule: on the template surface (``Σ b · template_verts[f]``), a candidate whose longest edge
   exceeds 4 × the median longest edge over all candidates bridges a UV seam (or a strongly
   stretched region) and is dropped (336 at R = 256).
4. Orientation: a triangle ``(i, j, k)`` becomes ``(i, k, j)`` when its template normal points
   against the (unnormalised) face normal of the 3D face covering its first texel i, so it faces
   outward like the coarse mesh (47 triangles at R = 256).

Dense vertex positions follow DECA's ``upsample_mesh``:
``Σ_k b_k · verts[f_k] + d · normalise(Σ_k b_k · normals[f_k])`` with d the displacement at the texel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pydeca.errors import ShapeError
from pydeca.geometry.uv_raster import UVRaster

__all__ = ["DenseMesh", "build_dense_mesh", "dense_vertices"]

_SEAM_FACTOR = 4.0
_EPS = 1e-6


@dataclass
class DenseMesh:
    """Dense detail mesh over the N covered texels of an R × R UV image (N = 58,515 at R = 256)."""

    pixel_rows: torch.Tensor
    """(N,) int64 texel row (row 0 = v = 1) of each dense vertex."""
    pixel_cols: torch.Tensor
    """(N,) int64 texel column of each dense vertex; vertices ordered by col · R + row."""
    vertex_faces: torch.Tensor
    """(N, 3) int64 FLAME vertex ids of the face covering each texel."""
    bary: torch.Tensor
    """(N, 3) float32 barycentric weights of the texel centre in that face."""
    faces: torch.Tensor
    """(M, 3) int64 triangles over the N dense vertices, outward like the coarse mesh."""

    def to(self, device: torch.device | str) -> DenseMesh:
        """Return a copy with every tensor on ``device``."""
        return DenseMesh(
            self.pixel_rows.to(device),
            self.pixel_cols.to(device),
            self.vertex_faces.to(device),
            self.bary.to(device),
            self.faces.to(device),
        )


def build_dense_mesh(
    raster: UVRaster, faces: torch.Tensor | np.ndarray, template_verts: torch.Tensor | np.ndarray
) -> DenseMesh:
    """Build the dense detail mesh from the UV raster (steps in the module docstring).

    Args:
        raster: the template's :class:`UVRaster` (R × R).
        faces: (F, 3) int64 3D vertex ids, corner-aligned with the raster's UV faces.
        template_verts: (V, 3) template vertex positions (any rigid placement; used for the seam
            rule and the orientation only).

    Returns:
        :class:`DenseMesh` on the CPU.

    Raises:
        ShapeError: if ``faces`` is not (F, 3) or ``template_verts`` not (V, 3).
    """
    faces_t = torch.as_tensor(faces).to(device="cpu", dtype=torch.int64)
    verts = torch.as_tensor(template_verts).cpu().to(torch.float64)  # CPU first: MPS has no float64
    if faces_t.ndim != 2 or faces_t.shape[1] != 3:
        raise ShapeError(f"build_dense_mesh: faces must be (F, 3), got {tuple(faces_t.shape)}")
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise ShapeError(f"build_dense_mesh: template_verts must be (V, 3), got {tuple(verts.shape)}")
    fidx = raster.face_index.cpu()
    size = fidx.shape[0]

    # 1. covered texels in column-major id order: nonzero over the transpose gives (col, row) sorted
    cols, rows = (fidx.T >= 0).nonzero(as_tuple=True)
    face_of = fidx[rows, cols]  # (N,)
    vertex_faces = faces_t[face_of]  # (N, 3)
    bary = raster.bary.cpu()[rows, cols].to(torch.float32)
    grid = torch.full((size, size), -1, dtype=torch.int64)
    grid[rows, cols] = torch.arange(rows.numel())

    # 2. grid candidates (K, 3): two triangles per top-left texel, all first-kind triangles then all
    #    second-kind ones, each in column-major order of the top-left texel (the fixture's order)
    a, b, c, e = grid[:-1, :-1].T, grid[1:, :-1].T, grid[:-1, 1:].T, grid[1:, 1:].T
    cand = torch.cat([torch.stack([a, b, c], -1).reshape(-1, 3), torch.stack([c, b, e], -1).reshape(-1, 3)])
    cand = cand[(cand >= 0).all(1)]

    # 3. seam rule on the template surface: longest edge vs 4 × median longest edge
    points = (bary.to(torch.float64).unsqueeze(-1) * verts[vertex_faces]).sum(1)  # (N, 3)
    tri = points[cand]  # (K, 3, 3)
    edges = torch.stack([tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 1], tri[:, 0] - tri[:, 2]], 1)
    longest = edges.norm(dim=-1).amax(1)
    threshold = _SEAM_FACTOR * float(np.median(longest.numpy()))
    keep = longest <= threshold
    cand, tri = cand[keep], tri[keep]

    # 4. orientation: against the coarse face normal of the first texel's 3D face
    tri_normal = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    fv = verts[vertex_faces[cand[:, 0]]]  # (K, 3, 3)
    coarse_normal = torch.linalg.cross(fv[:, 1] - fv[:, 0], fv[:, 2] - fv[:, 0])
    flip = (tri_normal * coarse_normal).sum(-1) < 0
    dense_faces = torch.where(flip.unsqueeze(-1), cand[:, [0, 2, 1]], cand)
    return DenseMesh(
        pixel_rows=rows, pixel_cols=cols, vertex_faces=vertex_faces, bary=bary, faces=dense_faces
    )


def dense_vertices(
    verts: torch.Tensor, normals: torch.Tensor, displacement: torch.Tensor, mesh: DenseMesh
) -> torch.Tensor:
    """Positions of the dense detail-mesh vertices (DECA's ``upsample_mesh``).

    Args:
        verts: (B, V, 3) coarse FLAME vertices, metres, world frame.
        normals: (B, V, 3) coarse vertex normals (world frame).
        displacement: (B, R, R) displacement along the normal, metres, UV image (row 0 = v = 1),
            e.g. ``uv_z + fixed_displacement``.
        mesh: the template's :class:`DenseMesh`.

    Returns:
        (B, N, 3) dense vertices, metres, world frame:
        ``Σ_k b_k · verts[f_k] + d · normalise(Σ_k b_k · normals[f_k])``.

    Raises:
        ShapeError: on inconsistent shapes.
    """
    if verts.ndim != 3 or verts.shape[-1] != 3 or normals.shape != verts.shape:
        raise ShapeError(
            f"dense_vertices: verts and normals must both be (B, V, 3), got {tuple(verts.shape)} "
            f"and {tuple(normals.shape)}"
        )
    if displacement.ndim != 3 or displacement.shape[0] != verts.shape[0]:
        raise ShapeError(
            f"dense_vertices: displacement must be (B={verts.shape[0]}, R, R), "
            f"got {tuple(displacement.shape)}"
        )
    device, dtype = verts.device, verts.dtype
    vf = mesh.vertex_faces.to(device)
    b = mesh.bary.to(device=device, dtype=dtype).unsqueeze(-1)  # (N, 3, 1)
    point = (verts[:, vf] * b).sum(2)  # (B, N, 3)
    normal = (normals[:, vf] * b).sum(2)
    normal = normal / normal.norm(dim=-1, keepdim=True).clamp(min=_EPS)
    d = displacement[:, mesh.pixel_rows.to(device), mesh.pixel_cols.to(device)].to(dtype)  # (B, N)
    return point + d.unsqueeze(-1) * normal
