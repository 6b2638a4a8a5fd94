"""DECA's UV grid: triangle count, band, and the slice-based detail normals."""

from __future__ import annotations

import torch

from pydeca.geometry.normals import vertex_normals
from pydeca.geometry.uv_grid import displacement_normals, grid_band, uv_grid_faces


def test_grid_matches_the_reference_band():
    faces = uv_grid_faces(256)
    assert faces.shape == (122_990, 3)  # 61,495 quads (x ∈ [2, 252], y ∈ [5, 249])
    assert grid_band(256) == (2, 252, 5, 249)
    # First quad at (y, x) = (5, 2): triangles (a, b, c) and (c, b, d), row-major ids.
    a = 5 * 256 + 2
    assert faces[0].tolist() == [a, a + 256, a + 1]
    assert faces[1].tolist() == [a + 1, a + 256, a + 257]


def test_slice_normals_equal_vertex_normals_over_the_grid():
    torch.manual_seed(0)
    size = 64
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    surface = torch.stack([xs, -ys, 0.1 * torch.sin(6 * xs) * torch.cos(4 * ys)])[None]
    normals = torch.zeros_like(surface)
    normals[:, 2] = 1.0
    displacement = 0.01 * torch.rand(1, 1, size, size)
    ours = displacement_normals(surface, normals, displacement)
    points = (surface + displacement * normals).permute(0, 2, 3, 1).reshape(1, -1, 3)
    reference = vertex_normals(points, uv_grid_faces(size)).reshape(1, size, size, 3).permute(0, 3, 1, 2)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)
    x0, x1, y0, y1 = grid_band(size)
    assert torch.all(ours[:, :, :y0, :] == 0)  # rows above the band are untouched
    assert torch.all(ours[:, 2, y0 + 1 : y1, x0 + 1 : x1] > 0.5)  # the surface faces +z


def test_uv_gather_equals_world2uv(topology_dir):
    from pydeca.assets.template import load_template_mesh
    from pydeca.geometry.uv_raster import UVGather, rasterize_uv, world2uv

    template = load_template_mesh(topology_dir / "head_template.obj")
    raster = rasterize_uv(torch.as_tensor(template.uvcoords), torch.as_tensor(template.uvfaces), 64)
    faces = torch.as_tensor(template.faces)
    attrs = torch.randn(2, len(template.verts), 5)
    expected = world2uv(attrs, faces, raster)
    torch.testing.assert_close(UVGather(faces, raster)(attrs), expected, atol=1e-6, rtol=0)
    assert float((expected != 0).any(dim=1).float().mean()) > 0.5
