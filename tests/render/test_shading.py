"""SH and directional shading: reference constants, hand values, channel layouts."""

from __future__ import annotations

import math

import torch

from pydeca.render.shading import SH_CONSTANTS, directional_shading, sh_shading


def test_sh_constants_match_the_reference():
    expected = [
        0.28209479,
        1.02332671,
        1.02332671,
        1.02332671,
        0.85808553,
        0.85808553,
        0.85808553,
        0.42904277,
        0.24770796,
    ]
    assert [round(c, 8) for c in SH_CONSTANTS] == expected


def test_sh_shading_by_hand():
    normals = torch.zeros(1, 3, 1, 1)
    normals[:, 0] = 1.0  # +x
    light = torch.zeros(1, 9, 3)
    light[:, 1, 0] = 2.0  # the x coefficient, red only
    shading = sh_shading(normals, light).flatten()
    torch.testing.assert_close(shading, torch.tensor([2.0 * SH_CONSTANTS[1], 0.0, 0.0]))


def test_directional_shading_by_hand_and_in_both_layouts():
    # Normal +z: the light (0, 0, 1) gives 1; (±1, ±1, 1)/√3 give 1/√3 each; mean × 1.7.
    expected = 1.7 * (1.0 + 4.0 / math.sqrt(3.0)) / 5.0
    torch.testing.assert_close(
        directional_shading(torch.tensor([[0.0, 0.0, 1.0]])), torch.full((1, 3), expected)
    )
    normals = torch.randn(2, 3, 5, 7)
    intensity = torch.rand(5, 3)
    last = normals.permute(0, 2, 3, 1)
    torch.testing.assert_close(
        directional_shading(normals, channels_first=True), directional_shading(last).permute(0, 3, 1, 2)
    )
    torch.testing.assert_close(
        directional_shading(normals, intensity=intensity, channels_first=True),
        directional_shading(last, intensity=intensity).permute(0, 3, 1, 2),
    )
    # Surfaces facing away from every light are black (clamped, not negative).
    assert float(directional_shading(torch.tensor([[0.0, 0.0, -1.0]])).abs().max()) == 0.0
