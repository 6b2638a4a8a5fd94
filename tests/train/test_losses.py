"""Tests of pydeca.train.losses: zero at ground truth, hand-computed values, gradients, fixed bugs."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn
from torch.autograd import gradcheck

from pydeca.errors import ShapeError
from pydeca.train import losses as L

F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _rand(*shape: int, seed: int = 0, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.rand(*shape, generator=_gen(seed), dtype=dtype)


def _landmarks(batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(pred, target) with target = pred plus a confidence column of ones."""
    pred = _rand(batch, 68, 2, seed=seed) * 2 - 1
    target = torch.cat([pred, torch.ones(batch, 68, 1, dtype=F64)], dim=-1)
    return pred, target


# --- landmark weights and loss -----------------------------------------------------------------


def test_landmark_weights_as_documented() -> None:
    w = L.landmark_weights()
    expected = torch.ones(68)
    expected[[5, 6, 10, 11]] = 2.0
    expected[27:36] = 1.5
    expected[[30, 31, 35]] = 3.0
    expected[48:68] = 1.5
    expected[[48, 54]] = 3.0
    torch.testing.assert_close(w, expected)
    # 35 ones + 4·2 (jaw) + 6·1.5 + 3·3 (nose) + 18·1.5 + 2·3 (mouth) = 35 + 8 + 9 + 9 + 27 + 6
    assert float(w.sum()) == 94.0
    assert L.landmark_weights(dtype=F64).dtype == F64


def test_weighted_landmark_loss_hand_computed() -> None:
    pred = torch.zeros(1, 68, 2)
    target = torch.zeros(1, 68, 3)
    target[..., 2] = 1.0
    target[0, 30, 0] = 0.2  # weight 3: contributes 3 · 0.2 = 0.6
    target[0, 0, 1] = -0.4  # weight 1: contributes 1 · 0.4 = 0.4
    target[0, 5, 2] = 0.0  # confidence 0 removes weight 2 from the denominator
    loss = L.weighted_landmark_loss(pred, target, L.landmark_weights())
    expected = (0.6 + 0.4) / (2 * (94.0 - 2.0) + 1e-8)
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    # unweighted variant, 2-column target: (0.2 + 0.4) / (2 · 68)
    loss_u = L.weighted_landmark_loss(pred, target[..., :2])
    assert float(loss_u) == pytest.approx(0.6 / 136, rel=1e-6)


def test_weighted_landmark_loss_leaves_target_unchanged() -> None:
    pred, target = _landmarks()
    pred = pred + 0.1
    before = target.clone()
    loss = L.weighted_landmark_loss(pred, target, L.landmark_weights(dtype=F64))
    assert loss > 0
    assert torch.equal(target, before)


def test_weighted_landmark_loss_zero_at_ground_truth() -> None:
    pred, target = _landmarks()
    assert float(L.weighted_landmark_loss(pred, target, L.landmark_weights(dtype=F64))) == 0.0


def test_weighted_landmark_loss_rejects_bad_shapes() -> None:
    with pytest.raises(ShapeError):
        L.weighted_landmark_loss(torch.zeros(2, 68, 2), torch.zeros(2, 68, 4))
    with pytest.raises(ShapeError):
        L.weighted_landmark_loss(torch.zeros(2, 68, 2), torch.zeros(3, 68, 3))


# --- eyes and lips -----------------------------------------------------------------------------


def test_eye_and_lip_pairs_as_documented() -> None:
    assert L.EYE_PAIRS == ((37, 41), (38, 40), (43, 47), (44, 46))
    assert L.LIP_PAIRS == ((61, 67), (62, 66), (63, 65))


def test_eye_closure_hand_computed() -> None:
    pred = torch.zeros(1, 68, 2)
    target = torch.zeros(1, 68, 2)
    target[0, 37] = torch.tensor([0.0, -0.3])  # upper lid 0.3 above the lower one (41)
    pred[0, 44] = torch.tensor([0.4, 0.0])  # pred lid pair (44, 46) 0.4 apart
    target[0, 61, 1] = 0.5  # a lip point moving must not change the eye loss
    # |0 − 0.3| + |0.4 − 0| over 4 pairs
    assert float(L.eye_closure_loss(pred, target)) == pytest.approx(0.7 / 4)
    # lips: only pair (61, 67) differs, by 0.5, over 3 pairs
    assert float(L.lip_closure_loss(pred, target)) == pytest.approx(0.5 / 3)


