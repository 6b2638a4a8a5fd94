"""Files in and out: photos, input lists, meshes (OBJ/MTL/PNG, PLY, GLB), parameter files, atomic writes."""

from __future__ import annotations

from .atomic import atomic_write, atomic_write_bytes, atomic_write_text
from .images import IMAGE_EXTENSIONS, is_image, load_image, photo_from_array, save_image
from .inputs import VIDEO_EXTENSIONS, expand_inputs, is_video, list_inputs
from .mesh import obj_side_files, read_obj, split_uv_seams, write_glb, write_obj, write_ply
from .params import load_codes, load_params, save_params

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "expand_inputs",
    "is_image",
    "is_video",
    "list_inputs",
    "load_codes",
    "load_image",
    "load_params",
    "obj_side_files",
    "photo_from_array",
    "read_obj",
    "save_image",
    "save_params",
    "split_uv_seams",
    "write_glb",
    "write_obj",
    "write_ply",
]
