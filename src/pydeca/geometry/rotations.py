"""Rotation conversions: axis-angle, rotation matrices, DECA's Euler jaw angles and yaw.

All functions are batched over any leading dimensions ``...``, differentiable, and keep the device
and dtype of their input. Angles are radians. Rotation matrices act on column vectors
(``x_rotated = R @ x``).

Convention:
    - Axis-angle ``aa = θ · axis`` (right-hand rule).
    - :func:`axis_angle_to_matrix` is DECA's ``batch_rodrigues`` (reference §2.4 step 4):
      ``θ = ‖aa + 1e-8‖`` (1e-8 added to each component before the norm), ``axis = aa / θ``,
      ``R = I + sin θ K + (1 − cos θ) K²``. The epsilon keeps it finite and differentiable at 0;
      it is kept so FLAME matches DECA to float32 precision.
    - Euler jaw angles (``model.jaw_type='euler'``, reference §2.3): ``R = Rx(x) · Ry(y) · Rz(z)``,
      i.e. scipy's intrinsic ``"XYZ"``.
"""

from __future__ import annotations

import torch

from pydeca.checks import check_shapes

__all__ = [
    "axis_angle_to_matrix",
    "axis_angle_to_quaternion",
    "euler_to_axis_angle",
    "matrix_to_axis_angle",
    "matrix_to_euler",
    "matrix_to_quaternion",
    "quaternion_to_axis_angle",
    "rotation_matrix_to_yaw",
]

_RODRIGUES_EPS = 1e-8
"""DECA's ``batch_rodrigues`` adds this to every axis-angle component before taking the norm."""


