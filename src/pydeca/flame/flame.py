"""The FLAME layer: codes → posed mesh and landmarks (reference §2.4).

The layer owns the model arrays as non-persistent float32 buffers (so ``.to()`` moves them and a
DECA state dict keeps only the official keys) and holds no per-sample state; the math lives in
:mod:`pydeca.flame.lbs` and :mod:`pydeca.flame.landmarks`.

Frame of every output: FLAME world, metres, +x toward the subject's left (image right at zero
pose), +y up, +z out of the face toward the camera. There is no global translation; DECA's camera
(:func:`pydeca.geometry.weak_perspective_project`) places the head in the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import torch
from torch import nn

from pydeca.assets.data import FlameModelData, LandmarkEmbedding
from pydeca.checks import check_shapes
from pydeca.constants import NUM_EXP, NUM_SHAPE
from pydeca.errors import AssetFormatError, OptionError
from pydeca.geometry.rotations import axis_angle_to_matrix, euler_to_axis_angle

from .landmarks import dynamic_contour_bins, vertices_to_landmarks
from .lbs import lbs

__all__ = ["FLAME", "JAW_TYPES", "FlameOutput", "JawType", "check_jaw_type"]

JawType = Literal["aa", "euler"]
"""How the jaw rotation ``pose[:, 3:]`` is given: axis-angle, or DECA's Euler ``(x, y, z)`` radians."""
JAW_TYPES: tuple[str, ...] = get_args(JawType)
"""The accepted ``jaw_type`` values."""


def check_jaw_type(jaw_type: str) -> None:
    """Raise :class:`~pydeca.errors.OptionError` unless ``jaw_type`` is one of :data:`JAW_TYPES`."""
    if jaw_type not in JAW_TYPES:
        choices = " or ".join(repr(c) for c in JAW_TYPES)
        raise OptionError(f"jaw_type: expected {choices}, got {jaw_type!r}")


@dataclass(frozen=True)
class FlameOutput:
    """What one FLAME forward pass returns (all world frame, metres).

    B = batch, V = 5023 vertices for FLAME.
    """

    vertices: torch.Tensor
    """(B, V, 3) posed vertices."""
    landmarks2d: torch.Tensor
    """(B, 68, 3) the 2D-fitting landmarks: 17 yaw-dependent jaw-contour points + 51 static."""
    landmarks3d: torch.Tensor
    """(B, 68, 3) the fixed ``full`` 3D landmarks (same mesh points for every pose)."""


