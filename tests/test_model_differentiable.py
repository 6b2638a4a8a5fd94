"""The training path: ``DECA.encode_differentiable`` + ``decode`` carry gradients; ``encode`` does not."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(11))


@pytest.fixture
def model(reference_model):
    """The session model, with every ``.grad`` cleared afterwards (it is shared by other tests)."""
    yield reference_model
    reference_model.zero_grad(set_to_none=True)


def test_loss_on_decoded_outputs_reaches_the_first_encoder_convolution(model, images) -> None:
    codes = model.encode_differentiable(images)
    rec = model.decode(codes, use_detail=True)
    loss = rec.vertices.square().mean() + rec.landmarks2d.abs().mean() + rec.detail.uv_z.square().mean()
    loss.backward()
    first_conv = model.E_flame.encoder.conv1.weight
    assert first_conv.grad is not None
    assert first_conv.grad.shape == (64, 3, 7, 7)
    assert bool(torch.isfinite(first_conv.grad).all())
    assert float(first_conv.grad.abs().max()) > 0.0
    detail_conv = model.E_detail.encoder.conv1.weight  # reached through uv_z (D_detail)
    assert detail_conv.grad is not None
    assert float(detail_conv.grad.abs().max()) > 0.0


def test_encode_is_inference_only_and_equals_the_differentiable_path(model, images) -> None:
    codes = model.encode(images)
    assert codes.shape.is_inference()
    assert not codes.shape.requires_grad
    with torch.no_grad():
        same = model.encode_differentiable(images)
    for name in ("shape", "tex", "exp", "pose", "cam", "light", "detail"):
        torch.testing.assert_close(getattr(same, name), getattr(codes, name), rtol=0, atol=0)
