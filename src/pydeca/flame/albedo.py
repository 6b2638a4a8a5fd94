"""Linear albedo model in UV space (DECA's ``FLAMETex``, reference §1.8).

The basis arrives already resampled to the working UV size and in RGB order
(:class:`pydeca.assets.data.AlbedoBasis`; DECA takes every other texel of the 512² BFM maps and
swaps BGR → RGB), so the forward pass is one matmul. As in DECA the result is **not clamped**
(values slightly outside [0, 1] occur on texels outside the UV islands); clamp when displaying.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pydeca.assets.data import AlbedoBasis
from pydeca.checks import check_shapes
from pydeca.errors import AssetFormatError

__all__ = ["AlbedoModel"]


class AlbedoModel(nn.Module):
    """``albedo = mean + Σ_k code_k · basis_k`` in UV space.

    Args:
        basis: the albedo arrays (mean (3, R, R), basis (K, 3, R, R)).
        device: where to put the buffers.
        dtype: floating dtype of the buffers.
    """

    # non-persistent buffers (registered in __init__); declared here so type checkers see Tensors
    mean: torch.Tensor
    """(1, 3·R·R) mean albedo, flattened."""
    basis: torch.Tensor
    """(K, 3·R·R) albedo components, flattened."""

    def __init__(
        self,
        basis: AlbedoBasis,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        mean, comps = np.asarray(basis.mean), np.asarray(basis.basis)
        if mean.ndim != 3 or mean.shape[0] != 3 or comps.ndim != 4 or comps.shape[1:] != mean.shape:
            raise AssetFormatError(
                f"albedo basis ({basis.source}): expected mean (3, R, R) and basis (K, 3, R, R), got "
                f"{mean.shape} and {comps.shape}; regenerate it with the pydeca albedo loader"
            )
        self.source = basis.source
        self.uv_shape = tuple(mean.shape)
        # cast on the CPU, then move (MPS has no float64 for the asset's float64 arrays)
        flat_mean = torch.as_tensor(np.ascontiguousarray(mean).reshape(1, -1), dtype=dtype).to(device)
        flat_basis = torch.as_tensor(np.ascontiguousarray(comps).reshape(comps.shape[0], -1), dtype=dtype)
        self.register_buffer("mean", flat_mean, persistent=False)  # (1, 3·R·R)
        self.register_buffer("basis", flat_basis.to(device), persistent=False)  # (K, 3·R·R)

    @property
    def num_components(self) -> int:
        """K, the number of albedo components (the expected code length)."""
        return int(self.basis.shape[0])

    def extra_repr(self) -> str:
        """Source, size and component count, shown in ``repr(module)``."""
        return f"source={self.source!r}, components={self.num_components}, uv_shape={self.uv_shape}"

    def forward(self, tex_code: torch.Tensor) -> torch.Tensor:
        """Albedo UV maps for a batch of codes.

        Args:
            tex_code: (B, K) albedo code (~N(0, 1) per component).

        Returns:
            (B, 3, R, R) RGB albedo, nominally [0, 1], not clamped; row 0 is v = 1.

        Raises:
            ShapeError: if the code length differs from K.
        """
        check_shapes(tex_code=(tex_code, f"B {self.num_components}"))
        flat = torch.addmm(self.mean, tex_code.to(self.basis.dtype), self.basis)  # (B, 3·R·R)
        return flat.reshape(tex_code.shape[0], *self.uv_shape)