class FLAME(nn.Module):
    """FLAME with DECA's code layout: ``forward(shape, expression, pose) -> FlameOutput``.

    ``pose`` is DECA's 6-vector: global rotation (axis-angle, 3) and jaw rotation (axis-angle, 3,
    or Euler ``(x, y, z)`` radians with ``R = Rx·Ry·Rz`` when ``jaw_type="euler"``; reference §2.3).
    Neck and eye poses default to zero, as in DECA.

    Args:
        model: FLAME arrays (:func:`pydeca.assets.flame_model.load_flame_model`).
        embedding: landmark embedding (:func:`pydeca.assets.embedding.load_landmark_embedding`).
        num_shape: identity components used (first ``num_shape`` of the model's identity basis).
        num_expression: expression components used (first of the expression basis).
        jaw_type: ``"aa"`` (axis-angle, default) or ``"euler"`` (``pose[:, 3:]`` as Euler angles);
            the same option as :class:`pydeca.DECA`'s ``jaw_type``.
        device: where to put the buffers.
        dtype: floating dtype of the buffers (float32 unless testing).
    """

    # non-persistent buffers (registered in __init__); declared here so type checkers see Tensors
    v_template: torch.Tensor
    """(V, 3) template vertices, metres."""
    shapedirs: torch.Tensor
    """(S + E, V, 3) identity then expression bases, component-major."""
    posedirs: torch.Tensor
    """(36, V, 3) pose-corrective basis, component-major."""
    J_regressor: torch.Tensor
    """(J, V) joint regressor."""
    lbs_weights: torch.Tensor
    """(V, J) skinning weights."""
    faces: torch.Tensor
    """(F, 3) int64 vertex indices."""
    static_lmk_faces: torch.Tensor
    """(51,) int64 face of each static landmark."""
    static_lmk_bary: torch.Tensor
    """(51, 3) barycentric weights of the static landmarks."""
    dynamic_lmk_faces: torch.Tensor
    """(79, 17) int64 faces of the jaw-contour landmarks per yaw bin."""
    dynamic_lmk_bary: torch.Tensor
    """(79, 17, 3) barycentric weights of the jaw-contour landmarks per yaw bin."""
    full_lmk_faces: torch.Tensor
    """(68,) int64 face of each fixed 3D landmark."""
    full_lmk_bary: torch.Tensor
    """(68, 3) barycentric weights of the fixed 3D landmarks."""

    def __init__(
        self,
        model: FlameModelData,
        embedding: LandmarkEmbedding,
        *,
        num_shape: int = NUM_SHAPE,
        num_expression: int = NUM_EXP,
        jaw_type: JawType = "aa",
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        check_jaw_type(jaw_type)
        if not 0 < num_shape <= model.shapedirs.shape[-1]:
            raise AssetFormatError(
                f"FLAME model has {model.shapedirs.shape[-1]} identity components, {num_shape} requested; "
                "lower num_shape or use a full FLAME 2020 generic_model.pkl"
            )
        if not 0 < num_expression <= model.exprdirs.shape[-1]:
            raise AssetFormatError(
                f"FLAME model has {model.exprdirs.shape[-1]} expression components, {num_expression} "
                "requested; lower num_expression or use a full FLAME 2020 generic_model.pkl"
            )
        self.num_shape = num_shape
        self.num_expression = num_expression
        self.jaw_type: JawType = jaw_type
        self.parents: list[int] = [int(p) for p in model.parents]

        def buffer(name: str, array: np.ndarray, *, index: bool = False) -> None:
            # cast on the CPU, then move: float64 asset arrays never become float64 tensors on the
            # device (MPS has no float64)
            tensor = torch.as_tensor(np.ascontiguousarray(array), dtype=torch.long if index else dtype)
            tensor = tensor.to(device)
            self.register_buffer(name, tensor, persistent=False)

        dirs = np.concatenate((model.shapedirs[..., :num_shape], model.exprdirs[..., :num_expression]), -1)
        buffer("v_template", model.v_template)  # (V, 3)
        # bases component-major, (K, V, 3), so each blend is one dense matmul (see lbs.blend_shapes)
        buffer("shapedirs", dirs.transpose(2, 0, 1))  # (S + E, V, 3)
        buffer("posedirs", np.asarray(model.posedirs).transpose(2, 0, 1))  # (36, V, 3)
        buffer("J_regressor", model.J_regressor)  # (J, V)
        buffer("lbs_weights", model.lbs_weights)  # (V, J)
        buffer("faces", model.faces, index=True)  # (F, 3)
        buffer("static_lmk_faces", embedding.static_faces, index=True)  # (51,)
        buffer("static_lmk_bary", embedding.static_bary)  # (51, 3)
        buffer("dynamic_lmk_faces", embedding.dynamic_faces, index=True)  # (79, 17)
        buffer("dynamic_lmk_bary", embedding.dynamic_bary)  # (79, 17, 3)
        buffer("full_lmk_faces", embedding.full_faces.reshape(-1), index=True)  # (68,)
        buffer("full_lmk_bary", embedding.full_bary.reshape(-1, 3))  # (68, 3)

    def extra_repr(self) -> str:
        """Sizes and options, shown in ``repr(module)``."""
        return (
            f"vertices={self.v_template.shape[0]}, faces={self.faces.shape[0]}, "
            f"joints={self.J_regressor.shape[0]}, num_shape={self.num_shape}, "
            f"num_expression={self.num_expression}, jaw_type={self.jaw_type!r}"
        )

    def forward(
        self,
        shape: torch.Tensor,
        expression: torch.Tensor,
        pose: torch.Tensor,
        *,
        neck_pose: torch.Tensor | None = None,
        eye_pose: torch.Tensor | None = None,
    ) -> FlameOutput:
        """Pose the mesh and place the landmarks.

        Args:
            shape: (B, S) identity code.
            expression: (B, E) expression code.
            pose: (B, 6) global rotation (axis-angle) + jaw rotation (axis-angle, or Euler with
                ``jaw_type="euler"``), radians.
            neck_pose: (B, 3) neck axis-angle, radians; zeros if ``None``.
            eye_pose: (B, 6) left and right eyeball axis-angle, radians; zeros if ``None``.

        Returns:
            :class:`FlameOutput` in the world frame, metres.

        Raises:
            ShapeError: if a shape differs from the above or the batch sizes disagree.
        """
        check_shapes(
            shape=(shape, f"B {self.num_shape}"),
            expression=(expression, f"B {self.num_expression}"),
            pose=(pose, "B 6"),
        )
        batch = shape.shape[0]
        if neck_pose is None:
            neck_pose = pose.new_zeros(batch, 3)
        if eye_pose is None:
            eye_pose = pose.new_zeros(batch, 6)
        check_shapes(pose=(pose, "B 6"), neck_pose=(neck_pose, "B 3"), eye_pose=(eye_pose, "B 6"))
        global_pose, jaw_pose = pose[:, :3], pose[:, 3:]
        if self.jaw_type == "euler":
            jaw_pose = euler_to_axis_angle(jaw_pose)
        # 1. Rodrigues per joint (global, neck, jaw, eye L, eye R): (B, 5, 3, 3)
        full_pose = torch.stack((global_pose, neck_pose, jaw_pose, eye_pose[:, :3], eye_pose[:, 3:]), dim=1)
        rot_mats = axis_angle_to_matrix(full_pose)
        # 2. skinning: (B, V, 3)
        betas = torch.cat((shape, expression), dim=1)  # (B, S + E)
        vertices, _ = lbs(
            betas,
            rot_mats,
            v_template=self.v_template,
            shapedirs=self.shapedirs,
            posedirs=self.posedirs,
            j_regressor=self.J_regressor,
            parents=self.parents,
            lbs_weights=self.lbs_weights,
        )
        # 3. 2D-fitting landmarks: [17 yaw-binned contour, 51 static]: (B, 68, 3)
        bins = dynamic_contour_bins(rot_mats[:, 0], rot_mats[:, 1])  # (B,)
        lmk_faces = torch.cat((self.dynamic_lmk_faces[bins], self.static_lmk_faces.expand(batch, -1)), dim=1)
        lmk_bary = torch.cat((self.dynamic_lmk_bary[bins], self.static_lmk_bary.expand(batch, -1, -1)), dim=1)
        landmarks2d = vertices_to_landmarks(vertices, self.faces, lmk_faces, lmk_bary)
        # 4. fixed 3D landmarks: (B, 68, 3)
        landmarks3d = self.full_landmarks(vertices)
        return FlameOutput(vertices=vertices, landmarks2d=landmarks2d, landmarks3d=landmarks3d)

    def full_landmarks(self, per_vertex: torch.Tensor) -> torch.Tensor:
        """Interpolate any per-vertex quantity at the 68 fixed 3D landmarks (DECA's ``seletec_3d68``).

        Args:
            per_vertex: (B, V, C) e.g. vertices (metres) or vertex normals.

        Returns:
            (B, 68, C).
        """
        return vertices_to_landmarks(per_vertex, self.faces, self.full_lmk_faces, self.full_lmk_bary)
