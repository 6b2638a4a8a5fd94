"""Tests of the pure-PyTorch rasterizer and attribute interpolation (every available device)."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from pydeca.geometry.rasterize import rasterize
from pydeca.render.interpolate import interpolate_face_attributes, interpolate_vertex_attributes

# The module itself (``pydeca.render`` re-exports the function under the same name).
rz = importlib.import_module("pydeca.geometry.rasterize")


def px_to_ndc(
    points: list[tuple[float, float]], width: int, height: int, z: float = 0.0, device="cpu"
) -> torch.Tensor:
    """Pixel-edge coordinates (0 … W, 0 … H) to NDC vertices (1, N, 3) float64."""
    return torch.tensor(
        [[(2 * x / width - 1, 2 * y / height - 1, z) for x, y in points]], dtype=torch.float64, device=device
    )


def coverage_count(verts: torch.Tensor, faces: torch.Tensor, size, **kw) -> torch.Tensor:
    """How many faces cover each pixel when rasterized one by one: (H, W)."""
    total = None
    for i in range(faces.shape[0]):
        m = (rasterize(verts, faces[i : i + 1], size, **kw).face_index[0] >= 0).long()
        total = m if total is None else total + m
    return total


def grid_mesh(n: int, jitter: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """An (n+1)² vertex grid over NDC [−1, 1]² with jittered interior vertices, 2n² triangles."""
    g = torch.linspace(-1, 1, n + 1, dtype=torch.float64)
    yy, xx = torch.meshgrid(g, g, indexing="ij")
    v = torch.stack([xx, yy, torch.zeros_like(xx)], -1).reshape(-1, 3)
    inner = ((xx.abs() < 1) & (yy.abs() < 1)).reshape(-1)
    gen = torch.Generator().manual_seed(seed)
    v[inner, :2] += (torch.rand(int(inner.sum()), 2, generator=gen, dtype=torch.float64) - 0.5) * jitter
    idx = torch.arange((n + 1) ** 2).view(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = torch.cat([torch.stack([a, b, c], -1).reshape(-1, 3), torch.stack([b, d, c], -1).reshape(-1, 3)])
    return v.unsqueeze(0), faces


def test_single_triangle_hand_computed_pixels(device):
    # pixel-edge corners (0,0), (8,0), (0,4) on 8×8: centre (c+.5, r+.5) inside iff c + 2r ≤ 6
    verts = px_to_ndc([(0, 0), (8, 0), (0, 4)], 8, 8, device=device)
    frags = rasterize(verts, torch.tensor([[0, 1, 2]]), 8)
    assert frags.face_index.device.type == device.type
    got = {(r, c) for r, c in (frags.face_index[0] == 0).nonzero().tolist()}
    expected = {(r, c) for r in range(8) for c in range(8) if c + 2 * r <= 6}
    assert len(expected) == 16
    assert got == expected
    assert frags.face_index.shape == (1, 8, 8)
    assert frags.bary.shape == (1, 8, 8, 3)
    assert torch.isinf(frags.depth[0][frags.face_index[0] < 0]).all()
    # winding does not matter without culling
    flipped = rasterize(verts, torch.tensor([[0, 2, 1]]), 8)
    assert torch.equal(flipped.face_index >= 0, frags.face_index >= 0)


def test_quad_diagonal_through_pixel_centres_covers_each_pixel_once(device):
    verts = px_to_ndc([(0, 0), (8, 0), (0, 8), (8, 8)], 8, 8, device=device)
    ones = torch.ones(8, 8, dtype=torch.long, device=device)
    faces = torch.tensor([[0, 1, 3], [0, 3, 2]])  # the diagonal x = y passes through 8 centres
    assert torch.equal(coverage_count(verts, faces, 8), ones)
    faces2 = torch.tensor([[0, 1, 2], [1, 3, 2]])  # the other diagonal
    assert torch.equal(coverage_count(verts, faces2, 8), ones)
    full = rasterize(verts, faces, 8)
    assert (full.face_index >= 0).all()
    # inclusive: the diagonal pixels go to the smallest face index
    inc = rasterize(verts, faces, 8, edge_rule="inclusive")
    diag = torch.arange(8, device=device)
    assert (inc.face_index[0, diag, diag] == 0).all()
    assert (coverage_count(verts, faces, 8, edge_rule="inclusive")[diag, diag] == 2).all()


@pytest.mark.parametrize(("n", "jitter", "size"), [(4, 0.0, (16, 16)), (7, 0.1, (28, 35)), (6, 0.2, 17)])
def test_grid_of_triangles_covers_each_pixel_exactly_once(device, n, jitter, size):
    verts, faces = grid_mesh(n, jitter)
    verts = verts.to(device)
    count = coverage_count(verts, faces, size)
    assert count.min() == 1
    assert count.max() == 1


def test_fan_around_a_pixel_centre_covers_it_once(device):
    # 8 triangles around the centre of pixel (3, 3) of an 8×8 image, spokes through pixel centres
    c = (3.5, 3.5)
    ring = [(0.5, 0.5), (3.5, 0.5), (7.5, 0.5), (7.5, 3.5), (7.5, 7.5), (3.5, 7.5), (0.5, 7.5), (0.5, 3.5)]
    verts = px_to_ndc([c, *ring], 8, 8, device=device)
    faces = torch.tensor([[0, 1 + i, 1 + (i + 1) % 8] for i in range(8)])
    count = coverage_count(verts, faces, 8)
    assert count[3, 3] == 1
    assert count.max() == 1
    # the fan spans centres 0.5 … 7.5: which border pixels count is decided by the edge rule
    assert count[1:7, 1:7].min() == 1


@pytest.mark.parametrize(("height", "width"), [(8, 8), (6, 10), (224, 224)])
def test_quad_on_negative_quadrant_covers_first_half(device, height, width):
    verts = torch.tensor([[[-1.0, -1, 0], [0, -1, 0], [-1, 0, 0], [0, 0, 0]]], device=device)
    frags = rasterize(verts, torch.tensor([[0, 1, 3], [0, 3, 2]]), (height, width))
    mask = frags.face_index[0] >= 0
    expected = torch.zeros(height, width, dtype=torch.bool, device=device)
    expected[: height // 2, : width // 2] = True
    assert torch.equal(mask, expected)


@pytest.mark.parametrize("far_z", [0.25, -0.2, 3e4])
@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_nearest_depth_wins(device, order, far_z):
    tri = [(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0)]
    near = [(x, y, -0.5) for x, y in tri]
    far = [(x + 0.2, y + 0.2, far_z) for x, y in tri]
    groups = [far, near]
    pts = groups[order[0]] + groups[order[1]]
    verts = torch.tensor([pts], dtype=torch.float32, device=device)
    frags = rasterize(verts, torch.tensor([[0, 1, 2], [3, 4, 5]]), 16)
    near_id = order.index(1)
    far_only = (frags.face_index[0] == 1 - near_id).nonzero()
    both = (frags.face_index[0] == near_id).nonzero()
    assert len(both) > 0
    assert len(far_only) > 0
    assert torch.allclose(frags.depth[0][frags.face_index[0] == near_id], torch.tensor(-0.5, device=device))
    assert torch.allclose(
        frags.depth[0][frags.face_index[0] == 1 - near_id], torch.tensor(far_z, device=device)
    )
    # no pixel of the near triangle alone may show the far one
    alone = rasterize(verts, torch.tensor([[3 * near_id, 3 * near_id + 1, 3 * near_id + 2]]), 16)
    assert torch.equal(alone.face_index[0] >= 0, frags.face_index[0] == near_id)


def test_depth_is_linear_in_barycentrics(device):
    verts = torch.tensor([[[-1.0, -1, -2.0], [1, -1, 0.5], [-1, 1, 3.0]]], dtype=torch.float64, device=device)
    frags = rasterize(verts, torch.tensor([[0, 1, 2]]), 8)
    m = frags.face_index[0] >= 0
    expected = (frags.bary[0] * verts[0, :, 2]).sum(-1)
    assert torch.allclose(frags.depth[0][m], expected[m])
    assert torch.allclose(frags.bary[0][m].sum(-1), torch.ones((), dtype=torch.float64, device=device))
    assert (frags.bary[0][~m] == 0).all()


def test_degenerate_triangles_cover_nothing(device):
    verts = torch.tensor([[[-1.0, -1, 0], [1, 1, 0], [0, 0, 0], [0.5, -1, 0]]], device=device)
    faces = torch.tensor([[0, 1, 2], [0, 0, 3], [3, 3, 3]])
    frags = rasterize(verts, faces, 16, edge_rule="inclusive")
    assert (frags.face_index == -1).all()
    assert (rasterize(verts, faces, 16).face_index == -1).all()


def test_batch_matches_single_runs_and_per_sample_faces(device):
    va, faces = grid_mesh(5, 0.15, seed=1)
    vb, _ = grid_mesh(5, 0.15, seed=2)
    vb = vb * 0.7
    vb[..., 2] = torch.linspace(-1, 1, vb.shape[1], dtype=torch.float64)
    va, vb, faces = va.to(device), vb.to(device), faces.to(device)
    batch = rasterize(torch.cat([va, vb]), faces, (20, 24))
    for i, v in enumerate((va, vb)):
        single = rasterize(v, faces, (20, 24))
        assert torch.equal(batch.face_index[i], single.face_index[0])
        assert torch.allclose(batch.bary[i], single.bary[0])
        assert torch.equal(batch.depth[i], single.depth[0])
    # per-sample faces: sample 1 with its faces reversed in order gives remapped ids
    perm = torch.arange(faces.shape[0] - 1, -1, -1, device=device)
    per = rasterize(torch.cat([va, vb]), torch.stack([faces, faces[perm]]), (20, 24))
    assert torch.equal(per.face_index[0], batch.face_index[0])
    m = per.face_index[1] >= 0
    assert torch.equal(perm[per.face_index[1][m]], batch.face_index[1][m])


def test_chunking_does_not_change_the_result(device):
    verts, faces = grid_mesh(9, 0.15, seed=3)
    verts = verts.to(device)
    a = rasterize(verts, faces, 40)
    b = rasterize(verts, faces, 40, max_candidates=700)
    assert torch.equal(a.face_index, b.face_index)
    assert torch.equal(a.bary, b.bary)


def test_backface_culling(device):
    # counter-clockwise in a y-up frame = front facing (seen from the camera at −z)
    verts = torch.tensor([[[-1.0, 1, 0], [1, 1, 0], [-1, -1, 0]]], device=device)
    front = torch.tensor([[0, 1, 2]])
    back = torch.tensor([[0, 2, 1]])
    assert (rasterize(verts, front, 8, cull_backfaces=True).face_index >= 0).sum() > 0
    assert (rasterize(verts, back, 8, cull_backfaces=True).face_index >= 0).sum() == 0


def test_barycentrics_are_differentiable(device):
    verts = torch.tensor(
        [[[-0.9, -0.8, 0.1], [0.85, -0.6, 0.4], [-0.5, 0.9, -0.3]]],
        dtype=torch.float64,
        device=device,
        requires_grad=True,
    )
    faces = torch.tensor([[0, 1, 2]])
    gen = torch.Generator().manual_seed(0)
    weight = torch.rand(1, 12, 12, 3, generator=gen, dtype=torch.float64).to(device)
    dweight = torch.rand(1, 12, 12, generator=gen, dtype=torch.float64).to(device)

    def loss(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = rasterize(v, faces, 12)
        m = f.face_index >= 0
        return (f.bary * weight).sum() + (torch.where(m, f.depth, 0) * dweight).sum(), f.face_index

    value, fidx = loss(verts)
    (grad,) = torch.autograd.grad(value, verts)
    assert torch.isfinite(grad).all()
    assert grad.abs().sum() > 0
    eps = 1e-6
    numeric = torch.zeros_like(grad)
    with torch.no_grad():
        for i in range(3):
            for j in range(3):
                d = torch.zeros_like(verts)
                d[0, i, j] = eps
                lp, fp = loss(verts + d)
                lm, fm = loss(verts - d)
                assert torch.equal(fp, fidx)
                assert torch.equal(fm, fidx)
                numeric[0, i, j] = (lp - lm) / (2 * eps)
    assert torch.allclose(grad, numeric, atol=1e-5, rtol=1e-5)


def test_interpolation_reproduces_linear_functions(device):
    verts, faces = grid_mesh(6, 0.2, seed=4)
    verts, faces = verts.to(device), faces.to(device)
    height, width = 18, 26
    frags = rasterize(verts, faces, (height, width))
    xy = verts[..., :2]
    attrs = torch.stack([0.3 * xy[..., 0] - 2.0 * xy[..., 1] + 0.5, xy[..., 0] * 0 + 7.0], -1)  # (1, V, 2)
    image = interpolate_vertex_attributes(frags, attrs, faces)
    assert image.shape == (1, 2, height, width)
    xs = (2 * torch.arange(width, dtype=torch.float64, device=device) + 1) / width - 1
    ys = (2 * torch.arange(height, dtype=torch.float64, device=device) + 1) / height - 1
    expected = 0.3 * xs.view(1, -1) - 2.0 * ys.view(-1, 1) + 0.5
    assert torch.allclose(image[0, 0], expected, atol=1e-12)
    assert torch.allclose(image[0, 1], torch.full_like(expected, 7.0))
    face_attrs = attrs[:, faces]  # (1, F, 3, 2)
    assert torch.allclose(interpolate_face_attributes(frags, face_attrs), image)


def test_interpolation_zero_on_background(device):
    verts = torch.tensor([[[-1.0, -1, 0], [0, -1, 0], [-1, 0, 0]]], device=device)
    faces = torch.tensor([[0, 1, 2]])
    frags = rasterize(verts, faces, 8)
    image = interpolate_vertex_attributes(frags, torch.ones(1, 3, 4, device=device), faces)
    assert torch.equal(image[0, 0] != 0, frags.face_index[0] >= 0)
    assert image.sum() == 4 * (frags.face_index >= 0).sum()


def _naive():
    """The per-face-loop baseline of ``benchmarks/naive_rasterizer.py`` (not part of the package)."""
    import importlib.util

    from paths import BENCHMARKS

    path = BENCHMARKS / "naive_rasterizer.py"
    spec = importlib.util.spec_from_file_location("naive_rasterizer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.naive_rasterize


def random_soup(n_faces: int, seed: int, spread: float = 1.2) -> tuple[torch.Tensor, torch.Tensor]:
    """Random overlapping triangles (1, 3·n, 3) float64 of mixed sizes, some partly off-image."""
    gen = torch.Generator().manual_seed(seed)
    centre = (torch.rand(n_faces, 1, 3, generator=gen, dtype=torch.float64) * 2 - 1) * spread
    size = torch.rand(n_faces, 1, 1, generator=gen, dtype=torch.float64) ** 3 * 0.8 + 0.01
    offset = (torch.rand(n_faces, 3, 3, generator=gen, dtype=torch.float64) * 2 - 1) * size
    verts = (centre + offset).reshape(1, -1, 3)
    return verts, torch.arange(3 * n_faces).view(n_faces, 3)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_and_tile_paths_agree(monkeypatch, device, dtype, seed):
    verts, faces = random_soup(300, seed)
    verts[0, :30] = verts[0, :30] * torch.tensor([1.0, 0.02, 1.0], dtype=torch.float64)  # slivers
    verts = verts.to(device=device, dtype=dtype)
    size = (61, 90)
    ref = rasterize(verts, faces, size)
    inc = rasterize(verts, faces, size, edge_rule="inclusive")
    assert ref.mask.sum() > 1000
    # everything through 1×1 windows or 2×2 tiles, and everything through windows (no tiles)
    for windows in ((1,), (1, 2), (2, 4), (1, 3), (1, 2, 4, 8, 16, 32, 64, 128)):
        monkeypatch.setattr(rz, "_WINDOWS", windows)
        monkeypatch.setattr(rz, "_TILE", windows[-1])
        got = rasterize(verts, faces, size, max_candidates=4000)
        assert torch.equal(got.face_index, ref.face_index), windows
        assert torch.equal(got.bary, ref.bary)
        got_inc = rasterize(verts, faces, size, edge_rule="inclusive")
        assert torch.equal(got_inc.face_index, inc.face_index), windows


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_tile_culling_keeps_every_pixel_of_long_slivers(monkeypatch, device, dtype):
    # long thin diagonal triangles: their boxes are mostly empty, so many 2×2 tiles are dropped
    t = torch.linspace(-0.95, 0.9, 12, dtype=torch.float64).tolist()
    v = [(x, -0.95, 0.0) for x in t] + [(0.95, y, 0.0) for y in t] + [(x + 0.05, -0.9, 0.0) for x in t]
    verts = torch.tensor([v], dtype=dtype, device=device)
    faces = torch.tensor([[i, 12 + i, 24 + i] for i in range(12)])
    monkeypatch.setattr(rz, "_WINDOWS", (1, 2))
    monkeypatch.setattr(rz, "_TILE", 2)
    kept = count_tiles(monkeypatch)
    got = rasterize(verts, faces, 64)
    keep_all_tiles(monkeypatch)
    ref = rasterize(verts, faces, 64)
    assert ref.mask.sum() > 100
    assert torch.equal(got.face_index, ref.face_index)
    assert torch.equal(got.bary, ref.bary)
    assert kept[0] < 0.7 * kept[1]  # the rejection did drop a third of the tiles


def keep_all_tiles(monkeypatch) -> None:
    """Switch the conservative tile rejection off (zero edge extents: every bound is 0 ≥ −0)."""
    tiles = rz._tiles

    def keep_all(fb, box, setup):
        zero = torch.zeros_like(setup.dx)
        return tiles(fb, box, setup._replace(dx=zero, dy=zero))

    monkeypatch.setattr(rz, "_tiles", keep_all)


def count_tiles(monkeypatch) -> list[int]:
    """Count tiles kept by the rejection (``[kept, cut]``, summed over calls) from now on."""
    tiles, counts = rz._tiles, [0, 0]

    def counting(fb, box, setup):
        out = tiles(fb, box, setup)
        counts[0] += out.face.numel()
        zero = torch.zeros_like(setup.dx)
        counts[1] += tiles(fb, box, setup._replace(dx=zero, dy=zero)).face.numel()
        return out

    monkeypatch.setattr(rz, "_tiles", counting)
    return counts


class Float64Spy(TorchDispatchMode):
    """Records every aten op that produces a float64 tensor (MPS has no float64)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        leaves = out if isinstance(out, (tuple, list)) else (out,)
        if any(isinstance(t, torch.Tensor) and t.dtype == torch.float64 for t in leaves):
            self.ops.add(str(func))
        return out


