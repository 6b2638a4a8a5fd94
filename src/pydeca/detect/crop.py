"""DECA's square face crop: box → (centre, size) → similarity ``T_crop_image`` → 224² warp.

Convention (reference §2.1; fixtures README §4.1):
    - Photo and crop pixels use scikit-image's convention: x = column, y = row, pixel ``i`` centred
      at coordinate ``i``. ``T`` (3×3, homogeneous column vectors) maps photo pixels to crop pixels.
    - A square of side ``size`` centred at ``(cx, cy)`` maps its corners (l, t) → (0, 0),
      (l, b) → (0, 223), (r, t) → (223, 0): ``T = [[s, 0, −s·l], [0, s, −s·t], [0, 0, 1]]`` with
      ``s = 223 / size``, ``l = cx − size/2``, ``t = cy − size/2``.
    - The warp samples the photo bilinearly at ``T⁻¹ (col, row)`` for each crop pixel, zero outside,
      i.e. ``skimage.transform.warp(photo, inverse(T), output_shape=(224, 224))``.
    - No crop (``--detector none``): DECA maps the photo corners (0, 0), (0, H−1), (W−1, 0) onto
      (0, 0), (0, 223), (223, 0) with a least-squares similarity (:func:`whole_image_transform`).
      Exact for square photos (a 224² photo passes through unchanged); for other aspects the best
      fit includes a small rotation, so use :func:`face_transform` to get ``T`` for any face.
    - Device: ``T`` and its inverse are computed in float64 on the CPU (numpy or CPU tensors, where
      precision is free) and cast once to the photo's or points' dtype before they meet device
      tensors: no float64 tensor is ever created on the device (MPS has no float64).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from pydeca.checks import check_shapes
from pydeca.constants import CROP_SCALE, CROP_SIZE
from pydeca.errors import ShapeError

from .types import Face

__all__ = [
    "BBOX_CENTER_SHIFT",
    "KPT68_SIZE_FACTOR",
    "box_from_face",
    "crop_ndc_to_photo_px",
    "crop_transform",
    "face_transform",
    "similarity_transform",
    "square_from_box",
    "uncrop_points",
    "warp_crop",
    "whole_image_transform",
]

KPT68_SIZE_FACTOR = 1.1
"""DECA's 68-point rule: ``old_size = (w + h)/2 · 1.1`` of the landmark bounding box."""
BBOX_CENTER_SHIFT = 0.12
"""DECA's detector-box rule: centre moved down by ``0.12 · old_size`` (``old_size = (w + h)/2``)."""


def square_from_box(
    box: Any, kind: str = "bbox", scale: float = CROP_SCALE
) -> tuple[npt.NDArray[np.float64], float]:
    """DECA's ``bbox2point`` followed by the crop scale: a face box → square (centre, size).

    Rules (reference §2.1), with ``w = r − l``, ``h = b − t``:
        - ``"kpt68"``: ``old = (w + h)/2 · 1.1``, centre = box centre.
        - ``"bbox"``: ``old = (w + h)/2``, centre = ``(cx, cy + 0.12·old)``.
        - then ``size = int(old · scale)`` (DECA truncates to an integer).

    Args:
        box: (4,) ``[left, top, right, bottom]`` photo pixels.
        kind: ``"bbox"`` or ``"kpt68"``.
        scale: crop scale (DECA: 1.25).

    Returns:
        ``(center (2,) float64 (x, y) photo pixels, size float)``.

    Example:
        >>> c, s = square_from_box([0, 0, 100, 100], "bbox")
        >>> c.tolist(), s
        ([50.0, 62.0], 125.0)
    """
    left, top, right, bottom = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    old = (right - left + bottom - top) / 2.0
    cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
    if kind == "kpt68":
        old *= KPT68_SIZE_FACTOR
    elif kind == "bbox":
        cy += BBOX_CENTER_SHIFT * old
    else:
        raise ValueError(f"kind: expected 'bbox' or 'kpt68', got {kind!r}")
    return np.array([cx, cy]), float(int(old * scale))


