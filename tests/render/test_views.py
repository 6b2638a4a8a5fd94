"""Renderer options and visualisation views: texture modes, detail conditioning, lighting, tiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from pydeca.errors import OptionError
from pydeca.geometry.camera import crop_to_image_ndc, ndc_to_pixels
from pydeca.geometry.normals import vertex_normals
from pydeca.nets import Codes
from pydeca.render.interpolate import interpolate_vertex_attributes
from pydeca.render.renderer import row_tiles
from pydeca.render.shading import SH_CONSTANTS
from pydeca.render.views import (
    APP_PANELS,
    GRID_PANELS,
    OVERLAY_OPACITY,
    crop_views,
    frame_panels,
    panel_size,
    photo_views,
    render_panels,
    resized_tform,
    visualization_grid,
)
from pydeca.render.visualize import HIDDEN_COLOR, LANDMARK_EDGES, VISIBLE_COLOR, draw_landmarks, to_uint8


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
    torch.testing.assert_close(rec.photo_texture.uv_texture_gt, photo)
    assert torch.all(photo[0][:, outside] == 0.7)
    with pytest.raises(OptionError, match="needs an albedo model"):
        reference_model.texture_from_images(rec, image, "model")
    with pytest.raises(OptionError) as info:
        reference_model.texture_from_images(rec, image, "sepia")
    assert isinstance(info.value, ValueError)
    assert str(info.value) == "texture mode: expected one of 'extract', 'model', 'photo', got 'sepia'"


def test_unknown_jaw_type_and_reconstruct_options_are_option_errors(
    reference_bundle, reference_model, tmp_path
):
    from pydeca.model import DECA

    with pytest.raises(OptionError, match=r"jaw_type: expected 'aa' or 'euler', got 'quat'"):
        DECA(reference_bundle, jaw_type="quat", cache_dir=tmp_path)  # type: ignore[arg-type]
    from pydeca.detect import get_detector
    from pydeca.pipeline import prepare_faces, reconstruct, reconstruct_all

    photo = np.zeros((64, 64, 3), np.uint8)
    for entry in (reconstruct, reconstruct_all):
        with pytest.raises(
            OptionError, match=r"^texture: expected one of 'extract', 'model', 'photo', got 'bogus'$"
        ):
            entry(reference_model, photo, detector="none", texture="bogus")  # type: ignore[arg-type]
    # which faces to keep is an argument of the pipeline's face preparation
    with pytest.raises(OptionError, match=r"^which: expected 'largest' or 'all', got 'some'$"):
        prepare_faces(photo, "photo", get_detector("none"), which="some")  # type: ignore[arg-type]


def test_detail_expression_conditions_only_the_detail_decoder(reference_model, shared):
    codes_a, _ = load_codes(shared, "alfw1")
    codes_b, _ = load_codes(shared, "IMG_0392_inputs")
    with torch.inference_mode():
        plain = reference_model.decode(codes_a)
        mixed = reference_model.decode(codes_a, detail_expression=codes_b)
        expected = reference_model.D_detail(torch.cat([codes_b.pose[:, 3:], codes_b.exp, codes_a.detail], 1))
    torch.testing.assert_close(mixed.vertices, plain.vertices)  # geometry keeps its own expression
    torch.testing.assert_close(mixed.detail.uv_z, expected)
    assert float((mixed.detail.uv_z - plain.detail.uv_z).abs().max()) > 1e-6


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
        coarse, detail = renderer.render_shapes(
            rec.vertices, rec.trans_verts, rec.detail.uv_detail_normals, 224
        )
        torch.testing.assert_close(coarse.images, renderer.render_shape(rec.vertices, rec.trans_verts).images)
        single = renderer.render_shape(
            rec.vertices, rec.trans_verts, uv_detail_normals=rec.detail.uv_detail_normals
        )
    torch.testing.assert_close(detail.images, single.images)
    assert float((detail.images - coarse.images).abs().max()) > 0.01  # the detail shows


def test_render_panels_in_the_crop(reference_model, decoded):
    """Each app panel is the renderer's own render: shape and detail as crop_views, the overlay blended."""
    rec, image = decoded
    renderer = reference_model.renderer
    panels = render_panels(renderer, rec, panels=APP_PANELS, background=image)
    assert set(panels) == set(APP_PANELS)
    assert all(p.shape == (1, 3, 224, 224) for p in panels.values())
    views = crop_views(renderer, rec, image)
    assert np.array_equal(to_uint8(panels["shape"][0]), views["shape_images"][0])
    assert np.array_equal(to_uint8(panels["shape_detail"][0]), views["shape_detail_images"][0])
    with torch.inference_mode():
        textured, _ = renderer.render_texture(rec.trans_verts, rec.photo_texture.uv_texture_gt)
        alpha = renderer.render_shape(rec.vertices, rec.trans_verts).alpha
    torch.testing.assert_close(panels["textured"], textured)
    weight = alpha * OVERLAY_OPACITY
    torch.testing.assert_close(panels["overlay"], panels["shape"] * weight + image * (1 - weight))
    # only what is asked for; the default is the transfer grid's pair
    assert set(render_panels(renderer, rec, 64, panels=("shape",))) == {"shape"}
    assert set(render_panels(renderer, rec)) == {"shape_detail", "textured"}
    with pytest.raises(OptionError, match="unknown"):
        render_panels(renderer, rec, panels=("depth",))
    with pytest.raises(OptionError, match="background"):
        render_panels(renderer, rec, panels=("overlay",))


