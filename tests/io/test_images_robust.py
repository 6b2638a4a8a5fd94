"""load_image on bad and unusual inputs: every failure is an InputError naming the file."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pydeca.errors import InputError
from pydeca.io.images import MAX_PIXELS, MIN_SIDE, load_image


def _marked(w: int = 64, h: int = 48) -> np.ndarray:
    """Grey photo with a red 8×8 square in the top-left corner."""
    rgb = np.full((h, w, 3), 128, np.uint8)
    rgb[:8, :8] = (255, 0, 0)
    return rgb


def _png_with_size(tmp_path: Path, name: str, width: int, height: int) -> Path:
    """A valid 40×40 PNG whose IHDR claims ``width × height`` (so only the header is big)."""
    path = tmp_path / name
    Image.new("L", (40, 40), 7).save(path)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.jpg", b"", r"empty\.jpg: file is empty \(0 bytes\)"),
        ("notes.jpg", b"this is a text file, not a photo\n" * 10, r"notes\.jpg: not an image"),
        ("junk.png", bytes(range(256)) * 4, r"junk\.png: not an image"),
    ],
)
def test_unreadable_files_raise_input_error(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=match) as info:
        load_image(path)
    assert "re-export it as JPEG or PNG" in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match=r"nope\.png: file not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(InputError, match="is a folder"):
        load_image(tmp_path)


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_file_raises_input_error(tmp_path, suffix):
    rng = np.random.default_rng(0)
    path = tmp_path / f"cut{suffix}"
    Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=rf"cut\{suffix}: cannot be read as an image.*damaged, truncated"):
        load_image(path)


@pytest.mark.parametrize("size", [(31, 100), (100, 20), (1, 1)])
def test_tiny_image_refused(tmp_path, size):
    path = tmp_path / "tiny.png"
    Image.new("RGB", size).save(path)
    with pytest.raises(
        InputError, match=rf"tiny\.png: image is too small \({size[0]}×{size[1]} px\).*at least 32 px"
    ):
        load_image(path)
    assert MIN_SIDE == 32
    assert load_image(path, min_side=1).shape == (size[1], size[0], 3)  # textures, masks
    Image.new("RGB", (32, 32)).save(path)
    assert load_image(path).shape == (32, 32, 3)


def test_huge_image_refused_before_decoding(tmp_path):
    # 8000 × 6300 = 50.4 MP > 50 MP: refused from the header alone (the file holds 40×40 pixels)
    path = _png_with_size(tmp_path, "huge.png", 8000, 6300)
    with pytest.raises(
        InputError, match=r"huge\.png: image is too large \(8000×6300 px = 50\.4 MP; the limit is 50 MP\)"
    ):
        load_image(path)
    assert MAX_PIXELS == 50_000_000
    with pytest.raises(InputError, match=r"the limit is 0\.001 MP"):
        load_image(_png_with_size(tmp_path, "small.png", 40, 40), max_pixels=1000)


def test_decompression_bomb_never_leaks(tmp_path):
    # 20000 × 20000 = 400 MP > 2 × Image.MAX_IMAGE_PIXELS: Pillow raises DecompressionBombError at open
    path = _png_with_size(tmp_path, "bomb.png", 20000, 20000)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(path)
    with pytest.raises(InputError, match=r"bomb\.png: image is too large.*limit is 50 MP"):
        load_image(path)


# ----------------------------------------------------------------------------- conversions


def test_rgb_png_round_trip_exact(tmp_path):
    rgb = _marked()
    Image.fromarray(rgb).save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, rgb)


def test_grayscale_l_is_tiled(tmp_path):
    grey = np.tile(np.arange(64, dtype=np.uint8)[None] * 4, (40, 1))
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    assert out.shape == (40, 64, 3)
    np.testing.assert_array_equal(out, np.repeat(grey[:, :, None], 3, axis=2))


def test_alpha_is_dropped_like_deca(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = (200, 40, 0)
    rgba[:, :20, 3] = 255  # opaque
    rgba[:, 20:30, 3] = 0  # fully transparent: the stored colour is kept
    rgba[:, 30:, 3] = 128  # half transparent
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    np.testing.assert_array_equal(out, np.broadcast_to([200, 40, 0], (40, 40, 3)))
    la = np.stack([np.full((40, 40), 60, np.uint8), np.zeros((40, 40), np.uint8)], axis=2)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(load_image(tmp_path / "la.png"), np.full((40, 40, 3), 60))


def test_palette_with_transparency_keeps_palette_colours(tmp_path):
    pal = Image.new("P", (40, 40), 1)
    pal.putpalette([0, 0, 90, 10, 200, 30] + [0] * 762)
    pal.paste(0, (0, 0, 20, 40))  # index 0 is transparent
    pal.save(tmp_path / "p.png", transparency=0)
    out = load_image(tmp_path / "p.png")
    np.testing.assert_array_equal(out[0, 0], [0, 0, 90])
    np.testing.assert_array_equal(out[0, 30], [10, 200, 30])


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    values = np.array([0, 257, 32768, 65535], dtype=np.uint16)
    grey = np.repeat(np.repeat(values[None, :], 40, axis=0), 10, axis=1)  # (40, 40)
    Image.fromarray(grey).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as img:
        assert img.mode.startswith("I")
    out = load_image(tmp_path / "deep.png")
    # rint(v * 255 / 65535): 0, 1, 128 (127.5019...), 255 - clipping would give 0, 255, 255, 255
    np.testing.assert_array_equal(out[0, ::10, 0], [0, 1, 128, 255])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (48, 40), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)
    out = load_image(tmp_path / "c.jpg").astype(int)
    assert out.shape == (40, 48, 3)
    np.testing.assert_allclose(out.reshape(-1, 3).mean(axis=0), [255, 0, 0], atol=4)


@pytest.mark.parametrize(
    ("orientation", "shape", "corner"),
    [
        (1, (48, 64), (slice(0, 8), slice(0, 8))),  # as stored: top-left
        (3, (48, 64), (slice(40, 48), slice(56, 64))),  # 180°: bottom-right
        (6, (64, 48), (slice(0, 8), slice(40, 48))),  # needs 90° clockwise: top-left → top-right
        (8, (64, 48), (slice(56, 64), slice(0, 8))),  # needs 90° counter-clockwise: → bottom-left
    ],
)
def test_exif_orientation_is_applied(tmp_path, orientation, shape, corner):
    img = Image.fromarray(_marked(64, 48))
    exif = img.getexif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    img.save(path, quality=95, exif=exif)
    out = load_image(path).astype(int)
    assert out.shape[:2] == shape
    block = out[corner]
    assert block[..., 0].mean() > 230
    assert block[..., 1].mean() < 30
    assert (block[..., 0] > 200).sum() >= 40  # the 8×8 mark, minus JPEG-blurred edges
    rest = out.copy()
    rest[corner] = 128
    assert np.abs(rest - 128).max() < 60  # no other red corner


def test_malformed_exif_is_ignored(tmp_path):
    img = Image.fromarray(_marked())
    exif = img.getexif()
    exif[0x0112] = 99  # not an orientation
    img.save(tmp_path / "bad_exif.jpg", quality=95, exif=exif)
    out = load_image(tmp_path / "bad_exif.jpg")
    assert out.shape == (48, 64, 3)
    assert out[:8, :8, 0].mean() > 230


# ----------------------------------------------------------------------------- permissions, arrays


def test_unreadable_permission_is_reported_as_such(tmp_path, monkeypatch):
    path = tmp_path / "locked.png"
    Image.fromarray(_marked()).save(path)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", denied)  # chmod 000 does not stop root, who runs CI here
    with pytest.raises(InputError, match=r"locked\.png: permission denied") as info:
        load_image(path)
    assert "check its permissions" in str(info.value)
    assert "damaged" not in str(info.value)


def test_photo_from_array_follows_the_file_rules(tmp_path):
    from pydeca.io.images import photo_from_array

    rgb = _marked()
    np.testing.assert_array_equal(photo_from_array(rgb), rgb)
    np.testing.assert_array_equal(photo_from_array(rgb / 255.0), rgb)  # float64 in [0, 1]
    np.testing.assert_array_equal(photo_from_array(rgb.astype(np.float32) / 255.0), rgb)
    np.testing.assert_array_equal(photo_from_array(rgb.astype(np.uint16) * 257), rgb)  # 16-bit
    # greyscale and RGBA give what the same images read from files give
    grey = rgb[:, :, 0]
    Image.fromarray(grey).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(photo_from_array(grey), load_image(tmp_path / "grey.png"))
    np.testing.assert_array_equal(photo_from_array(grey[:, :, None]), load_image(tmp_path / "grey.png"))
    rgba = np.concatenate([rgb, np.full((48, 64, 1), 0, np.uint8)], axis=2)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(photo_from_array(rgba), load_image(tmp_path / "rgba.png"))
    la = np.stack([grey, np.full_like(grey, 9)], axis=2)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(photo_from_array(la), load_image(tmp_path / "la.png"))
    # sixteen-bit greyscale as a file and as an array
    grey16 = (np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) * 21).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    np.testing.assert_array_equal(photo_from_array(grey16), load_image(tmp_path / "grey16.png"))
    # torch tensors channels-first
    import torch

    tensor = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0
    np.testing.assert_array_equal(photo_from_array(tensor), rgb)
    # refusals say what to do
    with pytest.raises(InputError, match=r"float values must lie in \[0, 1\], got \[0, 255\].*divide"):
        photo_from_array(rgb.astype(np.float32))
    with pytest.raises(InputError, match="NaN"):
        photo_from_array(np.full((40, 40, 3), np.nan))
    with pytest.raises(InputError, match="neither 8-bit"):
        photo_from_array(rgb.astype(np.int32) * 300)
    with pytest.raises(InputError, match="too small"):
        photo_from_array(np.zeros((10, 40, 3), np.uint8))
    from pydeca.errors import ShapeError

    with pytest.raises(ShapeError, match=r"got \(48, 64, 5\)"):
        photo_from_array(np.zeros((48, 64, 5), np.uint8))


# ----------------------------------------------------------------------------- complex arrays, GIFs


@pytest.mark.parametrize("convert", [np.asarray, torch.from_numpy])
def test_complex_arrays_are_refused_not_cast(convert):
    from pydeca.io.images import photo_from_array, to_uint8_image

    image = np.full((40, 40, 3), 0.5 + 0.25j)
    for function in (photo_from_array, to_uint8_image):
        with pytest.raises(InputError, match=r"image array: complex dtype complex128 is refused"):
            function(convert(image))
    assert to_uint8_image(np.full((2, 2, 3), 0.5))[0, 0].tolist() == [128, 128, 128]


def test_gif_in_a_folder_is_an_input_read_as_its_first_frame(tmp_path):
    from pydeca.io.inputs import list_inputs

    first = _marked()
    second = np.zeros_like(first)
    frames = [Image.fromarray(first), Image.fromarray(second)]
    gif = tmp_path / "clip.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    Image.fromarray(first).save(tmp_path / "photo.png")
    (tmp_path / "notes.txt").write_text("not an image")
    assert [p.name for p in list_inputs([tmp_path])] == ["clip.gif", "photo.png"]
    assert [p.name for p in list_inputs([str(tmp_path / "*.gif")])] == ["clip.gif"]
    with Image.open(gif) as check:
        assert check.n_frames == 2
    rgb = load_image(gif)
    assert rgb.shape == (48, 64, 3)
    assert rgb[0, 0].tolist() == [255, 0, 0]  # the first frame's red corner, not the black 2nd frame
    assert abs(int(rgb[30, 30, 0]) - 128) <= 2  # palette quantisation of the grey


def test_animated_webp_gives_its_first_frame(tmp_path):
    first = _marked()
    frames = [Image.fromarray(first), Image.fromarray(np.zeros_like(first))]
    path = tmp_path / "clip.webp"
    frames[0].save(path, save_all=True, append_images=frames[1:], lossless=True, duration=100)
    rgb = load_image(path)
    assert rgb[0, 0].tolist() == [255, 0, 0]
    assert rgb[30, 30].tolist() == [128, 128, 128]