def test_float32_rasterization_never_makes_float64(device):
    verts, faces = random_soup(200, seed=7)
    verts = verts.to(device=device, dtype=torch.float32)
    spy = Float64Spy()
    with spy:
        frags = rasterize(verts, faces, (300, 200))  # large boxes: the tile path runs
    assert frags.mask.sum() > 10_000
    assert spy.ops == set()


@pytest.fixture(scope="module")
def flame_head(reference_model, shared) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, 5023, 3) crop-NDC vertices of a parity head and the (F, 3) FLAME faces."""
    import numpy as np

    from pydeca.nets import Codes

    with np.load(shared / "fixtures" / "parity" / "examples__IMG_0392_inputs.npz") as ref:
        keys = ("shape", "tex", "exp", "pose", "cam", "light", "detail")
        codes = Codes(**{k: torch.from_numpy(ref[f"code_{k}"])[None] for k in keys})
    with torch.inference_mode():
        trans_verts = reference_model.decode(codes, use_detail=False).trans_verts
    return trans_verts, reference_model.faces


@pytest.mark.parametrize("size", [224, 1024, pytest.param((3000, 4000), marks=pytest.mark.slow)])
def test_float32_tile_rejection_is_exact_on_the_flame_head(monkeypatch, device, flame_head, size):
    # The float32 rejection keeps every tile with a covered pixel: the result equals the one without
    # rejection bit for bit (checked against the former float64 rejection too: identical face_index,
    # bary and depth at 224², 1024² and 4000 × 3000 on the three parity heads).
    verts, faces = (t.to(device) for t in flame_head)
    kept = count_tiles(monkeypatch)
    spy = Float64Spy()
    with spy:
        got = rasterize(verts, faces, size)
    assert spy.ops == set()
    keep_all_tiles(monkeypatch)
    ref = rasterize(verts, faces, size)
    assert torch.equal(got.face_index, ref.face_index)
    assert torch.equal(got.bary, ref.bary)
    assert torch.equal(got.depth, ref.depth)
    assert 0 < kept[0] < kept[1]  # tiles were cut and some rejected


def test_matches_naive_per_face_loop_on_random_mesh(device):
    naive_rasterize = _naive()
    verts, faces = random_soup(150, seed=5, spread=0.8)
    height, width = 48, 64
    ours = rasterize(verts.to(device), faces, (height, width), edge_rule="inclusive")
    ours = type(ours)(ours.face_index.cpu(), ours.bary.cpu(), ours.depth.cpu())
    index, zbuf = naive_rasterize(verts[0], faces, height, width)
    covered = index >= 0
    assert torch.equal(ours.face_index[0] >= 0, covered)
    differ = ours.face_index[0] != index
    # different faces only where the two depths tie (to rounding)
    assert differ.sum() <= 3
    assert torch.allclose(ours.depth[0][differ], zbuf[differ], atol=1e-12)
    assert torch.allclose(ours.depth[0][covered], zbuf[covered], atol=1e-12)
