"""DECA's data files: landmark embedding, template OBJ, UV masks/maps, albedo models, asset paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pydeca.assets.albedo import load_albedo_basis, resample_uv
from pydeca.assets.data import LandmarkEmbedding, TemplateMesh
from pydeca.assets.embedding import load_landmark_embedding, save_landmark_embedding
from pydeca.assets.paths import ASSET_FILES, asset_path, default_cache_dir, resolve_asset_dir
from pydeca.assets.template import load_template_mesh, save_template_obj
from pydeca.assets.uv_maps import load_fixed_displacement, load_mean_texture, load_uv_mask
from pydeca.errors import AssetFormatError, AssetNotFoundError

# ------------------------------------------------------------------------ landmark embedding


@pytest.fixture(scope="module")
def embedding(topology_dir):
    return load_landmark_embedding(topology_dir / "landmark_embedding.npy")


def test_landmark_embedding_shapes(embedding):
    assert embedding.static_faces.shape == (51,)
    assert embedding.static_bary.shape == (51, 3)
    assert embedding.dynamic_faces.shape == (79, 17)
    assert embedding.dynamic_bary.shape == (79, 17, 3)
    assert embedding.full_faces.shape == (68,)
    assert embedding.full_bary.shape == (68, 3)
    for name in ("static_faces", "dynamic_faces", "full_faces"):
        assert getattr(embedding, name).dtype == np.int64
        assert 0 <= getattr(embedding, name).min() <= getattr(embedding, name).max() < 9976
    for name in ("static_bary", "dynamic_bary", "full_bary"):
        assert getattr(embedding, name).dtype == np.float32
        np.testing.assert_allclose(getattr(embedding, name).sum(-1), 1.0, atol=1e-5)
    # reference §1.2: full[17:] is the static set
    np.testing.assert_array_equal(embedding.full_faces[17:], embedding.static_faces)
    np.testing.assert_allclose(embedding.full_bary[17:], embedding.static_bary, atol=1e-7)
    assert (
        max(embedding.static_faces.max(), embedding.dynamic_faces.max(), embedding.full_faces.max()) == 8921
    )


def test_landmark_embedding_matches_torch_reading(embedding, topology_dir):
    """Same numbers as DECA's own (unsafe) np.load + torch route, on the trusted shared file."""
    ref = np.load(topology_dir / "landmark_embedding.npy", allow_pickle=True, encoding="latin1").item()
    assert isinstance(ref["dynamic_lmk_faces_idx"], torch.Tensor)
    np.testing.assert_array_equal(embedding.dynamic_faces, ref["dynamic_lmk_faces_idx"].numpy())
    np.testing.assert_array_equal(embedding.dynamic_bary, ref["dynamic_lmk_bary_coords"].numpy())
    np.testing.assert_array_equal(embedding.full_faces, ref["full_lmk_faces_idx"][0])


@pytest.mark.parametrize("torch_tensors", [True, False])
def test_landmark_embedding_round_trip(embedding, tmp_path, torch_tensors):
    path = tmp_path / "landmark_embedding.npy"
    save_landmark_embedding(path, embedding, torch_tensors=torch_tensors)
    again = load_landmark_embedding(path)
    for name in LandmarkEmbedding.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(again, name), getattr(embedding, name), err_msg=name)
    # Same layout as DECA's file: what DECA's own loader sees.
    raw = np.load(path, allow_pickle=True).item()
    assert raw["full_lmk_faces_idx"].shape == (1, 68)
    assert isinstance(raw["dynamic_lmk_faces_idx"], torch.Tensor) == torch_tensors


def test_landmark_embedding_errors(tmp_path):
    with pytest.raises(AssetNotFoundError, match="deca fetch data"):
        load_landmark_embedding(tmp_path / "landmark_embedding.npy")
    path = tmp_path / "bad.npy"
    np.save(path, np.array({"static_lmk_faces_idx": np.zeros(3)}, dtype=object), allow_pickle=True)
    with pytest.raises(AssetFormatError, match="static_lmk_bary_coords"):
        load_landmark_embedding(path)


# ---------------------------------------------------------------------------- template OBJ


