"""``deca reconstruct`` / ``deca demo``: photos → crops → codes → meshes, landmarks, renders, files.

One image at a time through detection and cropping, so a bad image fails alone: its error is
recorded in the summary and the run goes on. Every file is written atomically. Output layout per
image ``<name>`` (DECA's demo names):

``<out>/<name>_vis.jpg`` (inputs | 2D landmarks | 3D landmarks | shape | shape with detail | depth |
textured render) and ``<out>/<name>/`` with ``<name>.obj/.mtl/.png/_normals.png`` (coarse textured
mesh), ``<name>_detail.obj`` (dense detail mesh with vertex colours), ``<name>_depth.png``,
``<name>_kpt2d.txt`` / ``<name>_kpt3d.txt`` (NDC of the crop; 3D: x, y, z, visibility),
``<name>_params.npz`` / ``.json`` (codes, crop transform, landmarks), optionally ``.ply`` / ``.glb``.
Outputs made with the demo asset pack are marked: ``"demo": true`` in the JSON, a comment in the
OBJ files, and a banner on the visualisation.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pydeca import __version__
from pydeca.constants import CROP_SIZE
from pydeca.detect import detect_faces, get_detector, largest_face
from pydeca.detect.crop import box_from_face, crop_transform, uncrop_points, warp_crop
from pydeca.errors import InputError, NoFaceError, PydecaError
from pydeca.geometry.camera import ndc_to_pixels
from pydeca.geometry.dense_mesh import dense_vertices
from pydeca.io.atomic import atomic_write_bytes
from pydeca.io.images import list_inputs, load_image, save_image
from pydeca.io.mesh import write_glb, write_obj, write_ply
from pydeca.io.params import save_params
from pydeca.model import DECA, Reconstruction
from pydeca.render.renderer import MeshRenderer, extract_texture
from pydeca.render.visualize import add_banner, draw_landmarks, panel_grid, to_uint8

__all__ = ["ReconstructOptions", "RunSummary", "reconstruct_image", "run_demo", "run_reconstruct"]


@dataclass
class ReconstructOptions:
    """Which outputs to write and how to find faces."""

    save_obj: bool = True
    save_vis: bool = True
    save_kpt: bool = True
    save_depth: bool = True
    save_params: bool = True
    save_ply: bool = False
    save_glb: bool = False
    detector: str = "auto"


@dataclass
class RunSummary:
    """What a run did: written outputs per input, and the inputs that failed with their errors."""

    outputs: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    demo: bool = False

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "succeeded": len(self.outputs),
            "failed": self.failed,
            "outputs": self.outputs,
            "seconds": round(self.seconds, 3),
            "demo": self.demo,
        }


@dataclass
class FaceResult:
    """One reconstructed face: its crop, crop transform and the decoded reconstruction (B = 1)."""

    name: str
    image: np.ndarray
    """(H, W, 3) uint8 original photo."""
    crop: torch.Tensor
    """(1, 3, 224, 224) encoder input in [0, 1]."""
    tform: np.ndarray
    """(3, 3) photo pixel → crop pixel similarity."""
    reconstruction: Reconstruction
    uv_texture_gt: torch.Tensor
    """(1, 3, R, R) texture extracted from the crop inside the face-eye mask."""


def reconstruct_image(
    model: DECA, image: np.ndarray, name: str, detector, source: Path | None = None
) -> FaceResult:
    """Detect the largest face, crop it, encode and decode it, extract its texture.

    Raises:
        NoFaceError: the detector found no face (message names ``name``).
    """
    face = largest_face(detect_faces(detector, image, source))
    if face is None:
        raise NoFaceError(
            f"{name}: no face found by the '{detector.name}' detector; try another detector "
            "(--detector) or '--detector none' for an already cropped face"
        )
    center, size = box_from_face(face, image.shape)
    tform = crop_transform(center, size)
    photo = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255.0)
    crop = warp_crop(photo, torch.from_numpy(tform)[None].float()).to(model.device)
    with torch.inference_mode():
        codes = model.encode(crop)
        rec = model.decode(codes)
        uv_positions = model.world2uv(rec.trans_verts)
        fill = rec.uv_texture if rec.uv_texture is not None else torch.full_like(uv_positions, 0.7)
        texture = extract_texture(crop, uv_positions, fill, model.uv_face_eye_mask)
    return FaceResult(name, image, crop, tform, rec, texture)


def _renderer(model: DECA) -> MeshRenderer:
    topo = model.topology
    return MeshRenderer(topo.faces, topo.uvcoords, topo.uvfaces).to(model.device)


def _text_table(array: np.ndarray) -> bytes:
    buffer = io.StringIO()
    np.savetxt(buffer, array)
    return buffer.getvalue().encode()


@dataclass
class _Renders:
    shape: torch.Tensor
    shape_detail: torch.Tensor
    depth: torch.Tensor
    textured: torch.Tensor


def render_views(renderer: MeshRenderer, result: FaceResult, size: int = 224) -> _Renders:
    """The grid's renders of one face in its crop: shape, shape with detail, depth, textured."""
    rec = result.reconstruction
    with torch.inference_mode():
        fragments = renderer.rasterize(rec.trans_verts, size)
        shape = renderer.render_shape(rec.vertices, rec.trans_verts, fragments=fragments)
        detail = shape
        if rec.uv_detail_normals is not None:
            detail = renderer.render_shape(
                rec.vertices, rec.trans_verts, uv_detail_normals=rec.uv_detail_normals, fragments=fragments
            )
        depth = renderer.render_depth(rec.trans_verts, fragments=fragments)
        textured, _ = renderer.render_texture(rec.trans_verts, result.uv_texture_gt, fragments=fragments)
    return _Renders(shape.images, detail.images, depth, textured)


