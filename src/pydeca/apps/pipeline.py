"""Photo → face crops → batched encode/decode: the reconstruction pipeline shared by every app.

Preparation (loading, detection, cropping) is per image, so a bad image fails alone; inference is
batched over prepared faces from any number of images.
"""

from __future__ import annotations

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
from pydeca.errors import InputError, NoFaceError
from pydeca.geometry.camera import ndc_to_pixels
from pydeca.model import DECA, Reconstruction
from pydeca.nets import Codes

__all__ = [
    "FaceResult",
    "PreparedFace",
    "landmarks_in_photo",
    "load_model",
    "prepare_faces",
    "reconstruct_faces",
    "say",
]

DEMO_NOTICE = "deca: using the generated DEMO asset pack - outputs are not real reconstructions"


def say(quiet: bool, text: str) -> None:
    """Print a status line to stderr (stdout stays clean for ``--json``), above any progress bar."""
    if not quiet:
        tqdm.write(text, file=sys.stderr)


def load_model(
    model: DECA | None, assets: str | Path | None, device: str | torch.device | None, quiet: bool
) -> DECA:
    """``model`` if given, else :meth:`DECA.load`; announces loudly when the demo pack is in use."""
    model = model or DECA.load(assets, device=device)
    if model.is_demo:
        say(quiet, DEMO_NOTICE)
    return model


@dataclass
class PreparedFace:
    """One face ready for the encoders."""

    name: str
    """Output name (image stem, ``_face<k>`` appended when several faces are kept)."""
    image: np.ndarray
    """(H, W, 3) uint8 original photo."""
    crop: torch.Tensor
    """(3, 224, 224) encoder input, RGB in [0, 1]."""
    tform: np.ndarray
    """(3, 3) photo pixel → crop pixel similarity (x = column, y = row)."""


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
        name: output name of the photo.
        detector: a :class:`~pydeca.detect.FaceDetector`.
        source: the photo's path (landmark files next to it are honoured).
        which: ``"largest"`` (one face) or ``"all"``.

    Raises:
        NoFaceError: no face was found (the message names the photo and the way out).
    """
    faces = detect_faces(detector, image, source)
    if not faces:
        raise NoFaceError(
            f"{name}: no face found by the '{detector.name}' detector; try another detector "
            "(--detector) or '--detector none' for an already cropped face"
        )
    faces = sorted(faces, key=lambda face: face.area, reverse=True)
    if which == "largest":
        faces = faces[:1]
    photo = torch.from_numpy(image).permute(2, 0, 1)[None].float().div_(255.0)
    prepared = []
    for k, face in enumerate(faces):
        tform = face_transform(face, image.shape, crop_size=CROP_SIZE)
        crop = warp_crop(photo, torch.from_numpy(tform)[None].float())[0]
        face_name = name if len(faces) == 1 else f"{name}_face{k}"
        prepared.append(PreparedFace(face_name, image, crop, tform))
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
            failures[face.name] = str(
                InputError(f"{face.name}: the networks returned non-finite codes (NaN/inf); not saved")
            )
            continue
        results.append(FaceResult(face.name, face.image, crops[i : i + 1], face.tform, rec.select(i), model))
    return results, failures
