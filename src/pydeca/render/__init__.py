"""Rendering in pure PyTorch: rasterizer, attribute interpolation, shading and DECA's image views.

One code path for CPU, MPS and CUDA. Frames: crop NDC (x = −1 at the left edge, y = −1 at the top
edge, smaller z nearer), pixel centres at integer + 0.5 (``grid_sample(align_corners=False)``).
"""

from __future__ import annotations

from pydeca.geometry.rasterize import Fragments, rasterize

from .interpolate import interpolate_face_attributes, interpolate_vertex_attributes
from .renderer import MeshRenderer, ShapeRender, extract_texture
from .shading import directional_shading, sh_shading

__all__ = [
    "Fragments",
    "MeshRenderer",
    "ShapeRender",
    "directional_shading",
    "extract_texture",
    "interpolate_face_attributes",
    "interpolate_vertex_attributes",
    "rasterize",
    "sh_shading",
]