def box_from_face(
    face: Face, image_shape: tuple[int, ...], scale: float = CROP_SCALE
) -> tuple[npt.NDArray[np.float64], float]:
    """The square crop (centre, size) of a face, with the rule its source calls for.

    Landmarks present → ``kpt68`` rule on their bounding box; else ``kind == "image"`` → DECA's
    no-crop rule (:func:`whole_image_transform`) reduced to a square: centre = the photo point that
    lands on the crop centre, size = (224 − 1) / scale of the fit. Exact for square photos; for
    other aspects the exact rule has a small rotation that (centre, size) cannot hold, so prefer
    :func:`face_transform`. Else the ``bbox`` rule on ``face.box``.

    Args:
        face: a detected face.
        image_shape: ``(H, W, ...)`` of the photo.
        scale: crop scale for the box rules.

    Returns:
        ``(center (2,) float64, size float)`` in photo pixels, for :func:`crop_transform`.
    """
    if face.landmarks68 is not None:
        pts = face.landmarks68
        return square_from_box(np.concatenate([pts.min(axis=0), pts.max(axis=0)]), "kpt68", scale)
    if face.kind == "image":
        t = whole_image_transform(image_shape)
        inv = np.linalg.inv(t)
        half = (CROP_SIZE - 1) / 2.0
        center = inv[:2, :2] @ np.array([half, half]) + inv[:2, 2]
        return center, float((CROP_SIZE - 1) / np.hypot(t[0, 0], t[1, 0]))
    return square_from_box(face.box, face.kind, scale)


def similarity_transform(src: Any, dst: Any) -> npt.NDArray[np.float64]:
    """Least-squares 2-D similarity (rotation, uniform scale, translation; no reflection) src → dst.

    Closed form (Umeyama 1991 for 2-D): with centred points ``p``, ``q``,
    ``a = Σ(p·q) / Σ|p|²``, ``b = Σ(p × q) / Σ|p|²`` and ``T = [[a, −b, tx], [b, a, ty], [0, 0, 1]]``,
    ``t = mean(q) − [[a, −b], [b, a]] mean(p)``. Matches scikit-image's
    ``estimate_transform("similarity", src, dst).params``.

    Args:
        src: (N, 2) points ``(x, y)``, N ≥ 2, not all equal.
        dst: (N, 2) target points.

    Returns:
        (3, 3) float64 ``T`` with ``T @ [x, y, 1] ≈ [x', y', 1]``.
    """
    p = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    q = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    if p.shape != q.shape or len(p) < 2:
        raise ValueError(f"src, dst: expected two (N, 2) arrays with N >= 2, got {p.shape} and {q.shape}")
    mp, mq = p.mean(axis=0), q.mean(axis=0)
    pc, qc = p - mp, q - mq
    norm = float(np.sum(pc * pc))
    if norm == 0.0:
        raise ValueError("src: all points coincide; a similarity is undefined")
    a = float(np.sum(pc * qc)) / norm
    b = float(np.sum(pc[:, 0] * qc[:, 1] - pc[:, 1] * qc[:, 0])) / norm
    rot = np.array([[a, -b], [b, a]])
    t = np.eye(3)
    t[:2, :2] = rot
    t[:2, 2] = mq - rot @ mp
    return t


def whole_image_transform(
    image_shape: tuple[int, ...], crop_size: int = CROP_SIZE
) -> npt.NDArray[np.float64]:
    """DECA's no-crop ``T``: photo corners (0, 0), (0, H−1), (W−1, 0) → (0, 0), (0, c−1), (c−1, 0).

    A least-squares similarity (reference §2.1, "without cropping"): the identity for a
    ``crop_size``² photo, a pure scale for any square photo, a best fit (slightly rotated) otherwise.

    Args:
        image_shape: ``(H, W, ...)`` of the photo.
        crop_size: output side (224).

    Returns:
        (3, 3) float64 ``T``, photo pixel → crop pixel.
    """
    h, w = int(image_shape[0]), int(image_shape[1])
    last = crop_size - 1.0
    src = np.array([[0.0, 0.0], [0.0, h - 1.0], [w - 1.0, 0.0]])
    dst = np.array([[0.0, 0.0], [0.0, last], [last, 0.0]])
    return similarity_transform(src, dst)


def face_transform(
    face: Face, image_shape: tuple[int, ...], scale: float = CROP_SCALE, crop_size: int = CROP_SIZE
) -> npt.NDArray[np.float64]:
    """``T`` (photo pixel → crop pixel, (3, 3) float64) of a face, with the exact rule of its source.

    ``kind == "image"`` without landmarks → :func:`whole_image_transform`; else
    :func:`crop_transform` of :func:`box_from_face`.
    """
    if face.landmarks68 is None and face.kind == "image":
        return whole_image_transform(image_shape, crop_size)
    center, size = box_from_face(face, image_shape, scale)
    return crop_transform(center, size, crop_size)


