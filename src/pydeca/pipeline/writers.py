"""Every output file of a reconstructed face, written atomically, and the names of the outputs.

Layout for a face ``<name>`` in ``OUT`` (DECA's demo names where it has them, reference §3.1):

* ``OUT/<name>_vis.jpg`` — inputs | 2D landmarks | 3D landmarks | shape | shape + detail | depth |
  textured render | UV texture | UV normals; ``OUT/<name>_vis_original_size.jpg`` — the same drawn
  on the original photo (``--render-orig``).
* ``OUT/<name>/``: ``<name>.obj/.mtl/.png/_normals.png`` (coarse mesh, texture, normal map),
  ``<name>_detail.obj`` (dense detail mesh with vertex colours), optional ``.ply`` (with the
  texture's colour per vertex) / ``.glb`` (textured); ``<name>.npz`` / ``<name>.json`` (codes under
  DECA's names, crop transform, landmarks in crop NDC, crop pixels and photo pixels, the input file,
  format version); ``<name>_kpt2d.txt`` / ``<name>_kpt3d.txt``; ``<name>_depth.jpg`` (8-bit, as the
  reference); ``<name>.mat`` (``--save-mat``, DECA's opdict); with ``--save-images`` the reference's
  panels ``<name>_<key>.jpg`` and, with ``--render-orig``, ``orig_<name>_<key>.jpg`` at photo size
  (keys: :data:`IMAGE_PANELS`).

Names are made by :mod:`pydeca.io.output_names` (the one owner of every output name): the input's
sanitised file stem; inputs whose stems collide (``a/face.png``, ``b/face.png``, ``a/face.JPG``) get
a suffix from their folder and/or extension; a name another input owns in ``OUT`` from an earlier
run gets ``_2``, ``_3``, ...; ``--face all`` appends ``_face<k>`` (k = 0 for the largest face),
video frames ``_frame<index:06d>``.

**All or nothing.** :func:`save_face` writes a face into a staging folder
``OUT/.<name>.partial-<pid>-<hex>/`` and moves its folder and side files into place as the last
step; on any failure (disk full, an exception, Ctrl-C) nothing of the face is left and the
face's previous outputs, if any, are back in place.

Demo-pack outputs say so: ``"demo": true`` in the JSON, a comment line in OBJ files, and a banner
on visualisations.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pydeca._version import __version__
from pydeca.constants import CROP_SIZE
from pydeca.errors import OutputError
from pydeca.geometry.camera import ndc_to_pixels
from pydeca.geometry.dense_mesh import dense_vertices
from pydeca.io.atomic import atomic_write, atomic_write_bytes
from pydeca.io.images import save_image
from pydeca.io.mesh import obj_side_files, texture_vertex_colors, write_glb, write_obj, write_ply
from pydeca.io.output_names import FaceFiles, safe_stem, staging_dir
from pydeca.io.params import save_params
from pydeca.model import DECA
from pydeca.render.views import crop_views, display_texture, photo_views, visualization_grid
from pydeca.render.visualize import to_uint8

from .faces import FaceResult, LandmarkKey, landmarks_in_photo

__all__ = [
    "DEMO_NOTE",
    "IMAGE_PANELS",
    "PARAMS_FORMAT_VERSION",
    "OutputOptions",
    "parameter_arrays",
    "parameter_meta",
    "save_face",
]

IMAGE_PANELS = ("inputs", "rendered_images", "shape_images", "shape_detail_images", "landmarks2d")
"""Panels ``--save-images`` writes one by one, as DECA's demo (reference §3.1; its ``albedo_images``
never exists)."""

PARAMS_FORMAT_VERSION = 1
"""Version of the ``<name>.npz`` / ``<name>.json`` parameter layout."""

DEMO_NOTE = "made with pydeca's generated DEMO assets: not a real reconstruction"
"""The demo marker written into parameter metadata and OBJ headers."""


@dataclass
class OutputOptions:
    """Which files :func:`save_face` writes (defaults: what the original demo saves, plus params)."""

    save_obj: bool = True
    save_vis: bool = True
    save_kpt: bool = True
    save_depth: bool = True
    save_params: bool = True
    save_ply: bool = False
    save_glb: bool = False
    save_mat: bool = False
    save_images: bool = False
    render_orig: bool = True

    @classmethod
    def from_formats(cls, formats: Sequence[str]) -> OutputOptions:
        """Options from format names: obj, ply, glb, npz, kpt, depth, vis, mat, images, orig.

        Raises:
            ValueError: an unknown format name (every known one is listed).
        """
        known = {"obj", "ply", "glb", "npz", "kpt", "depth", "vis", "mat", "images", "orig"}
        unknown = set(formats) - known
        if unknown:
            raise ValueError(f"unknown output formats {sorted(unknown)}; choose from {sorted(known)}")
        chosen = set(formats)
        return cls(
            save_obj="obj" in chosen,
            save_vis="vis" in chosen,
            save_kpt="kpt" in chosen,
            save_depth="depth" in chosen,
            save_params="npz" in chosen,
            save_ply="ply" in chosen,
            save_glb="glb" in chosen,
            save_mat="mat" in chosen,
            save_images="images" in chosen,
            render_orig="orig" in chosen,
        )


def parameter_arrays(result: FaceResult) -> dict[str, np.ndarray]:
    """Codes under DECA's names and shapes, the crop transform and the landmarks in three frames.

    ``shape`` (100,), ``tex`` (50,), ``exp`` (50,), ``pose`` (6,), ``cam`` (3,), ``light`` (9, 3),
    ``detail`` (128,); ``tform`` (3, 3) photo pixel → crop pixel; ``landmarks2d`` (68, 2) /
    ``landmarks3d`` (68, 4, with visibility) in crop NDC, ``*_crop_px`` in crop pixels (x = column),
    ``*_image_px`` in photo pixels; ``landmarks3d_world`` (68, 3) metres.
    """
    rec = result.reconstruction
    arrays = {key: value[0] for key, value in rec.codes.to_numpy().items()}
    arrays["tform"] = result.tform.astype(np.float32)
    keys: tuple[LandmarkKey, ...] = ("landmarks2d", "landmarks3d")
    for key in keys:
        ndc = getattr(rec, key)[0].detach().float().cpu()
        arrays[key] = ndc.numpy()
        arrays[f"{key}_crop_px"] = ndc_to_pixels(ndc[:, :2], CROP_SIZE).numpy()
        arrays[f"{key}_image_px"] = landmarks_in_photo(result, key)
    arrays["landmarks3d_world"] = rec.landmarks3d_world[0].detach().float().cpu().numpy()
    return arrays


def parameter_meta(result: FaceResult) -> dict[str, Any]:
    """JSON metadata of a parameter file: image, sizes, frames, version, demo marker."""
    meta: dict[str, Any] = {
        "format_version": PARAMS_FORMAT_VERSION,
        "image": result.name,
        "image_size": {"height": int(result.image.shape[0]), "width": int(result.image.shape[1])},
        "crop_size": CROP_SIZE,
        "demo": result.reconstruction.is_demo,
        "pydeca_version": __version__,
        "frames": {
            "codes": "DECA: pose axis-angle radians (global, jaw); cam (s, tx, ty) weak perspective",
            "landmarks*": "crop NDC: x = -1 left edge, y = -1 top edge, smaller z nearer",
            "*_crop_px / *_image_px": "pixels (x = column, y = row), pixel centres at integers, as tform",
            "landmarks3d_world": "FLAME world, metres",
        },
    }
    if result.source is not None:
        meta["input"] = str(result.source)
    if result.reconstruction.is_demo:
        meta["note"] = DEMO_NOTE
    return meta


def _text_table(array: np.ndarray) -> bytes:
    buffer = io.StringIO()
    np.savetxt(buffer, array)
    return buffer.getvalue().encode()


def _texture(result: FaceResult) -> np.ndarray:
    """(R, R, 3) uint8 texture of the mesh files: the photo texture, else the albedo, else grey 178."""
    texture = display_texture(result.reconstruction)
    if texture is None:
        return np.full((256, 256, 3), 178, dtype=np.uint8)
    return to_uint8(texture[0])


def _save_meshes(
    model: DECA, result: FaceResult, folder: Path, options: OutputOptions, header: str
) -> list[Path]:
    rec, name, topo = result.reconstruction, result.name, model.topology
    files = FaceFiles(name)
    verts = rec.vertices[0].detach().cpu().numpy()
    texture = _texture(result)
    written: list[Path] = []
    if options.save_obj:
        normal_map = None
        if rec.detail is not None:
            normal_map = to_uint8(rec.detail.uv_detail_normals[0] * 0.5 + 0.5)
        uv = {"uvcoords": topo.uvcoords, "uvfaces": topo.uvfaces}
        path = folder / files.obj
        written.append(
            write_obj(path, verts, topo.faces, **uv, texture=texture, normal_map=normal_map, header=header)
        )
        written += obj_side_files(path, texture=True, normal_map=normal_map is not None)
        if rec.detail is not None:
            dense = topo.dense
            displacement = rec.detail.displacement_map[:, 0]
            with torch.inference_mode():
                dense_verts = dense_vertices(rec.vertices, rec.normals, displacement, dense)
            colors = texture[np.asarray(dense.pixel_rows), np.asarray(dense.pixel_cols)]
            path = folder / files.detail_obj
            dense_np = dense_verts[0].cpu().numpy()
            written.append(
                write_obj(path, dense_np, np.asarray(dense.faces), vertex_colors=colors, header=header)
            )
    if options.save_ply:
        colors = texture_vertex_colors(texture, topo.faces, topo.uvcoords, topo.uvfaces)
        written.append(write_ply(folder / files.ply, verts, topo.faces, vertex_colors=colors))
    if options.save_glb:
        path = folder / files.glb
        written.append(
            write_glb(path, verts, topo.faces, uvcoords=topo.uvcoords, uvfaces=topo.uvfaces, texture=texture)
        )
    return written


def _save_tables(result: FaceResult, folder: Path, options: OutputOptions) -> list[Path]:
    rec, name = result.reconstruction, result.name
    files = FaceFiles(name)
    written: list[Path] = []
    if options.save_kpt:
        for key, array in (("kpt2d", rec.landmarks2d[0]), ("kpt3d", rec.landmarks3d[0])):
            path = folder / files.kpt(key)
            atomic_write_bytes(path, _text_table(array.detach().cpu().numpy()))
            written.append(path)
    if options.save_mat:
        from scipy.io import savemat  # noqa: PLC0415 - loaded only when a .mat is asked for

        path = folder / files.mat
        data = {key: value[0] for key, value in rec.to_numpy().items()}
        with atomic_write(path) as tmp:
            savemat(tmp, data, do_compression=True)
        written.append(path)
    if options.save_params:
        written += list(save_params(folder / files.params, parameter_arrays(result), parameter_meta(result)))
    return written


def save_face(model: DECA, result: FaceResult, out_dir: str | Path, options: OutputOptions) -> list[str]:
    """Write every requested output of one face, all or nothing; returns every written path.

    The face is written into a staging folder ``OUT/.<name>.partial-<pid>-<hex>/`` (folder content
    and side files apart), then moved into place: ``OUT/<name>/`` and its side files beside it
    (``<name>_vis.jpg``, ...). Outputs of an earlier run under the same name are replaced (the
    caller decides whose name it is, :func:`pydeca.io.output_names.claim_names`).

    Args:
        model: the model that made ``result`` (topology and renderer).
        result: the face (B = 1); ``result.name`` is its output name.
        out_dir: the output folder (created if missing).
        options: which files to write.

    Returns:
        The final paths (side files such as ``.mtl`` and textures included), as strings.

    Raises:
        OSError: a file cannot be written (disk full, permissions). Then, as for any other exception
            or ``KeyboardInterrupt``, nothing of this face is left in ``out_dir`` and its previous
            outputs, if any, are unchanged.
    """
    out_dir = Path(out_dir)
    rec, name = result.reconstruction, result.name
    if safe_stem(name) != name:
        raise OutputError(
            f"{name!r}: not usable as an output name (path separators, '..', control characters or "
            f"too long); name it with pydeca.io.output_names.safe_stem, e.g. {safe_stem(name)!r}"
        )
    stage = staging_dir(out_dir, name)
    folder, beside = stage / "folder", stage / "beside"
    try:
        folder.mkdir(parents=True)
        beside.mkdir()
        header = f"pydeca {__version__}" + (f" - {DEMO_NOTE}" if rec.is_demo else "")
        written = _save_meshes(model, result, folder, options, header)
        if options.save_depth or options.save_vis or options.save_images:
            written += _save_renders(model, result, beside, folder, options)
        written += _save_tables(result, folder, options)
        _move_into_place(stage, out_dir, name)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    shutil.rmtree(stage, ignore_errors=True)
    final = {folder: out_dir / FaceFiles(name).folder, beside: out_dir}
    return [str(final[path.parent] / path.name) for path in written]


def _move_into_place(stage: Path, out_dir: Path, name: str) -> None:
    """Move a staged face into ``out_dir``: previous outputs aside, new ones in; undone on failure.

    Each step is a rename within one folder (atomic on POSIX and Windows). Previous outputs of the
    name go to ``stage/old*`` and are restored if a later step fails (or interrupted).
    """
    target = out_dir / FaceFiles(name).folder
    old, old_beside = stage / "old", stage / "old_beside"
    old_beside.mkdir()
    undo: list[tuple[Path, Path]] = []  # (from, to) renames to undo, newest last
    placed: list[Path] = []
    try:
        if os.path.lexists(target):
            os.rename(target, old)
            undo.append((old, target))
        os.rename(stage / "folder", target)
        placed.append(target)
        for item in sorted((stage / "beside").iterdir()):
            destination = out_dir / item.name
            if os.path.lexists(destination):
                os.rename(destination, old_beside / item.name)
                undo.append((old_beside / item.name, destination))
            os.rename(item, destination)
            placed.append(destination)
    except BaseException:
        for path in placed:
            with contextlib.suppress(OSError):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        for source, destination in reversed(undo):
            with contextlib.suppress(OSError):
                os.rename(source, destination)
        raise


def _save_renders(
    model: DECA, result: FaceResult, beside: Path, folder: Path, options: OutputOptions
) -> list[Path]:
    """Depth image and single panels into ``folder``, visualisation grids into ``beside``."""
    rec, name, renderer = result.reconstruction, result.name, model.renderer
    files = FaceFiles(name)
    views = {key: images[0] for key, images in crop_views(renderer, rec, result.crop).items()}
    written: list[Path] = []
    if options.save_depth:
        written.append(save_image(folder / files.depth, views["depth_images"]))
    if options.save_vis:
        grid = visualization_grid(views, demo=rec.is_demo)
        written.append(save_image(beside / files.vis, grid))
    if options.save_images:
        written += [save_image(folder / files.panel(key), views[key]) for key in IMAGE_PANELS if key in views]
    if options.render_orig and (options.save_vis or options.save_images):
        # DECA's render_orig: the textured render takes its texture from the photo, not the crop
        texture = (
            model.texture_from_photo(rec, result.image, result.tform)
            if rec.photo_texture is not None
            else None
        )
        photo = photo_views(renderer, rec, 0, result.image, result.tform, texture=texture)
        if options.save_vis:
            panels = (
                "inputs",
                "landmarks2d",
                "landmarks3d",
                "shape_images",
                "shape_detail_images",
                "rendered_images",
            )
            height = min(512, result.image.shape[0])
            grid = visualization_grid(photo, panels, height=height, demo=rec.is_demo)
            written.append(save_image(beside / files.vis_original_size, grid))
        if options.save_images:
            written += [
                save_image(folder / files.orig_panel(key), photo[key]) for key in IMAGE_PANELS if key in photo
            ]
    return written
