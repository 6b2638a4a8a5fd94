"""Renderer options and visualisation views: texture modes, detail conditioning, lighting, tiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pydeca.geometry.camera import crop_to_image_ndc, ndc_to_pixels
from pydeca.geometry.normals import vertex_normals
from pydeca.nets import Codes
from pydeca.render.renderer import row_tiles
from pydeca.render.shading import SH_CONSTANTS
from pydeca.render.views import GRID_PANELS, crop_views, photo_views, visualization_grid


def load_codes(shared, name: str) -> tuple[Codes, torch.Tensor]:
    with np.load(shared / "fixtures" / "parity" / f"examples__{name}.npz") as ref:
        codes = Codes(
            **{
                k: torch.from_numpy(ref[f"code_{k}"])[None]
                for k in ("shape", "tex", "exp", "pose", "cam", "light", "detail")
            }
        )
        image = torch.from_numpy(ref["image224"])[None]
    return codes, image


@pytest.fixture(scope="module")
def decoded(reference_model, shared):
    codes, image = load_codes(shared, "alfw1")
    with torch.inference_mode():
        rec = reference_model.decode(codes, images=image)
    return rec, image


def test_texture_modes_without_albedo_model(reference_model, decoded):
    rec, image = decoded
    mask = reference_model.uv_face_eye_mask[0, 0]
    outside = mask == 0
    with torch.inference_mode():
        photo = reference_model.texture_from_images(rec, image, "photo")
    # No albedo model: "extract" falls back to DECA's grey 0.7 outside the mask, like "photo".
    torch.testing.assert_close(rec.uv_texture_gt, photo)
    assert torch.all(photo[0][:, outside] == 0.7)
    with pytest.raises(ValueError, match="albedo model"):
        reference_model.texture_from_images(rec, image, "model")
    with pytest.raises(ValueError, match="texture mode"):
        reference_model.texture_from_images(rec, image, "sepia")


def test_detail_expression_conditions_only_the_detail_decoder(reference_model, shared):
    codes_a, _ = load_codes(shared, "alfw1")
    codes_b, _ = load_codes(shared, "IMG_0392_inputs")
    with torch.inference_mode():
        plain = reference_model.decode(codes_a)
        mixed = reference_model.decode(codes_a, detail_expression=codes_b)
        expected = reference_model.D_detail(torch.cat([codes_b.pose[:, 3:], codes_b.exp, codes_a.detail], 1))
    torch.testing.assert_close(mixed.vertices, plain.vertices)  # geometry keeps its own expression
    torch.testing.assert_close(mixed.uv_z, expected)
    assert float((mixed.uv_z - plain.uv_z).abs().max()) > 1e-6


def test_lit_texture_render_with_ambient_light(reference_model, decoded):
    rec, _ = decoded
    renderer = reference_model.renderer
    texture = torch.full((1, 3, 256, 256), 0.5)
    light = torch.zeros(1, 9, 3)
    light[:, 0] = torch.tensor([1.0, 2.0, 3.0])  # ambient only: shading = k0 · c0 everywhere
    with torch.inference_mode():
        unlit, alpha = renderer.render_texture(rec.trans_verts, texture)
        lit, _ = renderer.render_texture(rec.trans_verts, texture, light=light, vertices=rec.vertices)
    covered = alpha[0, 0] > 0
    scale = torch.tensor([1.0, 2.0, 3.0]) * SH_CONSTANTS[0]
    torch.testing.assert_close(lit[0][:, covered], unlit[0][:, covered] * scale[:, None])
    with pytest.raises(ValueError, match="world vertices"):
        renderer.render_texture(rec.trans_verts, texture, light=light)


def test_row_tiles_reproduce_a_full_render(reference_model, decoded):
    rec, _ = decoded
    renderer = reference_model.renderer
    size = (150, 200)
    with torch.inference_mode():
        full = renderer.render_shape(rec.vertices, rec.trans_verts, size).images
        bands = []
        tiles = list(row_tiles(rec.trans_verts, size, max_pixels=200 * 16))
        for _rows, band_verts, band_size in tiles:
            normals = vertex_normals(rec.trans_verts, renderer.faces)
            bands.append(
                renderer.render_shape(rec.vertices, band_verts, band_size, view_normals=normals).images
            )
    assert len(tiles) == 10
    assert [t[0].start for t in tiles][:3] == [0, 16, 32]
    tiled = torch.cat(bands, dim=2)
    # Same pixels covered; values equal up to float rounding of the rescaled y.
    assert torch.equal(tiled > 0, full > 0)
    assert (tiled - full).abs().max() < 1e-4


def test_crop_to_image_ndc_matches_the_crop_transform():
    tform = torch.tensor([[[0.5, 0.0, -10.0], [0.0, 0.5, -20.0], [0.0, 0.0, 1.0]]])  # photo → crop px
    crop_px = torch.tensor([[[0.0, 0.0], [223.0, 223.0], [100.0, 50.0]]])
    ndc = (2 * crop_px + 1) / 224 - 1
    points = torch.cat([ndc, torch.full((1, 3, 1), 0.3)], dim=-1)
    photo = crop_to_image_ndc(points, tform, 224, (600, 500))
    photo_px = ndc_to_pixels(photo[..., :2], (600, 500))
    expected = (crop_px + torch.tensor([10.0, 20.0])) / 0.5  # inverse of T
    torch.testing.assert_close(photo_px, expected, atol=1e-3, rtol=0)
    assert torch.all(photo[..., 2] == 0.3)


def test_crop_views_do_not_touch_the_reconstruction(reference_model, decoded):
    rec, image = decoded
    before = {k: getattr(rec, k).clone() for k in ("landmarks2d", "landmarks3d", "trans_verts")}
    views = crop_views(reference_model.renderer, rec, image)
    for key, value in before.items():
        assert torch.equal(getattr(rec, key), value), f"{key} was modified"
    assert set(views) == set(GRID_PANELS)
    for images in views.values():
        assert images[0].dtype == np.uint8
    grid = visualization_grid({k: v[0] for k, v in views.items()})
    assert grid.shape == (224, 224 * len(GRID_PANELS), 3)
    # Landmark panels differ from the input only where something was drawn.
    drawn = np.any(views["landmarks2d"][0] != views["inputs"][0], axis=-1)
    assert 0.001 < drawn.mean() < 0.2


def test_photo_views_on_a_large_photo(reference_model, decoded):
    rec, _ = decoded
    height, width = 900, 700
    photo = np.full((height, width, 3), 40, dtype=np.uint8)
    # The crop sits at photo pixels (100..547, 200..647): scale 0.5 photo → crop.
    tform = np.array([[0.5, 0.0, -50.0], [0.0, 0.5, -100.0], [0.0, 0.0, 1.0]])
    views = photo_views(reference_model.renderer, rec, 0, photo, tform, max_pixels=width * 64)
    shape = views["shape_images"]
    assert shape.shape == (height, width, 3)
    changed = np.any(shape != 40, axis=-1)
    # Only pixels under the projected head change, and the head lands where T⁻¹ puts the crop.
    photo_ndc = crop_to_image_ndc(
        rec.trans_verts, torch.from_numpy(tform)[None].float(), 224, (height, width)
    )
    px = ndc_to_pixels(photo_ndc[0, :, :2], (height, width)).numpy()
    rows, cols = np.nonzero(changed)
    assert rows.min() >= np.floor(px[:, 1].min())
    assert rows.max() <= np.ceil(px[:, 1].max())
    assert cols.min() >= np.floor(px[:, 0].min())
    assert cols.max() <= np.ceil(px[:, 0].max())
    assert changed.mean() > 0.05
    assert np.all(views["inputs"] == photo)


def test_render_shapes_equals_two_render_shape_calls(reference_model, decoded):
    rec, _ = decoded
    renderer = reference_model.renderer
    with torch.inference_mode():
        coarse, detail = renderer.render_shapes(rec.vertices, rec.trans_verts, rec.uv_detail_normals, 224)
        torch.testing.assert_close(coarse.images, renderer.render_shape(rec.vertices, rec.trans_verts).images)
        single = renderer.render_shape(rec.vertices, rec.trans_verts, uv_detail_normals=rec.uv_detail_normals)
    torch.testing.assert_close(detail.images, single.images)
    assert float((detail.images - coarse.images).abs().max()) > 0.01  # the detail shows
