"""The demo asset pack: a complete, deterministic, offline FLAME-format asset set.

:func:`generate_demo_pack` writes, into one flat directory and under DECA's ``data/`` file names,
everything pydeca reads from disk except the network checkpoint (the bundle loader builds a seeded
random one in memory, see :mod:`pydeca.assets.synthetic_checkpoint`):

* ``generic_model.pkl`` — FLAME-2020 layout pickle (protocol 2, plain numpy, csc ``J_regressor``) of a
  procedural head (:mod:`pydeca.assets.procedural_head`), 5 joints, smooth bases
  (300 identity + 100 expression in ``shapedirs``, 36 pose correctives in ``posedirs``).
* ``landmark_embedding.npy`` — 68 landmarks on the right features, with a 79-bin yaw contour table.
* ``head_template.obj``, ``uv_face_mask.png``, ``uv_face_eye_mask.png``, ``fixed_displacement_256.npy``,
  ``mean_texture.jpg``, ``FLAME_texture.npz`` (FLAME texture-space format, 50 components, 256²).
* ``pydeca_demo.json`` — the marker that labels everything made with the pack as demo output.

Frame and units are FLAME's (metres, +x subject's left, +y up, +z out of the face). The same seed
gives the same bytes. Reconstructions made with these assets are not meaningful.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse
from PIL import Image

from .data import LandmarkEmbedding
from .embedding import save_landmark_embedding
from .procedural_head import (
    EYE_CENTRES,
    EYE_ISLAND_RADIUS,
    EYE_ISLANDS,
    NUM_COLS,
    NUM_ROWS,
    V_TOP,
    HeadMesh,
    build_head,
    longitude,
    surface_points,
    uv_to_grid,
)

__all__ = [
    "DEMO_FILES",
    "DEMO_PACK_VERSION",
    "build_demo_landmarks",
    "build_demo_model",
    "ensure_demo_pack",
    "generate_demo_pack",
    "is_demo_pack",
]

DEMO_PACK_VERSION = 3
"""Bumped whenever the generated content changes (the cache directory is ``demo-pack-v<N>``)."""
DEMO_FILES = (
    "generic_model.pkl",
    "landmark_embedding.npy",
    "head_template.obj",
    "uv_face_mask.png",
    "uv_face_eye_mask.png",
    "fixed_displacement_256.npy",
    "mean_texture.jpg",
    "FLAME_texture.npz",
    "pydeca_demo.json",
)
"""Every file a complete demo pack holds (the marker last: it is written last)."""
_UV = 256
_NUM_TEX = 50
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _gauss(x: np.ndarray, y: np.ndarray, c: tuple[float, float], s: tuple[float, float]) -> np.ndarray:
    return np.exp(-0.5 * (((x - c[0]) / s[0]) ** 2 + ((y - c[1]) / s[1]) ** 2))


# ----------------------------------------------------------------------------------------------
# FLAME model arrays
# ----------------------------------------------------------------------------------------------
def _skinning(mesh: HeadMesh) -> tuple[np.ndarray, np.ndarray]:
    """LBS weights (V, 5) and a dense joint regressor (5, V); rows of both sum to 1."""
    v, part = mesh.verts, mesh.part
    n = v.shape[0]
    head = part == 0
    x, y = v[:, 0], v[:, 1]
    phi = np.abs(longitude(np.nan_to_num(mesh.grid_w)))
    # 1. jaw: below the mouth slit, front, above the throat; full weight right under the lips
    rows_below = np.nan_to_num(mesh.grid_a) - mesh.grid_a[1 + mesh.mouth_row * NUM_COLS]
    ramp = _smoothstep(rows_below, 0.0, 0.12)
    near_lips = 1.0 - _smoothstep(np.abs(x), 0.02, 0.035)
    vert = np.where(mesh.lower_lip, np.maximum(ramp, near_lips), 0.0)
    lateral = 1.0 - _smoothstep(phi, np.deg2rad(55.0), np.deg2rad(95.0))
    throat = 1.0 - _smoothstep(-y, 0.08, 0.11)
    w_jaw = np.where(head, vert * lateral * throat, 0.0)
    # 2. root: the neck base
    w_root = np.where(head, _smoothstep(-y, 0.12, 0.16), 0.0)
    weights = np.zeros((n, 5))
    weights[:, 0] = w_root
    weights[:, 2] = w_jaw
    weights[:, 3] = part == 1
    weights[:, 4] = part == 2
    weights[:, 1] = np.where(head, 1.0 - w_root - w_jaw, 0.0)

    # 3. regressor rows average vertex sets: neck rings, both jaw hinges, the eyeballs
    reg = np.zeros((5, n))
    ring_y = np.array([np.mean(y[1 + i * NUM_COLS : 1 + (i + 1) * NUM_COLS]) for i in range(NUM_ROWS)])
    for j, target in ((0, -0.15), (1, -0.10)):
        i = int(np.argmin(np.abs(ring_y - target)))
        reg[j, 1 + i * NUM_COLS : 1 + (i + 1) * NUM_COLS] = 1.0
    for hinge in (np.array([0.062, -0.005, -0.015]), np.array([-0.062, -0.005, -0.015])):
        dist = np.where(head, np.linalg.norm(v - hinge, axis=1), np.inf)
        reg[2, np.argsort(dist, kind="stable")[:8]] = 1.0
    reg[3, part == 1] = 1.0
    reg[4, part == 2] = 1.0
    return weights, reg / reg.sum(1, keepdims=True)


def _smooth_fields(
    pos: np.ndarray, num: int, rng: np.random.Generator, freq: float, asym: float
) -> np.ndarray:
    """``num`` smooth random 3D displacement fields (V, 3, num), mostly mirror-symmetric in x.

    Each field is a random combination of 96 shared plane waves ``cos(ω·p/0.1 m + b)`` with
    ``ω ~ N(0, freq²)``; the mirror image ``M f(M p)`` (M flips x) is averaged in, and ``asym`` of the
    antisymmetric part is kept.
    """
    n_feat = 96
    omega = rng.standard_normal((n_feat, 3)) * freq
    phase = rng.uniform(0.0, 2.0 * np.pi, n_feat)
    coef = rng.standard_normal((n_feat, 3 * num)) / np.sqrt(n_feat)
    mirror = np.array([-1.0, 1.0, 1.0])
    q = pos / 0.1

    def field(pts: np.ndarray) -> np.ndarray:
        return (np.cos(pts @ omega.T + phase) @ coef).reshape(-1, num, 3).transpose(0, 2, 1)

    f, f_m = field(q), field(q * mirror) * mirror[None, :, None]
    return 0.5 * (f + f_m) + asym * 0.5 * (f - f_m)


def _normalise(dirs: np.ndarray, amps: np.ndarray) -> np.ndarray:
    """Scale each component (last axis) of (V, 3, K) so its largest vertex displacement is ``amps``."""
    peak = np.linalg.norm(dirs, axis=1).max(0)
    return dirs * (amps / np.maximum(peak, 1e-12))[None, None, :]


def _rigid_eyes(dirs: np.ndarray, mesh: HeadMesh) -> np.ndarray:
    """Give every eyeball vertex the displacement of its eyeball centre's nearest skin vertex."""
    out = dirs.copy()
    for k in (1, 2):
        skin = np.nonzero(mesh.part == 0)[0]
        near = skin[np.argmin(np.linalg.norm(mesh.verts[skin] - EYE_CENTRES[k - 1], axis=1))]
        out[mesh.part == k] = dirs[near]
    return out