@pytest.mark.parametrize("loss", [L.eye_closure_loss, L.lip_closure_loss])
def test_closure_gradient_finite_at_coincident_points(loss) -> None:
    pred = torch.zeros(2, 68, 2, requires_grad=True)  # every pair coincides
    target = _rand(2, 68, 3, dtype=torch.float32)
    loss(pred, target).backward()
    assert torch.isfinite(pred.grad).all()


@pytest.mark.parametrize("loss", [L.eye_closure_loss, L.lip_closure_loss])
def test_closure_zero_at_ground_truth_positive_else(loss) -> None:
    pred, target = _landmarks()
    assert float(loss(pred, target)) == 0.0
    assert float(loss(pred * 1.5, target)) > 0.0


# --- image terms -------------------------------------------------------------------------------


def test_photometric_loss_hand_computed() -> None:
    image = torch.zeros(1, 3, 2, 2)
    pred = image.clone()
    pred[0, :, 0, 0] = 0.5  # error 0.5 in 3 channels at a masked-in pixel
    pred[0, :, 1, 1] = 0.9  # masked-out pixel: ignored
    mask = torch.tensor([[[1.0, 1.0], [1.0, 0.0]]])
    assert float(L.photometric_loss(pred, image, mask)) == pytest.approx(3 * 0.5 / 12)
    assert float(L.photometric_loss(image, image, mask)) == 0.0


def test_identity_loss() -> None:
    f = _rand(3, 8) - 0.5
    assert float(L.identity_loss(f, 2.0 * f)) == pytest.approx(0.0, abs=1e-12)
    assert float(L.identity_loss(f, -f)) == pytest.approx(2.0)
    assert float(L.identity_loss(f, f.flip(0))) > 0.0


def test_vggface2_preprocess() -> None:
    images = torch.zeros(1, 3, 224, 224)
    images[:, 0] = 1.0  # pure red → BGR channel 2 = 255
    images[:, :, :10] = 0.5  # the top 10 rows are cropped away
    x = L.vggface2_preprocess(images)
    assert x.shape == (1, 3, 224, 224)
    # constant after the crop, so the resize keeps it: 2 · (v − mean) − 1
    b, g, r = L.VGGFACE2_MEAN_BGR
    expected = torch.tensor([2 * (0 - b) - 1, 2 * (0 - g) - 1, 2 * (255 - r) - 1])
    torch.testing.assert_close(x[0].amin(dim=(1, 2)), expected)
    torch.testing.assert_close(x[0].amax(dim=(1, 2)), expected)


# --- regularisers ------------------------------------------------------------------------------


def test_code_regularisers() -> None:
    code = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    for reg in (L.shape_reg, L.expression_reg, L.albedo_reg):
        assert float(reg(code)) == pytest.approx(7.0)  # (1 + 4 + 9) / 2
        assert float(reg(torch.zeros(2, 5))) == 0.0


def test_light_reg() -> None:
    white = torch.ones(2, 9, 1).expand(2, 9, 3) * _rand(2, 9, 1, dtype=torch.float32)
    assert float(L.light_reg(white)) == pytest.approx(0.0, abs=1e-12)
    light = torch.zeros(1, 9, 3)
    light[0, 0] = torch.tensor([3.0, 0.0, 0.0])  # mean 1: squares 4, 1, 1 over 27 entries
    assert float(L.light_reg(light)) == pytest.approx(6.0 / 27)


def test_jaw_regularisers() -> None:
    jaw = torch.tensor([[0.3, 0.1, 0.2], [-0.5, 0.0, -0.4]])
    assert float(L.jaw_roll_reg(jaw)) == pytest.approx((0.04 + 0.16) / 2)
    assert float(L.jaw_close_reg(jaw)) == pytest.approx(0.25 / 2)  # only the negative x counts
    assert float(L.jaw_close_reg(jaw.abs())) == 0.0


