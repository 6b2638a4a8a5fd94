"""Tests of the UV raster, the dense detail mesh, vertex normals and the topology cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pydeca.assets.template import load_template_mesh
from pydeca.geometry.dense_mesh import DenseMesh, build_dense_mesh, dense_vertices
from pydeca.geometry.normals import face_normals, vertex_normals
from pydeca.geometry.topology import Topology
from pydeca.geometry.uv_raster import rasterize_uv, world2uv


@pytest.fixture(scope="module")
def template(topology_dir: Path):
    return load_template_mesh(topology_dir / "head_template.obj")


@pytest.fixture(scope="module")
def topo(template) -> Topology:
    return Topology.from_template(template)


@pytest.fixture(scope="module")
def dense_ref(fixtures_dir: Path) -> dict[str, np.ndarray]:
    with np.load(fixtures_dir / "parity" / "dense_template.npz") as data:
        return {k: data[k] for k in data.files}


def _uv_float64(path: Path) -> np.ndarray:
    """The OBJ's `vt` lines at full (float64) precision."""
    rows = [line.split()[1:3] for line in path.read_text().splitlines() if line.startswith("vt ")]
    return np.array(rows, dtype=np.float64)


def test_normals_of_a_tetrahedron():
    verts = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]], dtype=torch.float64)
    faces = torch.tensor([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])  # outward
    fn = face_normals(verts, faces)
    assert torch.allclose(fn[0, 0], torch.tensor([0.0, 0, -1], dtype=torch.float64))
    assert torch.allclose(fn[0, 3], torch.full((3,), 3**-0.5, dtype=torch.float64))
    vn = vertex_normals(verts, faces)
    assert torch.allclose(vn[0, 0], torch.full((3,), -(3**-0.5), dtype=torch.float64))
    assert torch.allclose(vn.norm(dim=-1), torch.ones(1, 4, dtype=torch.float64))
    # batch elements are independent
    vn2 = vertex_normals(torch.cat([verts, 2 * verts]), faces)
    assert torch.allclose(vn2[1], vn[0])