def test_resized_tform_maps_pixel_centres_through_the_resize():
    tform = np.array([[[0.5, 0.0, -50.0], [0.0, 0.5, -100.0], [0.0, 0.0, 1.0]]])
    image_hw, panel_hw = (900, 700), (300, 234)
    full_px = np.array([[10.0, 20.0, 1.0], [699.0, 899.0, 1.0], [350.3, 12.7, 1.0]]).T  # (3, N) columns
    ratio = np.array([[panel_hw[1] / image_hw[1]], [panel_hw[0] / image_hw[0]]])
    panel_px = np.vstack([ratio * (full_px[:2] + 0.5) - 0.5, np.ones((1, 3))])
    np.testing.assert_allclose(resized_tform(tform, image_hw, panel_hw)[0] @ panel_px, tform[0] @ full_px)
    assert panel_size((900, 700), 300) == (300, 233)
    assert panel_size((100, 30), 480) == (100, 30)
    assert panel_size((5000, 3), 64) == (64, 2)  # never narrower than 2 pixels


def test_frame_panels_on_a_scaled_down_frame_put_the_face_where_the_scaled_frame_has_it(
    reference_model, decoded
):
    """A 900 × 700 frame shown at 300 × 234 (``deca video`` with max_height 300): the face is
    rendered where the full-size render has it, scaled — not where T would put it at full size."""
    rec, _ = decoded
    height, width = 900, 700
    tform = np.array(
        [[[0.5, 0.0, -50.0], [0.0, 0.5, -100.0], [0.0, 0.0, 1.0]]]
    )  # head at (100..547, 200..647)
    panel_hw = panel_size((height, width), 300)
    picture = np.full((*panel_hw, 3), 40, dtype=np.uint8)
    panels = frame_panels(reference_model.renderer, rec, tform, [picture], (height, width))
    assert set(panels) == {"shape_detail", "overlay"}
    assert panels["overlay"][0].shape == panels["shape_detail"][0].shape == (*panel_hw, 3)
    photo_ndc = crop_to_image_ndc(rec.trans_verts, torch.from_numpy(tform).float(), 224, (height, width))
    full_px = ndc_to_pixels(photo_ndc[0, :, :2], (height, width)).numpy()
    ratio = np.array([panel_hw[1] / width, panel_hw[0] / height])
    px = ratio * (full_px + 0.5) - 0.5  # the head's vertices in panel pixels
    rows, cols = np.nonzero(np.any(panels["overlay"][0] != 40, axis=-1))
    assert rows.min() >= np.floor(px[:, 1].min())
    assert rows.max() <= np.ceil(px[:, 1].max())
    assert cols.min() >= np.floor(px[:, 0].min())
    assert cols.max() <= np.ceil(px[:, 0].max())
    assert len(rows) > 0.5 * np.ptp(px[:, 0]) * np.ptp(px[:, 1])  # and fills much of that box


