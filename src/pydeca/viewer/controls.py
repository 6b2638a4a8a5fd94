"""What the dashboard's dials hold, and how they map onto DECA's codes.

:class:`HeadControls` is plain data: the identity and expression coefficients, the jaw and head
rotations in degrees, the lighting edits, the detail switch and the texture mode. It is made from a
reconstruction's codes (:meth:`HeadControls.from_codes`) and turned back into codes
(:meth:`HeadControls.to_codes`) with everything the dials do not touch (albedo code, camera, detail
code) taken from the reconstruction.

Angles:
    - head pose: ``(yaw, pitch, roll)`` degrees, the global rotation ``R = Rx(pitch) · Ry(yaw) ·
      Rz(roll)`` in FLAME's frame (+y up, +z out of the face), so yaw turns the head left/right.
    - jaw: ``(open, swing, twist)`` degrees, the jaw's axis-angle components about x, y, z.
    - light direction: ``(yaw, pitch)`` degrees, a rotation of the whole SH environment about +y
      then +x (:func:`rotate_sh_light`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from pydeca.constants import NUM_EXP, NUM_SHAPE
from pydeca.geometry.rotations import (
    axis_angle_to_matrix,
    euler_to_axis_angle,
    matrix_to_euler,
)
from pydeca.nets import Codes
from pydeca.render.shading import sh_basis

__all__ = ["TEXTURE_MODES", "HeadControls", "TextureChoice", "rotate_sh_light", "sh_rotation"]

TextureChoice = Literal["photo", "albedo", "grey", "clay"]
"""How the head is coloured: ``photo`` — the texture taken from the photo; ``albedo`` — the albedo
model's; ``grey`` — uniform grey 0.7; all three shaded with the face's SH light on the server.
``clay`` — plain grey lit by the browser's own lights (the cheapest update: positions only)."""

TEXTURE_MODES: tuple[TextureChoice, ...] = ("photo", "albedo", "grey", "clay")


def _degrees(values: Tensor) -> np.ndarray:
    return np.degrees(values.detach().cpu().double().numpy()).astype(np.float32)