def test_template_counts(topology_dir):
    mesh = load_template_mesh(topology_dir / "head_template.obj")
    assert mesh.verts.shape == (5023, 3)
    assert mesh.uvcoords.shape == (5118, 2)
    assert mesh.faces.shape == (9976, 3)
    assert mesh.uvfaces.shape == (9976, 3)
    assert mesh.faces.dtype == np.int64
    assert mesh.uvfaces.dtype == np.int64
    assert mesh.faces.min() == 0
    assert mesh.faces.max() == 5022
    assert mesh.uvfaces.max() == 5117
    np.testing.assert_allclose(mesh.uvcoords.min(0), [0.00747, 0.009766], atol=1e-6)
    np.testing.assert_allclose(mesh.uvcoords.max(0), [0.992439, 0.992319], atol=1e-6)
    np.testing.assert_allclose(mesh.verts[0], [0.061998, 1.493503, -0.027215], atol=1e-7)
    assert 1.31 < mesh.verts[:, 1].min() < mesh.verts[:, 1].max() < 1.63


def test_template_save_round_trip(topology_dir, tmp_path):
    mesh = load_template_mesh(topology_dir / "head_template.obj")
    path = tmp_path / "t.obj"
    save_template_obj(path, mesh)
    again = load_template_mesh(path)
    for name in TemplateMesh.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(again, name), getattr(mesh, name), err_msg=name)


def test_template_v_vt_vn_and_relative_indices(tmp_path):
    path = tmp_path / "tri.obj"
    path.write_text(
        "# comment\nmtllib x.mtl\no tri\nv 0 0 0\nv 1 0 0\nv 0 1 0 0.5 0.5 0.5\n"
        "vt 0 0\nvt 1 0\nvt 0 1\nvn 0 0 1\ns off\nf 1/1/1 2/2/1 3/3/1\nf -3/-3/1 -2/-2/1 -1/-1/1\n"
    )
    mesh = load_template_mesh(path)
    np.testing.assert_array_equal(mesh.faces, [[0, 1, 2], [0, 1, 2]])
    np.testing.assert_array_equal(mesh.uvfaces, [[0, 1, 2], [0, 1, 2]])
    np.testing.assert_array_equal(mesh.verts[2], [0, 1, 0])


@pytest.mark.parametrize(
    ("body", "lineno", "match"),
    [
        ("v 0 0 0\nv 1 0 x\nvt 0 0\nf 1/1 1/1 1/1\n", 2, "malformed v"),
        ("v 0 0 0\nvt 0 0\nf 1/1 1/1 1/1\nf 1/1 1/1 1/1 1/1\n", 4, "triangles"),
        ("v 0 0 0\nvt 0 0\nf 1 1 1\n", 3, "UV indices"),
    ],
)
def test_template_malformed_lines_name_the_line(tmp_path, body, lineno, match):
    path = tmp_path / "bad.obj"
    path.write_text(body)
    with pytest.raises(AssetFormatError, match=rf"bad\.obj:{lineno}: .*{match}"):
        load_template_mesh(path)


def test_template_out_of_range_index(tmp_path):
    path = tmp_path / "oob.obj"
    path.write_text("v 0 0 0\nvt 0 0\nf 1/1 2/1 1/1\n")
    with pytest.raises(AssetFormatError, match="outside"):
        load_template_mesh(path)


# ------------------------------------------------------------------------------- UV images


def test_uv_masks(topology_dir):
    face_eye = load_uv_mask(topology_dir / "uv_face_eye_mask.png")
    face = load_uv_mask(topology_dir / "uv_face_mask.png")
    for mask in (face_eye, face):
        assert mask.shape == (256, 256)
        assert mask.dtype == np.float32
        assert mask.min() == 0.0
        assert mask.max() == 1.0
    # reference §1.6: 36.8 % / 32.2 % of texels above 0.5
    assert (face_eye > 0.5).mean() == pytest.approx(0.368, abs=0.005)
    assert (face > 0.5).mean() == pytest.approx(0.322, abs=0.005)
    small = load_uv_mask(topology_dir / "uv_face_eye_mask.png", size=128)
    assert small.shape == (128, 128)
    assert 0.0 <= small.min() <= small.max() <= 1.0
    assert (small > 0.5).mean() == pytest.approx(0.368, abs=0.01)
    # resampled like DECA's F.interpolate (nearest): every second texel of the 256² mask
    import torch
    import torch.nn.functional as F

    expected = F.interpolate(torch.from_numpy(face_eye)[None, None], [128, 128])[0, 0].numpy()
    np.testing.assert_array_equal(small, expected)
    np.testing.assert_array_equal(small, face_eye[::2, ::2])
    odd = load_uv_mask(topology_dir / "uv_face_eye_mask.png", size=100)
    expected = F.interpolate(torch.from_numpy(face_eye)[None, None], [100, 100])[0, 0].numpy()
    np.testing.assert_array_equal(odd, expected)


