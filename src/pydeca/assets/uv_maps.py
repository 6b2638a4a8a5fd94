"""Load DECA's UV-space images: face masks, fixed displacement, mean texture (reference §1.5–1.7).

All UV images use DECA's orientation: row 0 is v = 1 (top of the texture), column 0 is u = 0.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from pydeca.assets.paths import asset_read_error
from pydeca.assets.validate import check_finite
from pydeca.errors import AssetFormatError, AssetNotFoundError

__all__ = ["load_fixed_displacement", "load_mean_texture", "load_uv_mask"]


def _require(path: str | Path, what: str) -> Path:
    path = Path(path).expanduser()
    if path.is_dir():
        raise asset_read_error(path, IsADirectoryError(path))
    if not path.is_file():
        raise AssetNotFoundError(
            f"{what} not found: {path}. Run `deca fetch data` to get "
            f"{path.name} (a DECA public data file) or pass the right asset directory."
        )
    return path


def _read_image(path: Path) -> np.ndarray:
    """(H, W) or (H, W, C) uint8 array of an image file."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in ("L", "RGB", "RGBA", "LA"):
                image = image.convert("RGBA")  # noqa: PLW2901 - normalise odd modes (P, I;16, ...)
            return np.asarray(image)
    except (PermissionError, IsADirectoryError) as exc:
        raise asset_read_error(path, exc) from exc
    except (OSError, ValueError) as exc:  # PIL: UnidentifiedImageError (an OSError), truncation
        raise AssetFormatError(f"{path}: not a readable image ({exc})") from exc
    except Image.DecompressionBombError as exc:
        raise AssetFormatError(f"{path}: image too large for a UV map ({exc})") from exc


def _resize_bilinear(channel: np.ndarray, size: int) -> np.ndarray:
    """Resize one float32 (H, W) channel to (size, size) with PIL's bilinear filter."""
    if channel.shape == (size, size):
        return channel
    image = Image.fromarray(np.ascontiguousarray(channel, np.float32), mode="F")
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), np.float32)


def _resize_nearest(channel: np.ndarray, size: int) -> np.ndarray:
    """Resize (H, W) to (size, size) as ``F.interpolate(mode="nearest")``: source index ⌊i · H / size⌋."""
    height, width = channel.shape
    rows = np.arange(size) * height // size
    cols = np.arange(size) * width // size
    return channel[rows[:, None], cols[None, :]]


def load_uv_mask(path: str | Path, size: int = 256) -> np.ndarray:
    """Load a UV mask PNG (``uv_face_eye_mask.png``, ``uv_face_mask.png``) as a soft mask.

    Args:
        path: image file; channel 0 (R, or the grey level) is used, divided by 255.
        size: output resolution; other sizes are resampled nearest-neighbour, as DECA's
            ``F.interpolate`` (the mask stays binary).

    Returns:
        (size, size) float32 in [0, 1], row 0 = v = 1.
    """
    path = _require(path, "UV mask")
    pixels = _read_image(path)
    channel = (pixels if pixels.ndim == 2 else pixels[..., 0]).astype(np.float32) / 255.0
    return np.clip(_resize_nearest(channel, size), 0.0, 1.0)


def load_fixed_displacement(path: str | Path) -> np.ndarray:
    """Load ``fixed_displacement_256.npy``: the per-texel displacement correction.

    Returns:
        (256, 256) float32, metres along the surface normal, row 0 = v = 1.

    Raises:
        AssetFormatError: the file is not a plain square 2-D numeric ``.npy`` array.
    """
    path = _require(path, "fixed displacement")
    try:
        _check_npy_claim(path)
        array = np.load(path, allow_pickle=False)
    except (PermissionError, IsADirectoryError) as exc:
        raise asset_read_error(path, exc) from exc
    except (OSError, ValueError, EOFError, MemoryError) as exc:
        raise AssetFormatError(f"{path}: not a plain numeric .npy array ({exc})") from exc
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.dtype.kind not in "biuf":
        raise AssetFormatError(
            f"{path}: expected a square 2-D float array, found {array.shape} {array.dtype}"
        )
    result = array.astype(np.float32)
    check_finite(result, "fixed displacement", str(path))
    return result


def _check_npy_claim(path: Path) -> None:
    """Refuse an ``.npy`` whose header claims more data than the file holds (before allocating).

    Raises:
        ValueError: not an ``.npy`` header, or the claimed size exceeds the file.
    """
    with path.open("rb") as fh:
        version = np.lib.format.read_magic(fh)
        read = (
            np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        )
        shape, _fortran, dtype = read(fh)
        header = fh.tell()
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > path.stat().st_size - header:
        raise ValueError(f"the header claims {claimed:,} bytes of data, the file holds fewer")


def load_mean_texture(path: str | Path, size: int = 256) -> np.ndarray:
    """Load ``mean_texture.jpg`` (DECA loads it but never uses it; kept for completeness).

    Returns:
        (3, size, size) float32 RGB in [0, 1], row 0 = v = 1 (bilinear resampling if needed).
    """
    path = _require(path, "mean texture")
    pixels = _read_image(path)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    rgb = pixels[..., :3].astype(np.float32) / 255.0
    channels = [_resize_bilinear(rgb[..., c], size) for c in range(3)]
    return np.clip(np.stack(channels), 0.0, 1.0)
