"""``deca transfer``: put the expression of other faces on one identity (reference §3.2).

The identity (a photo, or a ``<name>.npz`` parameter file written by ``deca reconstruct``) keeps
its shape, detail code, texture, camera and global head pose; each expression input (photo or
parameter file) supplies its expression code and jaw pose. The detail decoder is conditioned on the
new jaw pose and expression, so the identity's wrinkles follow the new expression.

Outputs in ``OUT`` per expression ``<exp>``: ``<id>_to_<exp>.jpg`` = input crop | identity shape
with detail | transferred shape with detail | transferred face textured with the identity's
texture (224 pixels high, a red banner for demo assets); with ``save_meshes`` / ``save_params`` the
files ``deca reconstruct`` writes, under ``OUT/<id>_to_<exp>/``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pydeca.apps.common import load_model, say, warn
from pydeca.apps.reconstruct import RunSummary
from pydeca.constants import CROP_SIZE
from pydeca.detect import get_detector
from pydeca.errors import InputError, RunInterrupted
from pydeca.io.images import save_image
from pydeca.io.inputs import list_inputs
from pydeca.io.output_names import prepare_output_dir, safe_stem, transfer_name
from pydeca.model import DECA
from pydeca.nets import Codes
from pydeca.pipeline.faces import FaceResult
from pydeca.pipeline.sources import (
    GREY_TEXTURE,
    PARAM_SUFFIXES,
    codes_from_params,
    face_from_params,
    failure_text,
    load_expressions,
    load_face,
)
from pydeca.pipeline.writers import OutputOptions, save_face
from pydeca.render.views import render_panels
from pydeca.render.visualize import add_banner, panel_grid, to_uint8
from pydeca.results import PhotoTexture, Reconstruction, TextureMode

__all__ = [
    "GREY_TEXTURE",
    "PARAM_SUFFIXES",
    "TransferOptions",
    "codes_from_params",
    "expand_each",
    "expand_inputs",
    "face_from_params",
    "failure_text",
    "load_expressions",
    "load_face",
    "report_failures",
    "run_transfer",
    "transfer_codes",
    "transfer_expression",
    "transfer_grid",
]


@dataclass
class TransferOptions:
    """What ``deca transfer`` writes and how it finds faces."""

    save_meshes: bool = False
    """Write ``<id>_to_<exp>/<id>_to_<exp>.obj`` (+ ``_detail.obj``, texture, normal map)."""
    save_params: bool = False
    """Write ``<id>_to_<exp>/<id>_to_<exp>.npz`` / ``.json`` (codes, landmarks)."""
    save_vis: bool = True
    """Write ``<id>_to_<exp>.jpg``."""
    detector: str = "auto"
    texture: TextureMode = "extract"
    """How the identity's texture is taken from its photo (see :meth:`DECA.decode`)."""


# ---------------------------------------------------------------------------------------- inputs
def _expand_one(item: str | Path) -> list[Path]:
    """The image and parameter files one input stands for (InputError if none)."""
    path = Path(item)
    if path.suffix.lower() in PARAM_SUFFIXES:
        if not path.is_file():
            raise InputError(f"{path}: parameter file not found; check the path")
        return [path]
    if path.is_dir():
        params = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".npz")
        files = _images_or_none(path) + params
        if not files:
            raise InputError(f"{path}: folder holds no image or .npz parameter file")
        return files
    return list_inputs([item])


def expand_each(inputs: Sequence[str | Path]) -> tuple[list[Path], dict[str, str]]:
    """Expand inputs one by one, so a bad input fails alone.

    Returns:
        ``(files, failures)``: the image and parameter files in order (duplicates dropped), and
        input as given → why it names no usable file.
    """
    found: list[Path] = []
    failures: dict[str, str] = {}
    for item in inputs:
        try:
            found += _expand_one(item)
        except InputError as error:
            failures[str(item)] = str(error)
    return list(dict.fromkeys(found)), failures


