"""Crop-NDC points → photo pixels (``pydeca.detect.crop.crop_ndc_to_photo_px``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pydeca.detect.crop import crop_ndc_to_photo_px, crop_transform
from pydeca.errors import ShapeError


def test_hand_computed_against_a_known_crop() -> None:
    # T = crop_transform(centre (300, 200), size 446): s = 223/446 = 0.5, (l, t) = (77, −23),
    # T = [[0.5, 0, −38.5], [0, 0.5, 11.5], [0, 0, 1]].
    # NDC (0, 0) → crop px ((0+1)·224 − 1)/2 = 111.5
    #   → photo x = (111.5 + 38.5)/0.5 = 300, y = (111.5 − 11.5)/0.5 = 200
    # NDC (−1, 1) → crop px (−0.5, 223.5) → photo (76, 424)
    # NDC (0.5, −0.25) → crop px (167.5, 83.5) → photo (412, 144)
    tform = crop_transform([300.0, 200.0], 446.0)
    np.testing.assert_allclose(tform, [[0.5, 0, -38.5], [0, 0.5, 11.5], [0, 0, 1]], atol=1e-12)
    ndc = np.array([[0.0, 0.0, 0.3], [-1.0, 1.0, -0.2], [0.5, -0.25, 0.0]])
    photo = crop_ndc_to_photo_px(ndc, tform)
    assert photo.shape == (3, 2)
    assert photo.dtype == np.float64
    np.testing.assert_allclose(photo, [[300.0, 200.0], [76.0, 424.0], [412.0, 144.0]], atol=1e-9)


def test_batched_torch_input_uses_each_transform() -> None:
    tforms = np.stack([crop_transform([300.0, 200.0], 446.0), crop_transform([112.0, 112.0], 223.0)])
    ndc = torch.tensor([[[0.0, 0.0], [0.5, -0.25]], [[0.0, 0.0], [-1.0, -1.0]]], dtype=torch.float32)
    photo = crop_ndc_to_photo_px(ndc, torch.from_numpy(tforms))
    assert photo.shape == (2, 2, 2)
    assert photo.dtype == np.float64
    # second crop is the identity on a 224² photo (s = 1, l = t = 0.5 → T = [[1, 0, −0.5], ...])
    np.testing.assert_allclose(photo[0], [[300.0, 200.0], [412.0, 144.0]], atol=1e-6)
    np.testing.assert_allclose(photo[1], [[112.0, 112.0], [0.0, 0.0]], atol=1e-6)


def test_matches_projection_through_the_similarity_itself() -> None:
    # mapping the result forward with T gives back the crop pixels of the NDC input
    rng = np.random.default_rng(0)
    tform = crop_transform(rng.uniform(100, 900, (4, 2)), rng.uniform(80, 700, 4))
    ndc = rng.uniform(-1.2, 1.2, (4, 68, 3))
    photo = crop_ndc_to_photo_px(ndc, tform)
    crop_px = photo @ tform[:, :2, :2].transpose(0, 2, 1) + tform[:, None, :2, 2]
    np.testing.assert_allclose(crop_px, ((ndc[..., :2] + 1.0) * 224 - 1.0) / 2.0, atol=1e-9)


def test_shape_errors_name_the_argument() -> None:
    with pytest.raises(ShapeError, match="tform"):
        crop_ndc_to_photo_px(np.zeros((2, 5, 2)), np.eye(3)[None])
    with pytest.raises(ShapeError, match="points_ndc"):
        crop_ndc_to_photo_px(np.zeros((1, 5, 1)), np.eye(3)[None])
