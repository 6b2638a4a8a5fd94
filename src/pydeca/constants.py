"""Sizes fixed by DECA's released model, in one place.

The code layout of the coarse encoder (reference §2.3) is ``shape | tex | exp | pose | cam | light``.
"""

from __future__ import annotations

NUM_SHAPE = 100
"""FLAME identity coefficients predicted by DECA."""
NUM_TEX = 50
"""Albedo coefficients predicted by DECA."""
NUM_EXP = 50
"""FLAME expression coefficients predicted by DECA."""
NUM_POSE = 6
"""Global rotation (3, axis-angle) + jaw rotation (3, axis-angle), radians."""
NUM_CAM = 3
"""Weak-perspective camera ``(s, tx, ty)``."""
NUM_LIGHT = 27
"""9 spherical-harmonics coefficients × RGB."""
NUM_DETAIL = 128
"""Detail (wrinkle) code of E_detail."""
NUM_FLAME_CODE = NUM_SHAPE + NUM_TEX + NUM_EXP + NUM_POSE + NUM_CAM + NUM_LIGHT
"""236: the output width of E_flame."""
NUM_DETAIL_INPUT = 3 + NUM_EXP + NUM_DETAIL
"""181: jaw pose + expression + detail code, the input of D_detail."""

NUM_LANDMARKS = 68
"""iBUG 68-point landmark scheme."""
NUM_CONTOUR_LANDMARKS = 17
"""Pose-dependent jaw-contour landmarks (68-scheme indices 0–16)."""
NUM_JOINTS = 5
"""FLAME joints: global, neck, jaw, left eye, right eye."""

CROP_SIZE = 224
"""Side of the square face crop the encoders take, pixels."""
UV_SIZE = 256
"""Side of every UV map (displacement, normals, texture), texels."""
MAX_DISPLACEMENT = 0.01
"""Bound of the detail displacement ``uv_z`` (tanh × this), metres."""
CROP_SCALE = 1.25
"""DECA's default crop scale around the detected face box (reference §2.1)."""

MIN_PANEL_HEIGHT = 64
"""Smallest panel height (``deca video --max-height``) in pixels: below it a face is too small to see."""
