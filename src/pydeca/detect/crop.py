"""DECA's square face crop: box → (centre, size) → similarity ``T_crop_image`` → 224² warp.

Convention (reference §2.1; fixtures README §4.1):
    - Photo and crop pixels use scikit-image's convention: x = column, y = row, pixel ``i`` centred
      at coordinate ``i``. ``T`` (3×3, homogeneous column vectors) maps photo pixels to crop pixels.
    - A square of side ``size`` centred at ``(cx, cy)`` maps its corners (l, t) → (0, 0),
      (l, b) → (0, 223), (r, t) → (223, 0): ``T = [[s, 0, −s·l], [0, s, −s·t], [0, 0, 1]]`` with
      ``s = 223 / size``, ``l = cx − size/2``, ``t = cy − size/2``.
    - The warp samples the photo bilinearly at ``T⁻¹ (col, row)`` for each crop pixel, zero outside,
      i.e. ``skimage.transform.warp(photo, inverse(T), output_shape=(224, 224))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from pydeca.checks import check_shapes
from pydeca.constants import CROP_SCALE, CROP_SIZE

from .base import Face

__all__ = [
    "BBOX_CENTER_SHIFT",
    "KPT68_SIZE_FACTOR",
    "box_from_face",
    "crop_transform",
    "square_from_box",
    "uncrop_points",
    "warp_crop",
]

KPT68_SIZE_FACTOR = 1.1
"""DECA's 68-point rule: ``old_size = (w + h)/2 · 1.1`` of the landmark bounding box."""
BBOX_CENTER_SHIFT = 0.12
"""DECA's detector-box rule: centre moved down by ``0.12 · old_size`` (``old_size = (w + h)/2``)."""


def square_from_box(box: Any, kind: str = "bbox", scale: float = CROP_SCALE) -> tuple[np.ndarray, float]:
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
) -> tuple[np.ndarray, float]:
    """The square crop (centre, size) of a face, with the rule its source calls for.

    Landmarks present → ``kpt68`` rule on their bounding box; ``kind == "image"`` → the whole photo,
    letterboxed (centre of the photo, side = longer side − 1, aspect kept; DECA's no-crop mode maps
    (0, 0), (0, H−1), (W−1, 0) onto the crop corners, which is the same for square photos); else the
    ``bbox`` rule on ``face.box``.

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
        h, w = image_shape[:2]
        return np.array([(w - 1) / 2.0, (h - 1) / 2.0]), float(max(w, h) - 1)
    return square_from_box(face.box, face.kind, scale)


def crop_transform(center: Any, size: Any, crop_size: int = CROP_SIZE) -> np.ndarray:
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
        (B, C, crop_size, crop_size), device and dtype of ``image``.
    """
    t = torch.as_tensor(tform, dtype=torch.float64, device=image.device)
    if t.ndim == 2:
        t = t.expand(image.shape[0], 3, 3)
    check_shapes(image=(image, "B C H W"), tform=(t, "B 3 3"))
    h, w = image.shape[-2:]
    theta = (
        _pixel_to_normalized(w, h, t)
        @ torch.linalg.inv(t)
        @ torch.linalg.inv(_pixel_to_normalized(crop_size, crop_size, t))
    )
    grid = F.affine_grid(
        theta[:, :2].to(image.dtype),
        [image.shape[0], image.shape[1], crop_size, crop_size],
        align_corners=False,
    )
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def uncrop_points(points_crop_px: Any, tform: Any) -> Any:
    """Map crop pixels back to photo pixels with ``T⁻¹``.

    Args:
        points_crop_px: (B, N, 2) ``(x, y)`` crop pixels (torch or numpy).
        tform: (B, 3, 3) ``T``, photo pixel → crop pixel.

    Returns:
        (B, N, 2) photo pixels, same type (and for torch, device/dtype) as ``points_crop_px``.

    Example:
        >>> uncrop_points(np.array([[[0.0, 223.0]]]), crop_transform([[112.0, 112.0]], [223.0]))
        array([[[  0.5, 223.5]]])
    """
    is_numpy = not isinstance(points_crop_px, torch.Tensor)
    pts = torch.as_tensor(points_crop_px)
    t = torch.as_tensor(tform, device=pts.device)
    check_shapes(points_crop_px=(pts, "B N 2"), tform=(t, "B 3 3"))
    inv = torch.linalg.inv(t.to(torch.float64))
    out = pts.to(torch.float64) @ inv[:, :2, :2].transpose(1, 2) + inv[:, None, :2, 2]
    return out.numpy() if is_numpy else out.to(pts.dtype if pts.is_floating_point() else torch.float32)