def _save_meshes(
    model: DECA, result: FaceResult, folder: Path, options: ReconstructOptions, header: str
) -> list[Path]:
    rec, name, topo = result.reconstruction, result.name, model.topology
    verts = rec.vertices[0].cpu().numpy()
    texture = to_uint8(result.uv_texture_gt[0])
    written: list[Path] = []
    if options.save_obj:
        normal_map = None
        if rec.uv_detail_normals is not None:
            normal_map = to_uint8(rec.uv_detail_normals[0] * 0.5 + 0.5)
        written.append(
            write_obj(
                folder / f"{name}.obj",
                verts,
                topo.faces,
                uvcoords=topo.uvcoords,
                uvfaces=topo.uvfaces,
                texture=texture,
                normal_map=normal_map,
                header=header,
            )
        )
        if rec.displacement_map is not None:
            dense = topo.dense
            with torch.inference_mode():
                dense_verts = dense_vertices(rec.vertices, rec.normals, rec.displacement_map[:, 0], dense)
            colors = texture[np.asarray(dense.pixel_rows), np.asarray(dense.pixel_cols)]
            written.append(
                write_obj(
                    folder / f"{name}_detail.obj",
                    dense_verts[0].cpu().numpy(),
                    np.asarray(dense.faces),
                    vertex_colors=colors,
                    header=header,
                )
            )
    if options.save_ply:
        written.append(write_ply(folder / f"{name}.ply", verts, topo.faces))
    if options.save_glb:
        written.append(
            write_glb(
                folder / f"{name}.glb",
                verts,
                topo.faces,
                uvcoords=topo.uvcoords,
                uvfaces=topo.uvfaces,
                texture=texture,
            )
        )
    return written


def _save_tables(
    result: FaceResult, folder: Path, options: ReconstructOptions, demo_note: str | None
) -> list[Path]:
    rec, name = result.reconstruction, result.name
    written: list[Path] = []
    if options.save_kpt:
        for key, array in (("kpt2d", rec.landmarks2d[0]), ("kpt3d", rec.landmarks3d[0])):
            path = folder / f"{name}_{key}.txt"
            atomic_write_bytes(path, _text_table(array.cpu().numpy()))
            written.append(path)
    if options.save_params:
        meta = parameter_meta(result, demo_note)
        written += list(save_params(folder / name, parameter_arrays(result), meta))
    return written


PARAMS_FORMAT_VERSION = 1
"""Version of the ``<name>.npz`` / ``<name>.json`` parameter layout."""


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
        crop_px = ndc_to_pixels(ndc[:, :2], CROP_SIZE)
        arrays[key] = ndc.numpy()
        arrays[f"{key}_crop_px"] = crop_px.numpy()
        arrays[f"{key}_image_px"] = np.asarray(uncrop_points(crop_px.numpy()[None], result.tform[None])[0])
    arrays["landmarks3d_world"] = rec.landmarks3d_world[0].detach().float().cpu().numpy()
    return arrays