def test_fixed_displacement(topology_dir):
    disp = load_fixed_displacement(topology_dir / "fixed_displacement_256.npy")
    assert disp.shape == (256, 256)
    assert disp.dtype == np.float32
    assert disp.min() == pytest.approx(-0.0013008, abs=1e-7)
    assert disp.max() == pytest.approx(0.0016132, abs=1e-7)


def test_mean_texture(topology_dir):
    tex = load_mean_texture(topology_dir / "mean_texture.jpg")
    assert tex.shape == (3, 256, 256)
    assert tex.dtype == np.float32
    assert 0.0 <= tex.min() < 0.1
    assert 0.9 < tex.max() <= 1.0


def test_uv_file_errors(tmp_path):
    with pytest.raises(AssetNotFoundError):
        load_uv_mask(tmp_path / "uv_face_eye_mask.png")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(AssetFormatError):
        load_uv_mask(tmp_path / "junk.png")


# ------------------------------------------------------------------------------- albedo


R = 8  # synthetic albedo resolution (512 in the real files)


def _synthetic_bgr(components: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A mean (R, R, 3) and basis (R, R, 3, K) in BGR order."""
    rng = np.random.default_rng(seed)
    return rng.random((R, R, 3)), rng.normal(size=(R, R, 3, components))


def test_albedo_bfm_format(tmp_path):
    mean, basis = _synthetic_bgr(7, 0)
    path = tmp_path / "FLAME_albedo_from_BFM.npz"
    np.savez(path, MU=mean.reshape(1, -1), PC=basis.reshape(1, R * R * 3, 7))
    full = load_albedo_basis(path, size=R, num_components=4)
    assert full.source == "BFM"
    assert full.mean.shape == (3, R, R)
    assert full.basis.shape == (4, 3, R, R)
    assert full.mean.dtype == full.basis.dtype == np.float32
    # RGB channel c is BGR channel 2 - c; no row flip (row 0 = v = 1 in both)
    np.testing.assert_allclose(full.mean[0, 2, 5], mean[2, 5, 2], rtol=1e-6)
    np.testing.assert_allclose(full.mean[2, 7, 1], mean[7, 1, 0], rtol=1e-6)
    np.testing.assert_allclose(full.basis[3, 1, 4, 6], basis[4, 6, 1, 3], rtol=1e-6)
    np.testing.assert_allclose(full.mean, mean[..., ::-1].transpose(2, 0, 1), rtol=1e-6)
    np.testing.assert_allclose(full.basis, basis[..., ::-1, :4].transpose(3, 2, 0, 1), rtol=1e-6)
    # DECA: F.interpolate(nearest) of the full-size map == every other texel
    half = load_albedo_basis(path, size=R // 2, num_components=4)
    np.testing.assert_array_equal(half.mean, full.mean[:, ::2, ::2])
    np.testing.assert_array_equal(half.basis, full.basis[:, :, ::2, ::2])


def test_albedo_conversion_is_cached_until_the_file_changes(tmp_path, monkeypatch):
    import pydeca.assets.albedo as albedo_module

    mean, basis = _synthetic_bgr(6, 3)
    path = tmp_path / "FLAME_albedo_from_BFM.npz"
    np.savez(path, MU=mean.reshape(1, -1), PC=basis.reshape(1, R * R * 3, 6))
    cache = tmp_path / "cache"
    first = load_albedo_basis(path, size=R, num_components=5, cache_dir=cache)
    assert len(list(cache.glob("albedo_*.npz"))) == 1

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(albedo_module, "_convert", no_conversion)
    again = load_albedo_basis(path, size=R, num_components=5, cache_dir=cache)
    assert again.source == first.source == "BFM"
    np.testing.assert_array_equal(again.mean, first.mean)
    np.testing.assert_array_equal(again.basis, first.basis)
    monkeypatch.undo()
    # other options or a rewritten file get their own conversion
    assert load_albedo_basis(path, size=R, num_components=3, cache_dir=cache).basis.shape[0] == 3
    np.savez(path, MU=(mean * 0.5).reshape(1, -1), PC=basis.reshape(1, R * R * 3, 6))
    changed = load_albedo_basis(path, size=R, num_components=5, cache_dir=cache)
    np.testing.assert_allclose(changed.mean, 0.5 * first.mean, rtol=1e-6)
    # three conversions were made; the cache keeps the two most recently used (CACHE_KEEP)
    assert len(list(cache.glob("albedo_*.npz"))) == albedo_module.CACHE_KEEP == 2


def test_albedo_flame_format_and_flat_fortran_layout(tmp_path):
    mean, basis = _synthetic_bgr(5, 1)
    path = tmp_path / "FLAME_texture.npz"
    np.savez(path, mean=mean * 255.0, tex_dir=np.asfortranarray(basis * 255.0))
    out = load_albedo_basis(path, size=R, num_components=5)
    assert out.source == "FLAME"
    np.testing.assert_allclose(out.mean, mean[..., ::-1].transpose(2, 0, 1), rtol=1e-6)
    np.testing.assert_allclose(out.basis, basis[..., ::-1, :].transpose(3, 2, 0, 1), rtol=1e-5, atol=1e-6)
    flat = tmp_path / "flat.npz"  # flat (N,) mean and Fortran-ordered (N, K) basis, like make_assets
    np.savez(flat, MU=mean.reshape(-1), PC=np.asfortranarray(basis.reshape(-1, 5)))
    same = load_albedo_basis(flat, size=R, num_components=5)
    np.testing.assert_allclose(same.basis, out.basis, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("size", "mode"), [(4, "nearest"), (3, "nearest"), (4, "bilinear"), (12, "bilinear")]
)
def test_resample_matches_torch_interpolate(size, mode):
    images = np.random.default_rng(2).normal(size=(2, 3, R, R)).astype(np.float32)
    expected = F.interpolate(torch.from_numpy(images), size=(size, size), mode=mode, align_corners=None)
    np.testing.assert_allclose(resample_uv(images, size, mode), expected.numpy(), atol=1e-5)


def test_albedo_errors(tmp_path):
    with pytest.raises(AssetNotFoundError):
        load_albedo_basis(tmp_path / "FLAME_albedo_from_BFM.npz")
    unknown = tmp_path / "unknown.npz"
    np.savez(unknown, foo=np.zeros(3))
    with pytest.raises(AssetFormatError, match="unknown albedo format"):
        load_albedo_basis(unknown)
    few = tmp_path / "few.npz"
    np.savez(few, MU=np.zeros(3 * R * R), PC=np.zeros((3 * R * R, 4)))
    with pytest.raises(AssetFormatError, match="4 components, 50 requested"):
        load_albedo_basis(few)
    odd = tmp_path / "odd.npz"
    np.savez(odd, MU=np.zeros(10), PC=np.zeros((10, 60)))
    with pytest.raises(AssetFormatError, match="3·R²"):
        load_albedo_basis(odd)
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(AssetFormatError, match=r"not an \.npz"):
        load_albedo_basis(tmp_path / "text.npz")


# -------------------------------------------------------------------------------- paths


def test_asset_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("PYDECA_HOME", str(tmp_path / "home"))
    assert resolve_asset_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_asset_dir() == tmp_path / "home"
    monkeypatch.delenv("PYDECA_HOME")
    assert resolve_asset_dir().name.lower() == "pydeca"
    monkeypatch.setenv("PYDECA_CACHE", str(tmp_path / "cache"))
    assert default_cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("PYDECA_CACHE")
    assert "pydeca" in str(default_cache_dir()).lower()
    assert asset_path("flame_model", tmp_path) == tmp_path / "generic_model.pkl"
    with pytest.raises(KeyError):
        asset_path("nope", tmp_path)


def test_asset_file_names_are_decas():
    assert ASSET_FILES["flame_model"] == "generic_model.pkl"
    assert ASSET_FILES["landmark_embedding"] == "landmark_embedding.npy"
    assert ASSET_FILES["face_eye_mask"] == "uv_face_eye_mask.png"
    assert ASSET_FILES["albedo_bfm"] == "FLAME_albedo_from_BFM.npz"
    assert ASSET_FILES["checkpoint"] == "deca_model.tar"
    assert len(ASSET_FILES) == 11