def _bases(mesh: HeadMesh, weights: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shapedirs (V, 3, 400) = 300 identity + 100 expression; posedirs (V, 3, 36); metres."""
    rng = np.random.default_rng([seed, 1])
    v = mesh.verts
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    ax = np.abs(x)
    front = _smoothstep(z, 0.0, 0.05)
    # 1. identity: designed first components, then random smooth fields
    ident = _smooth_fields(v, 300, rng, freq=1.2, asym=0.1)
    nose = _gauss(ax, y, (0.0, -0.005), (0.012, 0.03)) * front
    lower = _smoothstep(-y, 0.0, 0.07)
    cheek = _gauss(ax, y, (0.045, -0.012), (0.02, 0.02)) * front
    designed = [
        v,  # global scale
        v * [1.0, 0.0, 0.0],  # head width
        v * [0.0, 1.0, 0.0],  # head height
        v * [0.0, 0.0, 1.0],  # head depth
        nose[:, None] * [0.0, -0.4, 1.0],  # nose length
        (lower * x)[:, None] * [1.0, 0.0, 0.0],  # jaw width
        cheek[:, None] * np.stack([np.sign(x), np.zeros_like(x), np.ones_like(x)], 1),  # cheeks
    ]
    for i, d in enumerate(designed):
        ident[:, :, i] = d
    ident = _normalise(ident, 0.005 * (1.0 + np.arange(300)) ** -0.6)
    # 2. expression: jaw drop, smile, brows up, frown, pucker, then random fields on mouth and brows
    mouth = _gauss(ax, y, (0.0, -0.04), (0.03, 0.022)) * front
    brows = _gauss(ax, y, (0.035, 0.058), (0.03, 0.015)) * front
    corners = _gauss(ax, y, (0.024, -0.038), (0.01, 0.01)) * front
    jaw = weights[:, 2]
    expr = _smooth_fields(v, 100, rng, freq=2.0, asym=0.15) * (mouth + brows)[:, None, None]
    designed_e = [
        jaw[:, None] * [0.0, -1.0, -0.3],
        corners[:, None] * np.stack([0.6 * np.sign(x), np.ones_like(x), -0.3 * np.ones_like(x)], 1),
        brows[:, None] * [0.0, 1.0, 0.0],
        (brows * _gauss(ax, y, (0.015, 0.058), (0.015, 0.015)))[:, None]
        * np.stack([-np.sign(x), -np.ones_like(x), np.zeros_like(x)], 1),
        mouth[:, None] * np.stack([-0.3 * x / 0.03, np.zeros_like(x), np.ones_like(x)], 1),
    ]
    for i, d in enumerate(designed_e):
        expr[:, :, i] = d
    expr = _normalise(expr, 0.005 * (1.0 + np.arange(100)) ** -0.5)
    shapedirs = _rigid_eyes(np.concatenate([ident, expr], axis=2), mesh)
    # 3. pose correctives: neck (features 0-8) and jaw (9-17) regions; eyes (18-35) none
    posedirs = np.zeros((v.shape[0], 3, 36))
    neck_region = _smoothstep(-y, 0.05, 0.1) * (mesh.part == 0)
    posedirs[:, :, 0:9] = _smooth_fields(v, 9, rng, 1.0, 0.1) * neck_region[:, None, None]
    posedirs[:, :, 9:18] = _smooth_fields(v, 9, rng, 1.5, 0.1) * jaw[:, None, None]
    posedirs[:, :, :18] = _normalise(posedirs[:, :, :18], np.full(18, 0.0015))
    return shapedirs, posedirs


def build_demo_model(mesh: HeadMesh, seed: int = 0) -> dict[str, object]:
    """The FLAME-2020-layout dict (plain numpy, float64 arrays, csc ``J_regressor``) for ``mesh``."""
    weights, reg = _skinning(mesh)
    shapedirs, posedirs = _bases(mesh, weights, seed)

    def f32(a: np.ndarray) -> np.ndarray:  # float32-representable values stored as float64
        return np.ascontiguousarray(a, dtype=np.float32).astype(np.float64)

    v_template = f32(mesh.verts)
    j_reg = scipy.sparse.csc_matrix(f32(reg))
    return {
        "f": mesh.faces.astype(np.uint32),
        "J_regressor": j_reg,
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.uint32),
        "J": np.asarray(j_reg @ v_template),
        "bs_style": "lbs",
        "weights": f32(weights),
        "posedirs": f32(posedirs),
        "v_template": v_template,
        "shapedirs": f32(shapedirs),
        "bs_type": "lrotmin",
    }


# ----------------------------------------------------------------------------------------------
# Landmarks
# ----------------------------------------------------------------------------------------------
def _ray_hits(verts: np.ndarray, faces: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Front-most triangle under each point of ``xy`` (N, 2) looking along −z: (N,) ids, (N, 3) bary."""
    tri = verts[faces]  # (F, 3, 3)
    a, b, c = tri[None, :, 0, :2], tri[None, :, 1, :2], tri[None, :, 2, :2]
    p = xy[:, None, :]
    det = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (c[..., 0] - a[..., 0]) * (
        b[..., 1] - a[..., 1]
    )
    det = np.where(np.abs(det) < 1e-14, np.nan, det)
    l1 = (
        (p[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (c[..., 0] - a[..., 0]) * (p[..., 1] - a[..., 1])
    ) / det
    l2 = (
        (b[..., 0] - a[..., 0]) * (p[..., 1] - a[..., 1]) - (p[..., 0] - a[..., 0]) * (b[..., 1] - a[..., 1])
    ) / det
    l0 = 1.0 - l1 - l2
    inside = (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
    depth = l0 * tri[None, :, 0, 2] + l1 * tri[None, :, 1, 2] + l2 * tri[None, :, 2, 2]
    depth = np.where(inside, depth, -np.inf)
    best = np.argmax(depth, axis=1)
    rows = np.arange(xy.shape[0])
    bary = np.stack([l0[rows, best], l1[rows, best], l2[rows, best]], 1)
    return best, bary


def _static_targets(mouth_y: float) -> np.ndarray:
    """(51, 2) front-view (x, y) targets of iBUG landmarks 17–67, metres (image left = −x)."""
    t = np.linspace(0.0, 1.0, 5)
    brow_r = np.stack([-0.060 + 0.048 * t, 0.056 + 0.010 * np.sin(np.pi * (0.3 + 0.6 * t))], 1)
    brow_l = brow_r[::-1] * [-1.0, 1.0]
    bridge = np.stack([np.zeros(4), [0.040, 0.027, 0.014, -0.003]], 1)
    nostrils = np.stack([[-0.014, -0.007, 0.0, 0.007, 0.014], [-0.016, -0.019, -0.020, -0.019, -0.016]], 1)
    ang = np.deg2rad([180.0, 135.0, 45.0, 0.0, -45.0, -135.0])
    eye_r = np.stack([-0.032 + 0.013 * np.cos(ang), 0.035 + 0.0045 * np.sign(np.round(np.sin(ang), 6))], 1)
    eye_l = eye_r[[3, 2, 1, 0, 5, 4]] * [-1.0, 1.0]
    ox = np.array([-0.025, -0.016, -0.007, 0.0, 0.007, 0.016, 0.025, 0.016, 0.007, 0.0, -0.007, -0.016])
    oy = mouth_y + np.array(
        [0.0, 0.006, 0.009, 0.008, 0.009, 0.006, 0.0, -0.008, -0.010, -0.011, -0.010, -0.008]
    )
    ix = np.array([-0.020, -0.008, 0.0, 0.008, 0.020, 0.008, 0.0, -0.008])
    iy = mouth_y + np.array([0.0005, 0.0015, 0.0015, 0.0015, 0.0005, -0.0015, -0.0015, -0.0015])
    return np.concatenate(
        [brow_r, brow_l, bridge, nostrils, eye_r, eye_l, np.stack([ox, oy], 1), np.stack([ix, iy], 1)]
    )


def _contour(verts: np.ndarray, cand: np.ndarray, jaw: np.ndarray, yaw_deg: float) -> np.ndarray:
    """Vertex ids (17,) of the jaw silhouette of the head turned by ``yaw_deg`` about +y.

    Like FLAME's table, each contour point slides along its own height: point k is the candidate
    within 4 mm of the height of the frontal jaw point ``jaw[k]`` that is outermost in the turned
    view on its side, searched within 2.5 cm of the frontal point so it stays on the jaw (the chin
    point, k = 8, is the frontal one).
    """
    a = np.deg2rad(yaw_deg)
    turned_x = verts[cand, 0] * np.cos(a) + verts[cand, 2] * np.sin(a)
    out = jaw.copy()
    for k in range(17):
        if k == 8:
            continue
        near = (np.abs(verts[cand, 1] - verts[jaw[k], 1]) < 0.004) & (
            np.linalg.norm(verts[cand, ::2] - verts[jaw[k], ::2], axis=1) < 0.025
        )
        side = -1.0 if k < 8 else 1.0
        if np.any(near):
            out[k] = cand[near][int(np.argmax(side * turned_x[near]))]
    return out


def build_demo_landmarks(mesh: HeadMesh, verts: np.ndarray) -> LandmarkEmbedding:
    """The 68-landmark embedding (iBUG order) of the demo head, with the 79-bin contour table."""
    head_faces = np.nonzero(mesh.face_part == 0)[0]
    mouth_y = float(verts[1 + mesh.mouth_row * NUM_COLS + NUM_COLS // 2, 1])
    static_f, static_b = _ray_hits(verts, mesh.faces[head_faces], _static_targets(mouth_y))
    psi = np.pi + np.pi * np.arange(17) / 16.0
    jaw_xy = np.stack([0.070 * np.cos(psi), -0.003 + 0.066 * np.sin(psi)], 1)
    jaw_f, jaw_b = _ray_hits(verts, mesh.faces[head_faces], jaw_xy)
    full_f = head_faces[np.concatenate([jaw_f, static_f])]
    full_b = np.concatenate([jaw_b, static_b]).astype(np.float32).astype(np.float64)
    # dynamic contour: silhouette vertices per yaw bin, embedded as a corner of an incident face
    phi = np.abs(longitude(np.nan_to_num(mesh.grid_w)))
    y = verts[:, 1]
    cand = np.nonzero(
        (mesh.part == 0)
        & (phi < np.deg2rad(115.0))
        & (y < 0.03)
        & (y > -0.095)
        & (np.abs(verts[:, 0]) < 0.08)
    )[0]
    first_face = np.full(verts.shape[0], -1, np.int64)
    corner = np.zeros(verts.shape[0], np.int64)
    flat = mesh.faces[head_faces].reshape(-1)
    order = np.arange(flat.size)[::-1]
    first_face[flat[order]] = head_faces[order // 3]
    corner[flat[order]] = order % 3
    yaws = np.concatenate([np.arange(40), -np.arange(1, 40)])
    faces = mesh.faces
    jaw = faces[full_f[:17], np.argmax(full_b[:17], axis=1)]  # frontal jaw points as vertices
    dyn_v = np.stack([_contour(verts, cand, jaw, float(yw)) for yw in yaws])
    dyn_b = np.zeros((79, 17, 3))
    np.put_along_axis(dyn_b, corner[dyn_v][..., None], 1.0, axis=2)
    dyn_f = first_face[dyn_v]
    dyn_f[0], dyn_b[0] = full_f[:17], full_b[:17]  # facing the camera: the frontal jaw landmarks
    return LandmarkEmbedding(
        static_faces=full_f[17:],
        static_bary=full_b[17:],
        dynamic_faces=dyn_f,
        dynamic_bary=dyn_b.astype(np.float32),
        full_faces=full_f,
        full_bary=full_b.astype(np.float32),
    )


# ----------------------------------------------------------------------------------------------
# UV maps
# ----------------------------------------------------------------------------------------------
def _uv_fields() -> dict[str, np.ndarray]:
    """Per-texel (256, 256) region weights, evaluated on the surface under each texel centre."""
    rows, cols = np.meshgrid(np.arange(_UV), np.arange(_UV), indexing="ij")
    u, v = (cols + 0.5) / _UV, 1.0 - (rows + 0.5) / _UV
    a, w = uv_to_grid(u, v)
    p = surface_points(a, w)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    ax = np.abs(x)
    on_head = v <= V_TOP
    eyes = np.zeros_like(u)
    iris = np.zeros_like(u)
    for cu, cv in EYE_ISLANDS:
        r = np.hypot(u - cu, v - cv) / EYE_ISLAND_RADIUS
        eyes = np.maximum(eyes, r <= 1.0)
        iris = np.maximum(iris, 1.0 - _smoothstep(r, 0.22, 0.28))
    face = (
        _smoothstep(z, 0.015, 0.025)
        * (1.0 - _smoothstep(y, 0.078, 0.086))
        * _smoothstep(y, -0.088, -0.080)
        * (1.0 - _smoothstep(ax, 0.066, 0.072))
        * on_head
    )
    sockets = _gauss(ax, y, (0.032, 0.035), (0.0135, 0.0085))
    eye_hole = _smoothstep(sockets, 0.45, 0.55)
    lips = np.clip(
        1.6 * (_gauss(ax, y, (0.0, -0.032), (0.017, 0.0045)) + _gauss(ax, y, (0.0, -0.046), (0.015, 0.0045))),
        0,
        1,
    ) * _smoothstep(z, 0.03, 0.05)
    brows = _gauss(ax, y, (0.036, 0.058), (0.019, 0.0035)) * _smoothstep(z, 0.02, 0.04)
    return {
        "u": u,
        "v": v,
        "face": face,
        "face_eye": np.maximum(face, eyes),
        "face_only": face * (1.0 - eye_hole),
        "eyes": eyes,
        "iris": iris * eyes,
        "lips": lips * on_head,
        "brows": brows * on_head,
    }


def _mean_albedo(fields: dict[str, np.ndarray]) -> np.ndarray:
    """(256, 256, 3) float64 RGB in [0, 1]: skin, darker lips and brows, white eyes with irises."""
    skin = np.array([0.80, 0.62, 0.52])
    img = np.broadcast_to(skin, (_UV, _UV, 3)).copy()
    img = img * (1.0 - 0.08 * (1.0 - fields["v"]))[..., None]  # slightly darker toward the neck
    for key, colour in (("lips", (0.66, 0.36, 0.35)), ("brows", (0.30, 0.22, 0.17))):
        wgt = fields[key][..., None]
        img = img * (1.0 - wgt) + np.array(colour) * wgt
    eyes, iris = fields["eyes"][..., None], fields["iris"][..., None]
    eye_col = np.array([0.92, 0.90, 0.88]) * (1.0 - iris) + np.array([0.25, 0.17, 0.10]) * iris
    return np.clip(img * (1.0 - eyes) + eye_col * eyes, 0.0, 1.0)


def _texture_basis(fields: dict[str, np.ndarray], seed: int) -> np.ndarray:
    """(256, 256, 3, 50) float32 smooth albedo components in 0–255 units (codes ~N(0, 1))."""
    rng = np.random.default_rng([seed, 2])
    fu = rng.integers(0, 4, _NUM_TEX)
    fv = rng.integers(0, 4, _NUM_TEX)
    ph = rng.uniform(0, 2 * np.pi, (_NUM_TEX, 2))
    colour = rng.standard_normal((_NUM_TEX, 3)) * 0.3 + np.array([1.0, 0.8, 0.7])
    amp = 18.0 * (1.0 + np.arange(_NUM_TEX)) ** -0.5
    cu = np.cos(np.pi * fu[:, None] * (np.arange(_UV) + 0.5) / _UV + ph[:, :1]).astype(np.float32)
    cv = np.cos(np.pi * fv[:, None] * (1.0 - (np.arange(_UV) + 0.5) / _UV) + ph[:, 1:]).astype(np.float32)
    pattern = cv.T[:, None, :] * cu.T[None, :, :]  # (R rows, R cols, K)
    scale = (colour * amp[:, None]).T.astype(np.float32)  # (3, K)
    return np.ascontiguousarray(pattern[:, :, None, :] * scale[None, None])


# ----------------------------------------------------------------------------------------------
# Writers (byte-deterministic)
# ----------------------------------------------------------------------------------------------
def _write_obj(path: Path, mesh: HeadMesh, verts: np.ndarray) -> None:
    lines = ["# pydeca demo head (synthetic; not FLAME)", "mtllib template.mtl"]
    lines += [f"v {a:.6f} {b:.6f} {c:.6f}" for a, b, c in verts]
    lines += [f"vt {a:.6f} {b:.6f}" for a, b in mesh.uvs]
    lines += ["usemtl material_1", "s off"]
    f1, t1 = mesh.faces + 1, mesh.uvfaces + 1
    lines += [f"f {a}/{d} {b}/{e} {c}/{g}" for (a, b, c), (d, e, g) in zip(f1, t1, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` layout with a fixed zip timestamp, so the bytes do not depend on the clock."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(arr), allow_pickle=False)


def _write_mask(path: Path, mask: np.ndarray) -> None:
    grey = np.rint(np.clip(mask, 0.0, 1.0) * 255.0).astype(np.uint8)
    rgba = np.stack([grey, grey, grey, np.full_like(grey, 255)], -1)
    Image.fromarray(rgba, "RGBA").save(path, format="PNG")


def generate_demo_pack(out_dir: str | Path, *, seed: int = 0) -> Path:
    """Write the complete demo asset pack into ``out_dir`` (created if missing) and return it.

    Deterministic: the same ``seed`` gives byte-identical files. Takes about a second.

    Args:
        out_dir: target directory; existing files of the same names are overwritten.
        seed: seed of the random smooth bases (the head geometry does not depend on it).

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.
    """
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    mesh = build_head()
    model = build_demo_model(mesh, seed)
    verts = np.asarray(model["v_template"])
    (out / "generic_model.pkl").write_bytes(pickle.dumps(model, protocol=2))
    save_landmark_embedding(out / "landmark_embedding.npy", build_demo_landmarks(mesh, verts))
    _write_obj(out / "head_template.obj", mesh, verts)
    fields = _uv_fields()
    _write_mask(out / "uv_face_mask.png", fields["face_only"])
    _write_mask(out / "uv_face_eye_mask.png", fields["face_eye"])
    rng = np.random.default_rng([seed, 3])
    disp = sum(
        0.0003
        * rng.standard_normal()
        * np.cos(np.pi * (k + 1) * fields["u"] * 3 + rng.uniform(0, 6))
        * np.cos(np.pi * (k + 2) * fields["v"] * 2 + rng.uniform(0, 6))
        for k in range(4)
    )
    np.save(out / "fixed_displacement_256.npy", (disp * fields["face_eye"]).astype(np.float64))
    mean = _mean_albedo(fields)
    buf = io.BytesIO()
    Image.fromarray(np.rint(mean * 255.0).astype(np.uint8), "RGB").save(buf, format="JPEG", quality=92)
    (out / "mean_texture.jpg").write_bytes(buf.getvalue())
    _write_npz(
        out / "FLAME_texture.npz",
        {"mean": (mean * 255.0).astype(np.float32), "tex_dir": _texture_basis(fields, seed)},
    )
    marker = {
        "pydeca_demo": True,
        "version": DEMO_PACK_VERSION,
        "seed": seed,
        "note": "synthetic demo assets; reconstructions are not meaningful",
    }
    (out / "pydeca_demo.json").write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return out


def is_demo_pack(asset_dir: str | Path) -> bool:
    """True if ``asset_dir`` holds a complete demo pack (every file, and a valid marker)."""
    root = Path(asset_dir).expanduser()
    if not all((root / name).is_file() for name in DEMO_FILES):
        return False
    try:
        marker = json.loads((root / "pydeca_demo.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("pydeca_demo") is True


def ensure_demo_pack(cache_dir: str | Path | None = None) -> Path:
    """The demo pack in ``<cache>/demo-pack-v<N>`` (N = DEMO_PACK_VERSION), generated if incomplete.

    Args:
        cache_dir: parent directory; default ``$PYDECA_CACHE`` or the platform user cache dir.

    Returns:
        The directory holding the complete pack.
    """
    if cache_dir is None:
        from .paths import default_cache_dir  # noqa: PLC0415 - keeps this module light

        cache_dir = default_cache_dir()
    parent = Path(cache_dir).expanduser()
    target = parent / f"demo-pack-v{DEMO_PACK_VERSION}"
    if is_demo_pack(target):
        return target
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-pack-", dir=parent))
    try:
        generate_demo_pack(tmp)
        if target.exists():  # an incomplete earlier attempt
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            if not is_demo_pack(target):  # lost a race to a concurrent writer that failed
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
