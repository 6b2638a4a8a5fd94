"""FLAME layer, LBS math, landmark gathering and the albedo model (reference §2.4, §1.8)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from pydeca.assets.data import AlbedoBasis
from pydeca.errors import AssetFormatError, OptionError, ShapeError
from pydeca.flame import FLAME, AlbedoModel, dynamic_contour_bins, lbs, vertices_to_landmarks
from pydeca.flame.lbs import batch_rigid_transform, pose_features
from pydeca.geometry import axis_angle_to_matrix, weak_perspective_project

PARITY_NAMES = [
    "examples__IMG_0392_inputs",
    "examples__alfw1",
    "examples__id04657-PPHljWCZ53c-000565_inputs_inputs",
]


@pytest.fixture(scope="module")
def flame_data(fixtures_dir: Path, topology_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """(FlameModelData, LandmarkEmbedding) of the synthetic fixture pickle, loaded once per module."""
    from pydeca.assets.embedding import load_landmark_embedding
    from pydeca.assets.flame_model import load_flame_model

    model = load_flame_model(
        fixtures_dir / "flame2020_synthetic_chumpy.pkl", cache_dir=tmp_path_factory.mktemp("flame")
    )
    embedding = load_landmark_embedding(topology_dir / "landmark_embedding.npy")
    return model, embedding


@pytest.fixture(scope="module")
def flame(flame_data) -> FLAME:
    return FLAME(*flame_data)


def _zeros(batch: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.zeros(batch, 100), torch.zeros(batch, 50), torch.zeros(batch, 6)


# --------------------------------------------------------------------------------------------- FLAME


def test_zero_codes_give_template_and_embedded_landmarks(flame: FLAME, flame_data) -> None:
    model, embedding = flame_data
    out = flame(*_zeros())
    assert out.vertices.shape == (1, 5023, 3)
    assert out.landmarks2d.shape == (1, 68, 3)
    assert out.landmarks3d.shape == (1, 68, 3)
    template = torch.from_numpy(np.asarray(model.v_template, np.float32))
    torch.testing.assert_close(out.vertices[0], template, atol=1e-6, rtol=0)
    # the full embedding applied to the template by hand, in float64
    corners = np.asarray(model.v_template, np.float64)[model.faces[embedding.full_faces.reshape(-1)]]
    expected = np.einsum("lk,lkc->lc", embedding.full_bary.reshape(-1, 3).astype(np.float64), corners)
    np.testing.assert_allclose(out.landmarks3d[0].numpy(), expected, atol=1e-6, rtol=0)
    # fixtures README §3: the landmark box of the template is centred at y = 0
    assert out.landmarks3d[0, :, 1].min() == pytest.approx(-0.0679, abs=1e-4)
    assert out.landmarks3d[0, :, 1].max() == pytest.approx(0.0679, abs=1e-4)
    # landmarks 17-67 of the 2D set are the static ones = full[17:] (reference §1.2)
    torch.testing.assert_close(out.landmarks2d[0, 17:], out.landmarks3d[0, 17:], atol=1e-7, rtol=0)


def test_jaw_rotation_opens_mouth_and_moves_only_jaw_vertices(flame: FLAME, flame_data) -> None:
    model, _ = flame_data
    shape, exp, pose = _zeros()
    rest = flame(shape, exp, pose).vertices[0]
    pose[0, 3] = 0.3  # jaw opening about +x
    out = flame(shape, exp, pose)
    moved = out.vertices[0]
    no_jaw_weight = torch.from_numpy(model.lbs_weights[:, 2] == 0)
    no_jaw_corrective = torch.from_numpy(np.abs(model.posedirs[:, :, 9:18]).max(axis=(1, 2)) == 0)
    fixed = no_jaw_weight & no_jaw_corrective
    assert int(fixed.sum()) > 1000
    torch.testing.assert_close(moved[fixed], rest[fixed], atol=1e-7, rtol=0)
    # the other vertices without jaw weight move exactly by the pose correctives of the jaw rotation
    rot = torch.zeros(1, 5, 3)
    rot[0, 2, 0] = 0.3
    features = pose_features(axis_angle_to_matrix(rot))  # (1, 36), only columns 9..17 non-zero
    assert features[:, :9].abs().max() == 0
    assert features[:, 18:].abs().max() == 0
    offsets = (features @ flame.posedirs.reshape(36, -1)).reshape(5023, 3)
    torch.testing.assert_close(moved[no_jaw_weight], (rest + offsets)[no_jaw_weight], atol=1e-7, rtol=0)
    # the mouth opens: the chin (landmark 8) moves down by millimetres, the nose tip (30) stays
    chin_drop = out.landmarks3d[0, 8, 1] - flame(shape, exp, _zeros()[2]).landmarks3d[0, 8, 1]
    assert chin_drop < -0.005
    jaw_verts = torch.from_numpy(model.lbs_weights[:, 2] > 0.5)
    assert (moved[jaw_verts, 1] - rest[jaw_verts, 1]).mean() < -0.003


def test_batch_of_two_equals_single_samples(flame: FLAME) -> None:
    gen = torch.Generator().manual_seed(0)
    shape = torch.randn(2, 100, generator=gen) * 0.5
    exp = torch.randn(2, 50, generator=gen) * 0.3
    pose = torch.tensor([[0.05, 0.5, 0.0, 0.2, 0.0, 0.0], [-0.1, -0.4, 0.05, 0.1, 0.02, 0.0]])
    both = flame(shape, exp, pose)
    for i in range(2):
        single = flame(shape[i : i + 1], exp[i : i + 1], pose[i : i + 1])
        torch.testing.assert_close(both.vertices[i], single.vertices[0], atol=1e-6, rtol=0)
        torch.testing.assert_close(both.landmarks2d[i], single.landmarks2d[0], atol=1e-6, rtol=0)
        torch.testing.assert_close(both.landmarks3d[i], single.landmarks3d[0], atol=1e-6, rtol=0)
    # the two samples have different yaw bins (≈ +29° and ≈ −23°), hence different contours
    assert not torch.allclose(both.landmarks2d[0, :17], both.landmarks2d[1, :17])


@pytest.mark.parametrize("name", PARITY_NAMES)
def test_parity_with_deca(flame: FLAME, fixtures_dir: Path, name: str) -> None:
    with np.load(fixtures_dir / "parity" / f"{name}.npz") as data:
        ref = {key: data[key] for key in data.files if key != "meta_json"}

    def code(key: str) -> torch.Tensor:
        return torch.from_numpy(ref[key]).float()[None]

    out = flame(code("code_shape"), code("code_exp"), code("code_pose"))
    cam = code("code_cam")
    np.testing.assert_allclose(out.vertices[0].numpy(), ref["verts"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(out.landmarks3d[0].numpy(), ref["landmarks3d_world"], atol=1e-5, rtol=0)
    trans_verts = weak_perspective_project(out.vertices, cam)[0]
    np.testing.assert_allclose(trans_verts.numpy(), ref["trans_verts"], atol=1e-4, rtol=0)
    lmk2d = weak_perspective_project(out.landmarks2d, cam)[0, :, :2]
    np.testing.assert_allclose(lmk2d.numpy(), ref["landmarks2d"], atol=1e-4, rtol=0)
    lmk3d = weak_perspective_project(out.landmarks3d, cam)[0]
    np.testing.assert_allclose(lmk3d.numpy(), ref["landmarks3d"][:, :3], atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    ("yaw_deg", "expected_bin"),
    [(0.0, 0), (10.2, 10), (39.0, 39), (55.0, 39), (-1.0, 40), (-10.0, 49), (-39.0, 78), (-60.0, 78)],
)
def test_dynamic_contour_bin_rule(yaw_deg: float, expected_bin: int) -> None:
    # a rotation about +y by θ has rel[2, 0] = −sin θ, so DECA's +yaw is θ itself
    global_rot = axis_angle_to_matrix(torch.tensor([[0.0, math.radians(yaw_deg), 0.0]]))
    assert dynamic_contour_bins(global_rot, torch.eye(3)[None]).tolist() == [expected_bin]


def test_dynamic_contour_bin_chains_global_and_neck() -> None:
    global_pose = torch.tensor([[0.0, math.radians(5.0), 0.0], [0.0, math.radians(-5.0), 0.0]])
    neck_pose = torch.tensor([[0.0, math.radians(7.0), 0.0], [0.0, math.radians(-20.0), 0.0]])
    bins = dynamic_contour_bins(axis_angle_to_matrix(global_pose), axis_angle_to_matrix(neck_pose))
    assert bins.tolist() == [12, 39 + 25]


def test_flame_uses_the_table_row_of_the_yaw_bin(flame: FLAME, flame_data) -> None:
    _, embedding = flame_data
    shape, exp, pose = _zeros()
    pose[0, 1] = math.radians(-10.0)  # bin 49
    out = flame(shape, exp, pose)
    expected = vertices_to_landmarks(
        out.vertices,
        flame.faces,
        torch.from_numpy(embedding.dynamic_faces[49]),
        torch.from_numpy(embedding.dynamic_bary[49]),
    )
    torch.testing.assert_close(out.landmarks2d[:, :17], expected, atol=0, rtol=0)


def test_euler_jaw_matches_axis_angle(flame_data) -> None:
    from scipy.spatial.transform import Rotation

    euler_flame = FLAME(*flame_data, jaw_type="euler")
    aa_flame = FLAME(*flame_data)
    assert aa_flame.jaw_type == "aa"
    assert "jaw_type='euler'" in repr(euler_flame)
    shape, exp, _ = _zeros()
    euler = np.array([0.25, -0.1, 0.05])
    aa = Rotation.from_euler("XYZ", euler).as_rotvec()
    pose_euler = torch.tensor([[0.0, 0.0, 0.0, *euler]], dtype=torch.float32)
    pose_aa = torch.tensor([[0.0, 0.0, 0.0, *aa]], dtype=torch.float32)
    torch.testing.assert_close(
        euler_flame(shape, exp, pose_euler).vertices,
        aa_flame(shape, exp, pose_aa).vertices,
        atol=1e-6,
        rtol=0,
    )


def test_unknown_jaw_type_is_an_option_error_listing_the_choices(flame_data) -> None:
    with pytest.raises(OptionError, match=r"jaw_type: expected 'aa' or 'euler', got 'quat'"):
        FLAME(*flame_data, jaw_type="quat")  # type: ignore[arg-type]


def test_all_300_identity_and_100_expression_components(flame_data) -> None:
    model, embedding = flame_data
    full = FLAME(model, embedding, num_shape=300, num_expression=100)
    rng = np.random.default_rng(0)
    shape, exp = rng.normal(0, 1, (2, 300)), rng.normal(0, 1, (2, 100))
    out = full(
        torch.tensor(shape, dtype=torch.float32), torch.tensor(exp, dtype=torch.float32), torch.zeros(2, 6)
    )
    # zero pose: LBS is the identity, so the mesh is the template plus both linear blends (float64)
    expected = (
        model.v_template[None]
        + np.einsum("vck,bk->bvc", model.shapedirs.astype(np.float64), shape)
        + np.einsum("vck,bk->bvc", model.exprdirs.astype(np.float64), exp)
    )
    np.testing.assert_allclose(out.vertices.numpy(), expected, atol=2e-5, rtol=0)
    # components beyond 100 / 50 matter: the default layer cannot take these codes
    with pytest.raises(ShapeError, match="shape"):
        FLAME(model, embedding)(
            out.vertices.new_zeros(2, 300), out.vertices.new_zeros(2, 100), torch.zeros(2, 6)
        )


def test_flame_gradients_and_shape_errors(flame: FLAME) -> None:
    shape, exp, pose = (t.requires_grad_() for t in _zeros(2))
    out = flame(shape, exp, pose)
    (out.vertices.sum() + out.landmarks2d.sum()).backward()
    for t in (shape, exp, pose):
        assert t.grad is not None
        assert torch.isfinite(t.grad).all()
        assert t.grad.abs().sum() > 0
    with pytest.raises(ShapeError, match="pose"):
        flame(torch.zeros(2, 100), torch.zeros(2, 50), torch.zeros(1, 6))
    with pytest.raises(ShapeError, match="expression"):
        flame(torch.zeros(1, 100), torch.zeros(1, 10), torch.zeros(1, 6))
    with pytest.raises(AssetFormatError, match="num_shape"):
        FLAME(flame_data_model_stub(), None, num_shape=500)  # type: ignore[arg-type]


def flame_data_model_stub():
    class _Stub:
        shapedirs = np.zeros((1, 3, 300), np.float32)
        exprdirs = np.zeros((1, 3, 100), np.float32)

    return _Stub()


# ---------------------------------------------------------------------------------- LBS on a toy


def test_lbs_toy_two_joint_chain() -> None:
    # joint 0 at the origin, joint 1 at (0, 1, 0); vertex 0 follows joint 0, vertex 1 joint 1
    v_template = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], dtype=torch.float64)
    regressor = torch.tensor([[0.0, 0.0], [0.0, 0.5]], dtype=torch.float64)  # J0 = 0, J1 = 0.5·v1
    weights = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    shapedirs = torch.zeros(1, 2, 3, dtype=torch.float64)
    posedirs = torch.zeros(9, 2, 3, dtype=torch.float64)
    # joint 1 rotates 90° about +z: (0, 2, 0) - J1 = (0, 1, 0) -> (-1, 0, 0), so v1 -> (-1, 1, 0)
    pose = torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0, math.pi / 2]], dtype=torch.float64)
    verts, joints = lbs(
        torch.zeros(1, 1, dtype=torch.float64),
        axis_angle_to_matrix(pose.reshape(1, 2, 3)),
        v_template=v_template,
        shapedirs=shapedirs,
        posedirs=posedirs,
        j_regressor=regressor,
        parents=[-1, 0],
        lbs_weights=weights,
    )
    expected = torch.tensor([[[1.0, 0.0, 0.0], [-1.0, 1.0, 0.0]]], dtype=torch.float64)
    torch.testing.assert_close(verts, expected, atol=1e-7, rtol=0)
    torch.testing.assert_close(
        joints, torch.tensor([[[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], dtype=torch.float64)
    )
    # now the root rotates 90° about +z too: everything turns, v0 -> (0, 1, 0), J1 -> (-1, 0, 0)
    pose[0, 2] = math.pi / 2
    verts, joints = lbs(
        torch.zeros(1, 1, dtype=torch.float64),
        axis_angle_to_matrix(pose.reshape(1, 2, 3)),
        v_template=v_template,
        shapedirs=shapedirs,
        posedirs=posedirs,
        j_regressor=regressor,
        parents=[-1, 0],
        lbs_weights=weights,
    )
    expected = torch.tensor([[[0.0, 1.0, 0.0], [-1.0, -1.0, 0.0]]], dtype=torch.float64)
    torch.testing.assert_close(verts, expected, atol=1e-7, rtol=0)
    torch.testing.assert_close(joints[0, 1], torch.tensor([-1.0, 0.0, 0.0], dtype=torch.float64))


def test_batch_rigid_transform_identity_at_rest() -> None:
    joints = torch.randn(3, 5, 3, dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64).expand(3, 5, 3, 3)
    posed, transforms = batch_rigid_transform(eye, joints, [-1, 0, 1, 1, 1])
    torch.testing.assert_close(posed, joints)
    torch.testing.assert_close(transforms, torch.eye(4, dtype=torch.float64).expand(3, 5, 4, 4))


# ------------------------------------------------------------------------------ landmark gathering


def test_vertices_to_landmarks_hand_computed_any_channels() -> None:
    # two triangles on 4 vertices carrying C = 2 channels
    values = torch.tensor([[[0.0, 10.0], [1.0, 20.0], [2.0, 30.0], [3.0, 40.0]]]).repeat(2, 1, 1)
    values[1] *= -1
    faces = torch.tensor([[0, 1, 2], [1, 2, 3]])
    bary = torch.tensor([[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]])
    shared = vertices_to_landmarks(values, faces, torch.tensor([0, 1]), bary)
    # lmk 0 = 0.5·v0 + 0.25·v1 + 0.25·v2 = (0.75, 17.5); lmk 1 = v3 = (3, 40)
    expected = torch.tensor([[[0.75, 17.5], [3.0, 40.0]], [[-0.75, -17.5], [-3.0, -40.0]]])
    torch.testing.assert_close(shared, expected)
    # per-sample faces and barycentrics: sample 1 uses the other triangle for landmark 0
    per_faces = torch.tensor([[0, 1], [1, 1]])
    per_bary = bary.expand(2, 2, 3)
    per = vertices_to_landmarks(values, faces, per_faces, per_bary)
    torch.testing.assert_close(per[0], expected[0])
    # sample 1, lmk 0 on triangle (1, 2, 3): −(0.5·1 + 0.25·2 + 0.25·3, 0.5·20 + 0.25·30 + 0.25·40)
    torch.testing.assert_close(per[1, 0], torch.tensor([-1.75, -27.5]))
    with pytest.raises(ShapeError):
        vertices_to_landmarks(values, faces, torch.tensor([[0, 1]]), per_bary)


# ----------------------------------------------------------------------------------------- albedo


def test_albedo_is_mean_plus_linear_combination() -> None:
    rng = np.random.default_rng(3)
    mean = rng.uniform(0, 1, (3, 8, 8)).astype(np.float32)
    comps = rng.normal(0, 0.1, (4, 3, 8, 8)).astype(np.float32)
    model = AlbedoModel(AlbedoBasis(mean=mean, basis=comps, source="BFM"))
    code = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, -2.0, 0.5, 30.0]])
    out = model(code)
    assert out.shape == (2, 3, 8, 8)
    torch.testing.assert_close(out[0], torch.from_numpy(mean))
    expected = mean + comps[0] - 2 * comps[1] + 0.5 * comps[2] + 30 * comps[3]
    torch.testing.assert_close(out[1], torch.from_numpy(expected), atol=1e-5, rtol=0)
    assert out[1].max() > 1.0 or out[1].min() < 0.0  # not clamped, as in DECA
    with pytest.raises(ShapeError, match="tex_code"):
        model(torch.zeros(1, 5))
    with pytest.raises(AssetFormatError, match="albedo"):
        AlbedoModel(AlbedoBasis(mean=mean, basis=comps[:, :2], source="BFM"))
