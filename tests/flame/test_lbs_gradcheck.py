"""``torch.autograd.gradcheck`` (float64, CPU) of the LBS functions and of the FLAME layer on toys.

Finite differences against the analytic backward: a wrong or missing gradient in skinning, the
rigid chain, the blend shapes or FLAME's forward (the training path's core) fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck

from pydeca.assets.data import FlameModelData, LandmarkEmbedding
from pydeca.flame import FLAME
from pydeca.flame.landmarks import vertices_to_landmarks
from pydeca.flame.lbs import batch_rigid_transform, blend_shapes, lbs, pose_features, skin_vertices

F64 = torch.float64
NUM_VERTS, NUM_JOINTS, NUM_SHAPE, NUM_EXP = 6, 5, 3, 2
PARENTS = [-1, 0, 1, 1, 1]  # FLAME's tree: global → neck → (jaw, eye L, eye R)


def _rand(*shape: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=gen, dtype=F64) * scale).requires_grad_(True)


def _rotations(batch: int, seed: int) -> torch.Tensor:
    """(B, J, 3, 3) proper rotations (QR of random matrices, determinant +1), no grad."""
    gen = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(batch, NUM_JOINTS, 3, 3, generator=gen, dtype=F64))
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[..., None, :]
    return q * torch.sign(torch.linalg.det(q))[..., None, None]


def _weights(seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(NUM_VERTS, NUM_JOINTS, generator=gen, dtype=F64).softmax(-1)


def test_gradcheck_blend_shapes_and_pose_features() -> None:
    coeffs, dirs = _rand(2, 4, seed=0), _rand(4, NUM_VERTS, 3, seed=1)
    assert gradcheck(blend_shapes, (coeffs, dirs))
    rot = _rotations(2, seed=2).requires_grad_(True)
    assert gradcheck(pose_features, (rot,))


def test_gradcheck_batch_rigid_transform() -> None:
    rot = _rotations(2, seed=3).requires_grad_(True)
    joints = _rand(2, NUM_JOINTS, 3, seed=4)
    assert gradcheck(lambda r, j: batch_rigid_transform(r, j, PARENTS), (rot, joints))


def test_gradcheck_skin_vertices() -> None:
    verts = _rand(2, NUM_VERTS, 3, seed=5)
    weights = _weights(6).requires_grad_(True)
    transforms = _rand(2, NUM_JOINTS, 4, 4, seed=7)
    assert gradcheck(skin_vertices, (verts, weights, transforms))


def test_gradcheck_lbs_with_respect_to_every_input() -> None:
    betas = _rand(2, NUM_SHAPE + NUM_EXP, seed=8)
    rot = _rotations(2, seed=9).requires_grad_(True)
    v_template = _rand(NUM_VERTS, 3, seed=10)
    shapedirs = _rand(NUM_SHAPE + NUM_EXP, NUM_VERTS, 3, seed=11, scale=0.1)
    posedirs = _rand(9 * (NUM_JOINTS - 1), NUM_VERTS, 3, seed=12, scale=0.1)
    regressor = _weights(13).T.contiguous().requires_grad_(True)  # (J, V)
    weights = _weights(14).requires_grad_(True)

    def run(*args: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, r, vt, sd, pd, jr, w = args
        return lbs(
            b, r, v_template=vt, shapedirs=sd, posedirs=pd, j_regressor=jr, parents=PARENTS, lbs_weights=w
        )

    assert gradcheck(run, (betas, rot, v_template, shapedirs, posedirs, regressor, weights), fast_mode=True)


def test_gradcheck_vertices_to_landmarks() -> None:
    verts = _rand(2, NUM_VERTS, 3, seed=15)
    faces = torch.tensor([[0, 1, 2], [2, 3, 4], [3, 4, 5]])
    lmk_faces = torch.tensor([[0, 2], [1, 1]])
    bary = torch.tensor([[0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]], dtype=F64).expand(2, 2, 3)
    assert gradcheck(
        lambda v, w: vertices_to_landmarks(v, faces, lmk_faces, w), (verts, bary.clone().requires_grad_(True))
    )


# ------------------------------------------------------------------------------ tiny FLAME


def _tiny_flame(jaw_type: str) -> FLAME:
    """A 6-vertex, 5-joint, 4-triangle FLAME with 3 shape and 2 expression components (float64)."""
    rng = np.random.default_rng(0)
    faces = np.array([[0, 1, 2], [1, 3, 2], [2, 3, 4], [3, 5, 4]], dtype=np.int64)
    regressor = rng.random((NUM_JOINTS, NUM_VERTS))
    weights = rng.random((NUM_VERTS, NUM_JOINTS))
    model = FlameModelData(
        v_template=rng.normal(size=(NUM_VERTS, 3)) * 0.1,
        faces=faces,
        shapedirs=rng.normal(size=(NUM_VERTS, 3, NUM_SHAPE)) * 0.01,
        exprdirs=rng.normal(size=(NUM_VERTS, 3, NUM_EXP)) * 0.01,
        posedirs=rng.normal(size=(NUM_VERTS, 3, 9 * (NUM_JOINTS - 1))) * 0.01,
        J_regressor=regressor / regressor.sum(1, keepdims=True),
        lbs_weights=weights / weights.sum(1, keepdims=True),
        parents=np.array(PARENTS, dtype=np.int64),
    )
    bary = rng.random((68, 3))
    bary /= bary.sum(1, keepdims=True)
    embedding = LandmarkEmbedding(
        static_faces=rng.integers(0, len(faces), 51),
        static_bary=bary[:51],
        dynamic_faces=rng.integers(0, len(faces), (79, 17)),
        dynamic_bary=np.broadcast_to(bary[51:], (79, 17, 3)).copy(),
        full_faces=rng.integers(0, len(faces), 68),
        full_bary=bary,
    )
    return FLAME(model, embedding, num_shape=NUM_SHAPE, num_expression=NUM_EXP, jaw_type=jaw_type, dtype=F64)


@pytest.mark.parametrize("jaw_type", ["aa", "euler"])
def test_gradcheck_flame_forward_wrt_shape_expression_pose(jaw_type: str) -> None:
    flame = _tiny_flame(jaw_type)
    shape, exp = _rand(2, NUM_SHAPE, seed=20), _rand(2, NUM_EXP, seed=21)
    # yaw ≈ 0.1 rad (5.7°, mid-bin of the 1° contour table) so finite differences stay in one bin
    pose = torch.tensor(
        [[0.05, 0.1, -0.03, 0.2, 0.01, -0.02], [-0.1, -0.2, 0.04, 0.1, -0.03, 0.05]], dtype=F64
    )
    pose.requires_grad_(True)

    def run(s, e, p):
        out = flame(s, e, p)
        return out.vertices, out.landmarks2d, out.landmarks3d

    assert run(shape, exp, pose)[0].shape == (2, NUM_VERTS, 3)
    # fast mode: random output projections (852 outputs would need 852 backward passes)
    assert gradcheck(run, (shape, exp, pose), fast_mode=True)
