"""Decode and renders against the reference outputs of the original DECA (fixtures README §4).

The references were made with the synthetic FLAME pickle, DECA's public topology files and the
deterministic test checkpoint — exactly what the ``reference_model`` fixture loads.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from paths import PARITY_NAMES
from pydeca.geometry.dense_mesh import dense_vertices
from pydeca.nets import Codes
from pydeca.render.renderer import MeshRenderer, extract_texture
from pydeca.render.shading import sh_shading


def to_u8(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """The fixtures' uint8 rule: rint(clip(x, 0, 1) · 255)."""
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.int64)


def codes_of(ref: dict) -> Codes:
    t = {
        k: torch.from_numpy(np.asarray(ref[f"code_{k}"], np.float32))[None]
        for k in ("shape", "tex", "exp", "pose", "cam", "light", "detail")
    }
    return Codes(**t)


@pytest.fixture(scope="module")
def decoded(reference_model, parity):
    with torch.inference_mode():
        rec = reference_model.decode(codes_of(parity))
    return rec, parity


@pytest.fixture(scope="module")
def renderer(reference_model) -> MeshRenderer:
    topo = reference_model.topology
    return MeshRenderer(topo.faces, topo.uvcoords, topo.uvfaces)


def test_geometry_matches_reference(decoded):
    rec, ref = decoded
    np.testing.assert_allclose(rec.vertices[0].numpy(), ref["verts"], atol=1e-5)
    np.testing.assert_allclose(rec.normals[0].numpy(), ref["normals"], atol=1e-4)
    np.testing.assert_allclose(rec.trans_verts[0].numpy(), ref["trans_verts"], atol=1e-4)
    np.testing.assert_allclose(rec.landmarks2d[0].numpy(), ref["landmarks2d"], atol=1e-4)
    np.testing.assert_allclose(rec.landmarks3d_world[0].numpy(), ref["landmarks3d_world"], atol=1e-5)
    np.testing.assert_allclose(rec.landmarks3d[0, :, :3].numpy(), ref["landmarks3d"][:, :3], atol=1e-4)
    np.testing.assert_array_equal(rec.landmarks3d[0, :, 3].numpy(), ref["landmarks3d"][:, 3])


def test_detail_maps_match_reference(decoded, reference_model):
    rec, ref = decoded
    # pydeca's displacement map is uv_z + the fixed displacement (DECA's displacement_map).
    np.testing.assert_allclose(rec.detail.uv_z[0, 0].numpy(), ref["uv_z"], atol=1e-6)
    fixed = reference_model.fixed_displacement[0, 0].numpy()
    np.testing.assert_allclose(rec.detail.displacement_map[0, 0].numpy(), ref["uv_z"] + fixed, atol=1e-6)
    ours, theirs = rec.detail.uv_detail_normals[0].numpy(), ref["uv_detail_normals"]
    mask = reference_model.uv_face_eye_mask[0, 0].numpy() > 0.999
    norm = np.linalg.norm(theirs, axis=0)
    # Texels outside the UV islands get (near-)zero normals in both; compare directions elsewhere.
    real = mask & (norm > 1e-3)
    cosine = (ours * theirs).sum(0)[real] / (np.linalg.norm(ours, axis=0)[real] * norm[real])
    assert cosine.mean() > 0.999
    assert cosine.min() > 0.99
    np.testing.assert_allclose(ours[:, mask & ~real], theirs[:, mask & ~real], atol=1e-3)


def test_detail_mesh_matches_reference(decoded, reference_model, shared):
    """pydeca's own dense mesh = the reference template texel by texel; vertices within 1e-6 m."""
    rec, ref = decoded
    dense = reference_model.topology.dense
    with np.load(shared / "fixtures" / "parity" / "dense_template.npz") as tpl:
        ids = tpl["valid_pixel_ids"].astype(np.int64)
        detail_faces = tpl["detail_faces"].astype(np.int64)
    np.testing.assert_array_equal(np.asarray(dense.pixel_cols) * 256 + np.asarray(dense.pixel_rows), ids)
    np.testing.assert_array_equal(np.asarray(dense.faces), detail_faces)
    with torch.inference_mode():
        verts = dense_vertices(rec.vertices, rec.normals, rec.detail.displacement_map[:, 0], dense)
    np.testing.assert_allclose(verts[0].numpy(), ref["detail_obj_verts"], atol=1e-6)