# --- consistency -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_consistency_permutation_stays_within_identity(seed: int) -> None:
    g = _gen(seed)
    n_ids = int(torch.randint(1, 6, (1,), generator=g))
    counts = torch.randint(1, 6, (n_ids,), generator=g)  # uneven K, like a short last batch
    ids = torch.repeat_interleave(torch.randperm(n_ids, generator=g) * 7, counts)
    ids = ids[torch.randperm(ids.shape[0], generator=g)]  # identities interleaved
    perm = L.consistency_permutation(ids, g)
    assert perm.dtype == torch.int64
    assert torch.equal(torch.sort(perm).values, torch.arange(ids.shape[0]))
    assert torch.equal(ids[perm], ids)


def test_consistency_permutation_reproducible_and_mixes() -> None:
    ids = torch.arange(8).repeat_interleave(4)
    a = L.consistency_permutation(ids, _gen(3))
    assert torch.equal(a, L.consistency_permutation(ids, _gen(3)))
    assert not torch.equal(a, torch.arange(32))


def test_swap_codes_and_repeat_batch() -> None:
    code = torch.arange(4.0)[:, None] * torch.ones(1, 3)
    perm = torch.tensor([1, 0, 2, 3])
    doubled = L.swap_codes(code, perm)
    assert doubled.shape == (8, 3)
    torch.testing.assert_close(doubled[:4], code)
    torch.testing.assert_close(doubled[4:, 0], torch.tensor([1.0, 0.0, 2.0, 3.0]))
    assert L.repeat_batch(torch.zeros(4, 2, 5)).shape == (8, 2, 5)


# --- detail stage ------------------------------------------------------------------------------


def test_detail_photometric_loss() -> None:
    tex = _rand(2, 3, 4, 4)
    vis = (_rand(2, 1, 4, 4, seed=1) > 0.5).to(F64)
    assert float(L.detail_photometric_loss(tex, tex, vis)) == 0.0
    other = tex + 0.1
    expected = 0.1 * float(vis.sum()) * 3 / tex.numel()
    assert float(L.detail_photometric_loss(other, tex, vis)) == pytest.approx(expected)


def test_z_reg_and_z_diff() -> None:
    assert float(L.z_reg(torch.zeros(1, 1, 4, 4))) == 0.0
    assert float(L.z_reg(torch.full((1, 1, 4, 4), -0.5))) == pytest.approx(0.5)
    assert float(L.z_diff(torch.ones(1, 3, 5, 5))) == 0.0
    # a y-ramp (rows 0, 1, 2, ...): dy = 1 everywhere, dx = 0
    ramp = torch.arange(5.0)[:, None].expand(1, 1, 5, 5)
    assert float(L.z_diff(ramp)) == pytest.approx(1.0)
    # a spike in a corner is in neither the x-gradients (interior rows) nor the y-gradients
    # (interior columns)
    border = torch.zeros(1, 1, 5, 5)
    border[0, 0, 0, 0] = 1.0
    assert float(L.z_diff(border)) == 0.0


def test_z_symmetry_erosion_and_sum() -> None:
    uv_z = torch.zeros(1, 1, 8, 8)
    assert float(L.z_symmetry(uv_z, torch.ones(1, 1, 8, 8))) == 0.0
    uv_z[0, 0, 3, 1] = 1.0  # asymmetric: |z − flip(z)| = 1 at columns 1 and 6 of row 3
    # all visible: the 5×5 erosion with a not-visible border leaves only rows/cols 2..5 visible,
    # so columns 1 and 6 are outside it and both count: sum = 2
    assert float(L.z_symmetry(uv_z, torch.ones(1, 1, 8, 8))) == pytest.approx(2.0)
    # fractional visibility counts as visible; a 8×8 map fully visible only at its centre
    big = torch.zeros(1, 1, 12, 12)
    big[0, 0, 5, 5] = 1.0  # asymmetric at columns 5 and 6 (flip of 5 in width 12)
    assert float(L.z_symmetry(big, torch.full((1, 1, 12, 12), 0.3))) == 0.0
    assert float(L.z_symmetry(big, torch.zeros(1, 1, 12, 12))) == pytest.approx(2.0)


