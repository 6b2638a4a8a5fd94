"""What :meth:`pydeca.model.DECA.decode` returns: a batch of reconstructions as plain tensors.

A :class:`Reconstruction` holds the codes, geometry and landmarks of B faces (always computed) and
three optional groups of UV maps, each present as a whole or absent (``None``):

* :class:`DetailMaps` — the detail displacement and detail normals (``decode(use_detail=True)``
  with a detail code);
* :class:`TextureMaps` — albedo, SH shading and their product (when the model has an albedo model);
* :class:`PhotoTexture` — the texture taken from the input images (``decode(images=...)``), or one
  an application supplies (expression transfer keeps the identity's).

Every record is frozen: derive a changed one with :func:`dataclasses.replace`. The numpy form
(:meth:`Reconstruction.to_numpy`) uses DECA's names (``vertices``, ``uv_z``, ``uv_texture_gt``, ...),
which are the keys of the files pydeca writes (``.mat``).

Frames: *world* is FLAME's (metres, +x subject's left, +y up, +z out of the face); *NDC* is the
crop's (x = −1 left edge, y = −1 top edge, smaller z nearer, weak perspective ``codes.cam``). UV
images have row 0 at v = 1. Sizes: B faces, V vertices (5023 for FLAME), R = UV size (256).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import numpy as np
import torch
from torch import Tensor

from .checks import check_shapes
from .nets import Codes

__all__ = ["DetailMaps", "PhotoTexture", "Reconstruction", "TextureMaps", "TextureMode"]

TextureMode = Literal["extract", "model", "photo"]
"""How :meth:`pydeca.model.DECA.decode` makes ``uv_texture_gt`` from the input images."""

_SPECS = {
    "vertices": "B V 3",
    "normals": "B V 3",
    "trans_verts": "B V 3",
    "landmarks2d": "B L 2",
    "landmarks3d": "B L 4",
    "landmarks3d_world": "B L 3",
    "uv_z": "B 1 R R",
    "displacement_map": "B 1 R R",
    "uv_detail_normals": "B 3 R R",
    "albedo": "B 3 R R",
    "uv_shading": "B 3 R R",
    "uv_texture": "B 3 R R",
    "uv_texture_gt": "B 3 R R",
}
"""Shape of every tensor of a reconstruction, by its DECA name (named dimensions agree across them)."""

_Maps = TypeVar("_Maps", "DetailMaps", "TextureMaps", "PhotoTexture")


def _map_tensors(maps: _Maps | None, fn: Callable[[Tensor], Tensor]) -> _Maps | None:
    """A copy of a group of maps with ``fn`` applied to each of its tensors (``None`` stays)."""
    if maps is None:
        return None
    changes: dict[str, Any] = {name: fn(value) for name, value in maps.tensors().items()}
    return replace(maps, **changes)


@dataclass(frozen=True, eq=False)
class DetailMaps:
    """The detail decoder's output for B faces (reference §2.8)."""

    uv_z: Tensor
    """(B, 1, R, R) raw detail-decoder displacement, metres (±0.01)."""
    displacement_map: Tensor
    """(B, 1, R, R) ``uv_z`` + the fixed displacement, metres (what the detail mesh uses)."""
    uv_detail_normals: Tensor
    """(B, 3, R, R) world unit normals: with detail inside the face-eye mask, coarse outside."""

    def tensors(self) -> dict[str, Tensor]:
        """``name → tensor`` under DECA's names, in field order."""
        return {
            "uv_z": self.uv_z,
            "displacement_map": self.displacement_map,
            "uv_detail_normals": self.uv_detail_normals,
        }


@dataclass(frozen=True, eq=False)
class TextureMaps:
    """The albedo model's texture for B faces, lit by ``codes.light`` (reference §2.9)."""

    albedo: Tensor
    """(B, 3, R, R) RGB albedo UV map, nominally [0, 1]."""
    uv_shading: Tensor
    """(B, 3, R, R) SH shading of the detail normals (the coarse normals without detail)."""
    uv_texture: Tensor
    """(B, 3, R, R) ``albedo · uv_shading``."""

    def tensors(self) -> dict[str, Tensor]:
        """``name → tensor`` under DECA's names, in field order."""
        return {"albedo": self.albedo, "uv_shading": self.uv_shading, "uv_texture": self.uv_texture}


@dataclass(frozen=True, eq=False)
class PhotoTexture:
    """A UV texture taken from the input images (DECA's ``uv_texture_gt``), or supplied with them."""

    uv_texture_gt: Tensor
    """(B, 3, R, R) RGB UV texture in [0, 1]."""
    texture_mode: TextureMode | None = None
    """How ``decode`` made it (see :meth:`pydeca.model.DECA.decode`); ``None``: supplied by a caller
    (a texture file, the identity's texture in expression transfer)."""

    def tensors(self) -> dict[str, Tensor]:
        """``name → tensor`` under DECA's names."""
        return {"uv_texture_gt": self.uv_texture_gt}