def _agree(ours: np.ndarray, ref: np.ndarray, fraction: float, tol: int = 1) -> None:
    ok = np.abs(ours - ref.astype(np.int64)) <= tol
    if ok.ndim == 3:
        ok = ok.all(axis=0)
    assert ok.mean() >= fraction, f"{ok.mean():.4f} of pixels agree within ±{tol}, need {fraction}"


def silhouette(alpha: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels within 1 px of the coverage boundary (their 3 × 3 window holds both values).

    Outside the image counts as background, so covered pixels on the image border are included.
    """
    padded = np.pad(alpha.astype(bool), 1)
    height, width = alpha.shape
    windows = np.stack([padded[r : r + height, c : c + width] for r in range(3) for c in range(3)])
    return windows.any(0) & ~windows.all(0)


# --- the reference's rasterizer (reference §4.1, pixel centres as fixtures README §4.2.1), emulated
# in float32 only where the parity test needs to explain a pixel, to name the reference's own bugs.


def reference_pixels(trans_verts: np.ndarray, size: int) -> np.ndarray:
    """(V, 2) float32 vertex positions in the reference raster's units (pixel centres at integers)."""
    half = np.float32(size / 2)
    return trans_verts[:, :2].astype(np.float32) * half + half - np.float32(0.5)


def _reference_dots(corners: np.ndarray, point: np.ndarray | None = None):
    """The C++ kernel's float32 dot products for (N, 3, 2) corners (v0 = p2 − p0, v1 = p1 − p0)."""
    v0, v1 = corners[:, 2] - corners[:, 0], corners[:, 1] - corners[:, 0]
    d00, d01, d11 = (v0 * v0).sum(-1), (v0 * v1).sum(-1), (v1 * v1).sum(-1)
    if point is None:
        return d00, d01, d11
    v2 = point - corners[:, 0]
    return d00, d01, d11, (v0 * v2).sum(-1), (v1 * v2).sum(-1)


def reference_degenerate_faces(pixels: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Faces whose determinant ``d00·d11 − d01²`` vanishes to float32 precision in the reference.

    The C++ kernel takes the inverse of a zero determinant as 0, so such a face gets the weights
    (1, 0, 0) at every pixel of its bounding box and covers the whole box with its corner-0 values
    (reference §4.2.3). The references kept this bug.
    """
    d00, d01, d11 = _reference_dots(pixels[faces])
    return np.nonzero(np.abs(d00 * d11 - d01 * d01) <= 8 * np.finfo(np.float32).eps * d00 * d11)[0]


def reference_box(pixels: np.ndarray, face: np.ndarray, size: int) -> tuple[slice, slice]:
    """(rows, cols) of the reference's pixel bounding box of one face (corners (3,) vertex ids)."""
    p = pixels[face]
    lo, hi = np.clip(np.ceil(p.min(0)), 0, size - 1), np.clip(np.floor(p.max(0)), 0, size - 1)
    return slice(int(lo[1]), int(hi[1]) + 1), slice(int(lo[0]), int(hi[0]) + 1)


def reference_inside(pixels: np.ndarray, faces: np.ndarray, col: int, row: int) -> np.ndarray:
    """(N,) bool: the reference's inside test (w0 > 0, w1 ≥ 0, w2 ≥ 0, float32) of pixel (col, row)."""
    point = np.array([col, row], np.float32)
    d00, d01, d11, d02, d12 = _reference_dots(pixels[faces], point)
    den = d00 * d11 - d01 * d01
    inverse = np.where(den == 0, np.float32(0), np.float32(1) / np.where(den == 0, np.float32(1), den))
    u, v = (d11 * d02 - d01 * d12) * inverse, (d00 * d12 - d01 * d02) * inverse
    return (np.float32(1) - u - v > 0) & (v >= 0) & (u >= 0)


def reference_crack(
    pixels: np.ndarray, faces: np.ndarray, face: int, bary: np.ndarray, *, col: int, row: int
) -> bool:
    """Whether the reference leaves a hole at a pixel pydeca gives to ``face``.

    True when the pixel centre lies on an edge of ``face`` (a barycentric is 0 to float32 precision),
    the edge is shared with a second face, and the reference's float32 inside test rejects the pixel
    for both (reference §4.2.4: no consistent edge rule); pydeca's watertight edge functions give it
    to exactly one of them.
    """
    k = int(np.argmin(np.abs(bary)))
    if abs(bary[k]) > 1e-5:
        return False
    a, b = np.delete(faces[face], k)
    sharing = np.nonzero((faces == a).any(1) & (faces == b).any(1))[0]
    return len(sharing) == 2 and not reference_inside(pixels, faces[sharing], col, row).any()


KNOWN_REFERENCE_BUGS = {  # name: (degenerate faces with differing pixels in their box, crack pixels)
    "examples__IMG_0392_inputs": ({8421}, set()),
    "examples__alfw1": (set(), set()),
    "examples__id04657-PPHljWCZ53c-000565_inputs_inputs": (set(), {(90, 123)}),
}


def test_renders_match_reference(decoded, renderer):
    rec, ref = decoded
    with torch.inference_mode():
        fragments = renderer.rasterize(rec.trans_verts, 224)
        shape = renderer.render_shape(rec.vertices, rec.trans_verts, fragments=fragments)
        detail = renderer.render_shape(
            rec.vertices, rec.trans_verts, uv_detail_normals=rec.detail.uv_detail_normals, fragments=fragments
        )
        depth = renderer.render_depth(rec.trans_verts, fragments=fragments)
        albedo = torch.from_numpy(ref["albedo"].astype(np.float32) / 255.0)[None]
        rendered, alpha = renderer.render_texture(rec.trans_verts, albedo, fragments=fragments)
    # Coverage: the reference's C++ edge rule (w0 > 0, w1, w2 >= 0) and pydeca's top-left rule may
    # assign a pixel centre lying exactly on a silhouette edge differently; nothing else may differ.
    coverage = alpha[0, 0].numpy().astype(np.int64)
    edge = silhouette(coverage) | silhouette(ref["alpha_images"])
    assert (coverage != ref["alpha_images"]).sum() <= 10
    assert not ((coverage != ref["alpha_images"]) & ~edge).any()
    ours_depth = to_u8(depth[0, 0])
    panels = {  # name: (pydeca, reference, tolerance in 1/255: the uint8 rounding, or the 8-bit albedo)
        "shape_images": (to_u8(shape.images[0, 0]), ref["shape_images"], 1),
        "shape_detail_images": (to_u8(detail.images[0, 0]), ref["shape_detail_images"], 1),
        "depth_images": (ours_depth, ref["depth_images"], 1),
        "rendered_images": (to_u8(rendered[0]), ref["rendered_images"], 4),
    }
    _agree(*panels["shape_images"][:2], 0.999)
    _agree(*panels["shape_detail_images"][:2], 0.999)
    _agree(*panels["depth_images"][:2], 0.999)
    # Fed the stored (8-bit) albedo, so ±4/255 as the issue allows.
    _agree(*panels["rendered_images"][:2], 0.99, tol=4)

    # Every other difference must be on the silhouette or one of the reference's two named bugs, which
    # pydeca does not have on purpose:
    # 1. degenerate faces (§4.2.3): a face whose float32 determinant vanishes in the reference's
    #    projection paints its whole bounding box with its corner-0 values (IMG_0392: face 8421,
    #    determinant exactly 0, a 10 × 4 box under the chin); pydeca's degenerate faces cover nothing.
    # 2. cracks (§4.2.4): a pixel centre on an interior edge that the reference's float32 inside test
    #    rejects for both adjacent faces, so the reference sees the surface behind (id04657: pixel
    #    (row 90, col 123) between faces 1213 and 6284); pydeca is watertight.
    size = coverage.shape[0]
    faces = renderer.faces.numpy()
    pixels = reference_pixels(ref["trans_verts"], size)
    boxes = {int(f): reference_box(pixels, faces[f], size) for f in reference_degenerate_faces(pixels, faces)}
    in_box = np.zeros_like(edge)
    for rows, cols in boxes.values():
        in_box[rows, cols] = True
    face_index, bary = fragments.face_index[0].numpy(), fragments.bary[0].numpy()
    seen_faces, seen_cracks = set(), set()
    for name, (ours, theirs, tol) in panels.items():
        differ = np.abs(ours - theirs.astype(np.int64)) > tol
        differ = differ.any(0) if differ.ndim == 3 else differ
        interior = differ & ~edge
        assert interior.sum() <= 20, f"{name}: {interior.sum()} interior pixels differ"
        theirs_hwc = theirs.reshape(-1, size, size).transpose(1, 2, 0)
        for face, (rows, cols) in boxes.items():  # bug 1 shows one flat value (corner-0 attributes)
            flat = theirs_hwc[rows, cols][interior[rows, cols]]
            assert len(np.unique(flat, axis=0)) <= 1, f"{name}: degenerate-face box is not flat"
            seen_faces |= {face} if len(flat) else set()
        unexplained = []
        for row, col in zip(*np.nonzero(interior & ~in_box), strict=True):
            crack = face_index[row, col] >= 0 and reference_crack(
                pixels, faces, face_index[row, col], bary[row, col], col=col, row=row
            )
            # through the crack the reference sees a farther surface (or nothing): less near
            if not (crack and ref["depth_images"][row, col] < ours_depth[row, col]):
                unexplained.append((int(row), int(col)))
            seen_cracks.add((int(row), int(col)))
        assert not unexplained, f"{name}: interior pixels differ without a named reference bug: {unexplained}"
    assert (seen_faces, seen_cracks) == KNOWN_REFERENCE_BUGS[ref["name"]]


def test_texture_extraction_matches_reference(decoded, reference_model):
    rec, ref = decoded
    image = torch.from_numpy(ref["image224"])[None]
    with torch.inference_mode():
        uv_positions = reference_model.world2uv(rec.trans_verts)
        albedo = torch.from_numpy(ref["albedo"].astype(np.float32) / 255.0)[None]
        fill = albedo * sh_shading(rec.detail.uv_detail_normals, rec.codes.light)
        texture = extract_texture(image, uv_positions, fill, reference_model.uv_face_eye_mask)
    ours = to_u8(texture[0])
    mask = reference_model.uv_face_eye_mask[0, 0].numpy() > 0.999
    inside = np.abs(ours - ref["uv_texture_gt"].astype(np.int64)).max(axis=0)[mask]
    assert (inside <= 1).mean() > 0.999
    assert np.abs(ours - ref["uv_texture_gt"]).mean() < 2 / 255 * 255


@pytest.fixture(scope="module")
def bfm_model(reference_bundle, bfm_albedo_path, tmp_path_factory):
    """DECA with the BFM-format albedo of the references: albedo and texture end to end."""
    from dataclasses import replace

    from pydeca.assets.albedo import load_albedo_basis
    from pydeca.model import DECA

    bundle = replace(reference_bundle, albedo=load_albedo_basis(bfm_albedo_path))
    return DECA(bundle, cache_dir=tmp_path_factory.mktemp("topology"))


def test_albedo_and_texture_end_to_end(bfm_model, parity, renderer):
    ref = parity
    image = torch.from_numpy(ref["image224"])[None]
    with torch.inference_mode():
        rec = bfm_model.decode(codes_of(ref))
        texture = extract_texture(
            image,
            bfm_model.world2uv(rec.trans_verts),
            rec.model_texture.uv_texture,
            bfm_model.uv_face_eye_mask,
        )
        rendered, _ = renderer.render_texture(rec.trans_verts, rec.model_texture.albedo)
    for ours, key in ((rec.model_texture.albedo[0], "albedo"), (texture[0], "uv_texture_gt")):
        diff = np.abs(to_u8(ours) - ref[key].astype(np.int64))
        assert diff.mean() < 2 / 255 * 255, key
        assert (diff <= 1).mean() > 0.999, key
    _agree(to_u8(rendered[0]), ref["rendered_images"], 0.99, tol=4)


def sh_lipschitz(light: torch.Tensor) -> torch.Tensor:
    """(B, 3, 1, 1) bound L on |Δ shading| / |Δ normal| of :func:`sh_shading` for normals of norm ≤ 1.01.

    The gradient norms of DECA's SH basis [1, x, y, z, xy, xz, yz, x² − y², 3z² − 1] are at most
    [0, 1, 1, 1, |n|, |n|, |n|, 2|n|, 6|n|]; L_c = Σ_k |light_kc| · c_k · that.
    """
    from pydeca.render.shading import SH_CONSTANTS

    grad = torch.tensor([0.0, 1, 1, 1, 1.01, 1.01, 1.01, 2.02, 6.06]) * torch.tensor(SH_CONSTANTS)
    return (light.abs() * grad[None, :, None]).sum(1)[:, :, None, None]


def test_batch_decode_equals_single(bfm_model, shared):
    """Every field of ``decode`` (albedo model, images, detail) for a batch of 3 = 3 single calls.

    Batched BLAS and convolutions block their sums differently from single calls, so values may
    differ in their last bits; each tolerance below is that rounding carried through the computation.
    """
    from dataclasses import fields

    refs = [np.load(shared / "fixtures" / "parity" / f"{name}.npz") for name in PARITY_NAMES]
    codes = Codes.cat([codes_of(r) for r in refs])
    images = torch.cat([torch.from_numpy(r["image224"])[None] for r in refs])
    with torch.inference_mode():
        batch = bfm_model.decode(codes, images=images)
        singles = [bfm_model.decode(codes[i : i + 1], images=images[i : i + 1]) for i in range(3)]
    assert not torch.allclose(batch.vertices[0], batch.vertices[1])
    # Absolute tolerances (measured maxima over the 3 faces in brackets):
    atol = {
        # FLAME blend shapes: one matmul, last-bit differences; |v| ≤ 0.17 m has an ulp of 1.5e-8 m
        # (1.5e-8), so 1e-7 m is ~7 ulps.
        "vertices": 1e-7,
        "landmarks3d_world": 1e-7,
        # NDC = 9 × metres: 9 × 1.5e-8 plus the NDC ulp (1.2e-7 at 1.5) (1.8e-7).
        "trans_verts": 1e-6,
        "landmarks2d": 1e-6,
        "landmarks3d": 1e-6,  # x, y, z; the visibility column is compared exactly below
        # a 1.5e-8 m vertex change turns a face normal by ≤ 1.5e-8 / 1.9e-4 m (FLAME's shortest
        # edge) = 8e-5 rad; the area-weighted vertex normals average that down (4.2e-6).
        "normals": 1e-4,
        # D_detail's batched convolutions; |uv_z| ≤ 1 cm, ulp 9e-10 m (4.7e-9).
        "uv_z": 5e-8,
        "displacement_map": 5e-8,
        # one matmul of the albedo basis, values ≤ 1 with ulp 1.2e-7 (4.2e-7).
        "albedo": 2e-6,
        # the texel positions (trans_verts) move ≤ 2e-7 NDC = 2.2e-5 crop px; a bilinear sample of an
        # image in [0, 1] moves ≤ 2 × that; outside the mask uv_texture (below) (4.4e-6).
        "uv_texture_gt": 5e-5,
    }
    for i, single in enumerate(singles):
        one = batch.select(i)
        assert one.photo_texture.texture_mode == single.photo_texture.texture_mode == "extract"
        assert one.is_demo == single.is_demo
        for key, value in vars(one.codes).items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, getattr(single.codes, key)), key
        torch.testing.assert_close(one.landmarks3d[..., 3], single.landmarks3d[..., 3], atol=0, rtol=0)
        checked = {"codes", "texture_mode", "is_demo"}
        ours, theirs = one.tensors(), single.tensors()  # every tensor by its DECA name
        for name, tol in atol.items():
            torch.testing.assert_close(ours[name], theirs[name], atol=tol, rtol=0, msg=name)
            checked.add(name)
        # Detail normals are normals of the displaced 256² grid: texels whose normal is a nearly
        # cancelling sum of cross products (or a nearly flat triangle) turn by far more than the
        # rounding of their inputs. 99.9 % of texels stay within 1e-5 (max measured 3.1e-4).
        diff = (one.detail.uv_detail_normals - single.detail.uv_detail_normals).abs().amax(dim=1)
        assert float((diff < 1e-5).float().mean()) > 0.999
        assert float(diff.max()) < 1e-3
        # Shading and texture follow from them: SH shading is Lipschitz in the normal with the
        # constant of the light code; uv_texture = albedo · shading (product rule), plus rounding.
        step = (one.detail.uv_detail_normals - single.detail.uv_detail_normals).norm(dim=1, keepdim=True)
        d_shading = (one.model_texture.uv_shading - single.model_texture.uv_shading).abs()
        assert torch.all(d_shading <= sh_lipschitz(single.codes.light) * step + 1e-6)
        d_texture = (one.model_texture.uv_texture - single.model_texture.uv_texture).abs()
        d_albedo = (one.model_texture.albedo - single.model_texture.albedo).abs()
        bound = single.model_texture.albedo.abs() * d_shading + one.model_texture.uv_shading.abs() * d_albedo
        assert torch.all(d_texture <= bound + 1e-6)
        checked |= {"uv_detail_normals", "uv_shading", "uv_texture"}
        assert checked == set(ours) | {"codes", "texture_mode", "is_demo"}, (
            "a Reconstruction field is not compared"
        )
        for item in fields(one):
            value = getattr(one, item.name)
            assert value is not None, f"{item.name} was not computed"
