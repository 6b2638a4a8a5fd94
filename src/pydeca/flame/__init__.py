"""FLAME layer (LBS, pose correctives, static/dynamic/full landmarks) and the albedo model.

Outputs are in FLAME's world frame: metres, +x subject's left, +y up, +z toward the camera.
"""

from __future__ import annotations

from .albedo import AlbedoModel
from .flame import FLAME, JAW_TYPES, FlameOutput, JawType
from .landmarks import dynamic_contour_bins, vertices_to_landmarks
from .lbs import lbs

__all__ = [
    "FLAME",
    "JAW_TYPES",
    "AlbedoModel",
    "FlameOutput",
    "JawType",
    "dynamic_contour_bins",
    "lbs",
    "vertices_to_landmarks",
]