def expand_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Files, folders and globs → image and parameter files, in order.

    A path with a suffix in :data:`PARAM_SUFFIXES` is a parameter file; everything else is expanded
    by :func:`pydeca.io.inputs.list_inputs` (folders also contribute their ``.npz`` files).

    Raises:
        InputError: a path does not exist or names no usable file (the first such input).
    """
    found, failures = expand_each(inputs)
    if failures:
        raise InputError(next(iter(failures.values())))
    return found


def _images_or_none(folder: Path) -> list[Path]:
    try:
        return list_inputs([folder])
    except InputError:
        return []


def _grey_crop(model: DECA) -> Tensor:
    return torch.full((1, 3, CROP_SIZE, CROP_SIZE), 0.5, device=model.device)


def report_failures(failures: dict[str, str]) -> None:
    """Print every failed input on stderr, also with ``--quiet`` (quiet silences progress only)."""
    for error in failures.values():
        warn(f"deca: failed: {error}")


# ---------------------------------------------------------------------------------------- core
def transfer_codes(identity: Codes, expression: Codes) -> Codes:
    """The identity's codes with the expression's ``exp`` and jaw pose (``pose[:, 3:]``).

    Args:
        identity: B = 1 (broadcast) or B = E codes.
        expression: E codes.

    Returns:
        E codes: identity ``shape, tex, cam, light, detail`` and global pose ``pose[:, :3]``;
        expression ``exp`` and jaw pose.
    """
    expression = expression.to(identity.shape.device, identity.shape.dtype)
    count = expression.batch_size
    if identity.batch_size == 1 and count != 1:
        identity = identity[[0] * count]
    pose = torch.cat([identity.pose[:, :3], expression.pose[:, 3:]], dim=1)
    return replace(identity, exp=expression.exp.clone(), pose=pose)


def transfer_expression(
    model: DECA, identity: FaceResult | Codes, expression: Codes, *, texture: Tensor | None = None
) -> Reconstruction:
    """Decode the identity with each expression's ``exp`` and jaw pose (reference §3.2).

    The detail decoder sees the new jaw pose and expression with the identity's detail code, so
    ``uv_z = D_detail(jaw_exp, exp_exp, detail_id)``.

    Args:
        model: the DECA model.
        identity: a reconstructed face (B = 1) or its codes (B = 1 or E).
        expression: E codes supplying ``exp`` (E, 50) and ``pose[:, 3:]`` (E, 3).
        texture: (1 or E, 3, R, R) texture for ``uv_texture_gt``; default the identity's
            ``uv_texture_gt`` when ``identity`` is a :class:`FaceResult` (else ``None``).

    Returns:
        An E-face :class:`Reconstruction` whose ``photo_texture`` is ``texture`` (``None``
        without one).
    """
    identity_codes = identity.codes if isinstance(identity, FaceResult) else identity
    if texture is None and isinstance(identity, FaceResult):
        own = identity.reconstruction.photo_texture
        texture = own.uv_texture_gt if own is not None else None
    codes = transfer_codes(identity_codes.to(model.device), expression)
    with torch.inference_mode():
        rec = model.decode(codes, detail_expression=codes)
    if texture is not None:
        shared = PhotoTexture(texture.to(model.device).expand(codes.batch_size, -1, -1, -1))
        rec = replace(rec, photo_texture=shared)
    return rec


def transfer_grid(model: DECA, identity: FaceResult, transferred: Reconstruction) -> list[np.ndarray]:
    """``[input crop | identity shape+detail | transferred shape+detail | transferred textured]``.

    Returns:
        One (224, 896, 3) uint8 image per transferred face (banner for demo assets).
    """
    renderer = model.renderer
    ident = render_panels(renderer, identity.reconstruction, panels=("shape_detail",))["shape_detail"][0]
    panels = render_panels(renderer, transferred)
    grids = []
    for i in range(transferred.batch_size):
        row = [identity.crop[0], ident, panels["shape_detail"][i]]
        if "textured" in panels:
            row.append(panels["textured"][i])
        grid = panel_grid([to_uint8(image) for image in row], height=CROP_SIZE)
        grids.append(add_banner(grid) if transferred.is_demo else grid)
    return grids


# ---------------------------------------------------------------------------------------- app
def run_transfer(
    identity: str | Path,
    expressions: Sequence[str | Path],
    output: str | Path,
    options: TransferOptions | None = None,
    *,
    assets: str | Path | None = None,
    device: str = "auto",
    quiet: bool = False,
    model: DECA | None = None,
) -> RunSummary:
    """Transfer every expression input onto the identity and write the results into ``output``.

    Args:
        identity: photo or parameter file (``.npz``/``.json`` from ``deca reconstruct``).
        expressions: photos, parameter files, folders or globs.
        output: output folder (created).
        options: what to write (:class:`TransferOptions`).
        assets: asset directory or ``"demo"`` (ignored when ``model`` is given).
        device: ``"auto"``, ``"cpu"``, ``"mps"`` or ``"cuda"`` (ignored when ``model`` is given).
        quiet: no progress messages on stderr.
        model: an already loaded model.

    Returns:
        :class:`RunSummary`: ``outputs`` maps ``<id>_to_<exp>`` to every file written for it
        (image, meshes with their ``.mtl`` and texture / normal-map PNGs, parameters); failed
        expression inputs are in ``failed`` (the run goes on).

    Raises:
        InputError: the identity cannot be used (unreadable, no face), or no expression input given.
    """
    options = options or TransferOptions()
    start = time.perf_counter()
    out_dir = prepare_output_dir(output)  # before the model: OutputError for a bad -o
    model = load_model(model, assets, device, quiet)
    summary = RunSummary(demo=model.is_demo)
    detector = None if options.detector is None else get_detector(options.detector)
    face = load_face(model, identity, detector, options.texture)
    paths, failures = expand_each(expressions)
    if not paths and not failures:
        raise InputError("deca transfer: no expression input given; pass photos or .npz files")
    names, codes, load_failures = load_expressions(model, paths, detector)
    failures.update(load_failures)
    summary.failed.update(failures)
    report_failures(failures)
    if codes is not None:
        rec = transfer_expression(model, face, codes)
        grids = transfer_grid(model, face, rec) if options.save_vis else [None] * len(names)
        files_options = OutputOptions(
            save_obj=options.save_meshes,
            save_vis=False,
            save_kpt=False,
            save_depth=False,
            save_params=options.save_params,
            render_orig=False,
        )
        try:
            for i, (exp_name, grid) in enumerate(zip(names, grids, strict=True)):
                name = transfer_name(safe_stem(face.name), safe_stem(exp_name))
                written: list[str] = []
                try:
                    if grid is not None:
                        written.append(str(save_image(out_dir / f"{name}.jpg", grid)))
                    if options.save_meshes or options.save_params:
                        result = FaceResult(name, face.image, face.crop, face.tform, rec.select(i))
                        written += save_face(model, result, out_dir, files_options)
                except BaseException:
                    for path in written:  # all-or-nothing per transferred face
                        Path(path).unlink(missing_ok=True)
                    raise
                summary.outputs[name] = written
        except KeyboardInterrupt:
            raise RunInterrupted(
                f"deca: interrupted: {len(summary.outputs)} of {len(names)} transferred -> {out_dir}; "
                "the others were not written, run the command again"
            ) from None
    summary.seconds = time.perf_counter() - start
    say(quiet, f"deca: {len(summary.outputs)} transferred, {len(summary.failed)} failed -> {out_dir}")
    return summary