def test_dense_mesh_of_a_flat_square():
    # a square split in two triangles, UV = xy, covering texel centres 2 … 13 (12²) of a 16² image
    uv = torch.tensor([[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])  # counter-clockwise in (u, v): normal +z
    verts = torch.cat([uv, torch.zeros(4, 1, dtype=torch.float64)], 1)
    raster = rasterize_uv(uv, faces, size=16)
    assert int(raster.mask.sum()) == 12 * 12
    mesh = build_dense_mesh(raster, faces, verts)
    assert mesh.faces.shape == (2 * 11 * 11, 3)
    ids = mesh.pixel_cols * 16 + mesh.pixel_rows
    assert torch.equal(ids, ids.sort().values)
    pts = dense_vertices(
        verts[None].float(), torch.tensor([[[0.0, 0, 1]]]).expand(1, 4, 3), torch.zeros(1, 16, 16), mesh
    )[0]
    assert torch.allclose(pts[:, 0], (mesh.pixel_cols + 0.5) / 16)
    assert torch.allclose(pts[:, 1], 1 - (mesh.pixel_rows + 0.5) / 16)
    fn = face_normals(pts[None], mesh.faces)[0]
    assert torch.allclose(fn, torch.tensor([0.0, 0, 1]).expand_as(fn), atol=1e-5)
    # displacement moves each dense vertex along the interpolated normal
    disp = torch.full((1, 16, 16), 0.25)
    moved = dense_vertices(verts[None].float(), torch.tensor([[[0.0, 0, 2]]]).expand(1, 4, 3), disp, mesh)
    assert torch.allclose(moved[0, :, 2], torch.full((144,), 0.25))


def test_uv_raster_matches_dense_template(topo, dense_ref, topology_dir, template):
    raster = topo.uv_raster
    assert raster.face_index.shape == (256, 256)
    assert raster.bary.dtype == torch.float32
    rows, cols = (raster.face_index >= 0).nonzero(as_tuple=True)
    ids = np.sort((cols * 256 + rows).numpy())
    assert len(ids) == 58515
    np.testing.assert_array_equal(ids, dense_ref["valid_pixel_ids"])
    ref_rows = dense_ref["valid_pixel_ids"] % 256
    ref_cols = dense_ref["valid_pixel_ids"] // 256
    fidx = raster.face_index[ref_rows, ref_cols].numpy()
    np.testing.assert_array_equal(template.faces[fidx], dense_ref["valid_pixel_3d_faces"])
    bary = raster.bary[ref_rows, ref_cols].double().numpy()
    # float32 UVs (TemplateMesh) move barycentrics of small UV triangles by up to ~4e-5
    np.testing.assert_allclose(bary, dense_ref["valid_pixel_b_coords"], atol=1e-4)
    # with the OBJ's full-precision UVs they match to float32 rounding
    exact = rasterize_uv(torch.from_numpy(_uv_float64(topology_dir / "head_template.obj")), template.uvfaces)
    assert torch.equal(exact.face_index, raster.face_index)
    bary64 = exact.bary[ref_rows, ref_cols].double().numpy()
    np.testing.assert_allclose(bary64, dense_ref["valid_pixel_b_coords"], atol=1e-6)


def test_dense_mesh_faces_match_dense_template(topo, dense_ref):
    dense = topo.dense
    assert dense.faces.shape == (115455, 3)
    assert dense.faces.dtype == torch.int64
    np.testing.assert_array_equal(
        (dense.pixel_cols * 256 + dense.pixel_rows).numpy(), dense_ref["valid_pixel_ids"]
    )
    # the same triangles, same winding, same order
    np.testing.assert_array_equal(dense.faces.numpy(), dense_ref["detail_faces"])


@pytest.mark.parametrize("example", ["examples__IMG_0392_inputs", "examples__alfw1"])
def test_dense_vertices_match_parity(topo, dense_ref, fixtures_dir, topology_dir, example):
    with np.load(fixtures_dir / "parity" / f"{example}.npz") as data:
        ref = {k: data[k] for k in ("verts", "normals", "uv_z", "detail_obj_verts")}
    fixed = np.load(topology_dir / "fixed_displacement_256.npy").astype(np.float32)
    disp = torch.from_numpy(ref["uv_z"] + fixed).double()[None]
    verts = torch.from_numpy(ref["verts"]).double()[None]
    normals = torch.from_numpy(ref["normals"]).double()[None]
    expected = torch.from_numpy(ref["detail_obj_verts"]).double()
    # the fixture's own template arrays
    ids = torch.from_numpy(dense_ref["valid_pixel_ids"].astype(np.int64))
    theirs = DenseMesh(
        pixel_rows=ids % 256,
        pixel_cols=ids // 256,
        vertex_faces=torch.from_numpy(dense_ref["valid_pixel_3d_faces"].astype(np.int64)),
        bary=torch.from_numpy(dense_ref["valid_pixel_b_coords"]),
        faces=torch.from_numpy(dense_ref["detail_faces"].astype(np.int64)),
    )
    out = dense_vertices(verts, normals, disp, theirs)
    assert out.shape == (1, 58515, 3)
    assert (out[0] - expected).abs().max() < 1e-6
    # ours (float32 UVs, float32 barycentrics)
    ours = dense_vertices(verts, normals, disp, topo.dense)
    assert (ours[0] - expected).abs().max() < 1e-6


def test_dense_normals_agree_with_coarse_normals(topo, template, topology_dir):
    verts = torch.from_numpy(template.verts).double()[None]
    faces = torch.from_numpy(template.faces)
    normals = vertex_normals(verts, faces)
    zero = torch.zeros(1, 256, 256, dtype=torch.float64)
    dense = dense_vertices(verts, normals, zero, topo.dense)
    dense_n = vertex_normals(dense, topo.dense.faces)[0]  # (N, 3)
    b = topo.dense.bary.double().unsqueeze(-1)
    coarse_n = (normals[0][topo.dense.vertex_faces] * b).sum(1)
    coarse_n = coarse_n / coarse_n.norm(dim=-1, keepdim=True)
    mask = np.asarray(Image.open(topology_dir / "uv_face_eye_mask.png"))[..., 0] > 127
    inside = torch.from_numpy(mask)[topo.dense.pixel_rows, topo.dense.pixel_cols]
    cos = (dense_n * coarse_n).sum(-1)[inside]
    assert inside.sum() > 20000
    assert cos.mean() > 0.98


def test_world2uv_is_the_dense_interpolation(topo, template):
    verts = torch.from_numpy(template.verts).double()[None]
    faces = torch.from_numpy(template.faces)
    uv = world2uv(torch.cat([verts, 2 * verts]), faces, topo.uv_raster)
    assert uv.shape == (2, 3, 256, 256)
    points = dense_vertices(
        verts, vertex_normals(verts, faces), torch.zeros(1, 256, 256, dtype=torch.float64), topo.dense
    )[0]
    at = uv[0, :, topo.dense.pixel_rows, topo.dense.pixel_cols].T
    assert torch.allclose(at, points, atol=1e-6)
    assert torch.allclose(uv[1], 2 * uv[0])
    assert (uv[:, :, ~topo.uv_raster.mask] == 0).all()


def test_topology_cache_round_trip(template, tmp_path, monkeypatch):
    first = Topology.from_template(template, uv_size=64, cache_dir=tmp_path)
    assert first.uv_size == 64
    files = list(tmp_path.glob("topology-*.npz"))
    assert len(files) == 1
    assert not list(tmp_path.glob("*.tmp"))

    def fail(*args, **kwargs):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(Topology, "_compute", classmethod(fail))
    second = Topology.from_template(template, uv_size=64, cache_dir=tmp_path)
    for a, b in (
        (first.faces, second.faces),
        (first.uvcoords, second.uvcoords),
        (first.uv_raster.face_index, second.uv_raster.face_index),
        (first.uv_raster.bary, second.uv_raster.bary),
        (first.dense.faces, second.dense.faces),
        (first.dense.bary, second.dense.bary),
        (first.dense.vertex_faces, second.dense.vertex_faces),
    ):
        assert torch.equal(a, b)
    # a corrupted cache is recomputed (with a warning)
    monkeypatch.undo()
    files[0].write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="unreadable"):
        third = Topology.from_template(template, uv_size=64, cache_dir=tmp_path)
    assert torch.equal(third.dense.faces, first.dense.faces)
    # a different UV size gets its own cache entry
    other = Topology.from_template(template, uv_size=32, cache_dir=tmp_path)
    assert other.uv_size == 32
    assert len(list(tmp_path.glob("topology-*.npz"))) == 2


def test_unwritable_topology_cache_warns_and_still_computes(template, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache dir cannot be created under a file")
    with pytest.warns(UserWarning, match="could not write the topology cache"):
        topo = Topology.from_template(template, uv_size=32, cache_dir=blocker / "cache")
    assert topo.uv_size == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_deca_caches_its_topology_in_the_default_cache_dir(demo_cache, tmp_path, monkeypatch):
    from pydeca.assets.bundle import load_assets
    from pydeca.model import DECA

    bundle = load_assets("demo", cache_dir=demo_cache)
    monkeypatch.setenv("PYDECA_CACHE", str(tmp_path))
    DECA(bundle)
    files = list(tmp_path.glob("topology-*.npz"))
    assert len(files) == 1
    monkeypatch.setattr(Topology, "_compute", classmethod(lambda *a, **k: pytest.fail("recomputed")))
    model = DECA(bundle)  # the second model reads the cache
    assert model.topology.dense.faces.shape[1] == 3
