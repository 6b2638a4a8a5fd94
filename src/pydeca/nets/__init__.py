"""DECA's networks with the released checkpoint's parameter names, and the code container.

``build_networks()`` returns the three modules of ``deca_model.tar`` under their checkpoint names:
``E_flame`` (ResNet-50 → 236 coarse codes), ``E_detail`` (ResNet-50 → 128 detail code) and
``D_detail`` (181 → (B, 1, 256, 256) displacement, metres).
"""

from __future__ import annotations

import torch
from torch import nn

from pydeca.constants import NUM_DETAIL, NUM_FLAME_CODE

from .codes import Codes
from .decoder import DetailDecoder
from .encoder import ResnetEncoder
from .resnet import FactoryKwargs

__all__ = ["Codes", "DetailDecoder", "ResnetEncoder", "build_networks"]


def build_networks(
    *, device: torch.device | str | None = None, dtype: torch.dtype | None = None
) -> dict[str, nn.Module]:
    """Build DECA's three networks (randomly initialised, training mode, like any torch module).

    Args:
        device: device of the parameters (``"meta"`` gives shapes without allocating memory).
        dtype: floating dtype of the parameters (default: torch's default, float32).

    Returns:
        ``{"E_flame": ResnetEncoder(236), "E_detail": ResnetEncoder(128), "D_detail":
        DetailDecoder()}``, in the checkpoint's module order; load weights with
        :func:`pydeca.assets.checkpoint.load_networks`.
    """
    kw: FactoryKwargs = {"device": device, "dtype": dtype}
    return {
        "E_flame": ResnetEncoder(NUM_FLAME_CODE, **kw),
        "E_detail": ResnetEncoder(NUM_DETAIL, **kw),
        "D_detail": DetailDecoder(**kw),
    }