@dataclass(frozen=True, eq=False)
class HeadControls:
    """The dashboard's dial values for one head (all arrays are float32 numpy, no batch axis)."""

    shape: np.ndarray
    """(100,) FLAME identity coefficients."""
    exp: np.ndarray
    """(50,) FLAME expression coefficients."""
    jaw: np.ndarray
    """(3,) jaw ``(open, swing, twist)``, degrees (axis-angle components about x, y, z)."""
    head: np.ndarray
    """(3,) head ``(yaw, pitch, roll)``, degrees."""
    light_intensity: float = 1.0
    """Scale of every SH coefficient (1 = the reconstruction's light)."""
    light_yaw: float = 0.0
    """Rotation of the light about +y, degrees."""
    light_pitch: float = 0.0
    """Rotation of the light about +x, degrees."""
    white_light: bool = False
    """Replace each SH coefficient by its mean over R, G, B."""
    detail: bool = True
    """Show the dense detail mesh (when the face has a detail code)."""
    detail_strength: float = 1.0
    """Scale of the detail displacement ``uv_z`` (0–2; the fixed template displacement is kept)."""
    texture: TextureChoice = "photo"

    @classmethod
    def from_codes(cls, codes: Codes, **settings: object) -> HeadControls:
        """The dials of a reconstruction (B = 1): its shape, expression, jaw and head pose.

        Args:
            codes: B = 1 codes.
            settings: other fields (``texture=...``, ...).
        """
        pose = codes.pose[0].detach().float().cpu()
        pitch, yaw, roll = _degrees(matrix_to_euler(axis_angle_to_matrix(pose[:3])))
        return cls(
            shape=codes.shape[0].detach().float().cpu().numpy().copy(),
            exp=codes.exp[0].detach().float().cpu().numpy().copy(),
            jaw=_degrees(pose[3:]),
            head=np.array([yaw, pitch, roll], dtype=np.float32),
            **settings,  # type: ignore[arg-type]
        )

    def with_expression(self, exp: np.ndarray, jaw: np.ndarray | None = None) -> HeadControls:
        """A copy with another expression (50,) and, if given, jaw (3,) degrees."""
        exp = np.asarray(exp, dtype=np.float32).reshape(NUM_EXP)
        new_jaw = self.jaw if jaw is None else np.asarray(jaw, dtype=np.float32).reshape(3)
        return replace(self, exp=exp.copy(), jaw=new_jaw.copy())

    def global_pose(self) -> Tensor:
        """(3,) float32 axis-angle of the head rotation, radians."""
        yaw, pitch, roll = (math.radians(float(a)) for a in self.head)
        return euler_to_axis_angle(torch.tensor([pitch, yaw, roll], dtype=torch.float64)).float()

    def jaw_pose(self) -> Tensor:
        """(3,) float32 axis-angle of the jaw, radians."""
        return torch.from_numpy(np.radians(self.jaw.astype(np.float64))).float()

    def light(self, base: Tensor) -> Tensor:
        """The reconstruction's SH light (B, 9, 3) with this intensity, direction and colour edit."""
        light = base
        if self.white_light:
            light = light.mean(dim=-1, keepdim=True).expand_as(light)
        if self.light_yaw or self.light_pitch:
            light = rotate_sh_light(light, self.light_yaw, self.light_pitch)
        return light * float(self.light_intensity)

    def to_codes(self, base: Codes) -> Codes:
        """Codes for these dials: shape, expression, pose and light from here, the rest from ``base``.

        Args:
            base: the reconstruction's B = 1 codes (albedo, camera and detail code are kept).

        Returns:
            B = 1 codes on ``base``'s device.
        """
        device = base.shape.device

        def row(values: np.ndarray, size: int) -> Tensor:
            return torch.from_numpy(np.asarray(values, dtype=np.float32).reshape(1, size)).to(device)

        pose = torch.cat([self.global_pose(), self.jaw_pose()])[None].to(device)
        return replace(
            base,
            shape=row(self.shape, NUM_SHAPE),
            exp=row(self.exp, NUM_EXP),
            pose=pose,
            light=self.light(base.light),
        )


@lru_cache(maxsize=64)
def sh_rotation(yaw_degrees: float, pitch_degrees: float) -> Tensor:
    """(9, 9) matrix ``M`` turning DECA's SH light by ``R = Rx(pitch) · Ry(yaw)``.

    ``light' = M @ light`` lights a surface as ``light`` lights the surface turned by ``R⁻¹``.

    The nine basis functions (:func:`~pydeca.render.shading.sh_basis`) span every polynomial of
    degree ≤ 2 on the sphere, a space closed under rotation, so ``M`` is exact: it is solved by
    least squares from ``basis(n) · M = basis(Rᵀ n)`` at 64 directions.
    """
    generator = torch.Generator().manual_seed(0)
    directions = torch.randn(64, 3, generator=generator, dtype=torch.float64)
    directions = directions / directions.norm(dim=-1, keepdim=True)
    yaw, pitch = math.radians(yaw_degrees), math.radians(pitch_degrees)
    rotation = (
        axis_angle_to_matrix(torch.tensor([[pitch, 0.0, 0.0]], dtype=torch.float64))[0]
        @ (axis_angle_to_matrix(torch.tensor([[0.0, yaw, 0.0]], dtype=torch.float64))[0])
    )
    basis = sh_basis(directions)
    turned = sh_basis(directions @ rotation)  # rows: Rᵀ n
    solution = torch.linalg.lstsq(basis, turned).solution  # (9, 9): basis · solution = turned
    return solution.float()


def rotate_sh_light(light: Tensor, yaw_degrees: float, pitch_degrees: float) -> Tensor:
    """Rotate SH light coefficients (B, 9, 3) by ``R = Rx(pitch) · Ry(yaw)`` (see :func:`sh_rotation`).

    A surface with normal ``R n`` under the rotated light is shaded as a surface with normal ``n``
    under the original light.
    """
    matrix = sh_rotation(float(yaw_degrees), float(pitch_degrees)).to(light)
    return torch.einsum("jk,bkc->bjc", matrix, light)
