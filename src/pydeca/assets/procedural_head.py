"""A procedural FLAME-like head mesh for the demo asset pack (numpy only, deterministic).

The head is a latitude-longitude grid on a deformed super-ellipsoid joined to a neck cylinder, with
facial features added as smooth Gaussian bumps and dents of the radius (brows, eye sockets, nose,
lips, chin, cheeks, ears), a mouth slit made by duplicating the vertices of one grid row across the
mouth, and two separate eyeball spheres. Frame and units are FLAME's: metres, +x toward the
subject's left, +y up, +z out of the face; the 68-landmark box is centred near y = 0, the nose tip
sits near z = 0.09 m.

Grid parameters: the polar angle ``a`` ∈ (0, A_MAX] from +y (row index, top → neck) and the
longitude parameter ``w`` ∈ [−1, 1) (column index, w = 0 is the face front, w = ±1 the back seam);
the longitude is ``φ = π (0.55 w + 0.45 w³)`` so the front is sampled more densely. The UV layout is
the grid itself: ``u = (w + 1) / 2``, ``v = V_TOP (1 − s(a / A_MAX))`` with a monotonic warp ``s``
that enlarges the face (:func:`grid_to_v`; v = 1 at the top of a UV image), eyeball islands in
the top-left/top-right corners. :func:`surface_points` evaluates the same surface at any
``(a, w)``, so UV maps are computed per texel without rasterising.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "A_MAX",
    "EYE_CENTRES",
    "EYE_ISLANDS",
    "EYE_ISLAND_RADIUS",
    "MOUTH_Y",
    "NUM_COLS",
    "NUM_ROWS",
    "V_TOP",
    "HeadMesh",
    "build_head",
    "grid_to_v",
    "longitude",
    "surface_points",
    "uv_to_grid",
]

NUM_ROWS = 64
"""Latitude rings of the head grid (below the top pole)."""
NUM_COLS = 80
"""Longitude columns of the head grid."""
A_MAX = np.deg2rad(165.0)
"""Polar angle of the open neck boundary ring, radians."""
V_TOP = 0.85
"""UV v of the top of the head island (the eyeball islands sit above it)."""
CENTRE = np.array([0.0, 0.02, -0.015])
"""Centre of the radial parameterisation, metres."""
EYE_RADIUS = 0.0125
"""Eyeball radius, metres."""
EYE_CENTRES = np.array([[0.032, 0.035, 0.046], [-0.032, 0.035, 0.046]])
"""(2, 3) eyeball centres, metres: row 0 the left eye (+x, joint 3), row 1 the right eye (joint 4)."""
MOUTH_Y = -0.038
"""Nominal height of the mouth slit at the face front, metres."""
EYE_ISLANDS = ((0.08, 0.925), (0.92, 0.925))
"""UV centres of the left and right eyeball islands (top-left / top-right corners)."""
EYE_ISLAND_RADIUS = 0.065
"""UV radius of an eyeball island."""
_EYE_RINGS = 8
_EYE_COLS = 12


@dataclass(frozen=True)
class HeadMesh:
    """The generated mesh and the per-vertex labels the demo pack needs.

    V vertices, T UV coordinates, F triangles. Part labels: 0 head skin, 1 left eyeball (+x),
    2 right eyeball.
    """

    verts: np.ndarray
    """(V, 3) float64 positions, metres, FLAME frame."""
    faces: np.ndarray
    """(F, 3) int64 vertex ids, counter-clockwise seen from outside."""
    uvs: np.ndarray
    """(T, 2) float64 UV coordinates in [0, 1]."""
    uvfaces: np.ndarray
    """(F, 3) int64 UV ids."""
    part: np.ndarray
    """(V,) int64 part label."""
    grid_a: np.ndarray
    """(V,) float64 polar parameter of head vertices (NaN for eyeballs)."""
    grid_w: np.ndarray
    """(V,) float64 longitude parameter of head vertices (NaN for eyeballs)."""
    lower_lip: np.ndarray
    """(V,) bool: vertex belongs to the lower side of the mouth slit (duplicated row or below)."""
    mouth_row: int
    """Index of the grid row that is split by the mouth slit."""
    face_part: np.ndarray
    """(F,) int64 part label of each triangle."""


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _gauss(x: np.ndarray, y: np.ndarray, c: tuple[float, float], s: tuple[float, float]) -> np.ndarray:
    return np.exp(-0.5 * (((x - c[0]) / s[0]) ** 2 + ((y - c[1]) / s[1]) ** 2))


def longitude(w: np.ndarray) -> np.ndarray:
    """Longitude φ (radians, 0 = face front, +π/2 = subject's left) of the column parameter w."""
    return np.pi * (0.55 * w + 0.45 * w**3)


def _base_points(a: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Super-ellipsoid skull joined smoothly to a neck cylinder: (..., 3) points and directions."""
    phi = longitude(w)
    d = np.stack([np.sin(a) * np.sin(phi), np.cos(a), np.sin(a) * np.cos(phi)], axis=-1)
    dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
    p = 2.6
    c = np.where(dz > 0, 0.083, 0.115)
    b = np.where(dy > 0, 0.125, 0.112)
    r_skull = (np.abs(dx / 0.077) ** p + np.abs(dy / b) ** p + np.abs(dz / c) ** p) ** (-1.0 / p)
    # neck: elliptic cylinder around the vertical axis through the centre, only below the skull
    r_neck = _smoothstep(-dy, 0.1, 0.4) / (np.sqrt((dx / 0.052) ** 2 + (dz / 0.050) ** 2) + 1e-9)
    k = 0.012
    r = 0.5 * (r_skull + r_neck + np.sqrt((r_skull - r_neck) ** 2 + k * k))
    pts = CENTRE + r[..., None] * d
    return pts, d


def surface_points(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Head skin surface at grid parameters ``(a, w)`` (any equal shapes) → (..., 3) metres."""
    p0, d = _base_points(np.asarray(a, float), np.asarray(w, float))
    x, y, z = p0[..., 0], p0[..., 1], p0[..., 2]
    ax = np.abs(x)
    front = _smoothstep(d[..., 2], 0.35, 0.75)
    # 1. lower face taper (narrower jaw and chin toward the front), in x only
    taper = 1.0 - 0.16 * _smoothstep(-y, 0.0, 0.08) * _smoothstep(d[..., 2], -0.2, 0.6)
    # 2. radial bumps and dents: (amplitude m, cx, cy, sx, sy), mirrored in x where cx != 0
    feats = [
        (0.010, 0.0, 0.012, 0.007, 0.026),  # nose bridge
        (0.016, 0.0, -0.006, 0.010, 0.011),  # nose tip
        (0.006, 0.014, -0.014, 0.007, 0.007),  # nose wings
        (-0.011, 0.032, 0.035, 0.015, 0.010),  # eye sockets
        (0.0045, 0.036, 0.058, 0.020, 0.0055),  # brows
        (0.003, 0.0, 0.058, 0.010, 0.008),  # glabella
        (0.005, 0.045, -0.012, 0.018, 0.016),  # cheeks
        (0.0075, 0.0, MOUTH_Y + 0.006, 0.018, 0.0055),  # upper lip
        (0.0070, 0.0, MOUTH_Y - 0.008, 0.016, 0.0055),  # lower lip
        (-0.0035, 0.0, MOUTH_Y - 0.019, 0.020, 0.005),  # chin groove
        (0.010, 0.0, -0.066, 0.017, 0.012),  # chin
        (-0.004, 0.0, MOUTH_Y, 0.024, 0.0022),  # mouth line
    ]
    bump = np.zeros_like(x)
    for amp, cx, cy, sx, sy in feats:
        g = _gauss(ax, y, (cx, cy), (sx, sy))
        bump = bump + amp * g
    bump = bump * front
    # 3. ears: a fin on each side at eye-to-nose height, slightly behind the middle
    side = _smoothstep(np.abs(d[..., 0]), 0.80, 0.97)
    ear = 0.020 * side * _gauss(y, z, (0.010, -0.025), (0.022, 0.011))
    r = bump + ear
    pts = p0 + r[..., None] * d
    pts[..., 0] *= taper
    return pts


_UV_WARP = 0.137
"""Strength of the v warp that gives the face (mid latitudes) more UV area than skull top and neck."""


def grid_to_v(a: np.ndarray) -> np.ndarray:
    """UV v of polar parameter ``a``: ``V_TOP (1 − s)``, ``s = t − k sin(π t)``, ``t = a / A_MAX``."""
    t = np.asarray(a) / A_MAX
    return V_TOP * (1.0 - (t - _UV_WARP * np.sin(np.pi * t)))


def uv_to_grid(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of the head UV layout: UV → grid parameters ``(a, w)`` (outside the island: clipped)."""
    s = np.clip((1.0 - np.asarray(v) / V_TOP), 0.0, 1.0)
    t = s.copy()
    for _ in range(8):  # Newton on t − k sin(π t) = s (monotonic, converges in a few steps)
        t = t - (t - _UV_WARP * np.sin(np.pi * t) - s) / (1.0 - _UV_WARP * np.pi * np.cos(np.pi * t))
    a = np.clip(t, 0.0, 1.0) * A_MAX
    w = np.clip(2.0 * np.asarray(u) - 1.0, -1.0, 1.0)
    return a, w


def _eyeball(
    centre: np.ndarray, island: tuple[float, float], v0: int, t0: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lat-long sphere with poles on ±z: verts (Ve, 3), faces, uvs, uvfaces (ids offset by v0, t0)."""
    n_r, n_c = _EYE_RINGS, _EYE_COLS
    th = np.pi * np.arange(1, n_r + 1) / (n_r + 1)
    ps = 2.0 * np.pi * np.arange(n_c) / n_c
    th_g, ps_g = np.meshgrid(th, ps, indexing="ij")
    ring = np.stack([np.sin(th_g) * np.cos(ps_g), np.sin(th_g) * np.sin(ps_g), np.cos(th_g)], -1)
    dirs = np.concatenate([[[0.0, 0.0, 1.0]], ring.reshape(-1, 3), [[0.0, 0.0, -1.0]]])
    verts = centre + EYE_RADIUS * dirs
    front, back = v0, v0 + 1 + n_r * n_c

    def gid(i: int, j: np.ndarray) -> np.ndarray:
        return v0 + 1 + i * n_c + (j % n_c)

    # UVs: azimuthal disc, front pole at the centre, back pole spread on the rim (one vt per column)
    rad = EYE_ISLAND_RADIUS * np.concatenate([th / np.pi, [1.0]])
    uv_ring = np.stack(
        [
            island[0] + rad[:, None] * np.cos(ps)[None, :],
            island[1] + rad[:, None] * np.sin(ps)[None, :],
        ],
        -1,
    )  # (n_r + 1, n_c, 2); the last ring is the back pole's rim
    uvs = np.concatenate([[island], uv_ring.reshape(-1, 2)])
    tid_front = t0

    def tid(i: int, j: np.ndarray) -> np.ndarray:
        return t0 + 1 + i * n_c + (j % n_c)

    faces, uvf = [], []
    j = np.arange(n_c)
    # front cap: seen from outside (+z), (front, ring j, ring j+1) is counter-clockwise
    faces.append(np.stack([np.full(n_c, front), gid(0, j), gid(0, j + 1)], 1))
    uvf.append(np.stack([np.full(n_c, tid_front), tid(0, j), tid(0, j + 1)], 1))
    for i in range(n_r - 1):
        a, b, c, e = gid(i, j), gid(i, j + 1), gid(i + 1, j), gid(i + 1, j + 1)
        ta, tb, tc, te = tid(i, j), tid(i, j + 1), tid(i + 1, j), tid(i + 1, j + 1)
        faces += [np.stack([a, c, b], 1), np.stack([b, c, e], 1)]
        uvf += [np.stack([ta, tc, tb], 1), np.stack([tb, tc, te], 1)]
    a, b = gid(n_r - 1, j), gid(n_r - 1, j + 1)
    faces.append(np.stack([a, np.full(n_c, back), b], 1))
    uvf.append(np.stack([tid(n_r - 1, j), tid(n_r, j), tid(n_r - 1, j + 1)], 1))
    faces_a, uvf_a = np.concatenate(faces), np.concatenate(uvf)
    # orient outward (the ring order above is consistent; fix the global sign once)
    tri = verts[faces_a - v0]
    nrm = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    if np.sum(nrm * (tri.mean(1) - centre)) < 0:
        faces_a, uvf_a = faces_a[:, ::-1].copy(), uvf_a[:, ::-1].copy()
    return verts, faces_a, uvs, uvf_a


def _grid_topology(m: int, dup: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faces (F, 3), UVs (T, 2) and UV faces of the head grid; row ``m``'s lower side uses ``dup``.

    Vertex 0 is the top pole, grid vertex (i, j) is ``1 + i·NUM_COLS + j``; ``dup[j] >= 0`` names the
    duplicated vertex of column j on the lower side of the mouth slit. UVs: NUM_ROWS rows ×
    (NUM_COLS + 1) columns (the back seam duplicated) followed by NUM_COLS pole UVs.
    """
    n_r, n_c = NUM_ROWS, NUM_COLS
    a_rows = A_MAX * np.arange(1, n_r + 1) / n_r

    def gid(i: int, j: np.ndarray) -> np.ndarray:
        return 1 + i * n_c + (j % n_c)

    u_cols = (np.arange(n_c + 1) / n_c)[None, :]
    v_rows = grid_to_v(a_rows)[:, None]
    uv_grid = np.stack(np.broadcast_arrays(u_cols, v_rows), -1).reshape(-1, 2)
    uv_pole = np.stack([(np.arange(n_c) + 0.5) / n_c, np.full(n_c, V_TOP)], -1)
    t_pole0 = uv_grid.shape[0]

    def tid(i: int, j: np.ndarray) -> np.ndarray:
        return i * (n_c + 1) + j

    j = np.arange(n_c)
    faces = [np.stack([np.zeros(n_c, np.int64), gid(0, j), gid(0, j + 1)], 1)]
    uvf = [np.stack([t_pole0 + j, tid(0, j), tid(0, j + 1)], 1)]
    for i in range(n_r - 1):
        a, b, c, e = gid(i, j), gid(i, j + 1), gid(i + 1, j), gid(i + 1, j + 1)
        if i == m:  # lower side of the slit uses the duplicated vertices
            a = np.where(dup[j] >= 0, dup[j], a)
            b = np.where(dup[(j + 1) % n_c] >= 0, dup[(j + 1) % n_c], b)
        ta, tb, tc, te = tid(i, j), tid(i, j + 1), tid(i + 1, j), tid(i + 1, j + 1)
        faces += [np.stack([a, c, b], 1), np.stack([b, c, e], 1)]
        uvf += [np.stack([ta, tc, tb], 1), np.stack([tb, tc, te], 1)]
    uvs = np.concatenate([uv_grid, uv_pole])
    return np.concatenate(faces).astype(np.int64), uvs, np.concatenate(uvf).astype(np.int64)


def build_head() -> HeadMesh:
    """Build the demo head mesh (deterministic, ~5.4k vertices, ~10.6k triangles)."""
    n_r, n_c = NUM_ROWS, NUM_COLS
    a_rows = A_MAX * np.arange(1, n_r + 1) / n_r
    w_cols = -1.0 + 2.0 * np.arange(n_c) / n_c
    a_g, w_g = np.meshgrid(a_rows, w_cols, indexing="ij")
    grid_pts = surface_points(a_g, w_g)  # (n_r, n_c, 3)
    top = surface_points(np.array([0.0]), np.array([0.0]))

    # 1. mouth row: the row whose front vertex is nearest MOUTH_Y; split across |x| < corner
    front_y = grid_pts[:, n_c // 2, 1]
    m = int(np.argmin(np.abs(front_y - MOUTH_Y)))
    corner_x = 0.024
    row_x = grid_pts[m, :, 0]
    inner = (np.abs(row_x) < corner_x) & (grid_pts[m, :, 2] > 0)
    split_cols = np.nonzero(inner)[0]

    n_grid = 1 + n_r * n_c
    dup = np.full(n_c, -1, dtype=np.int64)
    dup[split_cols] = n_grid + np.arange(split_cols.size)
    verts = np.concatenate([top, grid_pts.reshape(-1, 3), grid_pts[m, split_cols]])
    faces_head, uvs, uvf_head = _grid_topology(m, dup)

    # 3. eyeballs (left = +x first)
    parts = [np.zeros(verts.shape[0], np.int64)]
    all_v, all_f, all_t, all_tf = [verts], [faces_head], [uvs], [uvf_head]
    face_part = [np.zeros(faces_head.shape[0], np.int64)]
    nv, nt = verts.shape[0], uvs.shape[0]
    for k in range(2):
        ev, ef, et, etf = _eyeball(EYE_CENTRES[k], EYE_ISLANDS[k], nv, nt)
        all_v.append(ev)
        all_f.append(ef)
        all_t.append(et)
        all_tf.append(etf)
        parts.append(np.full(ev.shape[0], k + 1, np.int64))
        face_part.append(np.full(ef.shape[0], k + 1, np.int64))
        nv += ev.shape[0]
        nt += et.shape[0]

    n_all = nv
    grid_a = np.full(n_all, np.nan)
    grid_w = np.full(n_all, np.nan)
    grid_a[0], grid_w[0] = 0.0, 0.0
    grid_a[1:n_grid] = a_g.reshape(-1)
    grid_w[1:n_grid] = w_g.reshape(-1)
    grid_a[n_grid : n_grid + split_cols.size] = a_rows[m]
    grid_w[n_grid : n_grid + split_cols.size] = w_cols[split_cols]
    lower = np.zeros(n_all, bool)
    lower[1 + (m + 1) * n_c : n_grid] = True
    lower[n_grid : n_grid + split_cols.size] = True
    return HeadMesh(
        verts=np.concatenate(all_v),
        faces=np.concatenate(all_f),
        uvs=np.concatenate(all_t),
        uvfaces=np.concatenate(all_tf),
        part=np.concatenate(parts),
        grid_a=grid_a,
        grid_w=grid_w,
        lower_lip=lower,
        mouth_row=m,
        face_part=np.concatenate(face_part),
    )
