"""The visualisation panels of a reconstruction, in its crop or on the original photo.

:func:`crop_views` returns the reference's visualisation entries (§2.12) for a batch; :func:`photo_views`
renders the same at the photo's resolution through the crop transform (the reference's
``render_orig``, §2.13), in bands of rows so a 12-megapixel photo renders in bounded memory;
:func:`visualization_grid` lays panels side by side. :func:`render_panels` renders the few panels of
the apps (``deca transfer`` / ``animate`` in the crop); :func:`frame_panels` those of ``deca video``,
over each frame shown at panel size (:func:`panel_size`, :func:`resized_tform`).
Nothing here modifies the reconstruction's tensors (landmarks are drawn on numpy copies).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pydeca.constants import CROP_SIZE
from pydeca.errors import OptionError
from pydeca.geometry.camera import crop_to_image_ndc
from pydeca.geometry.normals import vertex_normals
from pydeca.results import Reconstruction

from .renderer import MeshRenderer, row_tiles
from .visualize import add_banner, draw_landmarks, panel_grid, to_uint8

__all__ = [
    "APP_PANELS",
    "GRID_PANELS",
    "OVERLAY_OPACITY",
    "crop_views",
    "display_texture",
    "frame_panels",
    "panel_size",
    "photo_views",
    "render_panels",
    "resized_tform",
    "visualization_grid",
]

GRID_PANELS = (
    "inputs",
    "landmarks2d",
    "landmarks3d",
    "shape_images",
    "shape_detail_images",
    "depth_images",
    "rendered_images",
    "uv_texture_gt",
    "uv_detail_normals",
)
"""Panels of the full visualisation grid, in order (DECA's visdict plus the UV maps)."""

APP_PANELS = ("shape", "shape_detail", "textured", "overlay")
"""Panels :func:`render_panels` can render."""

OVERLAY_OPACITY = 0.7
"""Weight of the shape render over the picture in the ``overlay`` panel."""


def display_texture(rec: Reconstruction) -> Tensor | None:
    """The texture the ``rendered_images`` panel shows: the photo texture, else the albedo, else None.

    Returns:
        (B, 3, R, R) ``rec.photo_texture.uv_texture_gt`` when present, else
        ``rec.model_texture.albedo`` (unlit), else ``None``.
    """
    if rec.photo_texture is not None:
        return rec.photo_texture.uv_texture_gt
    return rec.model_texture.albedo if rec.model_texture is not None else None


def crop_views(
    renderer: MeshRenderer, rec: Reconstruction, crops: Tensor, size: int = 224
) -> dict[str, list[np.ndarray]]:
    """Every panel of :data:`GRID_PANELS` for a batch, as uint8 (H, W, 3) images per sample.

    Args:
        renderer: a :class:`MeshRenderer` of the reconstruction's topology.
        rec: a :class:`~pydeca.results.Reconstruction` (B faces).
        crops: (B, 3, size, size) the encoder crops in [0, 1].
        size: render size in pixels.

    Returns:
        Panel name → list of B images. ``rendered_images`` shows ``uv_texture_gt`` when present,
        else the albedo; texture panels are omitted when neither exists.
    """
    with torch.inference_mode():
        fragments = renderer.rasterize(rec.trans_verts, size)
        if rec.detail is not None:
            shape, detail = renderer.render_shapes(
                rec.vertices, rec.trans_verts, rec.detail.uv_detail_normals, size, fragments=fragments
            )
        else:
            shape = detail = renderer.render_shape(rec.vertices, rec.trans_verts, size, fragments=fragments)
        depth = renderer.render_depth(rec.trans_verts, fragments=fragments)
        texture = display_texture(rec)
        rendered = None
        if texture is not None:
            rendered, _ = renderer.render_texture(rec.trans_verts, texture, fragments=fragments)
    batch = rec.batch_size
    inputs = [to_uint8(crops[i]) for i in range(batch)]
    views: dict[str, list[np.ndarray]] = {
        "inputs": inputs,
        "landmarks2d": [draw_landmarks(inputs[i], rec.landmarks2d[i]) for i in range(batch)],
        "landmarks3d": [
            draw_landmarks(inputs[i], rec.landmarks3d[i], rec.landmarks3d[i, :, 3].tolist())
            for i in range(batch)
        ],
        "shape_images": [to_uint8(shape.images[i]) for i in range(batch)],
        "shape_detail_images": [to_uint8(detail.images[i]) for i in range(batch)],
        "depth_images": [to_uint8(depth[i]) for i in range(batch)],
    }
    if rendered is not None and texture is not None:
        views["rendered_images"] = [to_uint8(rendered[i]) for i in range(batch)]
        views["uv_texture_gt"] = [to_uint8(texture[i]) for i in range(batch)]
    if rec.detail is not None:
        normals = rec.detail.uv_detail_normals
        views["uv_detail_normals"] = [to_uint8(normals[i] * 0.5 + 0.5) for i in range(batch)]
    return views


def photo_views(
    renderer: MeshRenderer,
    rec: Reconstruction,
    index: int,
    photo: np.ndarray,
    tform: np.ndarray,
    *,
    texture: Tensor | None = None,
    crop_size: int = 224,
    max_pixels: int = 1 << 21,
) -> dict[str, np.ndarray]:
    """Panels of one face rendered over its original photo (DECA's ``render_orig``).

    As the reference (§2.13): vertices and landmarks go to photo NDC through ``T⁻¹``, everything is
    rendered at the photo's (H, W) over the photo, and the textured render uses the texture sampled
    from the photo itself — pass it as ``texture`` (``DECA.texture_from_photo``).

    Rendering runs in bands of at most ``max_pixels`` pixels, so memory stays bounded whatever the
    photo size; the photo is converted to float one band at a time.

    Args:
        renderer: a :class:`MeshRenderer` of the reconstruction's topology.
        rec: a :class:`~pydeca.results.Reconstruction`.
        index: which face of the batch.
        photo: (H, W, 3) uint8 original photo.
        tform: (3, 3) photo pixel → crop pixel similarity of that face.
        texture: (1, 3, R, R) UV texture of the ``rendered_images`` panel, normally
            ``DECA.texture_from_photo(rec.select(index), photo, tform)``; default: the
            reconstruction's own ``uv_texture_gt`` (taken from the crop), else its albedo.
        crop_size: side of the crop the codes were estimated on.
        max_pixels: band size in pixels.

    Returns:
        ``inputs``, ``landmarks2d``, ``landmarks3d``, ``shape_images``, ``shape_detail_images`` and,
        with a texture, ``rendered_images`` — each (H, W, 3) uint8.
    """
    height, width = photo.shape[:2]
    one = slice(index, index + 1)
    t = torch.from_numpy(np.asarray(tform, dtype=np.float32)).to(rec.vertices.device)[None]
    to_photo = lambda points: crop_to_image_ndc(points, t, crop_size, (height, width))  # noqa: E731
    with torch.inference_mode():
        vertices = rec.vertices[one]
        trans_verts = to_photo(rec.trans_verts[one])
        view_normals = vertex_normals(rec.trans_verts[one], renderer.faces)
        if texture is None:
            texture = display_texture(rec)
            texture = texture[one] if texture is not None else None
        detail_normals = rec.detail.uv_detail_normals[one] if rec.detail is not None else None
        out = {name: np.zeros_like(photo) for name in ("shape_images", "shape_detail_images")}
        if texture is not None:
            out["rendered_images"] = np.zeros_like(photo)
        for rows, band_verts, band_size in row_tiles(trans_verts, (height, width), max_pixels):
            background = torch.from_numpy(np.ascontiguousarray(photo[rows])).to(vertices.device)
            background = background.permute(2, 0, 1)[None].float().div_(255.0)
            fragments = renderer.rasterize(band_verts, band_size)
            common: dict[str, Any] = {
                "fragments": fragments,
                "background": background,
                "view_normals": view_normals,
            }
            if detail_normals is not None:
                shape, detail = renderer.render_shapes(
                    vertices, band_verts, detail_normals, band_size, **common
                )
            else:
                shape = detail = renderer.render_shape(vertices, band_verts, band_size, **common)
            out["shape_images"][rows] = to_uint8(shape.images[0])
            out["shape_detail_images"][rows] = to_uint8(detail.images[0])
            if texture is not None:
                images, _ = renderer.render_texture(
                    band_verts, texture.to(vertices), band_size, background=background, fragments=fragments
                )
                out["rendered_images"][rows] = to_uint8(images[0])
        landmarks2d = to_photo(rec.landmarks2d[one])[0]
        landmarks3d = to_photo(rec.landmarks3d[one])[0]
    out["inputs"] = photo
    out["landmarks2d"] = draw_landmarks(photo, landmarks2d)
    out["landmarks3d"] = draw_landmarks(photo, landmarks3d, landmarks3d[:, 3].tolist())
    return out


def visualization_grid(
    views: dict[str, np.ndarray], panels: Sequence[str] = GRID_PANELS, height: int = 224, demo: bool = False
) -> np.ndarray:
    """Panels of one face side by side at a common height; a red banner marks demo output.

    Args:
        views: panel name → (H, W, 3) uint8; names not present are skipped.
        panels: which panels, in order.
        height: output height in pixels.
        demo: add the demo-output banner.

    Returns:
        (height, W_total, 3) uint8.
    """
    grid = panel_grid([views[name] for name in panels if name in views], height=height)
    return add_banner(grid) if demo else grid


def _lit_texture(rec: Reconstruction) -> Tensor | None:
    """The ``textured`` panel's UV map: the photo texture, else the albedo model's lit texture, else None."""
    if rec.photo_texture is not None:
        return rec.photo_texture.uv_texture_gt
    return rec.model_texture.uv_texture if rec.model_texture is not None else None


def render_panels(
    renderer: MeshRenderer,
    rec: Reconstruction,
    size: int | tuple[int, int] = CROP_SIZE,
    *,
    panels: Sequence[str] = ("shape_detail", "textured"),
    tform: Tensor | None = None,
    background: Tensor | None = None,
    crop_size: int = CROP_SIZE,
) -> dict[str, Tensor]:
    """The apps' panels of a batch, rendered in the crop or on the picture the crops were cut from.

    Panels (:data:`APP_PANELS`), each (B, 3, H, W) float in [0, 1]:
        - ``shape``: the coarse grey shape over black (DECA's ``shape_images``);
        - ``shape_detail``: the grey shape shaded with the detail normals (``shape_detail_images``;
          the coarse shape when ``rec`` has no detail);
        - ``textured``: the face textured, unlit, with ``rec.photo_texture.uv_texture_gt``, else the
          albedo model's lit ``uv_texture``; left out when ``rec`` has neither;
        - ``overlay``: the coarse shape over ``background`` with weight :data:`OVERLAY_OPACITY` × alpha.

    Args:
        renderer: a :class:`MeshRenderer` of the reconstruction's topology (``DECA.renderer``).
        rec: a :class:`~pydeca.results.Reconstruction` of B faces.
        size: (H, W) of the renders, or H = W, pixels.
        panels: which panels, names from :data:`APP_PANELS`.
        tform: None: render the crops themselves (at any ``size``). Else (B, 3, 3) picture pixel →
            crop pixel of each face, for an (H, W) picture (see :func:`resized_tform` for a scaled
            one): the vertices go to the picture's NDC through ``T⁻¹``
            (:func:`~pydeca.geometry.camera.crop_to_image_ndc`), the back-face mask keeps the crop's
            normals.
        background: (B, 3, H, W) in [0, 1], the picture under ``overlay`` (required for it).
        crop_size: side of the crop ``rec`` was estimated on, pixels.

    Returns:
        Panel name → (B, 3, H, W) images on ``rec``'s device, for the requested panels.

    Raises:
        OptionError: an unknown panel name, or ``overlay`` without ``background``.
    """
    unknown = sorted(set(panels) - set(APP_PANELS))
    if unknown:
        raise OptionError(f"panels: unknown {unknown}; choose from {list(APP_PANELS)}")
    if "overlay" in panels and background is None:
        raise OptionError("panels: 'overlay' needs the background picture")
    detail_normals = rec.detail.uv_detail_normals if rec.detail is not None else None
    wants_coarse = "shape" in panels or "overlay" in panels
    out: dict[str, Tensor] = {}
    with torch.inference_mode():
        # 1. vertices in the render's NDC: (B, V, 3); back faces judged in the crop's NDC
        verts = rec.trans_verts
        if tform is not None:
            hw = (size, size) if isinstance(size, int) else size
            verts = crop_to_image_ndc(verts, tform.to(verts.device), crop_size, hw)
        view_normals = vertex_normals(rec.trans_verts, renderer.faces)  # (B, V, 3)
        fragments = renderer.rasterize(verts, size)
        shading: dict[str, Any] = {"fragments": fragments, "view_normals": view_normals}
        # 2. grey shapes: (B, 3, H, W) each, sharing the rasterisation and the masks
        if detail_normals is not None and wants_coarse and "shape_detail" in panels:
            coarse, detail = renderer.render_shapes(rec.vertices, verts, detail_normals, size, **shading)
        elif "shape_detail" in panels:
            coarse = detail = renderer.render_shape(
                rec.vertices, verts, size, uv_detail_normals=detail_normals, **shading
            )
        elif wants_coarse:
            coarse = detail = renderer.render_shape(rec.vertices, verts, size, **shading)
        if "shape" in panels:
            out["shape"] = coarse.images
        if "shape_detail" in panels:
            out["shape_detail"] = detail.images
        # 3. the textured face, where there is a texture
        texture = _lit_texture(rec) if "textured" in panels else None
        if texture is not None:
            out["textured"], _ = renderer.render_texture(verts, texture, size, fragments=fragments)
        # 4. the coarse shape over the picture
        if "overlay" in panels and background is not None:
            weight = coarse.alpha * OVERLAY_OPACITY
            out["overlay"] = coarse.images * weight + background * (1.0 - weight)
    return out


def frame_panels(
    renderer: MeshRenderer,
    rec: Reconstruction,
    tforms: np.ndarray,
    pictures: Sequence[np.ndarray],
    image_hw: tuple[int, int],
    *,
    crop_size: int = CROP_SIZE,
) -> dict[str, list[np.ndarray]]:
    """``deca video``'s panels of B faces, each over its own frame shown at panel size.

    Args:
        renderer: a :class:`MeshRenderer` of the reconstruction's topology.
        rec: a :class:`~pydeca.results.Reconstruction` of B faces.
        tforms: (B, 3, 3) frame pixel → crop pixel, for the full-size (H, W) frames.
        pictures: B (h, w, 3) uint8 frames, scaled to the panel size (h, w) (:func:`panel_size`).
        image_hw: (H, W) of the full-size frames.
        crop_size: side of the crop ``rec`` was estimated on, pixels.

    Returns:
        ``shape_detail`` and ``overlay`` (see :func:`render_panels`): B (h, w, 3) uint8 images each.
    """
    panel_hw = (int(pictures[0].shape[0]), int(pictures[0].shape[1]))
    device = rec.vertices.device
    t = torch.as_tensor(resized_tform(tforms, image_hw, panel_hw), dtype=torch.float32).to(device)
    with torch.inference_mode():
        background = torch.from_numpy(np.stack(pictures)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    panels = render_panels(
        renderer,
        rec,
        panel_hw,
        panels=("shape_detail", "overlay"),
        tform=t,
        background=background,
        crop_size=crop_size,
    )
    return {name: [to_uint8(image) for image in images] for name, images in panels.items()}


def panel_size(image_hw: tuple[int, int], max_height: int) -> tuple[int, int]:
    """(h, w) of a panel showing an (H, W) picture at most ``max_height`` rows high (aspect kept, ≥ 2).

    Example:
        >>> panel_size((1080, 1920), 480), panel_size((240, 320), 480)
        ((480, 853), (240, 320))
    """
    height, width = image_hw
    scale = min(1.0, max_height / height)
    return max(2, round(height * scale)), max(2, round(width * scale))


def resized_tform(tform: np.ndarray, image_hw: tuple[int, int], resized_hw: tuple[int, int]) -> np.ndarray:
    """Crop transforms of an (H, W) picture re-expressed for the picture resized to ``resized_hw``.

    A resize by ``r`` maps pixel centres to pixel centres: ``col' = r (col + 0.5) − 0.5`` (x and y
    each with its own ratio), so the result is ``T · S⁻¹`` with ``S`` that map.

    Args:
        tform: (B, 3, 3) picture pixel → crop pixel.
        image_hw: (H, W) of the picture.
        resized_hw: (h, w) of the resized picture.

    Returns:
        (B, 3, 3) float64 resized-picture pixel → crop pixel.

    Example:
        >>> resized_tform(np.eye(3)[None], (4, 4), (2, 2))[0, 0].tolist()
        [2.0, 0.0, 0.5]
    """
    rx, ry = resized_hw[1] / image_hw[1], resized_hw[0] / image_hw[0]
    scale = np.array([[rx, 0.0, 0.5 * rx - 0.5], [0.0, ry, 0.5 * ry - 0.5], [0.0, 0.0, 1.0]])
    return np.asarray(tform @ np.linalg.inv(scale), dtype=np.float64)
