"""The one identity of a video (``pydeca.apps.video_identity``): means, batched E_detail, bad rows."""

from __future__ import annotations

import pytest
import torch

from pydeca.apps.video_identity import IdentityMean
from pydeca.nets import Codes


class _Detail:
    """Stand-in for E_detail: row i of a batch is the crop's mean value; records each batch size."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, crops: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(crops))
        return crops.mean(dim=(1, 2, 3))[:, None].expand(-1, 128).clone()


def _codes(value: float) -> Codes:
    sizes = (100, 50, 50, 6, 3)
    return Codes(*(torch.full((1, n), value) for n in sizes), torch.full((1, 9, 3), value))


def test_identity_is_the_mean_and_details_run_in_batches():
    detail = _Detail()
    mean = IdentityMean(detail, batch_size=2)
    for value in (1.0, 2.0, 6.0):
        mean.add(_codes(value), torch.full((1, 3, 4, 4), value * 10))
    assert detail.batches == [2]  # the third crop waits for a full batch (or for mean())
    identity = mean.mean()
    assert detail.batches == [2, 1]
    torch.testing.assert_close(identity.shape, torch.full((1, 100), 3.0))
    torch.testing.assert_close(identity.tex, torch.full((1, 50), 3.0))
    torch.testing.assert_close(identity.detail, torch.full((1, 128), 30.0))
    for key in ("exp", "pose", "cam", "light"):  # motion and light are not part of the identity
        assert not getattr(identity, key).any(), key
    assert mean.frames == 3


def test_non_finite_detail_codes_are_left_out():
    mean = IdentityMean(_Detail(), batch_size=4)
    mean.add(_codes(1.0), torch.full((1, 3, 4, 4), 2.0))
    mean.add(_codes(1.0), torch.full((1, 3, 4, 4), float("nan")))
    identity = mean.mean()
    assert mean.details == 1
    torch.testing.assert_close(identity.detail, torch.full((1, 128), 2.0))
    only_bad = IdentityMean(_Detail(), batch_size=4)
    only_bad.add(_codes(1.0), torch.full((1, 3, 4, 4), float("inf")))
    assert not only_bad.mean().detail.any()  # no finite detail code: zeros


def test_mean_needs_a_frame():
    with pytest.raises(ValueError, match="no frame"):
        IdentityMean(_Detail(), batch_size=1).mean()
