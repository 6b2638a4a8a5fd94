"""Reading and writing photos: decoding to upright RGB, in-memory arrays, encoding to files.

Images are ``(H, W, 3)`` uint8 RGB numpy arrays, row 0 at the top, as the face detectors and the crop
(:mod:`pydeca.detect.crop`) take them.

:func:`load_image` decisions (every failure is an :class:`~pydeca.errors.InputError` naming the
file and the fix):
    - EXIF orientation is applied (``ImageOps.exif_transpose``); a malformed EXIF block is ignored.
    - Animated images (GIF, WebP, APNG) give their **first frame**; folders and globs include GIFs
      (:mod:`pydeca.io.inputs` expands command-line inputs into files).
    - Greyscale (``1``, ``L``) is tiled to 3 channels; CMYK/YCbCr are converted by Pillow.
    - Transparency (``LA``, ``RGBA``, ``PA``, ``P`` with a transparent index) is **dropped**, as
      DECA does (reference §2.1): the stored colour is kept whatever the alpha (for a palette, the
      colour of the transparent index). Compositing was rejected: it would change DECA's crops of
      semi-transparent photos, and hidden colours under alpha = 0 are rare in face photos.
    - 16-bit greyscale (``I;16*``, ``I``) is scaled ``rint(v · 255 / 65535)`` (not clipped);
      float (``F``) images in [0, 1] are scaled by 255, others clipped to [0, 255].
    - Photos smaller than :data:`MIN_SIDE` px on a side are refused (a face crop needs more);
      ``min_side=1`` turns this off for other images (textures, masks).
    - Photos above :data:`MAX_PIXELS` (50 MP) are **refused** before decoding, with the size and
      the limit in the message (downscale them first): DECA works on a 224² crop, so nothing is
      lost, and a 100+ MP decode would take GBs of memory. Pillow's own decompression-bomb check
      (which fires only above 2 × ``Image.MAX_IMAGE_PIXELS``) is left as is and reported the same way.
    - A file the user may not read is reported as a permission problem, not as a damaged image.

:func:`photo_from_array` applies the same rules to in-memory arrays (greyscale tiled, alpha dropped,
uint16 scaled, float in [0, 1] scaled by 255), so an array and the same image read from a file give
the same photo. Complex, object and string arrays are refused (never cast with a warning).
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from pydeca.errors import InputError, ShapeError

from .atomic import atomic_write

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS",
    "MIN_SIDE",
    "is_image",
    "load_image",
    "photo_from_array",
    "save_image",
    "to_uint8_image",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".apng", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
"""Photo suffixes accepted in folders and globs (compared lower-case); of an animated GIF, WebP or
APNG the first frame is the photo."""

MIN_SIDE = 32
"""Smallest accepted photo side in pixels."""
MAX_PIXELS = 50_000_000
"""Largest accepted photo, in pixels (W·H): 50 MP."""

_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


def is_image(path: str | os.PathLike[str]) -> bool:
    """True when the suffix of ``path`` is one of :data:`IMAGE_EXTENSIONS`.

    Example:
        >>> is_image("face.JPG"), is_image("clip.mp4")
        (True, False)
    """
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Convert any PIL image (1, L, LA, P, PA, RGBA, CMYK, 16-bit grey, float) to (H, W, 3) uint8 RGB.

    Alpha is dropped (see the module docstring).
    """
    if img.mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(img, dtype=np.float64)
        grey = np.rint(np.clip(grey, 0, 65535) * (255.0 / 65535.0)).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode == "F":
        grey = np.asarray(img, dtype=np.float64)
        scale = 255.0 if grey.size and float(np.nanmax(grey)) <= 1.0 else 1.0
        grey = np.rint(np.clip(np.nan_to_num(grey) * scale, 0, 255)).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode in ("RGBa", "La"):  # premultiplied alpha: un-premultiply before dropping it
        img = img.convert(img.mode.upper())
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def _upright(img: Image.Image) -> Image.Image:
    """``img`` with its EXIF orientation applied; unchanged when the EXIF block is malformed."""
    try:
        upright = ImageOps.exif_transpose(img)
    except (ValueError, TypeError, KeyError, OSError, SyntaxError, ZeroDivisionError):
        return img
    return img if upright is None else upright


def _check_size(p: Path, width: int, height: int, min_side: int, max_pixels: int) -> None:
    """Refuse photos smaller than ``min_side`` on a side or larger than ``max_pixels``."""
    if min(width, height) < min_side:
        raise InputError(
            f"{p}: image is too small ({width}×{height} px); it needs at least {min_side} px on each "
            "side: use a larger photo of the face"
        )
    if width * height > max_pixels:
        raise InputError(
            f"{p}: image is too large ({width}×{height} px = {width * height / 1e6:.1f} MP; the limit "
            f"is {max_pixels / 1e6:g} MP); downscale it first (DECA works on a 224×224 face crop)"
        )


