"""Compatibility re-export: the rasterizer lives in :mod:`pydeca.geometry.rasterize`.

Coverage, depth test and barycentrics are geometry (no shading), so the code moved below the
render layer (issue 9); this module keeps ``pydeca.render.rasterize`` importable.
"""

from __future__ import annotations

from pydeca.geometry.rasterize import Fragments, rasterize

__all__ = ["Fragments", "rasterize"]