@dataclass(frozen=True, eq=False)
class Reconstruction:
    """Everything :meth:`pydeca.model.DECA.decode` computes for a batch of B faces.

    The core fields are always there; each group of UV maps is ``None`` when it was not computed
    (see the module docstring). Shapes are checked on construction.

    Raises:
        ShapeError: a tensor's shape differs from the documented one, or B, V, R disagree between
            tensors (B also with ``codes``).
    """

    codes: Codes
    """The B faces' codes."""
    vertices: Tensor
    """(B, V, 3) world, metres."""
    normals: Tensor
    """(B, V, 3) world unit vertex normals."""
    trans_verts: Tensor
    """(B, V, 3) crop NDC."""
    landmarks2d: Tensor
    """(B, 68, 2) crop NDC x, y of the 2D-fitting landmarks (17 pose-dependent contour + 51 static)."""
    landmarks3d: Tensor
    """(B, 68, 4) crop NDC x, y, z of the fixed 3D landmarks + visibility (1.0 visible, 0.0 hidden)."""
    landmarks3d_world: Tensor
    """(B, 68, 3) the fixed 3D landmarks, world, metres."""
    is_demo: bool
    """Made with the generated demo asset pack: not a meaningful reconstruction."""
    detail: DetailMaps | None = None
    """Detail displacement and normals; ``None`` without a detail code or with ``use_detail=False``."""
    model_texture: TextureMaps | None = None
    """The albedo model's shaded texture; ``None`` without an albedo model."""
    photo_texture: PhotoTexture | None = None
    """The texture from the input images; ``None`` when ``decode`` had no images."""

    def __post_init__(self) -> None:
        shapes = {name: (value, _SPECS[name]) for name, value in self.tensors().items()}
        check_shapes(**shapes, codes_cam=(self.codes.cam, "B 3"))

    @property
    def batch_size(self) -> int:
        """B, the number of faces."""
        return int(self.vertices.shape[0])

    def tensors(self) -> dict[str, Tensor]:
        """``name → tensor`` of every present tensor but the codes, under DECA's names.

        Order: ``vertices``, ``normals``, ``trans_verts``, ``landmarks2d``, ``landmarks3d``,
        ``landmarks3d_world``, then the present maps among ``uv_z``, ``displacement_map``,
        ``uv_detail_normals``, ``albedo``, ``uv_shading``, ``uv_texture``, ``uv_texture_gt``.
        """
        out = {
            "vertices": self.vertices,
            "normals": self.normals,
            "trans_verts": self.trans_verts,
            "landmarks2d": self.landmarks2d,
            "landmarks3d": self.landmarks3d,
            "landmarks3d_world": self.landmarks3d_world,
        }
        for maps in (self.detail, self.model_texture, self.photo_texture):
            if maps is not None:
                out.update(maps.tensors())
        return out

    def _map(self, fn: Callable[[Tensor], Tensor], codes: Codes) -> Reconstruction:
        """A copy with ``fn`` applied to every tensor and the given (equally mapped) codes."""
        return replace(
            self,
            codes=codes,
            vertices=fn(self.vertices),
            normals=fn(self.normals),
            trans_verts=fn(self.trans_verts),
            landmarks2d=fn(self.landmarks2d),
            landmarks3d=fn(self.landmarks3d),
            landmarks3d_world=fn(self.landmarks3d_world),
            detail=_map_tensors(self.detail, fn),
            model_texture=_map_tensors(self.model_texture, fn),
            photo_texture=_map_tensors(self.photo_texture, fn),
        )

    def select(self, index: int | slice) -> Reconstruction:
        """The sub-batch ``index`` of every tensor and the codes (an int keeps a batch dim of 1)."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        rows = index
        return self._map(lambda t: t[rows], self.codes[rows])

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Reconstruction:
        """A copy on ``device`` (and ``dtype`` if given), like ``Tensor.to``."""
        return self._map(lambda t: t.to(device=device, dtype=dtype), self.codes.to(device, dtype))

    def detach(self) -> Reconstruction:
        """A copy whose tensors (codes included) are detached from the autograd graph."""
        return self._map(Tensor.detach, self.codes.detach())

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Every tensor as a numpy array under DECA's names, batch dimension kept.

        The codes come first, prefixed ``code_`` (``code_shape`` ... ``code_detail``, in their
        stored dtype), then :meth:`tensors` as float32 — the keys of a ``.mat`` file.
        """
        out = {f"code_{k}": v for k, v in self.codes.to_numpy().items()}
        for name, value in self.tensors().items():
            out[name] = value.detach().float().cpu().numpy()
        return out
