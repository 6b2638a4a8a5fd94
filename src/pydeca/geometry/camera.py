"""DECA's weak-perspective (scaled orthographic) camera and the NDC ↔ pixel mapping.

Frames:
    - **World**: FLAME's frame, metres, +x toward the subject's left (image right at zero pose),
      +y up, +z out of the face toward the camera.
    - **Crop NDC**: x = −1 at the left edge and +1 at the right edge of the crop, y = −1 at the top
      edge, smaller z is nearer the camera (reference §2.5; fixtures README §4.1 ``trans_verts``,
      without the rasteriser's +10 z shift).
    - **Pixels**: ``(col, row)`` with pixel centres at integer + 0.5 in NDC units, i.e.
      ``x_ndc = (2 col + 1) / W − 1`` — identical to ``grid_sample(..., align_corners=False)``.
"""

from __future__ import annotations

import torch

from pydeca.checks import check_shapes

__all__ = [
    "cam_to_matrix",
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