def parameter_meta(result: FaceResult, demo_note: str | None) -> dict:
    """JSON metadata of a parameter file: image, sizes, frames, version, demo marker."""
    meta = {
        "format_version": PARAMS_FORMAT_VERSION,
        "image": result.name,
        "image_size": {"height": result.image.shape[0], "width": result.image.shape[1]},
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
    if demo_note:
        meta["note"] = demo_note
    return meta


def _visualisation(result: FaceResult, renders: _Renders) -> np.ndarray:
    rec = result.reconstruction
    crop = to_uint8(result.crop[0])
    panels = [
        crop,
        draw_landmarks(crop, rec.landmarks2d[0]),
        draw_landmarks(crop, rec.landmarks3d[0], rec.landmarks3d[0, :, 3].tolist()),
        to_uint8(renders.shape[0]),
        to_uint8(renders.shape_detail[0]),
        to_uint8(renders.depth[0]),
        to_uint8(renders.textured[0]),
    ]
    grid = panel_grid(panels)
    return add_banner(grid) if rec.is_demo else grid


def save_face(
    model: DECA, renderer: MeshRenderer, result: FaceResult, out_dir: Path, options: ReconstructOptions
) -> list[str]:
    """Write every requested output of one face; returns the written paths."""
    rec, name = result.reconstruction, result.name
    folder = out_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    demo_note = "made with pydeca's generated DEMO assets: not a real reconstruction" if rec.is_demo else None
    header = f"pydeca {__version__}" + (f" - {demo_note}" if demo_note else "")
    written = _save_meshes(model, result, folder, options, header)
    written += _save_tables(result, folder, options, demo_note)
    if options.save_depth or options.save_vis:
        renders = render_views(renderer, result)
        if options.save_depth:
            written.append(save_image(folder / f"{name}_depth.png", to_uint8(renders.depth[0])))
        if options.save_vis:
            written.append(save_image(out_dir / f"{name}_vis.jpg", _visualisation(result, renders)))
    return [str(p) for p in written]


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, flush=True)


def run_reconstruct(
    inputs: Sequence[str],
    output: str | Path,
    options: ReconstructOptions | None = None,
    *,
    assets: str | Path | None = None,
    device: str = "auto",
    quiet: bool = False,
    model: DECA | None = None,
    named_images: Sequence[tuple[str, np.ndarray]] = (),
) -> RunSummary:
    """Reconstruct every face image among ``inputs`` (files, folders, globs) into ``output``.

    A failing input (unreadable, no face) is reported in ``RunSummary.failed`` and skipped.
    ``named_images`` adds in-memory images ``(name, (H, W, 3) uint8)``.
    """
    options = options or ReconstructOptions()
    start = time.perf_counter()
    out_dir = Path(output)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = list_inputs(inputs) if inputs else []
    model = model or DECA.load(assets, device=device)
    summary = RunSummary(demo=model.is_demo)
    if model.is_demo:
        _say(quiet, "deca: using the generated DEMO asset pack - outputs are not real reconstructions")
    detector = get_detector(options.detector)
    renderer = _renderer(model)
    items: list[tuple[str, object]] = [(p.stem, p) for p in paths] + list(named_images)
    for name, source in items:
        label = str(source) if isinstance(source, Path) else name
        try:
            image = load_image(source) if isinstance(source, Path) else source
            result = reconstruct_image(
                model, image, name, detector, source if isinstance(source, Path) else None
            )
            summary.outputs[label] = save_face(model, renderer, result, out_dir, options)
            _say(quiet, f"deca: {label} -> {out_dir / name}")
        except (InputError, NoFaceError, OSError) as error:
            summary.failed[label] = str(error)
            print(f"deca: failed: {label}: {error}", flush=True)
    summary.seconds = time.perf_counter() - start
    counts = f"{len(summary.outputs)} succeeded, {len(summary.failed)} failed"
    _say(quiet, f"deca: {counts} in {summary.seconds:.1f} s")
    return summary


def run_demo(
    output: str | Path,
    options: ReconstructOptions | None = None,
    *,
    assets: str | Path | None = None,
    device: str = "auto",
    quiet: bool = False,
) -> RunSummary:
    """Reconstruct scikit-image's astronaut photo (shipped offline with scikit-image)."""
    from skimage import data

    try:
        image = np.ascontiguousarray(data.astronaut())
    except Exception as error:  # pragma: no cover - depends on the scikit-image install
        raise PydecaError(f"scikit-image's sample photo is unavailable ({error})") from error
    return run_reconstruct(
        [], output, options, assets=assets, device=device, quiet=quiet, named_images=[("astronaut", image)]
    )
