"""ResNet-50 backbone with torchvision-compatible parameter names (no torchvision dependency).

The layout is torchvision's ResNet-50 "v1.5" (stride on the 3×3 convolution of each bottleneck),
without the classifier: ``conv1, bn1, layer1 … layer4`` and ``downsample.0`` (1×1 conv) /
``downsample.1`` (BatchNorm) in the first block of each stage, exactly the ``encoder.*`` keys of
DECA's released checkpoint (reference §1.9, Appendix A).
"""

from __future__ import annotations

from typing import TypedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pydeca.constants import CROP_SIZE
from pydeca.errors import ShapeError

__all__ = ["RESNET50_FEATURES", "Bottleneck", "ResNet50Backbone", "check_crop"]

RESNET50_FEATURES = 2048
"""Width of the pooled ResNet-50 feature vector."""

_EXPANSION = 4
_STEM_CHANNELS = 64
# (planes, blocks, stride of the first block) per stage: torchvision's ResNet-50.
_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
_POOL_SIZE = 7
"""Side of the last feature map for a 224² input (224 / 32); DECA pools it with AvgPool2d(7)."""


class FactoryKwargs(TypedDict):
    """``device`` and ``dtype`` keywords forwarded to every layer's constructor."""

    device: torch.device | str | None
    dtype: torch.dtype | None


class Bottleneck(nn.Module):
    """ResNet bottleneck block: 1×1 → 3×3 (strided) → 1×1 convolutions with a residual connection.

    Args:
        in_channels: channels of the input.
        planes: width of the inner 3×3 convolution; the block outputs ``4 * planes`` channels.
        stride: stride of the 3×3 convolution (and of the 1×1 shortcut projection).
        device: device of the parameters.
        dtype: floating dtype of the parameters.
    """

    # the BatchNorms become nn.Identity in a copy made by ResnetEncoder.fuse_for_inference
    bn1: nn.BatchNorm2d | nn.Identity
    bn2: nn.BatchNorm2d | nn.Identity
    bn3: nn.BatchNorm2d | nn.Identity
    downsample: nn.Sequential | None
    """1×1 conv → BatchNorm projection of the shortcut, or ``None`` when the shapes already match."""

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        kw: FactoryKwargs = {"device": device, "dtype": dtype}
        out_channels = planes * _EXPANSION
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False, **kw)
        self.bn1 = nn.BatchNorm2d(planes, **kw)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False, **kw)
        self.bn2 = nn.BatchNorm2d(planes, **kw)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False, **kw)
        self.bn3 = nn.BatchNorm2d(out_channels, **kw)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False, **kw),
                nn.BatchNorm2d(out_channels, **kw),
            )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block.

        Args:
            x: (B, C_in, H, W) features.

        Returns:
            (B, 4·planes, H / stride, W / stride) features.
        """
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50Backbone(nn.Module):
    """ResNet-50 feature extractor: 224×224 RGB crop → 2048-D pooled features.

    Stem conv 7×7/2 → BN → ReLU → max-pool 3×3/2 (pad 1) → 4 bottleneck stages (3, 4, 6, 3 blocks)
    → 7×7 average pool (DECA's ``AvgPool2d(7, stride=1)``, reference §2.2) → flatten.

    Args:
        device: device of the parameters.
        dtype: floating dtype of the parameters.
    """

    bn1: nn.BatchNorm2d | nn.Identity
    """Stem BatchNorm (nn.Identity in a copy made by ResnetEncoder.fuse_for_inference)."""
    # the four stages, registered in __init__ under torchvision's names
    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(self, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        kw: FactoryKwargs = {"device": device, "dtype": dtype}
        self.conv1 = nn.Conv2d(3, _STEM_CHANNELS, 7, stride=2, padding=3, bias=False, **kw)
        self.bn1 = nn.BatchNorm2d(_STEM_CHANNELS, **kw)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = _STEM_CHANNELS
        for index, (planes, blocks, stride) in enumerate(_STAGES, start=1):
            stage: list[nn.Module] = []
            for block in range(blocks):
                stage.append(Bottleneck(in_channels, planes, stride if block == 0 else 1, **kw))
                in_channels = planes * _EXPANSION
            self.add_module(f"layer{index}", nn.Sequential(*stage))

    def forward(self, images: Tensor) -> Tensor:
        """Extract pooled features.

        Args:
            images: (B, 3, 224, 224) RGB crops; DECA feeds values in [0, 1] without normalisation.

        Returns:
            (B, 2048) features, on the device and dtype of the parameters.

        Raises:
            ShapeError: if ``images`` is not (B, 3, 224, 224).
        """
        check_crop(images)
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        # (B, 2048, 7, 7) -> (B, 2048): DECA's AvgPool2d(7, stride=1) + flatten.
        return F.avg_pool2d(x, _POOL_SIZE, stride=1).flatten(1)


def check_crop(images: Tensor) -> None:
    """Raise :class:`ShapeError` unless ``images`` is a (B, 3, 224, 224) batch of crops.

    Args:
        images: the tensor to check.

    Raises:
        ShapeError: naming the expected and the actual shape.
    """
    shape = tuple(getattr(images, "shape", ()))
    if len(shape) != 4 or shape[1] != 3 or shape[2:] != (CROP_SIZE, CROP_SIZE):
        raise ShapeError(
            f"images: expected (B, 3, {CROP_SIZE}, {CROP_SIZE}) RGB crops, got {shape}; the encoders take "
            f"{CROP_SIZE}×{CROP_SIZE} crops (their 7×7 average pool fixes the size): crop and resize "
            "the face first (pydeca.detect), and add a batch dimension for a single image"
        )
