"""The generated demo asset pack: deterministic, parseable by the real loaders, and head-like."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pydeca.assets import demo_pack
from pydeca.assets.albedo import load_albedo_basis
from pydeca.assets.demo_pack import (
    DEMO_FILES,
    DEMO_PACK_VERSION,
    ensure_demo_pack,
    generate_demo_pack,
    is_demo_pack,
)
from pydeca.assets.embedding import load_landmark_embedding
from pydeca.assets.flame_model import load_flame_model
from pydeca.assets.template import load_template_mesh


def _hashes(root: Path) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in DEMO_FILES}


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_demo_pack(out, seed=0)
    return out


@pytest.fixture(scope="module")
def flame(pack: Path, tmp_path_factory: pytest.TempPathFactory):
    return load_flame_model(pack / "generic_model.pkl", cache_dir=tmp_path_factory.mktemp("c"))


@pytest.fixture(scope="module")
def embedding(pack: Path):
    return load_landmark_embedding(pack / "landmark_embedding.npy")


def _landmarks(emb, verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    return np.einsum("nk,nkd->nd", emb.full_bary.astype(np.float64), verts[faces[emb.full_faces]])


def test_deterministic(pack: Path, tmp_path: Path) -> None:
    root = pack
    assert is_demo_pack(root)
    generate_demo_pack(tmp_path, seed=0)
    assert _hashes(tmp_path) == _hashes(root)
    marker = json.loads((root / "pydeca_demo.json").read_text())
    assert marker == {
        "pydeca_demo": True,
        "version": DEMO_PACK_VERSION,
        "seed": 0,
        "note": "synthetic demo assets; reconstructions are not meaningful",
    }


def test_ensure_demo_pack_caches(pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_generate(out_dir: Path, *, seed: int = 0) -> Path:  # copies the fixture pack
        calls.append(seed)
        for name in DEMO_FILES:
            shutil.copyfile(pack / name, Path(out_dir) / name)
        return Path(out_dir)

    monkeypatch.setattr(demo_pack, "generate_demo_pack", fake_generate)
    monkeypatch.setenv("PYDECA_CACHE", str(tmp_path))
    first = ensure_demo_pack()
    assert first == tmp_path / f"demo-pack-v{DEMO_PACK_VERSION}"
    assert is_demo_pack(first)
    mtime = (first / "generic_model.pkl").stat().st_mtime_ns
    assert ensure_demo_pack() == first
    assert (first / "generic_model.pkl").stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"demo-pack-v{DEMO_PACK_VERSION}"]
    assert calls == [0]
    (first / "pydeca_demo.json").unlink()
    assert not is_demo_pack(first)
    assert ensure_demo_pack() == first
    assert calls == [0, 0]
    assert is_demo_pack(first)


def test_flame_pickle(flame) -> None:
    v, f = flame.v_template.astype(np.float64), flame.faces
    n = v.shape[0]
    assert 3000 < n < 8000
    assert f.shape[1] == 3
    assert f.max() == n - 1
    assert flame.shapedirs.shape == (n, 3, 300)
    assert flame.exprdirs.shape[:2] == (n, 3)
    assert flame.posedirs.shape == (n, 3, 36)
    assert flame.J_regressor.shape == (5, n)
    assert flame.parents.tolist() == [-1, 0, 1, 1, 1]
    np.testing.assert_allclose(flame.J_regressor.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(flame.lbs_weights.sum(1), 1.0, atol=1e-6)
    assert flame.lbs_weights.min() >= 0.0
    # size like FLAME, x-symmetric
    lo, hi = v.min(0), v.max(0)
    assert -0.11 < lo[0] < -0.09
    assert 0.09 < hi[0] < 0.11
    assert -0.19 < lo[1] < -0.15
    assert 0.13 < hi[1] < 0.16
    assert 0.085 < hi[2] < 0.095
    mirrored = v * [-1.0, 1.0, 1.0]
    d = np.linalg.norm(mirrored[:, None] - v[None, ::7], axis=2).min(0)
    assert d.max() < 1e-6
    # identity basis amplitude 5 mm (1 + i)^-0.6, pose correctives <= 2 mm
    peak = np.linalg.norm(flame.shapedirs, axis=1).max(0)
    np.testing.assert_allclose(peak[[0, 10, 299]], 0.005 * np.array([1, 11, 300]) ** -0.6, rtol=1e-4)
    assert np.linalg.norm(flame.posedirs, axis=1).max() <= 0.002
    # joints: root below neck below jaw; eyes at the eyeball centres
    joints = flame.J_regressor.astype(np.float64) @ v
    assert joints[0, 1] < joints[1, 1] < joints[2, 1] < joints[3, 1]
    np.testing.assert_allclose(joints[3], [0.032, 0.035, 0.046], atol=1e-6)
    np.testing.assert_allclose(joints[4], [-0.032, 0.035, 0.046], atol=1e-6)


def test_mesh_is_closed_ish_and_outward(flame) -> None:
    v, f = flame.v_template.astype(np.float64), flame.faces
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert counts.max() <= 2
    tri = v[f]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    outward = np.einsum("fd,fd->f", normals, tri.mean(1) - v.mean(0))
    assert outward.mean() > 0
    assert (outward > 0).mean() > 0.9


def test_template_obj_matches_pickle(pack: Path, flame) -> None:
    mesh = load_template_mesh(pack / "head_template.obj")
    assert mesh.faces.shape == flame.faces.shape
    np.testing.assert_array_equal(mesh.faces, flame.faces)
    assert mesh.uvcoords.shape[0] > mesh.verts.shape[0]
    assert mesh.uvcoords.min() >= 0.0
    assert mesh.uvcoords.max() <= 1.0
    uv = mesh.uvcoords[mesh.uvfaces]
    e1, e2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    assert (np.abs(area) > 0).all()


def test_landmarks_on_features(flame, embedding) -> None:
    v, f = flame.v_template.astype(np.float64), flame.faces
    assert embedding.static_faces.shape == (51,)
    assert embedding.dynamic_faces.shape == (79, 17)
    assert embedding.dynamic_bary.shape == (79, 17, 3)
    assert embedding.full_faces.shape == (68,)
    np.testing.assert_array_equal(embedding.full_faces[17:], embedding.static_faces)
    lm = _landmarks(embedding, v, f)
    assert np.abs(lm[:, :2]).max() < 0.095
    assert abs(lm[:, 1].max() + lm[:, 1].min()) < 0.01  # landmark box centred at y = 0
    assert int(np.argmax(lm[:, 2])) == 30  # nose tip is the most forward landmark
    eyes, mouth, jaw = lm[36:48], lm[48:68], lm[0:17]
    assert eyes[:, 1].min() > lm[30, 1] > mouth[:, 1].max()
    assert jaw[:, 1].max() < eyes[:, 1].min()
    assert lm[0, 0] < 0 < lm[16, 0]  # 0 at image left = subject's right = -x
    assert lm[36, 0] < lm[39, 0] < 0 < lm[42, 0] < lm[45, 0]
    assert lm[48, 0] < lm[54, 0]
    assert lm[17, 0] < lm[26, 0]
    assert lm[8, 1] == pytest.approx(jaw[:, 1].min())
    # contour at yaw 0 is mirror-symmetric; turning the head moves the contour
    dyn0 = np.einsum("nk,nkd->nd", embedding.dynamic_bary[0], v[f[embedding.dynamic_faces[0]]])
    np.testing.assert_allclose(dyn0[::-1] * [-1, 1, 1], dyn0, atol=2e-3)
    assert (embedding.dynamic_faces[30] != embedding.dynamic_faces[69]).any()


def _rodrigues(r: np.ndarray) -> np.ndarray:
    theta = np.linalg.norm(r)
    k = r / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * kx @ kx


def test_jaw_rotation_opens_mouth(flame, embedding) -> None:
    v, f = flame.v_template.astype(np.float64), flame.faces
    w = flame.lbs_weights.astype(np.float64)
    joints = flame.J_regressor.astype(np.float64) @ v
    rot = _rodrigues(np.array([0.3, 0.0, 0.0]))
    # only the jaw joint rotates: A_jaw = [R, J - R J]; other joints stay identity
    posed_jaw = (v - joints[2]) @ rot.T + joints[2]
    posed = v + w[:, 2:3] * (posed_jaw - v)
    lm0, lm1 = _landmarks(embedding, v, f), _landmarks(embedding, posed, f)
    gap0 = lm0[62, 1] - lm0[66, 1]  # inner upper lip - inner lower lip
    gap1 = lm1[62, 1] - lm1[66, 1]
    assert gap1 - gap0 > 0.01
    assert abs(lm1[51, 1] - lm0[51, 1]) < 1e-3  # upper lip stays
    assert lm1[8, 1] < lm0[8, 1] - 0.005  # chin drops


def test_uv_images_and_albedo(pack: Path) -> None:
    root = pack
    for name, lo, hi in (("uv_face_eye_mask.png", 0.15, 0.5), ("uv_face_mask.png", 0.1, 0.45)):
        img = np.asarray(Image.open(root / name))
        assert img.shape == (256, 256, 4)
        frac = (img[..., 0] > 127).mean()
        assert lo < frac < hi, (name, frac)
    face_eye = np.asarray(Image.open(root / "uv_face_eye_mask.png"))[..., 0] > 127
    face = np.asarray(Image.open(root / "uv_face_mask.png"))[..., 0] > 127
    assert (face & ~face_eye).sum() == 0
    assert (face_eye & ~face).sum() > 0
    rows, cols = np.nonzero(face)
    assert 64 < cols.mean() < 192
    assert 64 < rows.mean() < 192
    disp = np.load(root / "fixed_displacement_256.npy")
    assert disp.shape == (256, 256)
    assert np.abs(disp).max() < 0.002
    tex = np.asarray(Image.open(root / "mean_texture.jpg"))
    assert tex.shape == (256, 256, 3)
    albedo = load_albedo_basis(root / "FLAME_texture.npz", size=256, num_components=50)
    assert albedo.mean.shape == (3, 256, 256)
    assert albedo.basis.shape == (50, 3, 256, 256)
    assert albedo.source == "FLAME"
    assert 0.4 < float(albedo.mean[0].mean()) < 0.9


def test_demo_checkpoint_is_drawn_once_then_loaded_like_real_weights(tmp_path: Path) -> None:
    import torch

    from pydeca.assets import bundle
    from pydeca.assets.synthetic_checkpoint import state_sha256

    first = bundle.load_assets("demo", cache_dir=tmp_path)
    assert first.is_demo
    assert first.sources["checkpoint"] == "generated in memory (demo pack)"
    saved = first.asset_dir / "deca_model.tar"
    assert saved.is_file()
    assert not [p.name for p in first.asset_dir.iterdir() if p.name.endswith(".tmp")]
    second = bundle.load_assets("demo", cache_dir=tmp_path)
    assert second.is_demo
    assert second.sources["checkpoint"] == str(saved)  # read by load_checkpoint, as real weights
    assert state_sha256(second.checkpoint) == state_sha256(first.checkpoint)
    assert second.checkpoint["E_flame"]["encoder.conv1.weight"].dtype == torch.float32
