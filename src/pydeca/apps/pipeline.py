"""Photo → face crops → batched encode/decode: the reconstruction pipeline shared by every app.

Preparation (loading, detection, cropping) is per image, so a bad image fails alone; inference is
batched over prepared faces from any number of images.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from pydeca.constants import CROP_SIZE
from pydeca.detect import detect_faces
from pydeca.detect.crop import face_transform, uncrop_points, warp_crop
from pydeca.errors import NoFaceError, OptionError
from pydeca.geometry.camera import ndc_to_pixels
from pydeca.io.output_names import face_name, safe_stem
from pydeca.model import DECA, Reconstruction, resolve_device
from pydeca.nets import Codes

__all__ = [
    "DEMO_NOTICE",
    "FaceResult",
    "PreparedFace",
    "demo_notice",
    "landmarks_in_photo",
    "load_model",
    "prepare_faces",
    "reconstruct_faces",
    "say",
    "warn",
]

DEMO_NOTICE = (
    "deca: using the generated DEMO asset pack (--assets demo): outputs are not real reconstructions"
)
"""Shown (unless ``--quiet``) when the user asked for the demo pack."""


def say(quiet: bool, text: str) -> None:
    """Print a status line to stderr (stdout stays clean for ``--json``), above any progress bar."""
    if not quiet:
        tqdm.write(text, file=sys.stderr)


def warn(text: str) -> None:
    """Print a warning or error line to stderr, also with ``--quiet``, above any progress bar."""
    tqdm.write(text, file=sys.stderr)


def demo_notice(searched: Path | None, quiet: bool) -> str:
    """The demo-pack notice: ``searched`` is the asset dir that held no assets (None: asked for).

    A fallback gets a loud, multi-line warning (one line with ``quiet``) saying where pydeca looked,
    that the outputs are not real reconstructions, and how to get the assets.
    """
    if searched is None:
        return DEMO_NOTICE
    origin = "$PYDECA_HOME" if os.environ.get("PYDECA_HOME") else "the default asset directory"
    fix = "run `deca fetch` to download them (`deca doctor` lists what is missing), or pass --assets DIR"
    if quiet:
        return (
            f"deca: WARNING: no DECA/FLAME assets in {searched}; using the generated DEMO asset pack, "
            f"outputs are NOT real reconstructions: {fix}"
        )
    return "\n".join(
        (
            f"deca: WARNING: no DECA/FLAME assets were found in {searched} ({origin}).",
            "deca: WARNING: falling back to the generated DEMO asset pack (random weights, procedural head):",
            "deca: WARNING: the outputs are NOT real reconstructions of the faces in your photos.",
            f"deca: WARNING: {fix}.",
        )
    )


def load_model(
    model: DECA | None, assets: str | Path | None, device: str | torch.device | None, quiet: bool
) -> DECA:
    """``model`` if given, else :meth:`DECA.load`; announces the demo pack (loudly if a fallback).

    The device is checked first (:func:`pydeca.model.resolve_device`), so a bad ``--device`` fails
    before any asset is read. When no assets were found and the demo pack stood in, a warning is
    printed even with ``quiet`` (:func:`demo_notice`); an explicit ``assets="demo"`` is announced
    only without ``quiet``.

    Raises:
        OptionError: the device is unknown or not available.
        AssetError: the assets are missing or unusable (the message says how to fix it).
    """
    loaded_here = model is None
    if model is None:
        model = DECA.load(assets, device=resolve_device(device))
    if model.is_demo:
        searched = None
        if loaded_here and str(assets) != "demo":
            from pydeca.assets.paths import resolve_asset_dir

            looked = resolve_asset_dir(assets)
            if Path(model.asset_dir).resolve() != looked.resolve():
                searched = looked  # the demo pack stood in for the assets that were not there
        if searched is not None:
            warn(demo_notice(searched, quiet))
        else:
            say(quiet, DEMO_NOTICE)
    return model


@dataclass
class PreparedFace:
    """One face ready for the encoders."""

    name: str
    """Output name (safe image stem, ``_face<k>`` appended when several faces are kept)."""
    image: np.ndarray
    """(H, W, 3) uint8 original photo."""
    crop: torch.Tensor
    """(3, 224, 224) encoder input, RGB in [0, 1]."""
    tform: np.ndarray
    """(3, 3) photo pixel → crop pixel similarity (x = column, y = row)."""
    source: Path | None = None
    """The photo's file (None for in-memory images and video frames)."""
    faces_found: int = 1
    """How many faces the detector found in the photo (more than kept with ``which="largest"``)."""