_DAMAGED_FILE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    MemoryError,
    TypeError,
    KeyError,
    IndexError,
    ArithmeticError,
    struct.error,
)
"""What Pillow's decoders raise on damaged files (e.g. TypeError('Missing dimensions') from a TIFF)."""


def load_image(
    path: str | os.PathLike[str], *, min_side: int = MIN_SIDE, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Read a photo as upright RGB.

    EXIF orientation applied, greyscale tiled, alpha dropped, 16-bit scaled to 8 bits; see the
    module docstring for every rule.

    Args:
        path: an image file Pillow can read (JPEG, PNG, BMP, WebP, TIFF, ...).
        min_side: smallest accepted width and height, pixels (1 accepts any image).
        max_pixels: largest accepted W·H, checked from the header before decoding.

    Returns:
        (H, W, 3) uint8 RGB, row 0 at the top of the upright photo.

    Raises:
        InputError: if the file is missing, a folder, empty, not an image, damaged or truncated,
            smaller than ``min_side`` or larger than ``max_pixels``; the message names the file
            and what to do.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found; check the path (relative paths start at {Path.cwd()})")
    if p.is_dir():
        raise InputError(f"{p}: is a folder, not an image; pass it to list_inputs() to expand it")
    fix = "re-export it as JPEG or PNG, or remove it from the inputs"
    try:
        if p.stat().st_size == 0:
            raise InputError(f"{p}: file is empty (0 bytes); {fix}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                width, height = img.size
                _check_size(p, width, height, min_side, max_pixels)  # header only: nothing decoded yet
                if getattr(img, "n_frames", 1) > 1:
                    img.seek(0)  # an animation: its first frame is the photo
                img.load()
                upright = _upright(img)
                rgb = _to_rgb(upright)
    except InputError:
        raise
    except UnidentifiedImageError as exc:
        raise InputError(f"{p}: not an image file Pillow can read (unknown format); {fix}") from exc
    except PermissionError as exc:
        raise InputError(
            f"{p}: permission denied: this user may not read the file; check its permissions "
            "(e.g. `chmod u+r`) or copy it somewhere readable"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise InputError(
            f"{p}: image is too large ({exc}); the limit is {max_pixels / 1e6:g} MP: downscale it first"
        ) from exc
    except _DAMAGED_FILE_ERRORS as exc:
        raise InputError(
            f"{p}: cannot be read as an image ({type(exc).__name__}: {exc}); the file is damaged, "
            f"truncated or not an image: {fix}"
        ) from exc
    _check_size(p, rgb.shape[1], rgb.shape[0], min_side, max_pixels)
    return rgb


def _check_real(arr: np.ndarray) -> None:
    """Refuse arrays that are not real numbers or booleans (complex, object, strings, ...)."""
    if arr.dtype.kind in "biuf":
        return
    what = "complex" if arr.dtype.kind == "c" else "unsupported"
    raise InputError(
        f"image array: {what} dtype {arr.dtype} is refused; pass real values (uint8, uint16 or float "
        "in [0, 1]), e.g. the absolute value or the real part"
    )


def to_uint8_image(img: np.ndarray | torch.Tensor) -> np.ndarray:
    """Convert an image to (H, W, 3) uint8 RGB.

    Args:
        img: (H, W, 3) or (H, W) uint8, or the same in float with values in [0, 1] (clipped, then
            ``rint(x·255)``), or a torch tensor (3, H, W) / (1, H, W) / (H, W) float in [0, 1] or
            uint8, on any device.

    Returns:
        (H, W, 3) uint8 array.

    Raises:
        ShapeError: for any other shape.
        InputError: for a complex, object or string array (not cast: the imaginary part would be lost).
    """
    if isinstance(img, torch.Tensor):
        tensor = img.detach().to("cpu")
        if tensor.ndim == 3 and tensor.shape[0] in (1, 3):
            tensor = tensor.permute(1, 2, 0)
        img = tensor.numpy()
    arr = np.asarray(img)
    _check_real(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ShapeError(f"image: expected (H, W, 3), (H, W) or torch (3, H, W), got {arr.shape}")
    arr = arr[:, :, :3]
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer):
        return np.clip(arr, 0, 255).astype(np.uint8)
    return np.rint(np.clip(arr.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


_FLOAT_TOLERANCE = 1e-3
"""Float photos may overshoot [0, 1] by this much (rounding in earlier processing); it is clipped."""


def _channels_last(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """Numpy (H, W) / (H, W, C) view of a numpy array or a torch (C, H, W) / (H, W, C) tensor."""
    if isinstance(image, torch.Tensor):
        arr = image.detach().to("cpu")
        if arr.ndim == 3 and arr.shape[0] in (1, 2, 3, 4) and arr.shape[2] not in (1, 2, 3, 4):
            arr = arr.permute(1, 2, 0)
        return arr.numpy()
    return np.asarray(image)


def _to_uint8_values(arr: np.ndarray) -> np.ndarray:
    """8-bit values of an integer or float image (rules of :func:`photo_from_array`)."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        return np.rint(arr.astype(np.float64) * (255.0 / 65535.0)).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        int_low, int_high = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if int_low < 0 or int_high > 255:
            raise InputError(
                f"image array: {arr.dtype} values in [{int_low}, {int_high}] are neither 8-bit (0–255) nor "
                "uint16; pass uint8, uint16 or float in [0, 1]"
            )
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and not np.isfinite(arr).all():
            raise InputError("image array: holds NaN or infinite values; pass finite values in [0, 1]")
        low, high = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if low < -_FLOAT_TOLERANCE or high > 1.0 + _FLOAT_TOLERANCE:
            raise InputError(
                f"image array: float values must lie in [0, 1], got [{low:g}, {high:g}]; divide a "
                "0–255 image by 255 (or pass it as uint8)"
            )
        return np.rint(np.clip(arr.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)
    raise InputError(f"image array: unsupported dtype {arr.dtype}; pass uint8, uint16 or float in [0, 1]")


def photo_from_array(
    image: np.ndarray | torch.Tensor, *, min_side: int = MIN_SIDE, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """An in-memory image as the (H, W, 3) uint8 RGB photo :func:`load_image` would give for its file.

    Rules (as for files): greyscale is tiled to 3 channels; alpha is dropped (the stored colour is
    kept); uint16 is scaled ``rint(v · 255 / 65535)``; float must lie in [0, 1] and becomes
    ``rint(x · 255)``; 8-bit-range integers are kept; bool is 0 / 255.

    Args:
        image: numpy (H, W), (H, W, 1), (H, W, 2) (grey + alpha), (H, W, 3) RGB or (H, W, 4) RGBA;
            or a torch tensor (C, H, W) with C in 1…4 (channels first, torch's convention),
            (H, W, C) or (H, W), on any device.
        min_side: smallest accepted width and height, pixels.
        max_pixels: largest accepted W·H.

    Returns:
        (H, W, 3) uint8 RGB, C-contiguous (a new array unless ``image`` already is one).

    Raises:
        ShapeError: for another shape.
        InputError: for float values outside [0, 1] (e.g. a 0–255 float image), NaN/inf, integers
            outside 0–255 (other than uint16), a complex or another dtype, or a photo too small /
            too large.

    Example:
        >>> photo_from_array(np.full((40, 50), 0.5)).shape, photo_from_array(np.full((40, 50), 0.5))[0, 0]
        ((40, 50, 3), array([128, 128, 128], dtype=uint8))
    """
    arr = _channels_last(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ShapeError(
            f"image: expected (H, W), (H, W, 1|2|3|4) or torch (1|2|3|4, H, W), got {tuple(arr.shape)}"
        )
    _check_real(arr)
    colour = arr[:, :, :3] if arr.shape[2] >= 3 else arr[:, :, :1]  # alpha dropped
    _check_size(Path("image array"), colour.shape[1], colour.shape[0], min_side, max_pixels)
    rgb = _to_uint8_values(colour)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    return np.ascontiguousarray(rgb)


def save_image(path: str | os.PathLike[str], img: np.ndarray | torch.Tensor, *, quality: int = 95) -> Path:
    """Write an image atomically; the format follows the suffix (``.png``, ``.jpg``, ...).

    Args:
        path: output file; its folder is created if missing.
        img: anything :func:`to_uint8_image` accepts: (H, W, 3) uint8, float in [0, 1], or a torch
            (3, H, W) tensor.
        quality: JPEG/WebP quality.

    Returns:
        ``Path(path)``.

    Raises:
        InputError: if the suffix names no format Pillow can write.
        ShapeError: for an unsupported image shape.
    """
    p = Path(path)
    fmt = Image.registered_extensions().get(p.suffix.lower())
    if fmt is None:
        raise InputError(f"{p}: unknown image suffix {p.suffix!r}; use .png or .jpg")
    pil = Image.fromarray(to_uint8_image(img), mode="RGB")
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    with atomic_write(p) as tmp:
        pil.save(tmp, format=fmt, **options)
    return p
