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

Names (:func:`unique_output_names`): ``<name>`` is the input's file stem; inputs whose stems collide
(``a/face.png``, ``b/face.png``, ``a/face.JPG``) get a suffix from their folder and/or extension, so
no result overwrites another. ``--face all`` appends ``_face<k>`` (k = 0 for the largest face), video
frames ``_frame<index>``.

Demo-pack outputs say so: ``"demo": true`` in the JSON, a comment line in OBJ files, and a banner
on visualisations.
"""

from __future__ import annotations

import io
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pydeca import __version__
from pydeca.apps.pipeline import FaceResult, landmarks_in_photo
from pydeca.constants import CROP_SIZE
from pydeca.geometry.camera import ndc_to_pixels
from pydeca.geometry.dense_mesh import dense_vertices
from pydeca.io.atomic import atomic_write, atomic_write_bytes
from pydeca.io.images import save_image
from pydeca.io.mesh import obj_side_files, texture_vertex_colors, write_glb, write_obj, write_ply
from pydeca.io.params import save_params
from pydeca.render.views import crop_views, photo_views, visualization_grid
from pydeca.render.visualize import to_uint8

__all__ = [
    "IMAGE_PANELS",
    "PARAMS_FORMAT_VERSION",
    "OutputOptions",
    "landmarks_in_photo",
    "parameter_arrays",
    "parameter_meta",
    "save_face",
    "unique_output_names",
]

IMAGE_PANELS = ("inputs", "rendered_images", "shape_images", "shape_detail_images", "landmarks2d")
"""Panels ``--save-images`` writes one by one, as DECA's demo (reference §3.1; its ``albedo_images``
never exists)."""

PARAMS_FORMAT_VERSION = 1
"""Version of the ``<name>.npz`` / ``<name>.json`` parameter layout."""

DEMO_NOTE = "made with pydeca's generated DEMO assets: not a real reconstruction"


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
        """Options from format names: obj, ply, glb, npz, kpt, depth, vis, mat, images, orig."""
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
    for key in ("landmarks2d", "landmarks3d"):
        ndc = getattr(rec, key)[0].detach().float().cpu()
        arrays[key] = ndc.numpy()
        arrays[f"{key}_crop_px"] = ndc_to_pixels(ndc[:, :2], CROP_SIZE).numpy()
        arrays[f"{key}_image_px"] = landmarks_in_photo(result, key)
    arrays["landmarks3d_world"] = rec.landmarks3d_world[0].detach().float().cpu().numpy()
    return arrays


def parameter_meta(result: FaceResult) -> dict:
    """JSON metadata of a parameter file: image, sizes, frames, version, demo marker."""
    meta = {
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
    rec = result.reconstruction
    texture = rec.uv_texture_gt if rec.uv_texture_gt is not None else rec.albedo
    if texture is None:
        return np.full((256, 256, 3), 178, dtype=np.uint8)
    return to_uint8(texture[0])


def _save_meshes(model, result: FaceResult, folder: Path, options: OutputOptions, header: str) -> list[Path]:
    rec, name, topo = result.reconstruction, result.name, model.topology
    verts = rec.vertices[0].detach().cpu().numpy()
    texture = _texture(result)
    written: list[Path] = []
    if options.save_obj:
        normal_map = None
        if rec.uv_detail_normals is not None:
            normal_map = to_uint8(rec.uv_detail_normals[0] * 0.5 + 0.5)
        uv = {"uvcoords": topo.uvcoords, "uvfaces": topo.uvfaces}
        path = folder / f"{name}.obj"
        written.append(
            write_obj(path, verts, topo.faces, **uv, texture=texture, normal_map=normal_map, header=header)
        )
        written += obj_side_files(path, texture=True, normal_map=normal_map is not None)
        if rec.displacement_map is not None:
            dense = topo.dense
            with torch.inference_mode():
                dense_verts = dense_vertices(rec.vertices, rec.normals, rec.displacement_map[:, 0], dense)
            colors = texture[np.asarray(dense.pixel_rows), np.asarray(dense.pixel_cols)]
            path = folder / f"{name}_detail.obj"
            dense_np = dense_verts[0].cpu().numpy()
            written.append(
                write_obj(path, dense_np, np.asarray(dense.faces), vertex_colors=colors, header=header)
            )
    if options.save_ply:
        colors = texture_vertex_colors(texture, topo.faces, topo.uvcoords, topo.uvfaces)
        written.append(write_ply(folder / f"{name}.ply", verts, topo.faces, vertex_colors=colors))
    if options.save_glb:
        path = folder / f"{name}.glb"
        written.append(
            write_glb(path, verts, topo.faces, uvcoords=topo.uvcoords, uvfaces=topo.uvfaces, texture=texture)
        )
    return written


def _save_tables(result: FaceResult, folder: Path, options: OutputOptions) -> list[Path]:
    rec, name = result.reconstruction, result.name
    written: list[Path] = []
    if options.save_kpt:
        for key, array in (("kpt2d", rec.landmarks2d[0]), ("kpt3d", rec.landmarks3d[0])):
            path = folder / f"{name}_{key}.txt"
            atomic_write_bytes(path, _text_table(array.detach().cpu().numpy()))
            written.append(path)
    if options.save_mat:
        from scipy.io import savemat

        path = folder / f"{name}.mat"
        data = {key: value[0] for key, value in rec.to_numpy().items()}
        with atomic_write(path) as tmp:
            savemat(tmp, data, do_compression=True)
        written.append(path)
    if options.save_params:
        written += list(save_params(folder / name, parameter_arrays(result), parameter_meta(result)))
    return written


def save_face(model, result: FaceResult, out_dir: Path, options: OutputOptions) -> list[str]:
    """Write every requested output of one face; returns every written path (side files included).

    The parameter files are written last.

    Raises:
        OSError: a file cannot be written (disk full, permissions); files already written stay.
    """
    rec, name = result.reconstruction, result.name
    folder = out_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    header = f"pydeca {__version__}" + (f" - {DEMO_NOTE}" if rec.is_demo else "")
    written = _save_meshes(model, result, folder, options, header)
    if options.save_depth or options.save_vis or options.save_images:
        written += _save_renders(model, result, out_dir, folder, options)
    written += _save_tables(result, folder, options)
    return [str(path) for path in written]


def _save_renders(
    model, result: FaceResult, out_dir: Path, folder: Path, options: OutputOptions
) -> list[Path]:
    """Depth image, visualisation grids and single panels (in the crop and on the photo)."""
    rec, name, renderer = result.reconstruction, result.name, model.renderer
    views = {key: images[0] for key, images in crop_views(renderer, rec, result.crop).items()}
    written: list[Path] = []
    if options.save_depth:
        written.append(save_image(folder / f"{name}_depth.jpg", views["depth_images"]))
    if options.save_vis:
        grid = visualization_grid(views, demo=rec.is_demo)
        written.append(save_image(out_dir / f"{name}_vis.jpg", grid))
    if options.save_images:
        written += [
            save_image(folder / f"{name}_{key}.jpg", views[key]) for key in IMAGE_PANELS if key in views
        ]
    if options.render_orig and (options.save_vis or options.save_images):
        # DECA's render_orig: the textured render takes its texture from the photo, not the crop
        texture = (
            model.texture_from_photo(rec, result.image, result.tform)
            if rec.uv_texture_gt is not None
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
            written.append(save_image(out_dir / f"{name}_vis_original_size.jpg", grid))
        if options.save_images:
            written += [
                save_image(folder / f"orig_{name}_{key}.jpg", photo[key])
                for key in IMAGE_PANELS
                if key in photo
            ]
    return written


def _path_label(path: Path, depth: int, with_suffix: bool) -> str:
    """``depth`` trailing folder names of ``path`` and/or its extension, joined by ``_``."""
    folders = Path(os.path.abspath(path)).parent.parts[1:]  # without the root
    parts = list(folders[len(folders) - depth :]) if depth else []
    if with_suffix:
        parts.append(path.suffix.lstrip(".") or "noext")
    return "_".join(parts)


def _distinguishing_labels(group: Sequence[Path]) -> list[str]:
    """The shortest path labels that tell a group of same-stem inputs apart (see below)."""
    deepest = max(len(Path(os.path.abspath(p)).parent.parts) - 1 for p in group)
    for depth in range(deepest + 1):
        for with_suffix in (False, True):
            if depth == 0 and not with_suffix:
                continue
            labels = [_path_label(p, depth, with_suffix) for p in group]
            if len({label.casefold() for label in labels}) == len(labels):
                return labels
    return [_path_label(p, 0, True) for p in group]  # identical up to case: made unique by number


def unique_output_names(paths: Sequence[Path]) -> list[str]:
    """Output names of input files: the file stem, disambiguated where stems collide.

    Deterministic: the same inputs in the same order always get the same names. Stems are compared
    case-insensitively (``Face.png`` and ``face.jpg`` would share a folder on macOS and Windows).

    1. An input whose stem no other input shares keeps it: ``a/face.png`` → ``face``.
    2. Inputs sharing a stem get ``_<label>``: the extension, or the fewest trailing parent-folder
       names (then folder names + extension) that tell them apart, tried in the order extension,
       1 folder, 1 folder + extension, 2 folders, ...: ``a/face.png``, ``b/face.png`` → ``face_a``,
       ``face_b``; ``a/face.png``, ``a/face.JPG`` → ``face_png``, ``face_JPG``; all three →
       ``face_a_png``, ``face_b_png``, ``face_a_JPG``.
    3. A name still taken (by another input's plain stem, or equal up to case) gets ``_2``, ``_3``,
       ... in input order.

    Args:
        paths: the input files, in input order (no file twice).

    Returns:
        One name per path, unique (case-insensitively), in the same order.

    Example:
        >>> unique_output_names([Path("a/face.png"), Path("b/face.png"), Path("a/face.JPG"), Path("x.png")])
        ['face_a_png', 'face_b_png', 'face_a_JPG', 'x']
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for index, path in enumerate(paths):
        groups[path.stem.casefold()].append(index)
    names: list[str | None] = [None] * len(paths)
    taken: set[str] = set()
    for members in groups.values():  # 1. plain stems first, so they never get a number
        if len(members) == 1:
            names[members[0]] = paths[members[0]].stem
            taken.add(paths[members[0]].stem.casefold())
    for members in groups.values():  # 2. and 3.
        if len(members) == 1:
            continue
        labels = _distinguishing_labels([paths[i] for i in members])
        for index, label in zip(members, labels, strict=True):
            base = candidate = f"{paths[index].stem}_{label}"
            number = 2
            while candidate.casefold() in taken:
                candidate, number = f"{base}_{number}", number + 1
            taken.add(candidate.casefold())
            names[index] = candidate
    return [str(name) for name in names]
