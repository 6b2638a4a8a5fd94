"""The visualisation panels of a reconstruction, in its crop or on the original photo.

:func:`crop_views` returns the reference's visualisation entries (§2.12) for a batch; :func:`photo_views`
renders the same at the photo's resolution through the crop transform (the reference's
``render_orig``, §2.13), in bands of rows so a 12-megapixel photo renders in bounded memory;
:func:`visualization_grid` lays panels side by side.
Nothing here modifies the reconstruction's tensors (landmarks are drawn on numpy copies).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pydeca.geometry.camera import crop_to_image_ndc
from pydeca.geometry.normals import vertex_normals
from pydeca.results import Reconstruction

from .renderer import MeshRenderer, row_tiles
from .visualize import add_banner, draw_landmarks, panel_grid, to_uint8

__all__ = ["GRID_PANELS", "crop_views", "display_texture", "photo_views", "visualization_grid"]

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
