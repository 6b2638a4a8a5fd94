"""DECA's detail decoder D_detail: (jaw pose, expression, detail code) → UV displacement map.

A DCGAN-style generator (reference §1.9, §2.8) whose ``state_dict()`` keys, shapes and dtypes are
those of the released ``deca_model.tar`` (44 entries): ``l1.0`` (Linear 181 → 8192) and
``conv_blocks.{0…22}`` with BatchNorm at 0, 3, 7, 11, 15, 19, Conv2d at 2, 6, 10, 14, 18, 21.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pydeca.checks import check_shapes
from pydeca.constants import MAX_DISPLACEMENT, NUM_DETAIL_INPUT

from .resnet import FactoryKwargs

__all__ = ["DetailDecoder"]

_INIT_CHANNELS = 128
_INIT_SIZE = 8
"""The linear layer's output is viewed as (B, 128, 8, 8); five ×2 upsamplings give 256²."""
_STAGE_CHANNELS = (128, 64, 64, 32, 16)
"""Output channels of the five upsample → conv → BN → LeakyReLU stages (sizes 16 … 256)."""
_BN_EPS_QUIRK = 0.8
"""BatchNorm eps of the five stage BNs: DCGAN code passed 0.8 positionally as ``eps`` (reference §1.9)."""
_LEAKY_SLOPE = 0.2


class DetailDecoder(nn.Module):
    """D_detail: (B, 181) latent → (B, 1, 256, 256) displacement along the normal, metres.

    Layers (``conv_blocks`` indices are the checkpoint's): ``l1 = Sequential(Linear(181, 8192))``,
    view (B, 128, 8, 8), ``0`` BatchNorm(128, eps 1e-5), then five stages ``[Upsample ×2
    (bilinear, align_corners=False), Conv 3×3 pad 1, BatchNorm(eps 0.8), LeakyReLU(0.2)]`` with
    channels 128, 64, 64, 32, 16 (indices 1–20), ``21`` Conv 16 → 1, ``22`` Tanh.

    Convention:
        - Input order (reference §2.8): ``cat([pose[:, 3:6] (jaw axis-angle, rad), exp (50),
          detail (128)], dim=1)``.
        - The output scaling lives **here**, as in DECA's generator (``out_scale``): the forward
          returns ``tanh(·) × max_z`` with ``max_z = 0.01`` m, i.e. ``uv_z`` in metres, bounded by
          ±1 cm. DECA's decode uses it unchanged (``displacement_map = uv_z + fixed_displacement``).
        - UV image: row 0 is v = 1.

    Args:
        in_features: width of the latent (181 for DECA).
        max_z: bound of the output, metres.
        device: device of the parameters.
        dtype: floating dtype of the parameters.

    Example:
        >>> dec = DetailDecoder().eval()
        >>> dec(torch.zeros(2, 181)).shape
        torch.Size([2, 1, 256, 256])
    """

    def __init__(
        self,
        in_features: int = NUM_DETAIL_INPUT,
        *,
        max_z: float = MAX_DISPLACEMENT,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        kw: FactoryKwargs = {"device": device, "dtype": dtype}
        self.in_features = in_features
        self.max_z = float(max_z)
        self.l1 = nn.Sequential(nn.Linear(in_features, _INIT_CHANNELS * _INIT_SIZE**2, **kw))
        blocks: list[nn.Module] = [nn.BatchNorm2d(_INIT_CHANNELS, **kw)]
        channels = _INIT_CHANNELS
        for out_channels in _STAGE_CHANNELS:
            blocks += [
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(channels, out_channels, 3, stride=1, padding=1, **kw),
                nn.BatchNorm2d(out_channels, eps=_BN_EPS_QUIRK, **kw),
                nn.LeakyReLU(_LEAKY_SLOPE, inplace=True),
            ]
            channels = out_channels
        blocks += [nn.Conv2d(channels, 1, 3, stride=1, padding=1, **kw), nn.Tanh()]
        self.conv_blocks = nn.Sequential(*blocks)

    def forward(self, latent: Tensor) -> Tensor:
        """Decode the displacement map.

        Args:
            latent: (B, 181) ``[jaw pose (3, axis-angle rad), exp (50), detail code (128)]``.

        Returns:
            (B, 1, 256, 256) ``uv_z``: displacement along the surface normal, metres, in
            (−max_z, max_z); UV image, row 0 = v = 1.

        Raises:
            ShapeError: if ``latent`` is not (B, in_features).
        """
        check_shapes(latent=(latent, f"B {self.in_features}"))
        x = self.l1(latent).view(latent.shape[0], _INIT_CHANNELS, _INIT_SIZE, _INIT_SIZE)
        return self.conv_blocks(x) * self.max_z

    def extra_repr(self) -> str:
        """Sizes shown by ``print(module)``."""
        return f"in_features={self.in_features}, max_z={self.max_z}"