# --- texture modes and render_orig with an albedo model (reference §2.9, §2.13) ----------------------


@pytest.fixture(scope="module")
def bfm_model(reference_bundle, bfm_albedo_path, tmp_path_factory):
    """DECA with the BFM-format albedo of the parity references."""
    from dataclasses import replace

    from pydeca.assets.albedo import load_albedo_basis
    from pydeca.model import DECA

    bundle = replace(reference_bundle, albedo=load_albedo_basis(bfm_albedo_path))
    return DECA(bundle, cache_dir=tmp_path_factory.mktemp("topology"))


def sampled_image(model, images: torch.Tensor, trans_verts: torch.Tensor) -> torch.Tensor:
    """The reference's ``uv_gt``: the images bilinearly sampled at every texel's projected NDC."""
    grid = model.world2uv(trans_verts)[:, :2].permute(0, 2, 3, 1)
    return F.grid_sample(images, grid, mode="bilinear", align_corners=False)


def test_extract_texture_with_albedo_model(bfm_model, shared):
    codes, image = load_codes(shared, "alfw1")
    with torch.inference_mode():
        rec = bfm_model.decode(codes, images=image, texture="extract")
        darker = bfm_model.decode(codes, images=image * 0.5, texture="extract")
        uv_gt = sampled_image(bfm_model, image, rec.trans_verts)
    mask = bfm_model.uv_face_eye_mask[0, 0]
    inside, outside = mask == 1, mask == 0
    texture = rec.photo_texture.uv_texture_gt[0]
    assert rec.photo_texture.texture_mode == "extract"
    # inside the face-eye mask: the photo; outside: the shaded albedo uv_texture (not DECA's grey)
    torch.testing.assert_close(texture[:, inside], uv_gt[0][:, inside], atol=1e-6, rtol=0)
    torch.testing.assert_close(
        texture[:, outside], rec.model_texture.uv_texture[0][:, outside], atol=0, rtol=0
    )
    blend = uv_gt[0] * mask + rec.model_texture.uv_texture[0] * (1 - mask)
    torch.testing.assert_close(texture, blend, atol=1e-6, rtol=0)
    # the test tells the sources apart: outside, the shaded albedo is neither grey nor the photo
    islands = outside & (rec.model_texture.uv_texture[0].abs().sum(0) > 0)
    assert float((rec.model_texture.uv_texture[0][:, islands] - 0.7).abs().mean()) > 0.05
    assert float((rec.model_texture.uv_texture[0][:, islands] - uv_gt[0][:, islands]).abs().mean()) > 0.05
    # a darker photo halves the inside (bilinear sampling is linear) and leaves the outside alone
    torch.testing.assert_close(
        darker.photo_texture.uv_texture_gt[0][:, inside], texture[:, inside] * 0.5, atol=1e-6, rtol=0
    )
    torch.testing.assert_close(
        darker.photo_texture.uv_texture_gt[0][:, outside], texture[:, outside], atol=0, rtol=0
    )


