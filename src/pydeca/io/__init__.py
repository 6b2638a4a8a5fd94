"""Files in and out: photos, meshes (OBJ/MTL/PNG, PLY, GLB), parameter files, atomic writes."""

from __future__ import annotations

from .atomic import atomic_write, atomic_write_bytes, atomic_write_text
from .images import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    is_image,
    is_video,
    list_inputs,
    load_image,
    save_image,
)
from .mesh import read_obj, split_uv_seams, write_glb, write_obj, write_ply
from .params import load_params, save_params

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "is_image",
    "is_video",
    "list_inputs",
    "load_image",
    "load_params",
    "read_obj",
    "save_image",
    "save_params",
    "split_uv_seams",
    "write_glb",
    "write_obj",
    "write_ply",
]
