"""The One-Euro filter: constants pass unchanged, noise shrinks by the predicted factor, bounded lag."""

from __future__ import annotations

import numpy as np
import pytest

from pydeca.apps.smoothing import CODE_SMOOTHING, OneEuroFilter, lag_bound, smooth_sequence

RATE = 30.0


def test_constant_stays_constant():
    x = np.broadcast_to(np.array([[0.3, -1.2, 5.0]]), (50, 3))
    np.testing.assert_array_equal(smooth_sequence(x, RATE, 1.0, beta=0.5), x)


def test_first_sample_passes_and_reset():
    f = OneEuroFilter(RATE, min_cutoff=1.0)
    np.testing.assert_array_equal(f(np.array([2.0, 3.0])), [2.0, 3.0])
    f(np.array([4.0, 4.0]))
    f.reset()
    np.testing.assert_array_equal(f(np.array([-1.0, 0.0])), [-1.0, 0.0])
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuroFilter(RATE, min_cutoff=0.0)


def test_noise_variance_reduced_by_predicted_factor():
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 1.0, (4000, 8))
    out = smooth_sequence(noise, RATE, min_cutoff=1.0, beta=0.0)[200:]
    alpha = 1.0 / (1.0 + RATE / (2 * np.pi * 1.0))
    predicted = alpha / (2.0 - alpha)  # variance ratio of an exponential smoother: ≈ 0.095
    ratio = out.var() / noise[200:].var()
    assert ratio == pytest.approx(predicted, rel=0.15)
    assert ratio < 0.12  # at least 8× less variance


def test_adaptive_filter_still_reduces_noise_with_the_app_defaults():
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, 0.02, (3000, 6))  # 0.02 rad pose jitter
    cfg = CODE_SMOOTHING["pose"]
    out = smooth_sequence(noise, RATE, cfg.min_cutoff, cfg.beta, cfg.d_cutoff)[100:]
    assert out.var() < 0.25 * noise.var()


@pytest.mark.parametrize(("min_cutoff", "beta"), [(1.0, 0.0), (1.5, 0.0), (1.5, 0.3), (3.0, 1.0)])
def test_lag_on_a_ramp_is_bounded(min_cutoff, beta):
    t = np.arange(300)
    ramp = (0.01 * t)[:, None]  # 0.3 units/s
    out = smooth_sequence(ramp, RATE, min_cutoff, beta)[:, 0]
    lag_frames = (ramp[-1, 0] - out[-1]) / 0.01  # steady-state delay in frames
    bound = lag_bound(RATE, min_cutoff)
    assert 0.0 < lag_frames <= bound + 1e-6
    if beta == 0.0:
        assert lag_frames == pytest.approx(bound, rel=0.01)  # r / (2π f) exactly
    # every output lags the input by at most the bound (never overshoots, never falls further back)
    assert np.all(out <= ramp[:, 0] + 1e-12)
    assert np.all(ramp[:, 0] - out <= 0.01 * bound + 1e-9)


def test_turning_point_delay_bounded():
    t = np.arange(120)
    yaw = 0.5 * np.sin(2 * np.pi * t / 60.0)  # peak at frame 15
    cfg = CODE_SMOOTHING["pose"]
    out = smooth_sequence(yaw[:, None], RATE, cfg.min_cutoff, cfg.beta)[:, 0]
    delay = int(np.argmax(out[:45])) - int(np.argmax(yaw[:45]))
    assert 0 <= delay <= np.ceil(lag_bound(RATE, cfg.min_cutoff))  # ≤ 4 frames at 30 fps
