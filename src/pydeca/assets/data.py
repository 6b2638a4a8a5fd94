"""Plain-data containers for the parsed asset files (numpy arrays, documented shapes).

These are what the loaders in :mod:`pydeca.assets` return and what the torch layers
(:class:`pydeca.flame.FLAME`, :class:`pydeca.flame.AlbedoModel`, :mod:`pydeca.geometry`) consume.
Parsing files is kept apart from building modules, so a layer can also be built from arrays made
in memory (tests, the demo pack).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FlameModelData:
    """The FLAME model arrays DECA uses (a ``generic_model.pkl`` minus everything unused).

    V = number of vertices (5023 for FLAME), F = triangles (9976), J = joints (5).
    """

    v_template: np.ndarray
    """(V, 3) float32, mean head, metres, FLAME frame."""
    faces: np.ndarray
    """(F, 3) int64 vertex indices."""
    shapedirs: np.ndarray
    """(V, 3, S) float32 identity blendshapes (S = 300 in FLAME 2020), metres per unit code."""
    exprdirs: np.ndarray
    """(V, 3, E) float32 expression blendshapes (E = 100 in FLAME 2020)."""
    posedirs: np.ndarray
    """(V, 3, 9·(J−1)) float32 pose-corrective blendshapes (36 for FLAME)."""
    J_regressor: np.ndarray
    """(J, V) float32 dense joint regressor."""
    lbs_weights: np.ndarray
    """(V, J) float32 skinning weights, rows sum to 1."""
    parents: np.ndarray
    """(J,) int64 kinematic parents, −1 for the root (FLAME: [−1, 0, 1, 1, 1])."""


@dataclass(frozen=True)
class LandmarkEmbedding:
    """Where the 68 landmarks sit on the mesh: triangle ids and barycentric weights.

    The 2D-fitting landmarks are ``[17 contour (from the yaw-binned dynamic table), 51 static]``;
    the fixed ``full`` set gives the 68 3D landmarks (reference §1.2, §2.4).
    """

    static_faces: np.ndarray
    """(51,) int64 triangle ids of landmarks 17–67."""
    static_bary: np.ndarray
    """(51, 3) float32 barycentric weights."""
    dynamic_faces: np.ndarray
    """(79, 17) int64 triangle ids of the jaw contour per yaw bin (0…39 = yaw 0…39°, 40…78 = −1…−39°)."""
    dynamic_bary: np.ndarray
    """(79, 17, 3) float32 barycentric weights."""
    full_faces: np.ndarray
    """(68,) int64 triangle ids of the fixed 3D landmarks."""
    full_bary: np.ndarray
    """(68, 3) float32 barycentric weights."""


@dataclass(frozen=True)
class TemplateMesh:
    """The topology template (``head_template.obj``): faces with separate UV indices.

    V = vertices, T = UV coordinates (T > V because of UV seams), F = triangles.
    """

    verts: np.ndarray
    """(V, 3) float32 positions as stored in the OBJ (DECA never uses them)."""
    uvcoords: np.ndarray
    """(T, 2) float32 UV coordinates ``(u, v)`` in [0, 1], v = 1 at the top of a UV image."""
    faces: np.ndarray
    """(F, 3) int64 vertex indices (0-based)."""
    uvfaces: np.ndarray
    """(F, 3) int64 UV-coordinate indices (0-based)."""


@dataclass(frozen=True)
class AlbedoBasis:
    """A linear albedo model in UV space, resampled once to the working UV size.

    R = UV size (256), K = number of components kept (50 for DECA).
    """

    mean: np.ndarray
    """(3, R, R) float32 RGB mean albedo, nominally [0, 1], row 0 = v = 1."""
    basis: np.ndarray
    """(K, 3, R, R) float32 components (scaled so codes are ~N(0, 1))."""
    source: str
    """'BFM' (FLAME_albedo_from_BFM.npz) or 'FLAME' (FLAME_texture.npz)."""
