"""DECA's renders of a reconstruction: albedo, grey shape (coarse and detail), depth, texture.

All images are channel-first (B, C, H, W). Inputs are the crop-NDC vertices ``trans_verts``
(x = −1 left edge, y = −1 top edge, smaller z nearer) and world-frame normals; any output size works
(pass NDC of the target image, e.g. original-image NDC for renders on the photo). The renders follow
the original DECA (upstream) look, reference §2.6, §2.9, §2.11, without its bugs: attributes are per
sample in a batch, the caller's tensors are never modified, and the depth normalisation is per sample
(the original normalises over the whole batch, so one face's depth image changed with the others).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pydeca.checks import check_shapes
from pydeca.geometry.normals import vertex_normals
from pydeca.geometry.rasterize import Fragments, rasterize

from .interpolate import interpolate_face_attributes, interpolate_vertex_attributes
from .shading import directional_shading, sh_shading

__all__ = [
    "SHAPE_GREY",
    "SHAPE_MASK_NORMAL_Z",
    "MeshRenderer",
    "ShapeRender",
    "extract_texture",
    "row_tiles",
    "sample_bilinear",
]

SHAPE_GREY = 180.0 / 255.0
"""Albedo of the grey shape render (the original's upstream value; the Apple fork used 112/255)."""

SHAPE_MASK_NORMAL_Z = 0.15
"""Shape-render pixels whose camera-space normal z is ≥ this are masked out (upstream ``pos_mask``)."""


@dataclass
class ShapeRender:
    """Output of :meth:`MeshRenderer.render_shape`."""

    images: Tensor
    """(B, 3, H, W) shaded grey images composited over the background (or black)."""
    alpha: Tensor
    """(B, 1, H, W) coverage × front-facing mask (``pos_mask``)."""
    uv_grid: Tensor
    """(B, H, W, 2) UV coordinates (in ``grid_sample`` convention) of each pixel."""
    normal_images: Tensor
    """(B, 3, H, W) the world normals used for shading (×alpha)."""


class MeshRenderer(nn.Module):
    """Renders meshes of one topology (the template's faces and UV layout).

    Args:
        faces: (F, 3) vertex indices.
        uvcoords: (T, 2) UV coordinates in [0, 1] (v = 1 at the top of UV images).
        uvfaces: (F, 3) UV-coordinate indices.
    """

    # non-persistent buffers (registered in __init__); declared here so type checkers see Tensors
    faces: Tensor
    """(F, 3) int64 vertex indices."""
    face_uv: Tensor
    """(F, 3, 2) ``grid_sample`` UV coordinates (x, y in [−1, 1]) of each face corner."""

    def __init__(self, faces: Tensor, uvcoords: Tensor, uvfaces: Tensor) -> None:
        super().__init__()
        faces = torch.as_tensor(faces, dtype=torch.long)
        uv = torch.as_tensor(uvcoords, dtype=torch.float32)
        uv_ndc = torch.stack([2 * uv[:, 0] - 1, 1 - 2 * uv[:, 1]], dim=-1)  # grid_sample x, y
        self.register_buffer("faces", faces, persistent=False)
        self.register_buffer("face_uv", uv_ndc[torch.as_tensor(uvfaces, dtype=torch.long)], persistent=False)

    def rasterize(self, trans_verts: Tensor, size: int | tuple[int, int]) -> Fragments:
        """Rasterise (B, V, 3) NDC vertices at ``size`` (H, W) → :class:`Fragments`."""
        return rasterize(trans_verts, self.faces, size)

    def uv_grid(self, fragments: Fragments) -> Tensor:
        """(B, H, W, 2) UV sample coordinates per pixel (``grid_sample`` convention, 0 background)."""
        batch = fragments.face_index.shape[0]
        face_uv = self.face_uv.to(fragments.bary.dtype).expand(batch, -1, -1, -1)
        return interpolate_face_attributes(fragments, face_uv).permute(0, 2, 3, 1)

    def render_texture(
        self,
        trans_verts: Tensor,
        texture: Tensor,
        size: int | tuple[int, int] = 224,
        background: Tensor | None = None,
        fragments: Fragments | None = None,
        *,
        light: Tensor | None = None,
        vertices: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Render the mesh textured with a UV map (DECA's ``rendered_images``), unlit by default.

        Args:
            trans_verts: (B, V, 3) NDC vertices.
            texture: (B, C, R, R) UV image (albedo, ``uv_texture_gt``, …), sampled bilinearly.
            size: output (H, W) or H = W.
            background: optional (B, C, H, W) image to composite over (default black).
            fragments: reuse a rasterisation of ``trans_verts`` at ``size``.
            light: optional (B, 9, 3) SH coefficients: multiply by the SH shading of the
                interpolated world normals of ``vertices`` (the 2021 training renders).
            vertices: (B, V, 3) world vertices, required with ``light``.

        Returns:
            ``(images (B, C, H, W), alpha (B, 1, H, W))``.
        """
        fragments = fragments if fragments is not None else self.rasterize(trans_verts, size)
        alpha = (fragments.face_index >= 0).unsqueeze(1).to(texture.dtype)
        grid = self.uv_grid(fragments).to(texture.dtype)
        images = F.grid_sample(texture, grid, mode="bilinear", align_corners=False) * alpha
        if light is not None:
            if vertices is None:
                raise ValueError("render_texture: pass the world vertices to light the render")
            normals = interpolate_vertex_attributes(
                fragments, vertex_normals(vertices, self.faces), self.faces
            )
            images = images * sh_shading(normals, light.to(images))
        if background is not None:
            images = images + background * (1 - alpha)
        return images, alpha

    def render_shape(
        self,
        vertices: Tensor,
        trans_verts: Tensor,
        size: int | tuple[int, int] = 224,
        *,
        uv_detail_normals: Tensor | None = None,
        background: Tensor | None = None,
        fragments: Fragments | None = None,
        view_normals: Tensor | None = None,
    ) -> ShapeRender:
        """DECA's grey shape render: albedo 180/255 under five directional lights of intensity 1.7.

        Args:
            vertices: (B, V, 3) world vertices (their normals shade the image).
            trans_verts: (B, V, 3) NDC vertices (rasterised; their normals give ``pos_mask``).
            size: output (H, W) or H = W.
            uv_detail_normals: optional (B, 3, R, R) UV normal map; sampled per pixel (bilinear, not
                re-normalised) and used instead of the interpolated vertex normals.
            background: optional (B, 3, H, W) image shown where alpha is 0 (default black).
            fragments: reuse a rasterisation of ``trans_verts`` at ``size``.
            view_normals: (B, V, 3) camera-space vertex normals for the back-facing mask; default:
                the normals of ``trans_verts`` (pass the crop-NDC normals when ``trans_verts`` are in
                the anisotropic NDC of a non-square photo).
        """
        check_shapes(vertices=(vertices, "B V 3"), trans_verts=(trans_verts, "B V 3"))
        fragments = fragments if fragments is not None else self.rasterize(trans_verts, size)
        alpha, grid = self._shape_mask(vertices, trans_verts, fragments, view_normals)
        if uv_detail_normals is None:
            normals = interpolate_vertex_attributes(
                fragments, vertex_normals(vertices, self.faces), self.faces
            )
        else:
            normals = F.grid_sample(uv_detail_normals, grid, mode="bilinear", align_corners=False)
        return _shade(normals, alpha, grid, background)

    def render_shapes(
        self,
        vertices: Tensor,
        trans_verts: Tensor,
        uv_detail_normals: Tensor,
        size: int | tuple[int, int] = 224,
        *,
        background: Tensor | None = None,
        fragments: Fragments | None = None,
        view_normals: Tensor | None = None,
    ) -> tuple[ShapeRender, ShapeRender]:
        """The coarse and the detail shape renders together, sharing rasterisation and masks.

        Same as two :meth:`render_shape` calls (without and with ``uv_detail_normals``), cheaper.

        Args:
            vertices: (B, V, 3) world vertices (their normals shade the coarse image).
            trans_verts: (B, V, 3) NDC vertices (rasterised; their normals give ``pos_mask``).
            uv_detail_normals: (B, 3, R, R) UV normal map shading the detail image.
            size: output (H, W) or H = W.
            background: optional (B, 3, H, W) image shown where alpha is 0 (default black).
            fragments: reuse a rasterisation of ``trans_verts`` at ``size``.
            view_normals: (B, V, 3) camera-space vertex normals for the back-facing mask (see
                :meth:`render_shape`).

        Returns:
            ``(coarse, detail)``.
        """
        check_shapes(vertices=(vertices, "B V 3"), trans_verts=(trans_verts, "B V 3"))
        fragments = fragments if fragments is not None else self.rasterize(trans_verts, size)
        alpha, grid = self._shape_mask(vertices, trans_verts, fragments, view_normals)
        coarse = interpolate_vertex_attributes(fragments, vertex_normals(vertices, self.faces), self.faces)
        detail = F.grid_sample(uv_detail_normals, grid, mode="bilinear", align_corners=False)
        return _shade(coarse, alpha, grid, background), _shade(detail, alpha, grid, background)

    def _shape_mask(
        self, vertices: Tensor, trans_verts: Tensor, fragments: Fragments, view_normals: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Coverage × front-facing mask (B, 1, H, W) and the UV grid (B, H, W, 2) of a shape render."""
        coverage = (fragments.face_index >= 0).unsqueeze(1).to(vertices.dtype)
        if view_normals is None:
            view_normals = vertex_normals(trans_verts, self.faces)
        camera_normals = interpolate_vertex_attributes(fragments, view_normals, self.faces)
        alpha = coverage * (camera_normals[:, 2:3] < SHAPE_MASK_NORMAL_Z).to(vertices.dtype)
        return alpha, self.uv_grid(fragments).to(vertices.dtype)

    def render_depth(
        self,
        trans_verts: Tensor,
        size: int | tuple[int, int] = 224,
        fragments: Fragments | None = None,
    ) -> Tensor:
        """Depth image in [0, 1]: 1 at the nearest vertex, 0 at the farthest and on the background.

        The normalisation ``(max z − z) / (max z − min z)`` uses each sample's own vertices.

        Returns:
            (B, 1, H, W).
        """
        fragments = fragments if fragments is not None else self.rasterize(trans_verts, size)
        z = trans_verts[..., 2:3]
        z_min = z.amin(dim=1, keepdim=True)
        z_max = z.amax(dim=1, keepdim=True)
        nearness = (z_max - z) / (z_max - z_min).clamp_min(1e-12)
        return interpolate_vertex_attributes(fragments, nearness, self.faces)


def _shade(normals: Tensor, alpha: Tensor, grid: Tensor, background: Tensor | None) -> ShapeRender:
    """Grey 180/255 under DECA's five lights, masked by ``alpha``, over ``background`` (or black)."""
    normals = normals * alpha
    # Grey albedo and equal intensities per channel: the shading's channels are one broadcast value
    # (an expanded view), so the image is computed on one channel and broadcast to RGB.
    shading = directional_shading(normals, channels_first=True)[:, :1]
    images = (SHAPE_GREY * shading * alpha).expand(-1, 3, -1, -1)
    if background is not None:
        images = images + background * (1 - alpha)
    return ShapeRender(images=images, alpha=alpha, uv_grid=grid, normal_images=normals)


def extract_texture(
    images: Tensor, uv_positions_ndc: Tensor, uv_texture: Tensor, face_eye_mask: Tensor
) -> Tensor:
    """Sample the photo into UV space inside the face-eye mask (reference §2.9).

    Args:
        images: (B, 3, H, W) the images the NDC refers to (the crops, or originals with
            original-image NDC): float in [0, 1], or uint8 (0–255), which is sampled without a
            float copy of the image (bounded memory for full-resolution photos).
        uv_positions_ndc: (B, 3, R, R) NDC position of every texel (``world2uv(trans_verts)``).
        uv_texture: (B, 3, R, R) what fills texels outside the mask (DECA: ``albedo · shading``).
        face_eye_mask: (1, 1, R, R) or (B, 1, R, R) mask M in [0, 1].

    Returns:
        (B, 3, R, R) ``uv_gt · M + uv_texture · (1 − M)`` in the dtype of ``uv_texture``;
        ``uv_gt`` = bilinear ``grid_sample(images, align_corners=False)`` (zero outside the
        image); no occlusion test, as the original.
    """
    grid = uv_positions_ndc[:, :2].permute(0, 2, 3, 1)
    if images.dtype == torch.uint8:
        sampled = sample_bilinear(images, grid.to(uv_texture.dtype)) * (1.0 / 255.0)
    else:
        sampled = F.grid_sample(images, grid.to(images.dtype), mode="bilinear", align_corners=False)
    return sampled.to(uv_texture.dtype) * face_eye_mask + uv_texture * (1 - face_eye_mask)


def sample_bilinear(images: Tensor, grid: Tensor) -> Tensor:
    """``grid_sample(images, grid, "bilinear", padding_mode="zeros", align_corners=False)`` by gathers.

    Only the four neighbours of each sample are read and converted, so an integer (e.g. uint8) photo
    of any size is sampled without a float copy of it: memory O(B·N·C) for N sample points.

    Args:
        images: (B, C, H, W) any numeric dtype (a channels-last view of an (H, W, C) photo is read
            without a copy).
        grid: (B, Ho, Wo, 2) float NDC ``(x, y)`` (x = −1 left edge, y = −1 top edge).

    Returns:
        (B, C, Ho, Wo) in the dtype of ``grid``, in the units of ``images``.
    """
    batch, channels, height, width = images.shape
    flat = images.permute(0, 2, 3, 1).reshape(batch, height * width, channels)  # (B, H·W, C)
    col = ((grid[..., 0] + 1.0) * width - 1.0) * 0.5  # (B, Ho, Wo) continuous pixel coordinates
    row = ((grid[..., 1] + 1.0) * height - 1.0) * 0.5
    col0, row0 = torch.floor(col), torch.floor(row)
    fx, fy = (col - col0).reshape(batch, -1, 1), (row - row0).reshape(batch, -1, 1)
    col0, row0 = col0.reshape(batch, -1).long(), row0.reshape(batch, -1).long()
    out = grid.new_zeros(batch, col0.shape[1], channels)
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            c, r = col0 + dx, row0 + dy
            inside = ((c >= 0) & (c < width) & (r >= 0) & (r < height)).unsqueeze(-1)
            index = (r.clamp(0, height - 1) * width + c.clamp(0, width - 1)).unsqueeze(-1)
            values = torch.gather(flat, 1, index.expand(-1, -1, channels)).to(grid.dtype)
            out += values * (wx * wy * inside)
    return out.transpose(1, 2).reshape(batch, channels, *grid.shape[1:3])


def row_tiles(
    trans_verts: Tensor, size: tuple[int, int], max_pixels: int = 1 << 21
) -> Iterator[tuple[slice, Tensor, tuple[int, int]]]:
    """Split a render of ``size`` = (H, W) into bands of rows, to bound memory on large photos.

    Yields ``(rows, band_verts, (h, W))``: ``band_verts`` are ``trans_verts`` re-expressed in the NDC
    of the band (y rescaled so the band's pixel centres sit where a full render puts them), so
    rendering each band at (h, W) and stacking the results along rows equals one full render.
    """
    height, width = size
    step = max(1, min(height, max_pixels // max(width, 1)))
    for top in range(0, height, step):
        rows = min(step, height - top)
        band = trans_verts.clone()
        band[..., 1] = (band[..., 1] + 1) * (height / rows) - 1 - 2 * top / rows
        yield slice(top, top + rows), band, (rows, width)
