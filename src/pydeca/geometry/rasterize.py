"""Pure-PyTorch triangle rasterizer (orthographic, one face per pixel, z-buffer).

Convention:
    - Input vertices are in NDC: x = −1 at the left image edge, x = +1 at the right edge, y = −1 at
      the top edge, y = +1 at the bottom edge, smaller z is nearer the camera.
    - Pixel (col, row) is sampled at its centre, NDC ``((2 col + 1)/W − 1, (2 row + 1)/H − 1)``, the
      same as ``grid_sample(..., align_corners=False)``. A quad covering NDC [−1, 0]² covers exactly
      columns and rows 0 … W/2 − 1.
    - Depth is interpolated linearly with the barycentrics (the projection is orthographic); the
      nearest surface wins (compared at float32 precision); equal depths keep the smallest face
      index.
    - ``edge_rule="top_left"``: a pixel centre exactly on an edge belongs to exactly one of the two
      triangles sharing that edge (the pixel centre is treated as shifted by an infinitesimal
      (ε, ε²)), so a mesh that tiles a region covers every pixel of it exactly once.
      ``edge_rule="inclusive"``: pixels on edges count for every triangle touching them (w ≥ 0).
    - Degenerate (zero-area) triangles cover nothing.
    - Barycentrics and depth of the winning face are recomputed with differentiable torch ops from
      its corners, so they carry gradients with respect to ``verts_ndc``.

Algorithm (no Python loop over faces or pixels):

1. Per face: pixel bounding box, edge equations ``w = dx (p_y − y0) − dy (p_x − x0)`` (evaluated
   from the lexicographically smaller endpoint, so faces sharing an edge get bit-exact opposite
   values: watertight) and depth plane.
2. Faces are grouped by box size into square windows of 4 × 4 or 8 × 8 pixels; boxes larger
   than 8 pixels are cut into 8 × 8 tiles (scanned with the 8 × 8 class). For a window the edge function is
   separable: ``w = r_row − c_col`` with ``r = dx (p_y − y0)`` per window row and
   ``c = dy (p_x − x0)`` per window column, so each (face, pixel) candidate costs one comparison
   per edge (``w > 0 ⇔ r > c``; ``w ≥ 0 ⇔ r > nextafter(c, −∞)`` for top-left edges). Columns and
   rows outside the box are disabled with ±∞.
3. Inside candidates get a packed int64 key (order-preserving depth bits in the high bits, face
   index in the low 31 bits), reduced with ``scatter_reduce_(..., "amin")`` per (batch, pixel).
4. Barycentrics and depth of the winners are recomputed in pixel chunks (bounded memory).

Windows are processed in chunks of at most ``max_candidates`` (face, pixel) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch

from pydeca.errors import ShapeError

__all__ = ["Fragments", "rasterize"]

_FACE_BITS = 31
_FACE_MASK = (1 << _FACE_BITS) - 1
_SENTINEL = torch.iinfo(torch.int64).max
_DEFAULT_BUDGET = 1 << 21  # (face, pixel) candidates per chunk; ~40 B each
_WINDOWS = (4, 8)  # window side lengths of the small-box classes (fewer classes: fewer ops)
_TILE = _WINDOWS[-1]  # boxes wider or taller than this are cut into _TILE × _TILE tiles
_WINNER_CHUNK = 1 << 20  # pixels per chunk when recomputing barycentrics


@dataclass
class Fragments:
    """Per-pixel result of :func:`rasterize` (B = batch, H × W = image size)."""

    face_index: torch.Tensor
    """(B, H, W) int64 index of the visible face (into the F faces, no batch offset), −1 background."""
    bary: torch.Tensor
    """(B, H, W, 3) barycentric weights of the visible face's corners; 0 on background."""
    depth: torch.Tensor
    """(B, H, W) NDC z of the visible surface (linear interpolation); +inf on background."""

    @property
    def mask(self) -> torch.Tensor:
        """(B, H, W) bool coverage (``face_index >= 0``)."""
        return self.face_index >= 0


