"""DECA's weak-perspective (scaled orthographic) camera and the NDC ↔ pixel mapping.

Frames:
    - **World**: FLAME's frame, metres, +x toward the subject's left (image right at zero pose),
      +y up, +z out of the face toward the camera.
    - **Crop NDC**: x = −1 at the left edge and +1 at the right edge of the crop, y = −1 at the top
      edge, smaller z is nearer the camera (reference §2.5; fixtures README §4.1 ``trans_verts``,
      without the rasteriser's +10 z shift).
    - **Pixels**: ``(col, row)`` with pixel centres at integer + 0.5 in NDC units, i.e.
      ``x_ndc = (2 col + 1) / W − 1`` — identical to ``grid_sample(..., align_corners=False)``.
    - **Photo camera**: ``(S, TX, TY)`` puts a world point at photo pixel ``col = S (x + TX)``,
      ``row = −S (y + TY)`` (S in pixels per metre); it does not depend on the crop, so it is the
      frame in which per-frame cameras of a video can be compared or filtered
      (:func:`cam_to_photo`, :func:`cam_from_photo`).
"""

from __future__ import annotations

import torch

from pydeca.checks import check_shapes

__all__ = [
    "cam_from_photo",
    "cam_to_matrix",
    "cam_to_photo",
    "crop_to_image_ndc",
    "ndc_to_pixels",
    "pixels_to_ndc",
    "weak_perspective_project",
]


