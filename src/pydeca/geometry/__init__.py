"""Geometry: rotations and DECA's weak-perspective camera (more modules are added beside these).

Frames: FLAME world (metres, +x subject's left, +y up, +z toward the camera) and crop NDC
(x = −1 left edge, y = −1 top edge, smaller z nearer; pixel centres at integer + 0.5).
"""

from __future__ import annotations

from .camera import (
    cam_from_photo,
    cam_to_matrix,
    cam_to_photo,
    ndc_to_pixels,
    pixels_to_ndc,
    weak_perspective_project,
)
from .rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    euler_to_axis_angle,
    matrix_to_axis_angle,
    matrix_to_euler,
    matrix_to_quaternion,
    quaternion_to_axis_angle,
    rotation_matrix_to_yaw,
)

__all__ = [
    "axis_angle_to_matrix",
    "axis_angle_to_quaternion",
    "cam_from_photo",
    "cam_to_matrix",
    "cam_to_photo",
    "euler_to_axis_angle",
    "matrix_to_axis_angle",
    "matrix_to_euler",
    "matrix_to_quaternion",
    "ndc_to_pixels",
    "pixels_to_ndc",
    "quaternion_to_axis_angle",
    "rotation_matrix_to_yaw",
    "weak_perspective_project",
]