def test_z_symmetry_gradient_only_through_unflipped() -> None:
    # (no gradcheck: finite differences also move the detached mirror term)
    uv_z = _rand(1, 1, 6, 6).requires_grad_()
    L.z_symmetry(uv_z, torch.zeros(1, 1, 6, 6)).backward()
    diff = uv_z.detach() - uv_z.detach().flip(-1)
    torch.testing.assert_close(uv_z.grad, torch.sign(diff))


# --- ID-MRF ------------------------------------------------------------------------------------


def _features(image: torch.Tensor) -> list[torch.Tensor]:
    """A seeded random two-layer conv net standing in for VGG19 (tanh, not ReLU: with 8 random channels
    ReLU often leaves one active channel, so distinct positions share a direction — true duplicates)."""
    torch.manual_seed(0)
    conv1 = nn.Conv2d(3, 8, 3, padding=1).to(image.dtype)
    conv2 = nn.Conv2d(8, 16, 3, padding=1, stride=2).to(image.dtype)
    f1 = torch.tanh(conv1(image))
    return [f1, torch.tanh(conv2(f1))]


def test_id_mrf_identical_minimal_different_larger() -> None:
    image = _rand(2, 3, 8, 8)
    with torch.no_grad():
        same = L.id_mrf_loss(_features(image), _features(image), L.ID_MRF_LAYER_WEIGHTS)
        other = L.id_mrf_loss(_features(_rand(2, 3, 8, 8, seed=5)), _features(image), L.ID_MRF_LAYER_WEIGHTS)
    assert float(same) == pytest.approx(0.0, abs=1e-6)
    assert float(other) > 0.1


def test_id_mrf_hand_computed_orthogonal() -> None:
    # 2 positions with orthogonal centred features; gen swaps them → every target still finds its
    # exact match among the gen positions (max over gen), so the loss is ≈ 0.
    t = torch.tensor([[[[1.0, -1.0]], [[-1.0, 1.0]]]], dtype=F64)  # (1, 2, 1, 2), channel mean 0
    assert float(L.id_mrf_layer(t.flip(-1), t)) == pytest.approx(0.0, abs=1e-9)
    # both gen positions equal target position 0 (d = 0 → r = 0) and are opposite to target 1
    # (d = 1 → r = 1e5 → weight e^(−2e5) ≈ 0): max_i w_i0 = 1, max_i w_i1 ≈ 0 → −log(1/2) = log 2
    g = torch.cat([t[..., :1], t[..., :1]], dim=-1)
    assert float(L.id_mrf_layer(g, t)) == pytest.approx(math.log(2.0), abs=1e-6)


def test_id_mrf_identical_same_in_float32_and_float64() -> None:
    feats = _rand(1, 4, 4, 4)
    feats[..., 2:, :] = 0.25  # a masked-out region: identical features at 8 positions
    lo = L.id_mrf_layer(feats.float(), feats.float())
    hi = L.id_mrf_layer(feats, feats)
    assert float(lo) == pytest.approx(float(hi), abs=1e-6)
    assert torch.isfinite(L.id_mrf_layer(torch.zeros(1, 4, 3, 3), torch.zeros(1, 4, 3, 3)))


def test_id_mrf_masked_region_stable_across_dtypes() -> None:
    # the bottom half of the target is one repeated feature (a masked-out region); the top half of
    # gen is slightly perturbed. Without the snap of d < 1e-6 the float32 value moved by ~5e-5 here.
    target = _rand(1, 16, 6, 6)
    target[..., 3:, :] = _rand(1, 16, 1, 1, seed=100)
    top = (torch.arange(6) < 3).to(F64).view(1, 1, 6, 1)
    gen = target + 0.01 * torch.randn(1, 16, 6, 6, generator=_gen(200), dtype=F64) * top
    lo = L.id_mrf_layer(gen.float(), target.float())
    hi = L.id_mrf_layer(gen, target)
    assert float(lo) == pytest.approx(float(hi), abs=1e-6)


