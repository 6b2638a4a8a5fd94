"""DECA's per-image codes and their decomposition from the encoder output (reference §2.3).

E_flame regresses a (B, 236) vector laid out ``shape | tex | exp | pose | cam | light``; E_detail a
(B, 128) detail code. :class:`Codes` holds them as named tensors with documented units.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import Tensor

from pydeca.checks import check_shapes
from pydeca.constants import (
    NUM_CAM,
    NUM_DETAIL,
    NUM_EXP,
    NUM_FLAME_CODE,
    NUM_LIGHT,
    NUM_POSE,
    NUM_SHAPE,
    NUM_TEX,
)

__all__ = ["FLAME_CODE_LAYOUT", "Codes"]

NUM_SH = 9
"""Spherical-harmonics coefficients per colour channel (bands 0–2)."""

FLAME_CODE_LAYOUT: dict[str, tuple[int, int]] = {}
"""``name -> (start, stop)`` columns of the 236-vector: shape [0, 100), tex [100, 150), exp
[150, 200), pose [200, 206), cam [206, 209), light [209, 236)."""
_start = 0
for _name, _size in (
    ("shape", NUM_SHAPE),
    ("tex", NUM_TEX),
    ("exp", NUM_EXP),
    ("pose", NUM_POSE),
    ("cam", NUM_CAM),
    ("light", NUM_LIGHT),
):
    FLAME_CODE_LAYOUT[_name] = (_start, _start + _size)
    _start += _size
del _start, _name, _size

_SPECS = {
    "shape": f"B {NUM_SHAPE}",
    "tex": f"B {NUM_TEX}",
    "exp": f"B {NUM_EXP}",
    "pose": f"B {NUM_POSE}",
    "cam": f"B {NUM_CAM}",
    "light": f"B {NUM_SH} 3",
    "detail": f"B {NUM_DETAIL}",
}


@dataclass
class Codes:
    """The codes DECA regresses for a batch of B face crops.

    All tensors share one batch size, device and dtype. ``detail`` is ``None`` when only the coarse
    encoder ran.

    Convention:
        - ``pose`` = global head rotation (3) then jaw rotation (3), axis-angle, radians, FLAME frame.
        - ``cam`` = ``(s, tx, ty)`` of DECA's orthographic camera: crop NDC ``x = s (x_w + tx)``,
          ``y = −s (y_w + ty)``; ``s`` in NDC per metre, ``tx, ty`` in metres (FLAME frame).
        - ``light[b, k, c]`` = SH coefficient ``k`` (0…8) for colour ``c`` (RGB), element
          ``209 + 3k + c`` of the E_flame output.
        - ``shape``, ``exp`` are FLAME identity / expression coefficients, ``tex`` albedo
          coefficients, ``detail`` the latent of the detail decoder (all unitless).
    """

    shape: Tensor
    """(B, 100) FLAME identity coefficients."""
    tex: Tensor
    """(B, 50) albedo coefficients."""
    exp: Tensor
    """(B, 50) FLAME expression coefficients."""
    pose: Tensor
    """(B, 6) global rotation (3) + jaw rotation (3), axis-angle, radians."""
    cam: Tensor
    """(B, 3) ``(s, tx, ty)`` orthographic camera."""
    light: Tensor
    """(B, 9, 3) SH lighting coefficients × RGB."""
    detail: Tensor | None = None
    """(B, 128) detail code of E_detail, or ``None``."""

    def __post_init__(self) -> None:
        named = {f.name: (getattr(self, f.name), _SPECS[f.name]) for f in fields(self)}
        if self.detail is None:
            del named["detail"]
        check_shapes(**named)

    @classmethod
    def from_flame_vector(cls, vec: Tensor, detail: Tensor | None = None) -> Codes:
        """Split E_flame's output into named codes (reference §2.3).

        Args:
            vec: (B, 236) ``shape | tex | exp | pose | cam | light`` (see :data:`FLAME_CODE_LAYOUT`).
            detail: optional (B, 128) E_detail output.

        Returns:
            :class:`Codes` whose tensors are views of ``vec`` (light reshaped to (B, 9, 3)).

        Raises:
            ShapeError: if ``vec`` is not (B, 236) or ``detail`` not (B, 128).

        Example:
            >>> c = Codes.from_flame_vector(torch.arange(236.0)[None])
            >>> c.cam, c.light[0, 1]
            (tensor([[206., 207., 208.]]), tensor([212., 213., 214.]))
        """
        check_shapes(vec=(vec, f"B {NUM_FLAME_CODE}"))
        parts = {name: vec[:, start:stop] for name, (start, stop) in FLAME_CODE_LAYOUT.items()}
        parts["light"] = parts["light"].reshape(vec.shape[0], NUM_SH, 3)
        return cls(**parts, detail=detail)

    def to_flame_vector(self) -> Tensor:
        """Inverse of :meth:`from_flame_vector`: (B, 236) concatenated coarse codes."""
        parts = [self.shape, self.tex, self.exp, self.pose, self.cam, self.light.flatten(1)]
        return torch.cat(parts, dim=1)

    @property
    def batch_size(self) -> int:
        """B, the number of faces."""
        return int(self.shape.shape[0])

    def _map(self, fn: Callable[[Tensor], Tensor]) -> Codes:
        return Codes(
            shape=fn(self.shape),
            tex=fn(self.tex),
            exp=fn(self.exp),
            pose=fn(self.pose),
            cam=fn(self.cam),
            light=fn(self.light),
            detail=None if self.detail is None else fn(self.detail),
        )

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Codes:
        """Return a copy on ``device`` (and ``dtype`` if given), like ``Tensor.to``."""
        return self._map(lambda t: t.to(device=device, dtype=dtype))

    def detach(self) -> Codes:
        """Return a copy whose tensors are detached from the autograd graph."""
        return self._map(Tensor.detach)

    def __getitem__(self, index: int | slice | Sequence[int] | Tensor) -> Codes:
        """Select faces along the batch dimension; an integer keeps the batch dim (B = 1)."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return self._map(lambda t: t[index])

    @classmethod
    def cat(cls, items: Sequence[Codes]) -> Codes:
        """Concatenate batches; ``detail`` is kept only if every item has one.

        Raises:
            ValueError: if ``items`` is empty.
        """
        if not items:
            raise ValueError("Codes.cat: expected at least one Codes, got an empty sequence")
        details = [c.detail for c in items if c.detail is not None]
        return cls(
            shape=torch.cat([c.shape for c in items], dim=0),
            tex=torch.cat([c.tex for c in items], dim=0),
            exp=torch.cat([c.exp for c in items], dim=0),
            pose=torch.cat([c.pose for c in items], dim=0),
            cam=torch.cat([c.cam for c in items], dim=0),
            light=torch.cat([c.light for c in items], dim=0),
            detail=torch.cat(details, dim=0) if len(details) == len(items) else None,
        )

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Detached CPU numpy copies keyed by field name (``detail`` omitted when ``None``).

        Shapes as the fields: ``shape`` (B, 100), ``tex`` (B, 50), ``exp`` (B, 50), ``pose`` (B, 6),
        ``cam`` (B, 3), ``light`` (B, 9, 3), ``detail`` (B, 128); dtype of the tensors.
        """
        return {
            f.name: getattr(self, f.name).detach().cpu().numpy()
            for f in fields(self)
            if getattr(self, f.name) is not None
        }

    @classmethod
    def from_numpy(cls, arrays: dict[str, np.ndarray], *, device: torch.device | str | None = None) -> Codes:
        """Build from :meth:`to_numpy`'s dict (e.g. a loaded ``.npz``); ``detail`` is optional.

        Args:
            arrays: ``name -> array`` with the shapes of the fields (``shape`` (B, 100), …,
                ``light`` (B, 9, 3), ``detail`` (B, 128)).
            device: where to put the tensors.

        Raises:
            KeyError: naming the missing code.
            ShapeError: if an array has the wrong shape.
        """
        missing = [f.name for f in fields(cls) if f.name != "detail" and f.name not in arrays]
        if missing:
            raise KeyError(f"Codes.from_numpy: missing codes {missing}; got keys {sorted(arrays)}")
        values = {
            f.name: torch.as_tensor(np.asarray(arrays[f.name]), device=device)
            for f in fields(cls)
            if arrays.get(f.name) is not None
        }
        return cls(**values)
