"""Visualisation images: landmark overlays, the panel grid and the demo-output banner.

Images here are numpy ``uint8`` (H, W, 3) RGB — the edge of the package, where results become
files. Tensors are converted with :func:`to_uint8`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw
from torch import Tensor

__all__ = [
    "DEMO_BANNER",
    "HIDDEN_COLOR",
    "LANDMARK_EDGES",
    "VISIBLE_COLOR",
    "add_banner",
    "draw_landmarks",
    "panel_grid",
    "to_uint8",
]

DEMO_BANNER = "DEMO ASSETS - NOT A REAL RECONSTRUCTION"

_RUN_ENDS = (16, 21, 26, 30, 35, 41, 47, 67)
LANDMARK_EDGES: tuple[tuple[int, int], ...] = tuple((i, i + 1) for i in range(67) if i not in _RUN_ENDS)
"""The reference's 68-point connectivity (§2.12): a line from every point i to i + 1 except after the
last point of the jaw (16), brows (21, 26), nose bridge (30), nose base (35), eyes (41, 47) and mouth
(67). So the eye and lip loops stay open and the outer lip (48–59) runs on into the inner (60–67)."""

VISIBLE_COLOR = (0, 255, 0)
"""Green: a landmark with visibility > 0.5 (and every 2D landmark), as the reference."""
HIDDEN_COLOR = (255, 0, 0)
"""Red: a 3D landmark with visibility ≤ 0.5 (self-occluded), as the reference."""


def to_uint8(image: Tensor | np.ndarray) -> np.ndarray:
    """(3, H, W) or (H, W, 3) float in [0, 1] (or uint8) → (H, W, 3) uint8, clipped and rounded."""
    if isinstance(image, Tensor):
        image = image.detach().float().cpu().numpy()
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.transpose(1, 2, 0)
    if array.dtype != np.uint8:
        array = np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return array


def draw_landmarks(
    image: np.ndarray, points_ndc: Tensor | np.ndarray, visibility: Sequence[float] | None = None
) -> np.ndarray:
    """Draw 68 landmarks (NDC x, y of this image) with the reference's connectivity (:data:`LANDMARK_EDGES`).

    Args:
        image: (H, W, 3) uint8.
        points_ndc: (68, 2+) NDC coordinates (x = −1 left edge, y = −1 top edge).
        visibility: optional (68,) — points with visibility ≤ 0.5 are drawn red, others green
            (all green without it).

    Returns:
        A new (H, W, 3) uint8 image.
    """
    height, width = image.shape[:2]
    points = np.asarray(
        points_ndc.detach().cpu() if isinstance(points_ndc, Tensor) else points_ndc, dtype=np.float64
    )[:, :2]
    # the pixel containing each point (as the reference's int() of x·W/2 + W/2), drawn at its centre
    pixels = np.floor((points + 1.0) * 0.5 * np.array([width, height])).astype(np.int64).tolist()
    canvas = Image.fromarray(image.copy())
    draw = ImageDraw.Draw(canvas)
    radius = max(1, min(height, width) // 200)
    if len(pixels) == 68:
        for a, b in LANDMARK_EDGES:
            draw.line([tuple(pixels[a]), tuple(pixels[b])], fill=(255, 255, 255), width=1)
    vis = np.ones(len(pixels)) if visibility is None else np.asarray(visibility, dtype=np.float64)
    for (x, y), v in zip(pixels, vis, strict=True):
        colour = VISIBLE_COLOR if v > 0.5 else HIDDEN_COLOR
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    return np.asarray(canvas)


def panel_grid(panels: Sequence[np.ndarray], height: int = 224) -> np.ndarray:
    """Resize panels to a common height (nearest, aspect kept) and place them side by side.

    Args:
        panels: (H_i, W_i, 3) uint8 images.
        height: output height in pixels.

    Returns:
        (height, Σ W_i', 3) uint8.
    """
    resized = []
    for panel in panels:
        h, w = panel.shape[:2]
        new_w = max(1, round(w * height / h))
        resized.append(np.asarray(Image.fromarray(panel).resize((new_w, height), Image.Resampling.NEAREST)))
    return np.concatenate(resized, axis=1)


def add_banner(image: np.ndarray, text: str = DEMO_BANNER) -> np.ndarray:
    """Return a copy with a red banner line of ``text`` across the top (marks demo output)."""
    canvas = Image.fromarray(image.copy())
    draw = ImageDraw.Draw(canvas)
    band = 14
    draw.rectangle((0, 0, canvas.width, band), fill=(180, 0, 0))
    draw.text((4, 1), text, fill=(255, 255, 255))
    return np.asarray(canvas)