@dataclass
class FaceResult:
    """One reconstructed face: its crop, crop transform and its decoded reconstruction (B = 1)."""

    name: str
    image: np.ndarray
    """(H, W, 3) uint8 original photo."""
    crop: torch.Tensor
    """(1, 3, 224, 224) encoder input in [0, 1]."""
    tform: np.ndarray
    """(3, 3) photo pixel → crop pixel similarity."""
    reconstruction: Reconstruction
    model: DECA | None = field(repr=False, default=None)
    """The model that made it (its topology and renderer are needed to write files)."""
    source: Path | None = None
    """The photo's file, if it came from one (recorded in the parameter metadata)."""

    @property
    def codes(self) -> Codes:
        """The face's :class:`~pydeca.nets.Codes` (B = 1)."""
        return self.reconstruction.codes

    @property
    def landmarks(self) -> np.ndarray:
        """(68, 2) 2D landmarks in photo pixels (x = column, y = row)."""
        return landmarks_in_photo(self, "landmarks2d")

    @property
    def mesh(self):
        """The coarse mesh as a :class:`trimesh.Trimesh` (world frame, metres)."""
        import trimesh

        verts = self.reconstruction.vertices[0].detach().cpu().numpy()
        return trimesh.Trimesh(verts, np.asarray(self.model.topology.faces), process=False)

    def save(self, out_dir: str | Path, formats: Sequence[str] = ("obj", "npz", "vis")) -> list[str]:
        """Write this face's outputs into ``out_dir/<name>/`` (see :func:`pydeca.apps.outputs.save_face`).

        Args:
            out_dir: output folder.
            formats: any of ``obj`` (coarse + detail OBJ), ``ply``, ``glb``, ``npz`` (``.npz`` +
                ``.json`` parameters), ``kpt``, ``depth``, ``vis``, ``mat``, ``images``.
        """
        from pydeca.apps.outputs import OutputOptions, save_face

        return save_face(self.model, self, Path(out_dir), OutputOptions.from_formats(formats))


def landmarks_in_photo(result: FaceResult, key: str) -> np.ndarray:
    """(68, 2) landmarks ``key`` (``landmarks2d`` / ``landmarks3d``) in photo pixels (x = column)."""
    ndc = getattr(result.reconstruction, key)[0].detach().float().cpu()
    crop_px = ndc_to_pixels(ndc[:, :2], CROP_SIZE).numpy()
    return np.asarray(uncrop_points(crop_px[None], result.tform[None])[0])


def prepare_faces(
    image: np.ndarray, name: str, detector, source: Path | None = None, which: str = "largest"
) -> list[PreparedFace]:
    """Detect faces in a photo and crop them with DECA's rule.

    Args:
        image: (H, W, 3) uint8 RGB photo.
        name: output name of the photo (made safe with :func:`pydeca.io.output_names.safe_stem`).
        detector: a :class:`~pydeca.detect.FaceDetector`.
        source: the photo's path (landmark files next to it are honoured).
        which: ``"largest"`` (one face) or ``"all"``.

    Returns:
        The kept faces, largest first, each with ``faces_found`` = the number detected.

    Raises:
        NoFaceError: no face was found (the message names the photo and the way out).
        OptionError: ``which`` is neither ``"largest"`` nor ``"all"``.
    """
    if which not in ("largest", "all"):
        raise OptionError(f"which: expected 'largest' or 'all', got {which!r}")
    name = safe_stem(name)
    faces = detect_faces(detector, image, source)
    if not faces:
        raise NoFaceError(
            f"{name}: no face found by the '{detector.name}' detector; try another detector "
            "(--detector) or '--detector none' for an already cropped face"
        )
    faces = sorted(faces, key=lambda face: face.area, reverse=True)
    found = len(faces)
    if which == "largest":
        faces = faces[:1]
    photo = torch.from_numpy(image).permute(2, 0, 1)[None].float().div_(255.0)
    prepared = []
    for k, face in enumerate(faces):
        tform = face_transform(face, image.shape, crop_size=CROP_SIZE)
        crop = warp_crop(photo, torch.from_numpy(tform)[None].float())[0]
        prepared.append(PreparedFace(face_name(name, k, len(faces)), image, crop, tform, source, found))
    return prepared


def reconstruct_faces(
    model: DECA, faces: Sequence[PreparedFace], texture: str = "extract", *, maps: bool = True
) -> tuple[list[FaceResult], dict[str, str]]:
    """Encode and decode a batch of prepared faces.

    Args:
        model: the model.
        faces: prepared faces (any number; one batch).
        texture: ``uv_texture_gt`` mode (see :meth:`DECA.decode`).
        maps: decode the UV maps (detail displacement and normals, extracted texture); without them
            only codes, geometry and landmarks are decoded (what parameter files need), faster.

    Returns:
        ``(results, failures)``: one result per face whose codes are finite, and ``name → error``
        for faces whose codes came out non-finite (NaN/inf; reported, never written).
    """
    if not faces:
        return [], {}
    crops = torch.stack([face.crop for face in faces]).to(model.device)
    with torch.inference_mode():
        codes = model.encode(crops)
        if maps:
            rec = model.decode(codes, images=crops, texture=texture)
        else:
            rec = model.decode(codes, use_detail=False)
    vector = torch.cat([codes.to_flame_vector(), codes.detail], dim=1) if codes.detail is not None else None
    finite = torch.isfinite(vector if vector is not None else codes.to_flame_vector()).all(dim=1)
    results, failures = [], {}
    for i, face in enumerate(faces):
        if not bool(finite[i]):
            failures[face.name] = (
                f"{face.name}: the networks returned non-finite codes (NaN/inf), nothing was saved; "
                "check the photo, and the weights with `deca doctor`"
            )
            continue
        crop, one = crops[i : i + 1], rec.select(i)
        results.append(FaceResult(face.name, face.image, crop, face.tform, one, model, face.source))
    return results, failures
