"""Batched inference over prepared faces: crops → codes → reconstructions, non-finite codes refused.

Preparation (loading, detection, cropping) is per photo, so a bad photo fails alone; inference here
is one batch over prepared faces from any number of photos.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pydeca.model import DECA
from pydeca.results import TextureMode

from .faces import FaceResult, PreparedFace

__all__ = ["reconstruct_batch"]


def reconstruct_batch(
    model: DECA, faces: Sequence[PreparedFace], texture: TextureMode = "extract", *, maps: bool = True
) -> tuple[list[FaceResult], dict[str, str]]:
    """Encode and decode prepared faces in one batch (under ``torch.inference_mode``).

    Args:
        model: the model.
        faces: prepared faces (any number; one batch of N).
        texture: ``uv_texture_gt`` mode (see :meth:`pydeca.model.DECA.decode`).
        maps: decode the UV maps (detail displacement and normals, extracted texture); without them
            only codes, geometry and landmarks are decoded (what parameter files need), faster.

    Returns:
        ``(results, failures)``: one result (B = 1) per face whose codes are finite, in the order of
        ``faces``, and ``name → error`` for faces whose codes came out non-finite (NaN/inf;
        reported, never written).
    """
    if not faces:
        return [], {}
    crops = torch.stack([face.crop for face in faces]).to(model.device)  # (N, 3, 224, 224)
    with torch.inference_mode():
        codes = model.encode(crops)
        if maps:
            rec = model.decode(codes, images=crops, texture=texture)
        else:
            rec = model.decode(codes, use_detail=False)
    vector = torch.cat([codes.to_flame_vector(), codes.detail], dim=1) if codes.detail is not None else None
    finite = torch.isfinite(vector if vector is not None else codes.to_flame_vector()).all(dim=1)
    results: list[FaceResult] = []
    failures: dict[str, str] = {}
    for i, face in enumerate(faces):
        if not bool(finite[i]):
            failures[face.name] = (
                f"{face.name}: the networks returned non-finite codes (NaN/inf), nothing was saved; "
                "check the photo, and the weights with `deca doctor`"
            )
            continue
        crop, one = crops[i : i + 1], rec.select(i)
        results.append(FaceResult(face.name, face.image, crop, face.tform, one, face.source))
    return results, failures
