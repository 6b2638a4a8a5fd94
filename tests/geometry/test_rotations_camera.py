"""Rotations (Rodrigues, quaternions, Euler jaw, yaw) and DECA's weak-perspective camera."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from pydeca.errors import ShapeError
from pydeca.geometry import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    cam_from_photo,
    cam_to_matrix,
    cam_to_photo,
    euler_to_axis_angle,
    matrix_to_axis_angle,
    matrix_to_euler,
    matrix_to_quaternion,
    ndc_to_pixels,
    pixels_to_ndc,
    quaternion_to_axis_angle,
    rotation_matrix_to_yaw,
    weak_perspective_project,
)


def _tol(dtype: torch.dtype) -> float:
    return 1e-5 if dtype == torch.float32 else 1e-10


def _sample_axis_angles(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Random rotations plus hard ones: ~identity, exactly π about an axis, near π."""
    rng = np.random.default_rng(7)
    axes = rng.normal(size=(40, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.concatenate(
        [rng.uniform(0, math.pi, 30), [1e-9, 1e-7, 1e-5, 1e-3, 0.5, 1.0, 2.0, 3.0, 3.1, 3.14]]
    )
    hard = np.array([[math.pi, 0, 0], [0, math.pi, 0], [0, 0, math.pi - 1e-4], [0.0, 0.0, 0.0]])
    return torch.tensor(np.concatenate([axes * angles[:, None], hard]), dtype=dtype, device=device)


# -------------------------------------------------------------------------------------- rotations


def test_axis_angle_to_matrix_matches_scipy(device: torch.device, dtype: torch.dtype) -> None:
    aa = _sample_axis_angles(dtype, device)
    expected = torch.tensor(Rotation.from_rotvec(aa.cpu().double().numpy()).as_matrix(), dtype=dtype)
    # DECA's +1e-8 per component perturbs the rotation by ~1e-8 rad at most
    torch.testing.assert_close(axis_angle_to_matrix(aa).cpu(), expected, atol=max(_tol(dtype), 3e-8), rtol=0)


def test_axis_angle_to_matrix_uses_decas_epsilon() -> None:
    # at 0 the result is exactly I (axis = 0 / (√3·1e-8) = 0), and finite gradients
    aa = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    rot = axis_angle_to_matrix(aa)
    torch.testing.assert_close(rot, torch.eye(3, dtype=torch.float64).expand(2, 3, 3), atol=0, rtol=0)
    rot.sum().backward()
    assert torch.isfinite(aa.grad).all()
    # θ = ‖r + 1e-8‖ (reference §2.4 step 4): for r = (0.1, 0, 0) the angle is ‖(0.1+1e-8, 1e-8, 1e-8)‖
    r = torch.tensor([0.1, 0.0, 0.0], dtype=torch.float64)
    theta = math.sqrt((0.1 + 1e-8) ** 2 + 2e-16)
    axis = r / theta
    k = torch.tensor(
        [[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]], dtype=torch.float64
    )
    expected = torch.eye(3, dtype=torch.float64) + math.sin(theta) * k + (1 - math.cos(theta)) * (k @ k)
    torch.testing.assert_close(axis_angle_to_matrix(r), expected, atol=1e-15, rtol=0)


def test_matrix_to_axis_angle_round_trip(device: torch.device, dtype: torch.dtype) -> None:
    aa = _sample_axis_angles(dtype, device)
    rot = torch.tensor(
        Rotation.from_rotvec(aa.cpu().double().numpy()).as_matrix(), dtype=dtype, device=device
    )
    back = matrix_to_axis_angle(rot)
    # compare as rotations (π about n equals π about −n)
    torch.testing.assert_close(
        torch.tensor(Rotation.from_rotvec(back.cpu().double().numpy()).as_matrix(), dtype=dtype),
        rot.cpu(),
        atol=10 * _tol(dtype),
        rtol=0,
    )
    not_pi = aa.norm(dim=-1) < 3.0
    torch.testing.assert_close(back[not_pi], aa[not_pi], atol=10 * _tol(dtype), rtol=0)
    assert back.norm(dim=-1).max() <= math.pi + 1e-5


def test_quaternions_match_scipy(dtype: torch.dtype) -> None:
    aa = _sample_axis_angles(dtype, torch.device("cpu"))
    scipy_q = Rotation.from_rotvec(aa.double().numpy()).as_quat()  # (x, y, z, w)
    expected = torch.tensor(np.concatenate([scipy_q[:, 3:], scipy_q[:, :3]], axis=1), dtype=dtype)
    expected = torch.where(expected[:, :1] < 0, -expected, expected)

    def up_to_sign(q: torch.Tensor) -> torch.Tensor:
        # π rotations have w ≈ 0 and an undefined sign: align with the reference first
        return q * torch.where((q * expected).sum(-1, keepdim=True) < 0, -1.0, 1.0).to(dtype)

    quat = axis_angle_to_quaternion(aa)
    torch.testing.assert_close(up_to_sign(quat), expected, atol=_tol(dtype), rtol=0)
    assert (quat[:-4, 0] >= 0).all()
    rot = torch.tensor(Rotation.from_rotvec(aa.double().numpy()).as_matrix(), dtype=dtype)
    from_matrix = matrix_to_quaternion(rot)
    assert (from_matrix[:, 0] >= 0).all()
    torch.testing.assert_close(up_to_sign(from_matrix), expected, atol=10 * _tol(dtype), rtol=0)
    torch.testing.assert_close(quaternion_to_axis_angle(quat)[:-4], aa[:-4], atol=10 * _tol(dtype), rtol=0)


def test_small_angle_gradients_are_finite() -> None:
    aa = torch.tensor([[1e-9, -2e-9, 1e-9], [0.0, 0.0, 0.0], [0.3, 0.2, -0.1]], dtype=torch.float64)
    aa.requires_grad_()
    matrix_to_axis_angle(axis_angle_to_matrix(aa)).sum().backward()
    assert torch.isfinite(aa.grad).all()
    torch.autograd.gradcheck(
        lambda x: quaternion_to_axis_angle(axis_angle_to_quaternion(x)),
        (aa[2:].detach().clone().requires_grad_(),),
    )


def test_euler_to_axis_angle_is_intrinsic_xyz() -> None:
    rng = np.random.default_rng(1)
    euler = rng.uniform(-1.0, 1.0, (20, 3))
    expected = Rotation.from_euler("XYZ", euler).as_rotvec()
    got = euler_to_axis_angle(torch.tensor(euler)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # a pure x angle (mouth opening) is the same axis-angle
    torch.testing.assert_close(
        euler_to_axis_angle(torch.tensor([0.2, 0.0, 0.0])), torch.tensor([0.2, 0.0, 0.0])
    )
    # pin the order: Rx·Ry·Rz, not Rz·Ry·Rx (which scipy calls "ZYX" on reversed angles)
    wrong = Rotation.from_euler("xyz", euler[:1]).as_rotvec()
    assert not np.allclose(got[:1], wrong, atol=1e-3)


def test_rotation_matrix_to_yaw() -> None:
    angles = torch.tensor([-1.2, -0.3, 0.0, 0.4, 1.5], dtype=torch.float64)
    aa = torch.stack([torch.zeros_like(angles), angles, torch.zeros_like(angles)], dim=-1)
    torch.testing.assert_close(rotation_matrix_to_yaw(axis_angle_to_matrix(aa)), angles, atol=1e-7, rtol=0)
    # a pitch about x does not change the yaw
    torch.testing.assert_close(
        rotation_matrix_to_yaw(axis_angle_to_matrix(torch.tensor([0.5, 0.0, 0.0], dtype=torch.float64))),
        torch.tensor(0.0, dtype=torch.float64),
        atol=1e-7,
        rtol=0,
    )


def test_rotation_shape_errors() -> None:
    with pytest.raises(ShapeError):
        axis_angle_to_matrix(torch.zeros(2, 4))
    with pytest.raises(ShapeError):
        matrix_to_axis_angle(torch.zeros(2, 3, 4))


# ----------------------------------------------------------------------------------------- camera


def test_weak_perspective_hand_computed(device: torch.device, dtype: torch.dtype) -> None:
    # x = 8 (0.1 + 0) = 0.8;  y = -8 (0.2 - 0.1) = -0.8;  z = -8 (0.05) = -0.4
    points = torch.tensor([[[0.1, 0.2, 0.05]]], device=device, dtype=dtype)
    cam = torch.tensor([[8.0, 0.0, -0.1]], device=device, dtype=dtype)
    expected = torch.tensor([[[0.8, -0.8, -0.4]]], device=device, dtype=dtype)
    torch.testing.assert_close(weak_perspective_project(points, cam), expected)


def test_weak_perspective_conventions_and_batch() -> None:
    # batch of two cameras: each sample uses its own
    points = torch.tensor([[[0.0, 0.1, 0.02], [0.05, 0.0, 0.0]]]).repeat(2, 1, 1)
    cam = torch.tensor([[10.0, 0.0, 0.0], [5.0, 0.1, 0.0]])
    out = weak_perspective_project(points, cam)
    assert out.shape == (2, 2, 3)
    assert out[0, 0, 1] < 0  # FLAME +y (up) -> NDC y < 0 (towards the top edge)
    assert out[0, 0, 2] < 0  # nearer the camera (+z) -> smaller NDC z
    torch.testing.assert_close(out[1, 1], torch.tensor([0.75, -0.0, -0.0]))  # 5·(0.05 + 0.1)
    with pytest.raises(ShapeError, match="cam"):
        weak_perspective_project(points, cam[:1])


def test_cam_to_matrix_equals_projection() -> None:
    gen = torch.Generator().manual_seed(0)
    points = torch.randn(3, 7, 3, generator=gen, dtype=torch.float64) * 0.1
    cam = torch.tensor([[9.0, 0.01, -0.02], [4.0, 0.0, 0.0], [1.0, 1.0, 2.0]], dtype=torch.float64)
    mat = cam_to_matrix(cam)
    assert mat.shape == (3, 4, 4)
    homog = torch.cat([points, torch.ones(3, 7, 1, dtype=torch.float64)], dim=-1)
    projected = (mat[:, None] @ homog[..., None])[..., 0]  # (3, 7, 4)
    torch.testing.assert_close(projected[..., :3], weak_perspective_project(points, cam))
    torch.testing.assert_close(projected[..., 3], torch.ones(3, 7, dtype=torch.float64))
    expected = torch.tensor(
        [[9.0, 0, 0, 0.09], [0, -9.0, 0, 0.18], [0, 0, -9.0, 0], [0, 0, 0, 1.0]], dtype=torch.float64
    )
    torch.testing.assert_close(mat[0], expected)


def test_pixel_mapping_conventions() -> None:
    # NDC −1 is the left/top edge (col −0.5); pixel 0's centre is NDC −1 + 1/W
    w = 224
    torch.testing.assert_close(ndc_to_pixels(torch.tensor([-1.0, -1.0]), w), torch.tensor([-0.5, -0.5]))
    torch.testing.assert_close(ndc_to_pixels(torch.tensor([1.0, 1.0]), w), torch.tensor([w - 0.5, w - 0.5]))
    torch.testing.assert_close(
        pixels_to_ndc(torch.tensor([0.0, 0.0]), w), torch.tensor([-1 + 1 / w, -1 + 1 / w])
    )
    torch.testing.assert_close(
        pixels_to_ndc(torch.tensor([w - 1.0, 0.0]), w), torch.tensor([1 - 1 / w, -1 + 1 / w])
    )
    # a quad over NDC [−1, 0] covers exactly pixel centres 0 … W/2 − 1
    centres = pixels_to_ndc(torch.stack([torch.arange(w, dtype=torch.float64)] * 2, dim=-1), w)[:, 0]
    inside = (centres >= -1) & (centres <= 0)
    assert inside.nonzero().flatten().tolist() == list(range(w // 2))
    # non-square (H, W): x uses W, y uses H; round trip
    pts = torch.tensor([[[3.25, 10.0], [0.0, 99.0]]], dtype=torch.float64)
    ndc = pixels_to_ndc(pts, (100, 40))
    torch.testing.assert_close(ndc[0, 0], torch.tensor([7.5 / 40 - 1, 21.0 / 100 - 1], dtype=torch.float64))
    torch.testing.assert_close(ndc_to_pixels(ndc, (100, 40)), pts)


def test_pixel_mapping_matches_grid_sample() -> None:
    # sampling an image at pixels_to_ndc(col, row) with align_corners=False returns that pixel
    image = torch.arange(5 * 7, dtype=torch.float32).reshape(1, 1, 5, 7)
    cols, rows = torch.meshgrid(torch.arange(7.0), torch.arange(5.0), indexing="xy")
    grid = pixels_to_ndc(torch.stack([cols, rows], dim=-1), (5, 7))[None]
    sampled = torch.nn.functional.grid_sample(image, grid, align_corners=False)
    torch.testing.assert_close(sampled, image)


# ---------------------------------------------------------------------------------- photo camera


def test_cam_to_photo_hand_computed(device: torch.device, dtype: torch.dtype) -> None:
    # crop T: k = 0.5, a = −10, b = 20; h = 112, c = 111.5; s = 8 → S = 112·8/0.5 = 1792,
    # TX = 0.01 + (111.5 + 10)/896 = 0.01 + 121.5/896, TY = −0.02 − (111.5 − 20)/896
    cam = torch.tensor([[8.0, 0.01, -0.02]], device=device, dtype=dtype)
    tform = torch.tensor([[[0.5, 0.0, -10.0], [0.0, 0.5, 20.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    photo = cam_to_photo(cam, tform, 224)
    assert photo.shape == (1, 3)
    assert photo.dtype == dtype
    assert photo.device.type == device.type
    expected = [[1792.0, 0.01 + 121.5 / 896.0, -0.02 - 91.5 / 896.0]]
    torch.testing.assert_close(
        photo.cpu(), torch.tensor(expected, dtype=dtype), rtol=_tol(dtype), atol=_tol(dtype)
    )


def test_photo_camera_projects_like_crop_camera_then_uncrop() -> None:
    # world points → crop NDC → crop px → photo px through T⁻¹ must equal col = S(x+TX), row = −S(y+TY)
    gen = torch.Generator().manual_seed(3)
    points = torch.randn(2, 5, 3, generator=gen, dtype=torch.float64) * 0.1
    cam = torch.tensor([[7.5, 0.02, -0.01], [9.0, -0.03, 0.04]], dtype=torch.float64)
    k = torch.tensor([0.3, 2.0], dtype=torch.float64)
    tform = torch.zeros(2, 3, 3, dtype=torch.float64)
    tform[:, 0, 0] = tform[:, 1, 1] = k
    tform[:, 0, 2], tform[:, 1, 2], tform[:, 2, 2] = (
        torch.tensor([5.0, -40.0]),
        torch.tensor([-7.0, 12.0]),
        1.0,
    )
    crop_px = ndc_to_pixels(weak_perspective_project(points, cam)[..., :2], 224)
    photo_px = (crop_px - tform[:, None, :2, 2]) / k[:, None, None]
    big_s, big_tx, big_ty = cam_to_photo(cam, tform, 224).unbind(-1)
    col = big_s[:, None] * (points[..., 0] + big_tx[:, None])
    row = -big_s[:, None] * (points[..., 1] + big_ty[:, None])
    torch.testing.assert_close(torch.stack((col, row), -1), photo_px, rtol=0, atol=1e-9)


def test_cam_from_photo_inverts_cam_to_photo(dtype: torch.dtype) -> None:
    cam = torch.tensor([[8.0, 0.01, -0.02], [6.5, -0.04, 0.03]], dtype=dtype)
    tform = torch.tensor(
        [
            [[0.5, 0.0, -10.0], [0.0, 0.5, 20.0], [0.0, 0.0, 1.0]],
            [[1.7, 0.0, 3.0], [0.0, 1.7, -9.0], [0.0, 0.0, 1.0]],
        ]
    )
    back = cam_from_photo(cam_to_photo(cam, tform, 224), tform, 224)
    torch.testing.assert_close(back, cam, rtol=_tol(dtype), atol=_tol(dtype))


def test_photo_camera_shape_errors() -> None:
    with pytest.raises(ShapeError, match="tform"):
        cam_to_photo(torch.ones(2, 3), torch.eye(3).expand(1, 3, 3), 224)
    with pytest.raises(ShapeError, match="photo_cam"):
        cam_from_photo(torch.ones(2, 4), torch.eye(3).expand(2, 3, 3), 224)


def test_matrix_to_euler_inverts_euler_to_axis_angle() -> None:
    angles = torch.tensor([[0.4, -1.2, 2.0], [-0.1, 0.05, -3.0], [1.0, 0.7, 0.0]], dtype=torch.float64)
    back = matrix_to_euler(axis_angle_to_matrix(euler_to_axis_angle(angles)))
    torch.testing.assert_close(back, angles, atol=1e-7, rtol=0)