def _image_size(image_size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(image_size, int):
        return image_size, image_size
    height, width = (int(s) for s in image_size)
    return height, width


_Point = tuple[torch.Tensor, torch.Tensor]


def _edge(a: _Point, b: _Point, p: _Point) -> torch.Tensor:
    """Edge function of a → b at p, each an ``(x, y)`` pair of tensors."""
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


class _Setup(NamedTuple):
    """Per flat face (N = B·F): edge equations, top-left flags and depth plane, pixel units."""

    x0: torch.Tensor
    """(N, 3) x of the start point of the edge opposite corner k."""
    y0: torch.Tensor
    """(N, 3) y of the start point."""
    dx: torch.Tensor
    """(N, 3) oriented edge x extent (positive-inside orientation)."""
    dy: torch.Tensor
    """(N, 3) oriented edge y extent."""
    top_left: torch.Tensor
    """(N, 3) bool: a pixel centre exactly on this edge is inside."""
    plane: torch.Tensor
    """(N, 3) ``(c, g_x, g_y)`` with ``z(p) = c + g_x p_x + g_y p_y``."""


def _face_setup(px: torch.Tensor, py: torch.Tensor, pz: torch.Tensor, sign: torch.Tensor) -> _Setup:
    """Per-face edge equations and depth plane, in pixel units.

    Args:
        px: (N, 3) corner x of N flat faces, pixel units (pixel centres at integer + 0.5).
        py: (N, 3) corner y, pixel units.
        pz: (N, 3) corner NDC z.
        sign: (N,) orientation, the sign of the signed area (+1, −1, 0 for degenerate faces).

    Returns:
        :class:`_Setup`; the oriented edge function at p is ``dx (p_y − y0) − dy (p_x − x0)``
        (positive inside).

    Each edge is evaluated from its lexicographically smaller endpoint, so the two faces sharing an
    edge compute exactly opposite values (bit for bit): the rasterization is watertight. The
    top-left tie-break keeps a pixel centre lying exactly on an edge iff the centre moved by an
    infinitesimal (ε, ε²) is inside, so exactly one of two faces sharing the edge keeps it.
    """
    ax, ay = px.roll(-1, 1), py.roll(-1, 1)  # edge k goes from corner k+1 to corner k+2
    bx, by = px.roll(-2, 1), py.roll(-2, 1)
    s0 = sign.unsqueeze(1)
    swap = ((ax > bx) | ((ax == bx) & (ay > by))).to(px.dtype)
    # Select with 0/1 weights: m·a + (1 − m)·b is a or b bit for bit for finite values (and several
    # times faster than torch.where on the CPU); non-finite corners belong to invalid faces.
    keep = 1.0 - swap
    x0, y0 = keep * ax + swap * bx, keep * ay + swap * by
    x1, y1 = keep * bx + swap * ax, keep * by + swap * ay
    s = s0 * (1.0 - 2.0 * swap)  # ±1 is exact, so opposite faces stay bit-exact opposites
    # inward normal of the oriented edge: sign · (−(by − ay), bx − ax)
    nx, ny = -(by - ay) * s0, (bx - ax) * s0
    top_left = (nx > 0) | ((nx == 0) & (ny > 0))
    # depth plane through the three corners
    e1x, e1y, e1z = px[:, 1] - px[:, 0], py[:, 1] - py[:, 0], pz[:, 1] - pz[:, 0]
    e2x, e2y, e2z = px[:, 2] - px[:, 0], py[:, 2] - py[:, 0], pz[:, 2] - pz[:, 0]
    det = e1x * e2y - e1y * e2x
    det = det + (det == 0)  # degenerate faces (never drawn): any non-zero value
    gx = (e1z * e2y - e2z * e1y) / det
    gy = (e2z * e1x - e1z * e2x) / det
    c = pz[:, 0] - gx * px[:, 0] - gy * py[:, 0]
    return _Setup(x0, y0, s * (x1 - x0), s * (y1 - y0), top_left, torch.stack([c, gx, gy], -1))


def _depth_key(depth: torch.Tensor) -> torch.Tensor:
    """Map float depths to int64 keys with the same order, shifted left to make room for the face id."""
    bits = depth.to(torch.float32).view(torch.int32).to(torch.int64)
    ordered = (bits ^ ((bits >> 31) & 0x7FFFFFFF)) + (1 << 31)  # negatives flipped: [0, 2^32), monotone
    return ordered << _FACE_BITS


def rasterize(
    verts_ndc: torch.Tensor,
    faces: torch.Tensor,
    image_size: int | tuple[int, int],
    *,
    edge_rule: Literal["top_left", "inclusive"] = "top_left",
    cull_backfaces: bool = False,
    max_candidates: int = _DEFAULT_BUDGET,
) -> Fragments:
    """Rasterize triangles given in NDC into per-pixel face ids, barycentrics and depth.

    Args:
        verts_ndc: (B, V, 3) NDC vertices (x right, y down, smaller z nearer), float.
        faces: (F, 3) or (B, F, 3) int64 vertex indices (shared by the batch or per sample).
        image_size: ``S`` for S × S or ``(H, W)``.
        edge_rule: ``"top_left"`` (watertight, no pixel twice) or ``"inclusive"`` (pixels on an edge
            count for every touching face; ties go to the smallest face index).
        cull_backfaces: drop faces whose NDC normal points away from the camera (``+z``); front
            faces are clockwise on screen (counter-clockwise seen from the camera in a y-up frame).
        max_candidates: soft bound on (face, pixel) pairs tested at once (memory budget, about
            40 bytes per pair); the result does not depend on it.

    Returns:
        :class:`Fragments`: ``face_index`` (B, H, W) int64 (−1 background), ``bary`` (B, H, W, 3),
        ``depth`` (B, H, W) (+inf background), on the device / dtype of ``verts_ndc``.

    Raises:
        ShapeError: if ``verts_ndc`` is not (B, V, 3) or ``faces`` not (F, 3) / (B, F, 3).
        ValueError: on an unknown ``edge_rule``.
    """
    if verts_ndc.ndim != 3 or verts_ndc.shape[-1] != 3:
        raise ShapeError(f"rasterize: verts_ndc must be (B, V, 3), got {tuple(verts_ndc.shape)}")
    batch = verts_ndc.shape[0]
    if faces.ndim == 2:
        faces = faces.unsqueeze(0).expand(batch, -1, -1)
    if faces.ndim != 3 or faces.shape[-1] != 3 or faces.shape[0] != batch:
        raise ShapeError(f"rasterize: faces must be (F, 3) or (B={batch}, F, 3), got {tuple(faces.shape)}")
    if edge_rule not in ("top_left", "inclusive"):
        raise ValueError(f"rasterize: edge_rule must be 'top_left' or 'inclusive', got {edge_rule!r}")
    height, width = _image_size(image_size)
    device = verts_ndc.device
    faces = faces.to(device=device, dtype=torch.int64)
    n_faces = faces.shape[1]

    with torch.no_grad():
        # 1. corners in pixel units, pixel centres at integer + 0.5: (B·F, 3) each (no gradient)
        corners = _gather_corners(verts_ndc.detach(), faces).reshape(-1, 3, 3)
        px = (corners[..., 0] + 1.0) * (width / 2.0)
        py = (corners[..., 1] + 1.0) * (height / 2.0)
        pz = corners[..., 2]

        # 2. signed area; degenerate / culled / non-finite faces get an empty box
        area = _edge((px[:, 0], py[:, 0]), (px[:, 1], py[:, 1]), (px[:, 2], py[:, 2]))
        valid = (area != 0) & torch.isfinite(area) & torch.isfinite(pz).all(1)
        if cull_backfaces:
            valid &= area < 0
        x0 = torch.ceil(px.amin(1) - 0.5).clamp(0, width).to(torch.int64)
        x1 = torch.floor(px.amax(1) - 0.5).clamp(-1, width - 1).to(torch.int64)
        y0 = torch.ceil(py.amin(1) - 0.5).clamp(0, height).to(torch.int64)
        y1 = torch.floor(py.amax(1) - 0.5).clamp(-1, height - 1).to(torch.int64)
        nx = (x1 - x0 + 1).clamp(min=0)
        ny = (y1 - y0 + 1).clamp(min=0)
        valid &= (nx > 0) & (ny > 0)

        sign = torch.sign(area) * valid
        setup = _face_setup(px, py, pz, sign)
        rule = setup.top_left | (edge_rule == "inclusive")
        packed = torch.cat([setup.x0, setup.y0, setup.dx, setup.dy, setup.plane, rule.to(px.dtype)], 1)
        box = torch.stack([x0, y0, nx, ny], 1)
        keys = torch.full((batch * height * width,), _SENTINEL, dtype=torch.int64, device=device)
        sizes = (n_faces, height, width)
        for win, shape in _windows(valid, box, setup):
            step = max(1, max_candidates // (shape[0] * shape[1]))
            for start in range(0, win.face.numel(), step):
                part = _Windows(win.face[start : start + step], win.box[start : start + step])
                _scan_windows(keys, packed, part, shape, sizes)

        # 3. winners: face id from the low bits of the key, in place (keys is large)
        background = keys == _SENTINEL
        face_index = keys.bitwise_and_(_FACE_MASK).masked_fill_(background, -1)
        face_index = face_index.view(batch, height, width)
        del background

    bary, depth = _winner_bary(verts_ndc, faces, face_index, height, width)
    return Fragments(face_index=face_index, bary=bary, depth=depth)


def _gather_corners(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(B, V, C) vertices, (B, F, 3) faces → (B, F, 3, C) corners."""
    batch, n_faces = faces.shape[:2]
    idx = faces.reshape(batch, n_faces * 3, 1).expand(-1, -1, verts.shape[-1])
    return torch.gather(verts, 1, idx).view(batch, n_faces, 3, verts.shape[-1])


class _Windows(NamedTuple):
    """M pixel windows of one shape: face id and pixel box.

    ``face`` (M,) flat face id (b·F + f); ``box`` (M, 4) int64 ``(col, row, width, height)``: window
    origin and valid extent (≤ the window size).
    """

    face: torch.Tensor
    box: torch.Tensor


def _windows(valid: torch.Tensor, box: torch.Tensor, setup: _Setup) -> list[tuple[_Windows, tuple[int, int]]]:
    """Group the valid faces' boxes into windows of a few fixed shapes ``(ky, kx)``.

    Args:
        valid: (N,) bool faces to draw (non-empty box, non-degenerate).
        box: (N, 4) int64 ``(x0, y0, nx, ny)`` pixel box of each face.
        setup: the faces' edge equations (used to drop tiles that miss the triangle).

    A box of at most ``_TILE`` pixels per side goes into the smallest square window of side in
    ``_WINDOWS`` that holds it; a larger box is cut into ``_TILE`` × ``_TILE`` tiles (the last row /
    column of tiles partial), and tiles lying entirely more than one pixel outside an edge are
    dropped; the tiles share the pass of the largest window class. Returns
    ``[(windows, (ky, kx)), ...]`` (non-empty).
    """
    extent = torch.maximum(box[:, 2], box[:, 3])
    big = valid & (extent > _TILE)
    out = []
    ids = (valid & ~big).nonzero().squeeze(1)
    if ids.numel():
        # class per small face: the smallest square window side ≥ its larger extent (square windows
        # waste a few candidates on thin boxes but save whole passes)
        cls = torch.bucketize(extent[ids], torch.tensor(_WINDOWS, device=box.device))
        cls, order = torch.sort(cls, stable=True)
        ids = ids[order]
        start = 0
        for side, n in zip(_WINDOWS, torch.bincount(cls, minlength=len(_WINDOWS)).tolist(), strict=True):
            if n:
                f = ids[start : start + n]
                out.append((_Windows(f, box[f]), (side, side)))
                start += n
    fb = big.nonzero().squeeze(1)
    if fb.numel():
        tiles = _tiles(fb, box[fb], setup)
        if out and out[-1][1] == (_TILE, _TILE):  # one pass for the largest class and the tiles
            last = out.pop()[0]
            tiles = _Windows(torch.cat([last.face, tiles.face]), torch.cat([last.box, tiles.box]))
        out.append((tiles, (_TILE, _TILE)))
    return out


def _tiles(fb: torch.Tensor, box: torch.Tensor, setup: _Setup) -> _Windows:
    """Cut the (K, 4) boxes of faces ``fb`` (K,) into ``_TILE`` × ``_TILE`` tiles touching the triangle.

    A tile is dropped if, for some edge, the edge function at all four corner pixel centres of the
    tile is below −(|dx| + |dy|) (one pixel step): by linearity every pixel of the tile is then
    clearly outside, far beyond rounding error, so dropping it never changes the coverage.

    Runs in the dtype of ``setup`` (float32 in practice; MPS has no float64). Why one pixel step is
    a safe margin there, with u = eps / 2 the unit roundoff, a = |dx|, b = |dy| and D a bound on
    |p_x − x0| and |p_y − y0| over the tile's corners (pixel centres are exact floats):

    - :func:`_scan_windows` decides a pixel p from r − c = fl(dx · fl(p_y − y0)) − fl(dy · fl(p_x − x0)),
      which is within 2.0001·u·(a + b)·D of the exact edge value w(p); so w(p) < −2.0001·u·(a + b)·D
      makes p outside (r < c) whatever the edge rule.
    - Here each corner product has the same error bound and the subtraction, like the margin
      fl(a + b), one relative rounding, so rejecting ``w_max < −(a + b)`` implies an exact
      max over the tile below −(a + b)·(1 − 2u − 2.0001·u·D).
    - That is below the scan's threshold while 4.0002·u·D ≤ 1 − 2u, i.e. D ≲ 1 / (2 eps)
      (float32: 4.2 million pixels). Edges with D ≥ 1 / (8 eps) (float32: 2^20 pixels, a vertex
      more than a million pixels off the image) or a non-finite bound never reject, keeping a 4×
      slack. Even across a 4000-pixel image (D ≈ 4000) the margin is ~10^3 times the rounding.
    """
    device = fb.device
    tx = torch.div(box[:, 2] + _TILE - 1, _TILE, rounding_mode="floor")
    ty = torch.div(box[:, 3] + _TILE - 1, _TILE, rounding_mode="floor")
    per = tx * ty
    total = int(per.sum())
    rep = torch.repeat_interleave(torch.arange(fb.numel(), device=device), per, output_size=total)
    k = torch.arange(total, device=device) - (torch.cumsum(per, 0) - per)[rep]
    tx = tx[rep]
    ti = torch.div(k, tx, rounding_mode="floor")
    b = box[rep]
    off = torch.stack([(k - ti * tx) * _TILE, ti * _TILE], 1)  # (T, 2) tile offset in the box
    tiles = torch.cat([b[:, :2] + off, (b[:, 2:] - off).clamp(max=_TILE)], 1)  # (T, 4)
    f = fb[rep]
    # conservative rejection (input dtype, see above): corners of the tile's pixel-centre rectangle
    dtype = setup.dx.dtype
    x = tiles[:, 0:1].to(dtype) + 0.5
    y = tiles[:, 1:2].to(dtype) + 0.5
    xs = torch.cat([x, x + (tiles[:, 2:3] - 1)], 1).unsqueeze(1)  # (T, 1, 2)
    ys = torch.cat([y, y + (tiles[:, 3:4] - 1)], 1).unsqueeze(1)
    dx, dy = setup.dx[f].unsqueeze(2), setup.dy[f].unsqueeze(2)  # (T, 3, 1)
    x0, y0 = setup.x0[f].unsqueeze(2), setup.y0[f].unsqueeze(2)
    # max over the corners of a linear function = max over x + max over y terms
    w_max = (dx * (ys - y0)).amax(2) - (dy * (xs - x0)).amin(2)  # (T, 3)
    reach = torch.maximum((xs - x0).abs().amax(2), (ys - y0).abs().amax(2))  # (T, 3) D of each edge
    may_reject = (reach < 1.0 / (8.0 * torch.finfo(dtype).eps)) & torch.isfinite(w_max)
    keep = ((w_max >= -(dx.abs() + dy.abs()).squeeze(2)) | ~may_reject).all(1)
    return _Windows(f[keep], tiles[keep])


def _scan_windows(
    keys: torch.Tensor,
    packed: torch.Tensor,
    win: _Windows,
    shape: tuple[int, int],
    sizes: tuple[int, int, int],
) -> None:
    """Test every pixel of M windows of ``shape = (ky, kx)``; amin the inside pixels' keys into ``keys``.

    ``packed`` (N, 18) per flat face: ``x0`` (columns 0:3), ``y0`` (3:6), ``dx`` (6:9), ``dy``
    (9:12) of the 3 edges, the depth plane ``c, g_x, g_y`` (12:15) and, per edge, 1 where a pixel
    centre exactly on the edge counts (15:18), else 0.
    """
    ky, kx = shape
    n_faces, height, width = sizes
    device = keys.device
    f, box = win
    d = packed.index_select(0, f)  # (M, 18)
    dtype = d.dtype
    origin = box[:, :2].to(dtype) + 0.5  # (M, 2) centre of the window's first pixel
    cx = origin[:, 0:1] + torch.arange(kx, device=device, dtype=dtype)  # (M, kx)
    cy = origin[:, 1:2] + torch.arange(ky, device=device, dtype=dtype)  # (M, ky)
    # separable edge function w = r − c: r per (edge, row), c per (edge, col)
    r = d[:, 6:9, None] * (cy[:, None, :] - d[:, 3:6, None])  # (M, 3, ky)
    c = d[:, 9:12, None] * (cx[:, None, :] - d[:, 0:3, None])  # (M, 3, kx)
    # w ≥ 0 ⇔ r > nextafter(c, −∞) on the edges where a centre on the edge counts
    # (nextafter(c) − c is one ulp, exactly representable, so c + it is nextafter(c) exactly)
    c = c + d[:, 15:18, None] * (torch.nextafter(c, c.new_tensor(float("-inf"))) - c)
    # disable window rows / columns outside the face's box
    if ky > 1:
        r[:, 0].masked_fill_(torch.arange(ky, device=device) >= box[:, 3:4], float("-inf"))
    if kx > 1:
        c[:, 0].masked_fill_(torch.arange(kx, device=device) >= box[:, 2:3], float("inf"))
    inside = r[:, 0, :, None] > c[:, 0, None, :]  # (M, ky, kx)
    inside &= r[:, 1, :, None] > c[:, 1, None, :]
    inside &= r[:, 2, :, None] > c[:, 2, None, :]
    sel = inside.view(-1).nonzero().squeeze(1)  # (S,) flat (window, row, col) of inside pixels
    if sel.numel() == 0:
        return
    # depth from the face plane, (c + g_x p_x) + g_y p_y; packed key per (b, pixel), amin-reduced
    zc = d[:, 12:13] + d[:, 13:14] * cx  # (M, kx)
    zr = d[:, 14:15] * cy  # (M, ky)
    depth = (zc[:, None, :] + zr[:, :, None]).view(-1).index_select(0, sel)
    n = ky * kx
    if n & (n - 1) == 0:  # power of two (the default window sizes): shift and mask
        m, within = sel >> (n.bit_length() - 1), sel & (n - 1)
    else:
        m = torch.div(sel, n, rounding_mode="floor")
        within = sel - m * n
    b = torch.div(f, n_faces, rounding_mode="floor")
    base = (b * height + box[:, 1]) * width + box[:, 0]  # (M,) pixel index of the window origin
    offset = (torch.arange(ky, device=device).unsqueeze(1) * width + torch.arange(kx, device=device)).view(-1)
    pix = base.index_select(0, m) + offset.index_select(0, within)
    face = (f - b * n_faces).index_select(0, m)
    keys.scatter_reduce_(0, pix, _depth_key(depth) | face, reduce="amin")


def _winner_bary(
    verts_ndc: torch.Tensor, faces: torch.Tensor, face_index: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable barycentrics (B, H, W, 3) and depth (B, H, W) of the winning faces.

    Per face (differentiable, small): for the edge opposite corner k, from corner k+1 = (x, y) to
    corner k+2, ``(x, y, (x_{k+2} − x) / A, (y_{k+2} − y) / A)`` with A the signed NDC area, and the
    corner depths. Per covered pixel q (in chunks of ``_WINNER_CHUNK`` pixels):
    ``bary_k = e_x (q_y − y) − e_y (q_x − x)`` and ``depth = Σ_k bary_k z_k``; 0 barycentrics and
    +inf depth elsewhere. Plain torch ops, so gradients flow to ``verts_ndc``.
    """
    batch = verts_ndc.shape[0]
    n_faces = faces.shape[1]
    dtype = verts_ndc.dtype
    c = _gather_corners(verts_ndc, faces).reshape(batch * n_faces, 3, 3)  # differentiable
    x, y = c[..., 0], c[..., 1]
    area = _edge((x[:, 0], y[:, 0]), (x[:, 1], y[:, 1]), (x[:, 2], y[:, 2]))
    area = (area + (area == 0)).unsqueeze(1)
    start_x, start_y = x.roll(-1, 1), y.roll(-1, 1)
    ex, ey = (x.roll(-2, 1) - start_x) / area, (y.roll(-2, 1) - start_y) / area
    coeffs = torch.cat([start_x, start_y, ex, ey, c[..., 2]], 1)  # (B·F, 15)
    qx_of_col = (2.0 * torch.arange(width, device=c.device, dtype=dtype) + 1.0) / width - 1.0
    qy_of_row = (2.0 * torch.arange(height, device=c.device, dtype=dtype) + 1.0) / height - 1.0
    bary = verts_ndc.new_zeros(batch * height * width, 3)
    depth = verts_ndc.new_full((batch * height * width,), float("inf"))
    index = face_index.view(-1)
    for start in range(0, index.numel(), _WINNER_CHUNK):
        fi = index[start : start + _WINNER_CHUNK]
        sel = (fi >= 0).nonzero().squeeze(1)  # (K,) covered pixels of this chunk
        if sel.numel() == 0:
            continue
        flat = sel + start  # flattened (b, row, col)
        b_row = torch.div(flat, width, rounding_mode="floor")
        b = torch.div(b_row, height, rounding_mode="floor")
        qx = qx_of_col.index_select(0, flat - b_row * width).unsqueeze(1)  # (K, 1)
        qy = qy_of_row.index_select(0, b_row - b * height).unsqueeze(1)
        k = coeffs.index_select(0, b * n_faces + fi.index_select(0, sel))  # (K, 15)
        bary_k = k[:, 6:9] * (qy - k[:, 3:6]) - k[:, 9:12] * (qx - k[:, 0:3])  # (K, 3)
        bary.index_put_((flat,), bary_k)
        depth.index_put_((flat,), (bary_k * k[:, 12:15]).sum(1))
    return bary.view(batch, height, width, 3), depth.view(batch, height, width)