def _skew(v: torch.Tensor) -> torch.Tensor:
    """(..., 3) vectors → (..., 3, 3) cross-product matrices ``[v]×`` (one small matmul)."""
    generators = v.new_tensor(
        (
            ((0.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0)),
            ((0.0, 0.0, 1.0), (0.0, 0.0, 0.0), (-1.0, 0.0, 0.0)),
            ((0.0, -1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
        )
    )  # [e_i]× for i = x, y, z: (3, 3, 3)
    return (v @ generators.reshape(3, 9)).reshape(*v.shape[:-1], 3, 3)


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula with DECA's ``batch_rodrigues`` epsilon.

    Args:
        axis_angle: (..., 3) axis-angle vectors, radians.

    Returns:
        (..., 3, 3) rotation matrices, same device and dtype.

    Raises:
        ShapeError: if the last dimension is not 3.

    Example:
        >>> axis_angle_to_matrix(torch.tensor([0.0, 0.0, 1.5707963])).round(decimals=4)
        tensor([[ 0., -1.,  0.],
                [ 1.,  0.,  0.],
                [ 0.,  0.,  1.]])
    """
    check_shapes(axis_angle=(axis_angle, "... 3"))
    angle = torch.linalg.vector_norm(axis_angle + _RODRIGUES_EPS, dim=-1, keepdim=True)  # (..., 1)
    k = _skew(axis_angle / angle)  # (..., 3, 3)
    sin = torch.sin(angle)[..., None]
    one_minus_cos = (1.0 - torch.cos(angle))[..., None]
    eye = torch.eye(3, device=axis_angle.device, dtype=axis_angle.dtype)
    return eye + sin * k + one_minus_cos * (k @ k)


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrices to unit quaternions ``(w, x, y, z)`` with ``w ≥ 0``.

    Uses the numerically best-conditioned of the four candidate formulas per matrix (largest
    denominator), so it is accurate near 0 and π.

    Args:
        matrix: (..., 3, 3) rotation matrices.

    Returns:
        (..., 4) quaternions ``(w, x, y, z)``.
    """
    check_shapes(matrix=(matrix, "... 3 3"))
    m = matrix
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # 4·q_i² for each component; the largest gives the best-conditioned candidate.
    four_sq = torch.stack(
        (1.0 + m00 + m11 + m22, 1.0 + m00 - m11 - m22, 1.0 - m00 + m11 - m22, 1.0 - m00 - m11 + m22),
        dim=-1,
    )
    root = torch.sqrt(four_sq.clamp_min(1e-12))  # (..., 4) = 2|q_i|
    d21, d12 = m[..., 2, 1], m[..., 1, 2]
    d02, d20 = m[..., 0, 2], m[..., 2, 0]
    d10, d01 = m[..., 1, 0], m[..., 0, 1]
    candidates = torch.stack(
        (
            torch.stack((root[..., 0] ** 2, d21 - d12, d02 - d20, d10 - d01), dim=-1),
            torch.stack((d21 - d12, root[..., 1] ** 2, d10 + d01, d02 + d20), dim=-1),
            torch.stack((d02 - d20, d10 + d01, root[..., 2] ** 2, d21 + d12), dim=-1),
            torch.stack((d10 - d01, d20 + d02, d21 + d12, root[..., 3] ** 2), dim=-1),
        ),
        dim=-2,
    ) / (2.0 * root[..., :, None])  # (..., 4 candidates, 4 components)
    best = four_sq.argmax(dim=-1)  # (...)
    index = best[..., None, None].expand(*best.shape, 1, 4)
    quat = torch.gather(candidates, -2, index).squeeze(-2)
    quat = quat / torch.linalg.vector_norm(quat, dim=-1, keepdim=True)
    return torch.where(quat[..., :1] < 0, -quat, quat)


def quaternion_to_axis_angle(quaternion: torch.Tensor) -> torch.Tensor:
    """Unit quaternions ``(w, x, y, z)`` to axis-angle with angle in [0, π].

    Smooth at the identity (uses ``2 atan2(|v|, w) / |v| → 2 / w`` for small ``|v|``).

    Args:
        quaternion: (..., 4) ``(w, x, y, z)``, need not have ``w ≥ 0``.

    Returns:
        (..., 3) axis-angle, radians.
    """
    check_shapes(quaternion=(quaternion, "... 4"))
    q = torch.where(quaternion[..., :1] < 0, -quaternion, quaternion)
    w, v = q[..., :1], q[..., 1:]
    sin_half = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
    small = sin_half < 1e-6
    safe_sin = torch.where(small, torch.ones_like(sin_half), sin_half)
    factor = torch.where(
        small,
        2.0 / w.clamp_min(1e-12) * (1.0 - sin_half**2 / (3.0 * w.clamp_min(1e-12) ** 2)),
        2.0 * torch.atan2(sin_half, w) / safe_sin,
    )
    return v * factor


def axis_angle_to_quaternion(axis_angle: torch.Tensor) -> torch.Tensor:
    """Axis-angle to unit quaternions ``(w, x, y, z)`` (exact, no epsilon; smooth at 0).

    Args:
        axis_angle: (..., 3) radians.

    Returns:
        (..., 4) quaternions.
    """
    check_shapes(axis_angle=(axis_angle, "... 3"))
    angle = torch.linalg.vector_norm(axis_angle, dim=-1, keepdim=True)
    half = 0.5 * angle
    small = angle < 1e-6
    safe = torch.where(small, torch.ones_like(angle), angle)
    sinc_half = torch.where(small, 0.5 - angle**2 / 48.0, torch.sin(half) / safe)
    return torch.cat((torch.cos(half), axis_angle * sinc_half), dim=-1)


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrices to axis-angle vectors with angle in [0, π].

    Args:
        matrix: (..., 3, 3) rotation matrices.

    Returns:
        (..., 3) axis-angle, radians.
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def _quaternion_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product of (..., 4) quaternions ``(w, x, y, z)``: rotation ``a`` after ``b``."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        dim=-1,
    )


def euler_to_axis_angle(euler: torch.Tensor) -> torch.Tensor:
    """DECA's Euler jaw angles to axis-angle (reference §2.3, ``model.jaw_type='euler'``).

    Convention:
        ``R = Rx(x) · Ry(y) · Rz(z)`` (intrinsic X-Y-Z, scipy ``from_euler("XYZ", ...)``), built as
        the quaternion product ``qx ⊗ qy ⊗ qz`` and converted to axis-angle. ``x`` opens the mouth.

    Args:
        euler: (..., 3) angles ``(x, y, z)``, radians.

    Returns:
        (..., 3) axis-angle, radians.
    """
    check_shapes(euler=(euler, "... 3"))
    half = 0.5 * euler
    cos, sin = torch.cos(half), torch.sin(half)
    zero = torch.zeros_like(half[..., 0])
    qx = torch.stack((cos[..., 0], sin[..., 0], zero, zero), dim=-1)
    qy = torch.stack((cos[..., 1], zero, sin[..., 1], zero), dim=-1)
    qz = torch.stack((cos[..., 2], zero, zero, sin[..., 2]), dim=-1)
    return quaternion_to_axis_angle(_quaternion_multiply(_quaternion_multiply(qx, qy), qz))


def matrix_to_euler(matrix: torch.Tensor) -> torch.Tensor:
    """The Euler angles of :func:`euler_to_axis_angle`'s convention, from rotation matrices.

    Convention:
        ``R = Rx(x) · Ry(y) · Rz(z)``: ``y = asin(R[0, 2])``, ``x = atan2(−R[1, 2], R[2, 2])``,
        ``z = atan2(−R[0, 1], R[0, 0])``; ``y`` in [−π/2, π/2] (at ±π/2 the split of x and z is
        not unique).

    Args:
        matrix: (..., 3, 3) rotation matrices.

    Returns:
        (..., 3) angles ``(x, y, z)``, radians.

    Example:
        >>> angles = torch.tensor([0.3, -0.2, 0.1])
        >>> matrix_to_euler(axis_angle_to_matrix(euler_to_axis_angle(angles)))
        tensor([ 0.3000, -0.2000,  0.1000])
    """
    check_shapes(matrix=(matrix, "... 3 3"))
    y = torch.asin(matrix[..., 0, 2].clamp(-1.0, 1.0))
    x = torch.atan2(-matrix[..., 1, 2], matrix[..., 2, 2])
    z = torch.atan2(-matrix[..., 0, 1], matrix[..., 0, 0])
    return torch.stack((x, y, z), dim=-1)


def rotation_matrix_to_yaw(matrix: torch.Tensor) -> torch.Tensor:
    """Yaw (rotation about +y) of rotation matrices, as DECA's dynamic contour uses it.

    ``yaw = atan2(−R[2, 0], sqrt(R[0, 0]² + R[1, 0]²))`` (reference §2.4, ``rot_mat_to_euler``).
    For a pure rotation about +y by θ ∈ (−π/2, π/2) this returns θ.

    Args:
        matrix: (..., 3, 3) rotation matrices.

    Returns:
        (...) yaw, radians in [−π/2, π/2].
    """
    check_shapes(matrix=(matrix, "... 3 3"))
    cos_yaw = torch.sqrt(matrix[..., 0, 0] ** 2 + matrix[..., 1, 0] ** 2)
    return torch.atan2(-matrix[..., 2, 0], cos_yaw)