def test_id_mrf_rejects_mismatched_lists() -> None:
    f = [torch.zeros(1, 2, 2, 2)]
    with pytest.raises(ShapeError):
        L.id_mrf_loss(f, f + f)
    with pytest.raises(ShapeError):
        L.id_mrf_loss([], [])


# --- gradients -------------------------------------------------------------------------------


def _gradcheck_cases() -> list[tuple[str, object, tuple[torch.Tensor, ...]]]:
    pred, target = _landmarks(batch=1)
    pred = pred + 0.05 * _rand(1, 68, 2, seed=2)
    w = L.landmark_weights(dtype=F64)
    img = _rand(1, 3, 4, 4, seed=3)
    return [
        ("landmark", lambda p: L.weighted_landmark_loss(p, target, w), (pred,)),
        ("eye", lambda p: L.eye_closure_loss(p, target), (pred,)),
        ("lip", lambda p: L.lip_closure_loss(p, target), (pred,)),
        ("photo", lambda p: L.photometric_loss(p, img, _rand(1, 4, 4, seed=4)), (_rand(1, 3, 4, 4, seed=5),)),
        ("identity", lambda f: L.identity_loss(f, _rand(2, 6, seed=6)), (_rand(2, 6, seed=7),)),
        ("shape", L.shape_reg, (_rand(2, 5),)),
        ("light", L.light_reg, (_rand(1, 9, 3),)),
        ("jaw_roll", L.jaw_roll_reg, (_rand(2, 3) - 0.5,)),
        ("jaw_close", L.jaw_close_reg, (_rand(2, 3, seed=8) - 0.5,)),
        (
            "photo_detail",
            lambda t: L.detail_photometric_loss(t, img, _rand(1, 1, 4, 4, seed=9)),
            (img + 0.1,),
        ),
        ("z_reg", L.z_reg, (_rand(1, 1, 4, 4) - 0.5,)),
        ("z_diff", L.z_diff, (_rand(1, 2, 4, 4),)),
        ("swap", lambda c: L.swap_codes(c, torch.tensor([1, 0])), (_rand(2, 3),)),
        ("id_mrf", lambda g: L.id_mrf_layer(g, _rand(1, 4, 3, 3, seed=10)), (_rand(1, 4, 3, 3, seed=11),)),
    ]


@pytest.mark.parametrize(
    ("name", "fn", "inputs"), _gradcheck_cases(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_gradcheck(name: str, fn, inputs: tuple[torch.Tensor, ...]) -> None:
    inputs = tuple(x.detach().clone().requires_grad_() for x in inputs)
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5), name


@pytest.mark.parametrize(
    ("fn", "args"),
    [
        (L.weighted_landmark_loss, (torch.zeros(1, 68, 2), torch.zeros(1, 68, 3))),
        (L.photometric_loss, (torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), torch.ones(1, 2, 2))),
        (L.light_reg, (torch.zeros(1, 9, 3),)),
        (L.z_symmetry, (torch.zeros(1, 1, 6, 6), torch.ones(1, 1, 6, 6))),
    ],
)
def test_scalar_outputs(fn, args) -> None:
    assert fn(*args).shape == ()


def test_loss_weights_defaults_frozen() -> None:
    w = L.LossWeights()
    assert (w.landmark, w.eye, w.lip, w.photo, w.identity) == (1.0, 1.0, 0.5, 2.0, 0.2)
    assert (w.shape, w.expression, w.albedo, w.light) == (1e-4, 1e-4, 1e-4, 1.0)
    assert (w.photo_detail, w.mrf, w.z_reg, w.z_diff, w.z_symmetry) == (2.0, 5e-2, 5e-3, 5e-3, 5e-3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.landmark = 2.0  # type: ignore[misc]