def test_model_and_photo_texture_modes_with_albedo_model(bfm_model, shared):
    codes, image = load_codes(shared, "alfw1")
    with torch.inference_mode():
        model_mode = bfm_model.decode(codes, images=image, texture="model")
        blank = bfm_model.decode(codes, images=torch.zeros_like(image), texture="model")
        photo = bfm_model.decode(codes, images=image, texture="photo")
        uv_gt = sampled_image(bfm_model, image, photo.trans_verts)
    # "model": uv_texture (albedo × SH shading of the detail normals) itself, whatever the image
    assert model_mode.photo_texture.texture_mode == "model"
    torch.testing.assert_close(
        model_mode.photo_texture.uv_texture_gt, model_mode.model_texture.uv_texture, atol=0, rtol=0
    )
    torch.testing.assert_close(
        blank.photo_texture.uv_texture_gt, model_mode.photo_texture.uv_texture_gt, atol=0, rtol=0
    )
    # "photo": the photo inside, DECA's grey 0.7 outside even though an albedo model exists
    mask = bfm_model.uv_face_eye_mask[0, 0]
    torch.testing.assert_close(
        photo.photo_texture.uv_texture_gt[0][:, mask == 1], uv_gt[0][:, mask == 1], atol=1e-6, rtol=0
    )
    assert torch.all(photo.photo_texture.uv_texture_gt[0][:, mask == 0] == 0.7)


