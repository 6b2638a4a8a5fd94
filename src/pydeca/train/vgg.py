"""VGG19 feature taps for the ID-MRF loss, from a torchvision-format weight file (no torchvision).

DECA's detail stage compares VGG19 ImageNet features of the rendered and the photo's UV textures
(:func:`pydeca.train.losses.id_mrf_loss`). The weights are the user's file — torchvision's
``vgg19-dcbb9e9d.pth``, a plain state dict with keys ``features.<i>.weight`` / ``.bias`` (the
classifier's keys, if present, are ignored) — read with ``torch.load(weights_only=True)``, so the
file cannot run code. The module mirrors torchvision's ``vgg19().features`` layer for layer, so the
indices of :data:`~pydeca.train.losses.VGG19_ID_MRF_LAYERS` name the same outputs as there.

Input: (B, 3, H, W) RGB in [0, 1]; ImageNet normalisation is applied inside.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from pydeca.errors import AssetError, AssetFormatError

from .losses import VGG19_ID_MRF_LAYERS

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "VGG19_CONFIG", "VGG19Features", "load_vgg19_features"]

VGG19_CONFIG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)  # fmt: skip
"""torchvision's VGG19 ("E"): channels of each 3×3 conv (each followed by a ReLU); "M" a 2×2 max pool."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _features() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG19_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            channels = int(item)
    return nn.Sequential(*layers)


class VGG19Features(nn.Module):
    """Frozen VGG19 ``features`` returning the outputs of chosen layers.

    Args:
        taps: indices into ``features`` whose outputs are returned, ascending (default: ID-MRF's).
    """

    mean: Tensor
    std: Tensor

    def __init__(self, taps: Sequence[int] = VGG19_ID_MRF_LAYERS) -> None:
        super().__init__()
        self.features = _features()
        if not taps or list(taps) != sorted(set(taps)) or not 0 <= taps[0] <= taps[-1] < len(self.features):
            raise ValueError(
                f"taps must be ascending indices into the {len(self.features)} VGG19 layers, got {taps}"
            )
        self.taps = tuple(taps)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def forward(self, images: Tensor) -> list[Tensor]:
        """(B, 3, H, W) RGB in [0, 1] → one (B, C_l, H_l, W_l) map per tap (gradients reach ``images``)."""
        x = (images - self.mean) / self.std
        outputs = []
        layers: list[nn.Module] = list(self.features)[: self.taps[-1] + 1]
        for index, layer in enumerate(layers):
            x = layer(x)
            if index in self.taps:
                outputs.append(x)
        return outputs


def load_vgg19_features(
    path: str | os.PathLike[str], taps: Sequence[int] = VGG19_ID_MRF_LAYERS
) -> VGG19Features:
    """A :class:`VGG19Features` with the weights of a torchvision-format VGG19 file.

    Raises:
        AssetError: the file is missing (the message says where to get it).
        AssetFormatError: it is not a VGG19 state dict (a key or shape is missing or wrong).
    """
    p = Path(path)
    if not p.is_file():
        raise AssetError(
            f"{p}: VGG19 weights not found; download torchvision's vgg19-dcbb9e9d.pth "
            "(https://download.pytorch.org/models/vgg19-dcbb9e9d.pth) and pass its path"
        )
    try:
        with warnings.catch_warnings():  # an unusual pickle protocol is refused below, not warned about
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as error:
        raise AssetFormatError(
            f"{p}: not a PyTorch weight file ({error}); expected torchvision's VGG19"
        ) from error
    if not isinstance(state, dict):
        raise AssetFormatError(f"{p}: expected a state dict of VGG19 weights, got {type(state).__name__}")
    model = VGG19Features(taps)
    wanted = model.features.state_dict()
    loaded = {}
    for key, reference in wanted.items():
        value = state.get(f"features.{key}")
        if not isinstance(value, Tensor) or value.shape != reference.shape:
            found = "missing" if value is None else f"shape {tuple(getattr(value, 'shape', ()))}"
            raise AssetFormatError(
                f"{p}: features.{key} is {found}, expected {tuple(reference.shape)}; "
                "is this VGG19 (not VGG16)?"
            )
        loaded[key] = value.float()
    model.features.load_state_dict(loaded)
    return model