def crop_transform(center: Any, size: Any, crop_size: int = CROP_SIZE) -> npt.NDArray[np.float64]:
    """Similarity ``T`` (photo pixel → crop pixel) of a square crop.

    Args:
        center: (2,) or (B, 2) ``(x, y)`` photo pixels.
        size: scalar or (B,) side of the square, photo pixels.
        crop_size: output side (224).

    Returns:
        (3, 3) float64, or (B, 3, 3) for batched input: ``[[s, 0, −s·l], [0, s, −s·t], [0, 0, 1]]``
        with ``s = (crop_size − 1)/size``, ``(l, t) = center − size/2``.

    Example:
        >>> crop_transform([112.0, 112.0], 223.0)[0].tolist()
        [1.0, 0.0, -0.5]
    """
    c = np.asarray(center, dtype=np.float64)
    sz = np.asarray(size, dtype=np.float64)
    batched = c.ndim == 2
    c = c.reshape(-1, 2)
    sz = np.broadcast_to(sz.reshape(-1), (len(c),))
    s = (crop_size - 1) / sz
    left, top = c[:, 0] - sz / 2.0, c[:, 1] - sz / 2.0
    t = np.zeros((len(c), 3, 3))
    t[:, 0, 0] = t[:, 1, 1] = s
    t[:, 0, 2] = -s * left
    t[:, 1, 2] = -s * top
    t[:, 2, 2] = 1.0
    return t if batched else t[0]


def _pixel_to_normalized(width: int, height: int, ref: torch.Tensor) -> torch.Tensor:
    """(3, 3) map from integer-centred pixels to ``grid_sample(align_corners=False)`` coordinates."""
    return ref.new_tensor(
        [[2.0 / width, 0.0, 1.0 / width - 1.0], [0.0, 2.0 / height, 1.0 / height - 1.0], [0.0, 0.0, 1.0]]
    )


def warp_crop(image: torch.Tensor, tform: Any, crop_size: int = CROP_SIZE) -> torch.Tensor:
    """Warp photos into square crops: bilinear, zero outside the photo.

    Reproduces ``skimage.transform.warp(photo, inverse(T), output_shape=(crop, crop))`` (order 1,
    constant 0): crop pixel (col, row) takes the photo at ``T⁻¹ (col, row, 1)``. Implemented as one
    ``affine_grid`` + ``grid_sample`` with ``theta = N_photo · T⁻¹ · N_crop⁻¹``, ``N`` mapping
    integer-centred pixels to normalised coordinates (``align_corners=False``).

    Args:
        image: (B, C, H, W) float photos (values as given, e.g. [0, 1]).
        tform: (B, 3, 3) or (3, 3) ``T`` (numpy or torch), photo pixel → crop pixel.
        crop_size: output side.

    Returns:
        (B, C, crop_size, crop_size), device and dtype of ``image``; a copy of ``image`` when every
        ``T`` is exactly the identity and the photo is already ``crop_size``².
    """
    t = _cpu_float64(tform)
    if t.ndim == 2:
        t = t.expand(image.shape[0], 3, 3)
    check_shapes(image=(image, "B C H W"), tform=(t, "B 3 3"))
    h, w = image.shape[-2:]
    if h == w == crop_size and bool(torch.all(t == torch.eye(3, dtype=t.dtype))):
        # identity (e.g. --detector none on a crop_size² photo): exact, which float32 sampling
        # through normalised grid coordinates is not (errors ~3e-5)
        return image.clone()
    # theta in float64 on the CPU, cast to the photo's dtype, then moved to its device
    theta = (
        _pixel_to_normalized(w, h, t)
        @ torch.linalg.inv(t)
        @ torch.linalg.inv(_pixel_to_normalized(crop_size, crop_size, t))
    )
    grid = F.affine_grid(
        theta[:, :2].to(image.dtype).to(image.device),
        [image.shape[0], image.shape[1], crop_size, crop_size],
        align_corners=False,
    )
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _cpu_float64(tform: Any) -> torch.Tensor:
    """``tform`` (numpy or torch, any device) as a detached float64 CPU tensor (moved, then cast)."""
    t = tform.detach().cpu() if isinstance(tform, torch.Tensor) else torch.as_tensor(np.asarray(tform))
    return t.to(torch.float64)


