"""Dial values ↔ codes (``pydeca.viewer.controls``): round trips, angles, light edits."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from pydeca.geometry.rotations import axis_angle_to_matrix
from pydeca.nets import Codes
from pydeca.render.shading import sh_basis
from pydeca.viewer.controls import HeadControls, rotate_sh_light, sh_rotation


def _codes(seed: int = 0) -> Codes:
    generator = torch.Generator().manual_seed(seed)
    vector = torch.randn(1, 236, generator=generator) * 0.3
    return Codes.from_flame_vector(vector, detail=torch.randn(1, 128, generator=generator))


def test_from_codes_to_codes_round_trip() -> None:
    codes = _codes()
    back = HeadControls.from_codes(codes).to_codes(codes)
    for name in ("shape", "exp", "tex", "cam", "light", "detail"):
        assert torch.equal(getattr(back, name), getattr(codes, name)), name
    torch.testing.assert_close(back.pose, codes.pose, atol=2e-6, rtol=0)


def test_head_yaw_is_a_rotation_about_up() -> None:
    controls = replace(HeadControls.from_codes(_codes()), head=np.array([30.0, 0.0, 0.0], np.float32))
    torch.testing.assert_close(controls.global_pose(), torch.tensor([0.0, math.radians(30.0), 0.0]))
    pitched = replace(controls, head=np.array([0.0, -12.0, 0.0], np.float32))
    torch.testing.assert_close(pitched.global_pose(), torch.tensor([math.radians(-12.0), 0.0, 0.0]))


def test_jaw_degrees_are_axis_angle_components() -> None:
    controls = replace(HeadControls.from_codes(_codes()), jaw=np.array([20.0, -5.0, 3.0], np.float32))
    expected = torch.tensor([math.radians(20.0), math.radians(-5.0), math.radians(3.0)])
    torch.testing.assert_close(controls.to_codes(_codes()).pose[0, 3:], expected)


def test_sh_rotation_is_identity_at_zero_and_orthogonal_in_effect() -> None:
    torch.testing.assert_close(sh_rotation(0.0, 0.0), torch.eye(9), atol=1e-5, rtol=0)
    light = _codes().light
    normals = torch.nn.functional.normalize(torch.randn(200, 3, dtype=torch.float64), dim=-1)
    rotated = rotate_sh_light(light, 40.0, -25.0)
    # a surface turned by R under the rotated light is shaded as the original under the original
    rotation = axis_angle_to_matrix(torch.tensor([[math.radians(-25.0), 0.0, 0.0]], dtype=torch.float64))[0]
    rotation = (
        rotation
        @ axis_angle_to_matrix(torch.tensor([[0.0, math.radians(40.0), 0.0]], dtype=torch.float64))[0]
    )
    before = sh_basis(normals).float() @ light[0]
    after = sh_basis(normals @ rotation.T).float() @ rotated[0]
    torch.testing.assert_close(after, before, atol=2e-4, rtol=1e-4)


def test_light_yaw_moves_a_light_from_the_front_to_the_side() -> None:
    light = torch.zeros(1, 9, 3)
    light[0, 0] = 1.0
    light[0, 3] = 1.0  # the z (front) band: brightest facing +z
    turned = rotate_sh_light(light, 90.0, 0.0)
    shade = lambda n, lt: (sh_basis(torch.tensor([n])) @ lt[0])[0, 0].item()  # noqa: E731
    assert shade([0.0, 0.0, 1.0], light) == pytest.approx(shade([1.0, 0.0, 0.0], turned), abs=1e-5)
    assert shade([0.0, 0.0, 1.0], turned) == pytest.approx(shade([0.0, 0.0, 1.0], light) - 1.0233, abs=1e-3)


def test_intensity_and_white_light() -> None:
    codes = _codes()
    controls = HeadControls.from_codes(codes)
    torch.testing.assert_close(replace(controls, light_intensity=2.0).light(codes.light), 2.0 * codes.light)
    white = replace(controls, white_light=True).light(codes.light)
    torch.testing.assert_close(white, codes.light.mean(-1, keepdim=True).expand_as(codes.light))


def test_with_expression_keeps_the_rest() -> None:
    controls = HeadControls.from_codes(_codes())
    exp = np.linspace(-1, 1, 50, dtype=np.float32)
    changed = controls.with_expression(exp, np.array([10.0, 0.0, 0.0]))
    assert np.array_equal(changed.exp, exp)
    assert np.array_equal(changed.jaw, [10.0, 0.0, 0.0])
    assert np.array_equal(changed.shape, controls.shape)
    assert np.array_equal(changed.head, controls.head)
    with pytest.raises(ValueError, match="reshape"):
        controls.with_expression(np.zeros(49))