def weak_perspective_project(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Project world points with DECA's weak-perspective camera into crop NDC.

    Convention:
        - ``x' = s (x + tx)``, ``y' = −s (y + ty)``, ``z' = −s z`` (y, z flipped to image axes).
        - s = 8, tx = ty = 0 maps the FLAME point (0.1, 0.1, 0) to (0.8, −0.8, 0): right, top.

    Args:
        points: (B, N, 3) metres, world (FLAME) frame.
        cam: (B, 3) ``(s, tx, ty)``; ``s`` in NDC per metre, ``tx, ty`` in metres.

    Returns:
        (B, N, 3) crop NDC, on the device and dtype of ``points``.

    Raises:
        ShapeError: if a shape differs from the above or the batch sizes disagree.

    Example:
        >>> weak_perspective_project(torch.tensor([[[0.1, 0.2, 0.05]]]), torch.tensor([[8.0, 0.0, -0.1]]))
        tensor([[[ 0.8000, -0.8000, -0.4000]]])
    """
    check_shapes(points=(points, "B N 3"), cam=(cam, "B 3"))
    scale = cam[:, None, 0:1]  # (B, 1, 1)
    shift = torch.cat((cam[:, 1:3], torch.zeros_like(cam[:, :1])), dim=-1)[:, None]  # (B, 1, 3)
    flip = points.new_tensor((1.0, -1.0, -1.0))
    return (points + shift) * scale * flip


def _size_hw(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def ndc_to_pixels(xy: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Crop NDC ``(x, y)`` to continuous pixel coordinates ``(col, row)``.

    ``col = ((x + 1) W − 1) / 2``, ``row = ((y + 1) H − 1) / 2``: NDC −1 is the left/top image
    edge (col = −0.5), the centre of pixel 0 is NDC ``−1 + 1/W``.

    Args:
        xy: (..., 2) NDC ``(x, y)``.
        size: image side ``S`` (square) or ``(H, W)``, pixels.

    Returns:
        (..., 2) ``(col, row)`` in pixels; integer values are pixel centres.
    """
    check_shapes(xy=(xy, "... 2"))
    height, width = _size_hw(size)
    dims = xy.new_tensor((width, height))
    return ((xy + 1.0) * dims - 1.0) * 0.5


def pixels_to_ndc(pixels: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Pixel coordinates ``(col, row)`` to crop NDC ``(x, y)``; inverse of :func:`ndc_to_pixels`.

    ``x = (2 col + 1) / W − 1``, ``y = (2 row + 1) / H − 1``.

    Args:
        pixels: (..., 2) ``(col, row)``, pixels (integer = pixel centre).
        size: image side ``S`` (square) or ``(H, W)``, pixels.

    Returns:
        (..., 2) NDC ``(x, y)``.
    """
    check_shapes(pixels=(pixels, "... 2"))
    height, width = _size_hw(size)
    dims = pixels.new_tensor((width, height))
    return (2.0 * pixels + 1.0) / dims - 1.0


def cam_to_matrix(cam: torch.Tensor) -> torch.Tensor:
    """The 4×4 orthographic projection world → crop NDC equivalent to :func:`weak_perspective_project`.

    For homogeneous column vectors ``[x, y, z, 1]``::

        [[ s,  0,  0,  s·tx],
         [ 0, −s,  0, −s·ty],
         [ 0,  0, −s,  0   ],
         [ 0,  0,  0,  1   ]]

    (w stays 1, so no perspective divide is needed; useful for exporting the camera.)

    Args:
        cam: (B, 3) ``(s, tx, ty)``.

    Returns:
        (B, 4, 4) matrices, device and dtype of ``cam``.
    """
    check_shapes(cam=(cam, "B 3"))
    s, tx, ty = cam.unbind(-1)
    zero, one = torch.zeros_like(s), torch.ones_like(s)
    rows = (
        torch.stack((s, zero, zero, s * tx), dim=-1),
        torch.stack((zero, -s, zero, -s * ty), dim=-1),
        torch.stack((zero, zero, -s, zero), dim=-1),
        torch.stack((zero, zero, zero, one), dim=-1),
    )
    return torch.stack(rows, dim=-2)


def crop_to_image_ndc(
    points: torch.Tensor, tform: torch.Tensor, crop_size: int, image_size: tuple[int, int]
) -> torch.Tensor:
    """Re-express crop-NDC points in the NDC of the original photo (for renders on the photo).

    ``x, y``: crop NDC → crop pixels → photo pixels through ``T⁻¹`` (``tform`` = T maps photo pixel
    → crop pixel, x = column, y = row, pixel centres at integers) → photo NDC. Other columns (z, …)
    are kept, i.e. stay in crop units: depth order and back-facing tests are unchanged.

    Args:
        points: (B, N, C ≥ 2) crop NDC.
        tform: (B, 3, 3) similarity (or any affine map, last row ``0, 0, 1``) T.
        crop_size: side of the square crop in pixels (224).
        image_size: (H, W) of the photo.

    Returns:
        (B, N, C) points with x, y in photo NDC.
    """
    check_shapes(points=(points, "B N *"), tform=(tform, "B 3 3"))
    crop_px = ndc_to_pixels(points[..., :2], crop_size)
    # photo px = A⁻¹ (crop px − t) for T = [[A, t], [0, 1]]; the 2 × 2 inverse in closed form, in the
    # points' dtype (no float64 round trip: MPS has none; float32 is ~1e-4 px on a 4000-px photo).
    t = tform.to(points.dtype)
    a, b, c, d = t[:, 0, 0], t[:, 0, 1], t[:, 1, 0], t[:, 1, 1]
    adjugate = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2)  # (B, 2, 2)
    inverse = adjugate / (a * d - b * c)[:, None, None]
    photo_px = (crop_px - t[:, None, :2, 2]) @ inverse.transpose(1, 2)
    return torch.cat([pixels_to_ndc(photo_px, image_size), points[..., 2:]], dim=-1)


def _crop_similarity(tform: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(k, a, b)`` of ``T = [[k, 0, a], [0, k, b], [0, 0, 1]]``, each (B,), in ``like``'s dtype/device."""
    t = tform.to(dtype=like.dtype).to(like.device)
    return t[:, 0, 0], t[:, 0, 2], t[:, 1, 2]


def cam_to_photo(cam: torch.Tensor, tform: torch.Tensor, crop_size: int) -> torch.Tensor:
    """Crop camera ``(s, tx, ty)`` → photo camera ``(S, TX, TY)`` for an axis-aligned square crop.

    Convention:
        - Crop: ``T = [[k, 0, a], [0, k, b], [0, 0, 1]]`` maps photo pixels to crop pixels (x =
          column, y = row, pixel centres at integers, as in :mod:`pydeca.detect.crop`).
        - With ``h = crop_size / 2`` and ``c = (crop_size − 1) / 2``: a world point lands at crop
          pixel ``col = h s (x + tx) + c`` (NDC → pixels), i.e. at photo pixel
          ``(col − a) / k = S (x + TX)`` with ``S = h s / k``, ``TX = tx + (c − a) / (h s)``;
          likewise ``row = −S (y + TY)`` with ``TY = ty − (c − b) / (h s)``.
        - s = 8, tx = ty = 0 on a 224 crop with ``T`` = identity: S = 112 · 8 = 896 px/m,
          TX = 111.5 / 896, TY = −111.5 / 896.

    Args:
        cam: (B, 3) crop cameras ``(s, tx, ty)``; ``s`` in NDC per metre, ``tx, ty`` in metres.
        tform: (B, 3, 3) photo pixel → crop pixel similarities without rotation (any device/dtype;
            cast to those of ``cam``).
        crop_size: crop side in pixels (224).

    Returns:
        (B, 3) photo cameras ``(S, TX, TY)``: S in photo pixels per metre, TX, TY in metres; device
        and dtype of ``cam``.

    Raises:
        ShapeError: if a shape differs from the above or the batch sizes disagree.
    """
    check_shapes(cam=(cam, "B 3"), tform=(tform, "B 3 3"))
    k, a, b = _crop_similarity(tform, cam)
    h, c = crop_size / 2.0, (crop_size - 1) / 2.0
    s, tx, ty = cam.unbind(-1)
    return torch.stack((h * s / k, tx + (c - a) / (h * s), ty - (c - b) / (h * s)), dim=-1)


def cam_from_photo(photo_cam: torch.Tensor, tform: torch.Tensor, crop_size: int) -> torch.Tensor:
    """Photo camera ``(S, TX, TY)`` → crop camera ``(s, tx, ty)`` of ``tform`` (:func:`cam_to_photo` inverse).

    ``s = S k / h``, ``tx = TX − (c − a) / (h s)``, ``ty = TY + (c − b) / (h s)`` with the names of
    :func:`cam_to_photo`.

    Args:
        photo_cam: (B, 3) photo cameras ``(S, TX, TY)``.
        tform: (B, 3, 3) photo pixel → crop pixel similarities without rotation.
        crop_size: crop side in pixels (224).

    Returns:
        (B, 3) crop cameras, device and dtype of ``photo_cam``.

    Raises:
        ShapeError: if a shape differs from the above or the batch sizes disagree.
    """
    check_shapes(photo_cam=(photo_cam, "B 3"), tform=(tform, "B 3 3"))
    k, a, b = _crop_similarity(tform, photo_cam)
    h, c = crop_size / 2.0, (crop_size - 1) / 2.0
    big_s, big_tx, big_ty = photo_cam.unbind(-1)
    s = big_s * k / h
    return torch.stack((s, big_tx - (c - a) / (h * s), big_ty + (c - b) / (h * s)), dim=-1)
