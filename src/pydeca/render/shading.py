"""Lighting: second-order spherical harmonics and directional lights (reference §2.7, §2.11).

Normals are in the world (FLAME) frame unless a docstring says otherwise. Shading is per colour
channel and never clamped by the SH model (as the reference); directional lights clamp ``n·l`` at 0.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pydeca.checks import check_shapes

__all__ = [
    "SHAPE_LIGHT_DIRECTIONS",
    "SHAPE_LIGHT_INTENSITY",
    "SH_CONSTANTS",
    "directional_shading",
    "sh_basis",
    "sh_shading",
]

SH_CONSTANTS: tuple[float, ...] = (
    1.0 / math.sqrt(4.0 * math.pi),
    (2.0 * math.pi / 3.0) * math.sqrt(3.0 / (4.0 * math.pi)),
    (2.0 * math.pi / 3.0) * math.sqrt(3.0 / (4.0 * math.pi)),
    (2.0 * math.pi / 3.0) * math.sqrt(3.0 / (4.0 * math.pi)),
    (math.pi / 4.0) * 3.0 * math.sqrt(5.0 / (12.0 * math.pi)),
    (math.pi / 4.0) * 3.0 * math.sqrt(5.0 / (12.0 * math.pi)),
    (math.pi / 4.0) * 3.0 * math.sqrt(5.0 / (12.0 * math.pi)),
    (math.pi / 4.0) * (3.0 / 2.0) * math.sqrt(5.0 / (12.0 * math.pi)),
    (math.pi / 4.0) * (1.0 / 2.0) * math.sqrt(5.0 / (4.0 * math.pi)),
)
"""The 9 constants of DECA's SH basis: 0.28209479, 1.02332671 ×3, 0.85808553 ×3, 0.42904277, 0.24770796."""

SHAPE_LIGHT_DIRECTIONS: tuple[tuple[float, float, float], ...] = (
    (-1.0, 1.0, 1.0),
    (1.0, 1.0, 1.0),
    (-1.0, -1.0, 1.0),
    (1.0, -1.0, 1.0),
    (0.0, 0.0, 1.0),
)
"""The five (unnormalised) directional lights of DECA's grey shape render, world frame."""

SHAPE_LIGHT_INTENSITY = 1.7
"""Intensity of each shape-render light (per colour channel)."""


def sh_basis(normals: Tensor) -> Tensor:
    """Evaluate DECA's 9 scaled SH basis functions at unit (or not) normals.

    Convention:
        ``[1, x, y, z, xy, xz, yz, x² − y², 3z² − 1]`` each times :data:`SH_CONSTANTS`; normals are
        used as given (not re-normalised), as the reference.

    Args:
        normals: (..., 3) normals.

    Returns:
        (..., 9) basis values.

    Example:
        >>> sh_basis(torch.tensor([[0.0, 0.0, 1.0]]))[0, [0, 3, 8]]
        tensor([0.2821, 1.0233, 0.4954])
    """
    x, y, z = normals.unbind(-1)
    basis = torch.stack(
        [torch.ones_like(x), x, y, z, x * y, x * z, y * z, x * x - y * y, 3.0 * z * z - 1.0], dim=-1
    )
    return basis * basis.new_tensor(SH_CONSTANTS)


def sh_shading(normals: Tensor, light: Tensor) -> Tensor:
    """Shade channel-first normal images with SH light coefficients.

    Args:
        normals: (B, 3, H, W) normals (world frame), e.g. ``uv_detail_normals`` or rendered normals.
        light: (B, 9, 3) SH coefficients × RGB (DECA's ``light`` code).

    Returns:
        (B, 3, H, W) RGB shading, unclamped.

    Example:
        >>> n = torch.zeros(1, 3, 1, 1); n[:, 2] = 1.0
        >>> light = torch.zeros(1, 9, 3); light[:, 0] = 1.0     # ambient only
        >>> sh_shading(n, light).flatten()
        tensor([0.2821, 0.2821, 0.2821])
    """
    check_shapes(normals=(normals, "B 3 H W"), light=(light, "B 9 3"))
    basis = sh_basis(normals.permute(0, 2, 3, 1))  # (B, H, W, 9)
    return torch.einsum("bhwk,bkc->bchw", basis, light)


def directional_shading(
    normals: Tensor,
    directions: Tensor | None = None,
    intensity: float | Tensor = SHAPE_LIGHT_INTENSITY,
    *,
    channels_first: bool = False,
) -> Tensor:
    """Mean over lights of ``clamp(n · l̂, 0, 1) · intensity`` (reference §2.11).

    Args:
        normals: (..., 3) normals (world frame), not re-normalised; (B, 3, ...) with
            ``channels_first`` (images such as (B, 3, H, W), without a transpose copy).
        directions: (L, 3) light directions pointing from the surface toward the light; normalised
            here. Default: DECA's five shape-render lights.
        intensity: scalar, or (L, 3) per light and colour channel.
        channels_first: the xyz axis of ``normals`` (and RGB of the result) is dim 1, not the last.

    Returns:
        (..., 3) RGB shading, or (B, 3, ...) with ``channels_first``. With a scalar intensity the
        three channels are one broadcast value (an expanded view).

    Example:
        >>> directional_shading(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[0.0, 0.0, 2.0]]), 1.7)
        tensor([[1.7000, 1.7000, 1.7000]])
    """
    if directions is None:
        directions = normals.new_tensor(SHAPE_LIGHT_DIRECTIONS)
    directions = torch.nn.functional.normalize(directions.to(normals), dim=-1)
    if channels_first:
        cosine = torch.einsum("bc...,lc->bl...", normals, directions).clamp(0.0, 1.0)  # (B, L, ...)
        if isinstance(intensity, Tensor):
            return torch.einsum("bl...,lc->bc...", cosine, intensity.to(normals)) / directions.shape[0]
        return (cosine.mean(1, keepdim=True) * intensity).expand(-1, 3, *cosine.shape[2:])
    cosine = (normals @ directions.t()).clamp(0.0, 1.0)  # (..., L), one matmul
    if isinstance(intensity, Tensor):
        per_light = cosine.unsqueeze(-1) * intensity.to(normals)  # (..., L, 3)
        return per_light.mean(-2)
    return (cosine.mean(-1) * intensity).unsqueeze(-1).expand(*normals.shape[:-1], 3)
