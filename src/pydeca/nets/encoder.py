"""DECA's image encoders E_flame and E_detail: ResNet-50 features → 2-layer MLP regressor.

``ResnetEncoder(236)`` is E_flame (FLAME, albedo, camera and light codes), ``ResnetEncoder(128)`` is
E_detail (detail code). Their ``state_dict()`` keys, shapes and dtypes are those of DECA's released
``deca_model.tar`` (reference §1.9, 322 entries each), so the checkpoint loads strictly.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from .resnet import RESNET50_FEATURES, Bottleneck, FactoryKwargs, ResNet50Backbone

__all__ = ["HIDDEN_FEATURES", "ResnetEncoder", "fuse_conv_bn"]

HIDDEN_FEATURES = 1024
"""Width of the regressor's hidden layer."""


class ResnetEncoder(nn.Module):
    """ResNet-50 backbone + MLP: (B, 3, 224, 224) crop → (B, N) code vector.

    Submodules (the checkpoint's names): ``encoder`` (:class:`ResNet50Backbone`) and ``layers`` =
    ``Sequential(Linear(2048, 1024), ReLU, Linear(1024, N))``; no output activation (reference §2.2).

    Args:
        out_features: N, the code width (236 for E_flame, 128 for E_detail; see
            :data:`pydeca.constants.NUM_FLAME_CODE`, :data:`pydeca.constants.NUM_DETAIL`).
        device: device of the parameters.
        dtype: floating dtype of the parameters.

    Example:
        >>> enc = ResnetEncoder(128).eval()
        >>> enc(torch.rand(2, 3, 224, 224)).shape
        torch.Size([2, 128])
    """

    def __init__(
        self,
        out_features: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        kw: FactoryKwargs = {"device": device, "dtype": dtype}
        self.out_features = out_features
        self.encoder = ResNet50Backbone(**kw)
        self.layers = nn.Sequential(
            nn.Linear(RESNET50_FEATURES, HIDDEN_FEATURES, **kw),
            nn.ReLU(),
            nn.Linear(HIDDEN_FEATURES, out_features, **kw),
        )
        self._channels_last = False
        self._fused = False

    def forward(self, images: Tensor) -> Tensor:
        """Regress the code vector.

        Args:
            images: (B, 3, 224, 224) RGB crops in [0, 1] (DECA applies no mean/std normalisation).

        Returns:
            (B, N) codes, on the device and dtype of the parameters.

        Raises:
            ShapeError: if ``images`` is not (B, 3, 224, 224).
        """
        if self._channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.layers(self.encoder(images))

    def use_channels_last(self, enabled: bool = True) -> ResnetEncoder:
        """Store the convolution weights (and run the activations) channels-last, in place.

        Values, parameter names and the ``state_dict`` are unchanged (only the memory layout);
        with oneDNN on the CPU it is ~17% faster (``benchmarks/bench_encode.py``: batch 8, 94 →
        78 ms per image for both encoders on the 2-core x86-64 CI machine). Every parameter and
        buffer is copied once into memory the module owns, so weights that were views of a
        memory-mapped checkpoint file no longer keep its pages resident.

        Returns:
            ``self``.
        """
        layout = torch.channels_last if enabled else torch.contiguous_format
        with torch.no_grad():
            for tensor in (*self.parameters(), *self.buffers()):
                tensor.data = tensor.data.clone(
                    memory_format=layout if tensor.ndim == 4 else torch.contiguous_format
                )
        self._channels_last = enabled
        return self

    @property
    def is_fused(self) -> bool:
        """Whether this is an inference copy made by :meth:`fuse_for_inference`."""
        return self._fused

    def fuse_for_inference(self, *, channels_last: bool = True) -> ResnetEncoder:
        """Return a copy for fast inference: BatchNorm folded into the convolutions, eval mode.

        Every ``conv → BatchNorm`` pair becomes one convolution with bias, the folded weights being
        computed in float64 from this module's eval-mode statistics and rounded once to the parameter
        dtype, so outputs agree with ``self.eval()`` to float32 rounding (about 1e-6 relative;
        ``benchmarks/bench_encode.py`` measures it and the speed: on the 2-core x86-64 CI machine, batch
        1, 96 ms → 79 ms per image for both encoders with channels-last; :class:`~pydeca.model.DECA`
        keeps the checkpoint modules, a single copy of the weights). This module, its parameters
        and its ``state_dict`` are left untouched; the copy has other state-dict keys (no BatchNorm
        entries, conv biases) and no gradients, and is meant for inference only.

        Args:
            channels_last: also store conv weights and run activations in ``channels_last`` memory
                format (faster with oneDNN on CPU; results are unchanged beyond rounding).

        Returns:
            A new :class:`ResnetEncoder` in eval mode with ``is_fused == True``.
        """
        fused = copy.deepcopy(self).eval().requires_grad_(False)
        if not fused._fused:
            backbone = fused.encoder
            backbone.conv1, backbone.bn1 = _fuse_pair(backbone.conv1, backbone.bn1), nn.Identity()
            for block in backbone.modules():
                if isinstance(block, Bottleneck):
                    block.conv1, block.bn1 = _fuse_pair(block.conv1, block.bn1), nn.Identity()
                    block.conv2, block.bn2 = _fuse_pair(block.conv2, block.bn2), nn.Identity()
                    block.conv3, block.bn3 = _fuse_pair(block.conv3, block.bn3), nn.Identity()
                    if block.downsample is not None:
                        conv, bn = block.downsample[0], block.downsample[1]
                        block.downsample = nn.Sequential(_fuse_pair(conv, bn), nn.Identity())
            fused._fused = True
        return fused.use_channels_last(channels_last)


def _fuse_pair(conv: nn.Module, bn: nn.Module) -> nn.Conv2d:
    """:func:`fuse_conv_bn` of a backbone's ``conv → BatchNorm`` pair (TypeError for other layers)."""
    if not isinstance(conv, nn.Conv2d) or not isinstance(bn, nn.BatchNorm2d):
        raise TypeError(f"expected Conv2d → BatchNorm2d, got {type(conv).__name__} → {type(bn).__name__}")
    return fuse_conv_bn(conv, bn)


def _pair(values: tuple[int, ...]) -> tuple[int, int]:
    """A 2-D convolution's ``(h, w)`` setting (torch stores them as ``tuple[int, ...]``)."""
    height, width = values
    return height, width


def _cpu64(tensor: torch.Tensor | None) -> torch.Tensor:
    """A detached float64 CPU copy of ``tensor`` (moved to the CPU first, then cast)."""
    if tensor is None:
        raise ValueError("_cpu64: expected a tensor")
    return tensor.detach().cpu().to(torch.float64)


def fuse_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """Fold an eval-mode BatchNorm into the preceding convolution (computed in float64 on the CPU).

    ``bn(conv(x)) = γ (W x + b − μ) / sqrt(σ² + ε) + β = W' x + b'`` with
    ``W' = W · γ / sqrt(σ² + ε)`` (per output channel) and ``b' = (b − μ) · γ / sqrt(σ² + ε) + β``.

    Args:
        conv: a 2-D convolution (with or without bias).
        bn: the BatchNorm2d applied to its output; its running statistics are used.

    Returns:
        A new ``nn.Conv2d`` with bias, on the device and dtype of ``conv.weight``; the inputs are
        not modified.
    """
    weight = conv.weight.detach()
    fused = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        _pair(conv.kernel_size),
        stride=_pair(conv.stride),
        padding=conv.padding if isinstance(conv.padding, str) else _pair(conv.padding),
        dilation=_pair(conv.dilation),
        groups=conv.groups,
        bias=True,
        padding_mode=conv.padding_mode,
        device=weight.device,
        dtype=weight.dtype,
    )
    # the fold runs in float64 on the CPU (MPS has no float64); results are cast, then moved
    w64 = _cpu64(weight)
    b64 = _cpu64(conv.bias) if conv.bias is not None else w64.new_zeros(conv.out_channels)
    gamma = _cpu64(bn.weight) if bn.weight is not None else w64.new_ones(conv.out_channels)
    beta = _cpu64(bn.bias) if bn.bias is not None else w64.new_zeros(conv.out_channels)
    running_mean, running_var = _cpu64(bn.running_mean), _cpu64(bn.running_var)
    scale = gamma * torch.rsqrt(running_var + bn.eps)
    with torch.no_grad():
        fused.weight.copy_((w64 * scale.reshape(-1, 1, 1, 1)).to(weight.dtype))
        fused.get_parameter("bias").copy_(((b64 - running_mean) * scale + beta).to(weight.dtype))
    return fused