class LargestFloatTensor(TorchDispatchMode):
    """Records the element count of the largest floating tensor any aten op produces."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                self.largest = max(self.largest, t.numel())
        return out


def photo_of_crop(image: torch.Tensor, tform: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An (H, W, 3) uint8 photo whose crop through ``tform`` is ``image`` (bilinear upsampling)."""
    height, width = size
    cols, rows = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    crop_px = np.stack([cols, rows], -1) @ tform[:2, :2].T + tform[:2, 2]  # photo px → crop px
    grid = torch.from_numpy((2 * crop_px + 1) / 224 - 1).float()[None]
    photo = F.grid_sample(image, grid, mode="bilinear", align_corners=False)[0]
    return np.rint(photo.permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def test_texture_from_photo_samples_the_original(bfm_model, shared):
    codes, image = load_codes(shared, "alfw1")
    height, width = 600, 500
    tform = np.array([[0.5, 0.0, -25.0], [0.0, 0.5, -40.0], [0.0, 0.0, 1.0]])  # photo px → crop px
    photo = photo_of_crop(image, tform, (height, width))
    with torch.inference_mode():
        rec = bfm_model.decode(codes, images=image)
        texture = bfm_model.texture_from_photo(rec, photo, tform)
        inverted = bfm_model.texture_from_photo(rec, 255 - photo, tform)
        # the reference's render_orig formula, written out: vertices in photo NDC, photo in [0, 1]
        photo_ndc = crop_to_image_ndc(
            rec.trans_verts, torch.from_numpy(tform).float()[None], 224, (height, width)
        )
        photo_float = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255
        uv_gt = sampled_image(bfm_model, photo_float, photo_ndc)
    mask = bfm_model.uv_face_eye_mask[0, 0]
    expected = uv_gt * mask + rec.model_texture.uv_texture * (1 - mask)
    # uint8 gathers vs grid_sample of the float photo: same bilinear weights up to float32 rounding
    torch.testing.assert_close(texture, expected, atol=1e-5, rtol=0)
    inside = mask == 1
    # The photo holds the crop at twice its resolution, so the texture matches the crop's (up to the
    # extra resampling) — and it does come from the photo: inverting the photo inverts it.
    assert (
        float((texture[0][:, inside] - rec.photo_texture.uv_texture_gt[0][:, inside]).abs().mean()) < 2 / 255
    )
    torch.testing.assert_close(inverted[0][:, inside], 1 - texture[0][:, inside], atol=1e-5, rtol=0)
    torch.testing.assert_close(inverted[0][:, mask == 0], texture[0][:, mask == 0], atol=0, rtol=0)


def test_texture_from_photo_memory_is_bounded(bfm_model, shared):
    # A 12-megapixel uint8 photo: no floating tensor of photo size is ever made (only 4 pixels per
    # texel are read and converted), so memory stays O(R²) = O(256²) whatever the photo.
    codes, image = load_codes(shared, "alfw1")
    photo = np.full((3000, 4000, 3), 120, dtype=np.uint8)
    tform = np.array([[0.1, 0.0, -150.0], [0.0, 0.1, -100.0], [0.0, 0.0, 1.0]])
    with torch.inference_mode():
        rec = bfm_model.decode(codes, images=image)
        spy = LargestFloatTensor()
        with spy:
            texture = bfm_model.texture_from_photo(rec, photo, tform)
    assert spy.largest <= 256 * 256 * 3 * 8  # a few UV-sized buffers; the photo has 36 M values
    mask = bfm_model.uv_face_eye_mask[0, 0]
    # the head projects inside the photo: the inside of the mask is the photo's flat 120/255
    torch.testing.assert_close(texture[0][:, mask == 1], torch.full_like(texture[0][:, mask == 1], 120 / 255))


def test_photo_views_render_with_the_photo_texture(bfm_model, shared):
    codes, image = load_codes(shared, "alfw1")
    height, width = 600, 500
    tform = np.array([[0.5, 0.0, -25.0], [0.0, 0.5, -40.0], [0.0, 0.0, 1.0]])
    photo = 255 - photo_of_crop(image, tform, (height, width))  # differs from the crop on purpose
    renderer = bfm_model.renderer
    with torch.inference_mode():
        rec = bfm_model.decode(codes, images=image)
        texture = bfm_model.texture_from_photo(rec, photo, tform)
        views = photo_views(renderer, rec, 0, photo, tform, texture=texture, max_pixels=width * 200)
        photo_ndc = crop_to_image_ndc(
            rec.trans_verts, torch.from_numpy(tform).float()[None], 224, (height, width)
        )
        background = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255
        fragments = renderer.rasterize(photo_ndc, (height, width))
        full, alpha = renderer.render_texture(photo_ndc, texture, background=background, fragments=fragments)
        crop_textured, _ = renderer.render_texture(
            photo_ndc, rec.photo_texture.uv_texture_gt, background=background, fragments=fragments
        )
    # the rendered panel is the photo-textured mesh over the photo (rendered in 3 bands: the y
    # rescaling rounds differently on a few pixels, ±1/255)
    rendered = views["rendered_images"].astype(int)
    assert ((np.abs(rendered - to_uint8(full[0]).astype(int)) <= 1).all(-1)).mean() > 0.999
    # the crop's texture would show the un-inverted crop colours on the face
    face = alpha[0, 0].numpy() > 0
    assert np.abs(rendered - to_uint8(crop_textured[0]).astype(int))[face].mean() > 30


# --- visualisation: landmarks and depth (reference §2.11, §2.12) --------------------------------------


def test_landmark_connectivity_is_the_references():
    # A line from i to i + 1 except after 16, 21, 26, 30, 35, 41, 47 (and 67, the last): eyes and
    # lips stay open loops and 59 → 60 joins the outer lip to the inner one.
    ends = {16, 21, 26, 30, 35, 41, 47}
    assert list(LANDMARK_EDGES) == [(i, i + 1) for i in range(67) if i not in ends]
    assert len(LANDMARK_EDGES) == 60
    assert (59, 60) in LANDMARK_EDGES
    for closing in ((41, 36), (36, 41), (47, 42), (42, 47), (59, 48), (67, 60)):
        assert closing not in LANDMARK_EDGES


def landmark_layout(size: int = 256) -> tuple[np.ndarray, torch.Tensor]:
    """68 landmarks: most in a corner cluster, 36–41 and 59–60 placed to expose their lines."""
    px = np.full((68, 2), 10.0)
    px[36:42] = [(20, 100), (20, 20), (20, 20), (20, 20), (200, 20), (200, 100)]  # the right eye
    px[59], px[60] = (20, 200), (200, 200)
    ndc = (px + 0.5) * 2 / size - 1
    return px.astype(int), torch.from_numpy(ndc).float()


def test_landmark_lines_follow_the_connectivity():
    _, ndc = landmark_layout()
    drawn = draw_landmarks(np.zeros((256, 256, 3), np.uint8), ndc)
    assert tuple(drawn[200, 110]) == (255, 255, 255)  # 59 → 60 is drawn
    assert tuple(drawn[100, 110]) == (0, 0, 0)  # 41 → 36 (closing the eye) is not
    assert tuple(drawn[60, 20]) == (255, 255, 255)  # 36 → 37
    assert tuple(drawn[60, 200]) == (255, 255, 255)  # 40 → 41


def test_3d_landmark_visibility_colours():
    px, ndc = landmark_layout()
    visibility = [1.0] * 68
    visibility[41] = 0.0
    drawn = draw_landmarks(np.zeros((256, 256, 3), np.uint8), ndc, visibility)
    assert tuple(drawn[px[36, 1], px[36, 0]]) == VISIBLE_COLOR == (0, 255, 0)  # visible: green
    assert tuple(drawn[px[41, 1], px[41, 0]]) == HIDDEN_COLOR == (255, 0, 0)  # hidden: red
    plain = draw_landmarks(np.zeros((256, 256, 3), np.uint8), ndc)  # 2D landmarks: all green
    assert tuple(plain[px[41, 1], px[41, 0]]) == VISIBLE_COLOR


def test_crop_views_colour_3d_landmarks_by_visibility(reference_model, decoded):
    from dataclasses import replace

    rec, image = decoded
    centres = np.floor((rec.landmarks3d[0, :, :2].numpy() + 1) * 112).astype(int)  # containing pixels
    for value, colour in ((0.0, HIDDEN_COLOR), (1.0, VISIBLE_COLOR)):
        landmarks3d = rec.landmarks3d.clone()
        landmarks3d[..., 3] = value
        views = crop_views(reference_model.renderer, replace(rec, landmarks3d=landmarks3d), image)
        panel = views["landmarks3d"][0]
        assert all(tuple(panel[r, c]) == colour for c, r in centres)


def test_depth_normalisation_is_per_sample(reference_model, decoded):
    # Deliberate change from the reference (§2.11), which normalises z over the whole batch: there a
    # face's depth image depends on which other faces share its batch (and a batch of N would not
    # equal N single calls). Per sample, nearest vertex = 1 and farthest = 0 within each face.
    rec, _ = decoded
    renderer = reference_model.renderer
    near = rec.trans_verts
    far = near * torch.tensor([1.0, 1.0, 3.0]) + torch.tensor([0.0, 0.0, 2.0])  # same image, deeper
    with torch.inference_mode():
        pair = renderer.render_depth(torch.cat([near, far]))
        single = renderer.render_depth(near)
    torch.testing.assert_close(pair[:1], single)
    # an affine change of z leaves the normalised depth unchanged
    torch.testing.assert_close(pair[1:], single, atol=1e-5, rtol=0)
    covered = renderer.rasterize(near, 224).mask[0]
    assert float(single[0, 0][covered].max()) > 0.97  # the nose tip is nearly the nearest vertex
    assert float(single[0, 0][~covered].abs().max()) == 0.0
    # the reference's batch-wide normalisation would have darkened the first face considerably
    z = torch.cat([near, far])[..., 2:3]
    batch_wide = (z.amax() - z) / (z.amax() - z.amin())
    with torch.inference_mode():
        fragments = renderer.rasterize(torch.cat([near, far]), 224)
        reference_like = interpolate_vertex_attributes(fragments, batch_wide, renderer.faces)
    assert float((reference_like[0] - pair[0]).abs().max()) > 0.2