def uncrop_points(points_crop_px: Any, tform: Any) -> Any:
    """Map crop pixels back to photo pixels with ``T⁻¹``.

    Args:
        points_crop_px: (B, N, 2) ``(x, y)`` crop pixels (torch or numpy).
        tform: (B, 3, 3) ``T``, photo pixel → crop pixel.

    Returns:
        (B, N, 2) photo pixels, same type (and for torch, device/dtype) as ``points_crop_px``.
        numpy points are mapped in float64; torch points in their own dtype (``T⁻¹`` is computed
        in float64 on the CPU and cast once; float32 is ~1e-4 px on a 4000-px photo).

    Example:
        >>> uncrop_points(np.array([[[0.0, 223.0]]]), crop_transform([[112.0, 112.0]], [223.0]))
        array([[[  0.5, 223.5]]])
    """
    is_numpy = not isinstance(points_crop_px, torch.Tensor)
    pts = torch.as_tensor(points_crop_px)
    t = _cpu_float64(tform)
    check_shapes(points_crop_px=(pts, "B N 2"), tform=(t, "B 3 3"))
    inv = torch.linalg.inv(t)  # (B, 3, 3) float64, CPU
    if is_numpy:
        return (pts.to(torch.float64) @ inv[:, :2, :2].transpose(1, 2) + inv[:, None, :2, 2]).numpy()
    # torch points: the float64 inverse is cast to the points' dtype on the CPU, then moved
    dtype = pts.dtype if pts.is_floating_point() else torch.float32
    inv = inv.to(dtype).to(pts.device)
    return pts.to(dtype) @ inv[:, :2, :2].transpose(1, 2) + inv[:, None, :2, 2]


def crop_ndc_to_photo_px(points_ndc: Any, tform: Any, crop_size: int = CROP_SIZE) -> npt.NDArray[np.float64]:
    """Crop-NDC points (e.g. projected landmarks) → photo pixels, in float64 on the CPU.

    Two steps, both in float64:
        1. crop NDC → crop pixels: ``col = ((x + 1) · crop_size − 1) / 2`` (same for ``row`` from
           ``y``), i.e. pixel centres at integer + 0.5 in NDC (:func:`pydeca.geometry.ndc_to_pixels`).
        2. crop pixels → photo pixels through ``T⁻¹`` (:func:`uncrop_points`); photo pixels use this
           module's convention (x = column, y = row, pixel ``i`` centred at ``i``).

    With ``T = crop_transform([112, 112], 223)`` (the identity on a 224² photo), NDC (−1, −1) is
    crop pixel (−0.5, −0.5), the outer corner of the top-left pixel.

    Args:
        points_ndc: (B, N, C ≥ 2) or (N, C ≥ 2) crop NDC (torch on any device, or numpy); only
            ``x, y`` are used (z is dropped).
        tform: (B, 3, 3) or (3, 3) ``T``, photo pixel → crop pixel, matching the batch of
            ``points_ndc``.
        crop_size: side of the square crop in pixels (224).

    Returns:
        (B, N, 2) or (N, 2) float64 ``(x, y)`` photo pixels (batched like ``points_ndc``).

    Raises:
        ShapeError: if a shape differs from the above or the batch sizes disagree.

    Example:
        >>> crop_ndc_to_photo_px(np.array([[-1.0, -1.0], [1.0, 1.0]]), np.eye(3)).tolist()
        [[-0.5, -0.5], [223.5, 223.5]]
    """
    if isinstance(points_ndc, torch.Tensor):
        points_ndc = points_ndc.detach().cpu()  # to the CPU first: float64 happens there only
    ndc = np.asarray(points_ndc, dtype=np.float64)
    t = np.asarray(tform.detach().cpu() if isinstance(tform, torch.Tensor) else tform, dtype=np.float64)
    single = ndc.ndim == 2
    if single:
        ndc, t = ndc[None], t[None]
    check_shapes(points_ndc=(ndc, "B N *"), tform=(t, "B 3 3"))
    if ndc.shape[-1] < 2:
        raise ShapeError(f"points_ndc: expected (B, N, C >= 2), got {ndc.shape}")
    crop_px = ((ndc[..., :2] + 1.0) * crop_size - 1.0) / 2.0  # 1. crop NDC → crop pixels
    photo_px = uncrop_points(crop_px, t)  # 2. crop pixels → photo pixels through T⁻¹
    return photo_px[0] if single else photo_px
