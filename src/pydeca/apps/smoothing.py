"""Causal temporal smoothing of per-frame codes: the One-Euro filter, vectorised over dimensions.

The One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) is an exponential low-pass whose cutoff
rises with the signal's speed: slow motion (jitter) is smoothed hard, fast motion passes with little
lag. It is causal (each output depends on the current and past samples only), so it streams.

For a sample ``x_t`` at rate ``r`` (samples per second), with ``α(f) = 1 / (1 + r / (2π f))``:

    dx_t   = (x_t − x̂_{t−1}) · r                        raw speed
    dx̂_t  = α(d_cutoff) dx_t + (1 − α(d_cutoff)) dx̂_{t−1}
    f_t    = min_cutoff + beta · |dx̂_t|                  adaptive cutoff, Hz
    x̂_t   = α(f_t) x_t + (1 − α(f_t)) x̂_{t−1}

Every element of ``x`` has its own speed and cutoff (element-wise, no Python loop over elements).

Guarantees (pinned by tests/apps/test_smoothing.py):
    - a constant input is returned unchanged;
    - lag: on a ramp the steady-state delay is ``r / (2π f)`` frames with ``f ≥ min_cutoff``, so
      at most :func:`lag_bound` ``= r / (2π · min_cutoff)`` frames (``beta > 0`` only shortens it);
    - white noise of variance σ² around a constant leaves variance
      ``σ² α / (2 − α)`` with ``α = α(min_cutoff)`` when ``beta = 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from pydeca.constants import CROP_SIZE
from pydeca.errors import OptionError
from pydeca.geometry.camera import cam_from_photo, cam_to_photo

__all__ = [
    "CODE_SMOOTHING",
    "MAX_STRENGTH",
    "MotionSmoother",
    "OneEuroFilter",
    "SmoothingConfig",
    "check_strength",
    "lag_bound",
    "smooth_motion",
    "smooth_sequence",
]

MAX_STRENGTH = 100.0
"""Largest smoothing strength accepted: at 100 the lag bound is ≈ 318 frames (10 s at 30 fps)."""


def check_strength(strength: float, option: str = "smoothing") -> float:
    """The smoothing strength as a float, checked: finite, > 0 and ≤ :data:`MAX_STRENGTH`.

    Raises:
        OptionError: naming ``option`` and the valid range (0 would divide by zero, NaN would
            silently disable the filter).
    """
    try:
        value = float(strength)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 < value <= MAX_STRENGTH:
        raise OptionError(
            f"{option}: the strength must be a number > 0 and ≤ {MAX_STRENGTH:g}, got {strength!r}; "
            "1 is the default, larger is smoother"
        )
    return value


def _alpha(cutoff: np.ndarray | float, rate: float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass with ``cutoff`` Hz sampled at ``rate`` Hz."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau * rate)


def lag_bound(rate: float, min_cutoff: float) -> float:
    """Upper bound, in samples (frames), of the One-Euro filter's steady-state lag on a ramp."""
    return float(rate / (2.0 * math.pi * min_cutoff))


class OneEuroFilter:
    """One-Euro filter over arrays of any fixed shape (numpy float64 state).

    Args:
        rate: samples (frames) per second, > 0.
        min_cutoff: cutoff at zero speed, Hz (lower = smoother, more lag on slow motion).
        beta: speed coefficient, Hz per (unit of x per second) (higher = less lag on fast motion).
        d_cutoff: cutoff of the speed estimate, Hz.

    Raises:
        OptionError: a parameter is NaN, infinite or out of range.

    Example:
        >>> f = OneEuroFilter(rate=30.0, min_cutoff=1.0)
        >>> [round(float(f(np.array([v]))[0]), 3) for v in (0.0, 1.0, 1.0)]
        [0.0, 0.173, 0.316]
    """

    def __init__(
        self, rate: float, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0
    ) -> None:
        values = (rate, min_cutoff, beta, d_cutoff)
        if not all(math.isfinite(v) for v in values) or min(rate, min_cutoff, d_cutoff) <= 0 or beta < 0:
            raise OptionError(
                f"OneEuroFilter: need rate, min_cutoff, d_cutoff > 0 and beta >= 0, got rate={rate}, "
                f"min_cutoff={min_cutoff}, beta={beta}, d_cutoff={d_cutoff}"
            )
        self.rate, self.min_cutoff, self.beta, self.d_cutoff = (
            float(rate),
            float(min_cutoff),
            float(beta),
            float(d_cutoff),
        )
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the past (the next sample passes through unchanged)."""
        self._x = self._dx = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter one sample: ``x`` any shape (constant across calls) → smoothed array, float64."""
        x = np.asarray(x, dtype=np.float64)
        previous, slope = self._x, self._dx
        if previous is None or slope is None:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            return x.copy()
        if x.shape != previous.shape:
            raise ValueError(f"OneEuroFilter: sample shape changed from {previous.shape} to {x.shape}")
        a_d = _alpha(self.d_cutoff, self.rate)
        self._dx = slope = a_d * (x - previous) * self.rate + (1.0 - a_d) * slope
        a = _alpha(self.min_cutoff + self.beta * np.abs(slope), self.rate)
        self._x = previous + a * (x - previous)  # = a x + (1 − a) x̂, exact for a constant
        return self._x.copy()


def smooth_sequence(
    values: np.ndarray, rate: float, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0
) -> np.ndarray:
    """Run a fresh :class:`OneEuroFilter` along axis 0 of ``values`` (T, ...) → (T, ...) float64."""
    filt = OneEuroFilter(rate, min_cutoff, beta, d_cutoff)
    return np.stack([filt(v) for v in np.asarray(values)]) if len(values) else np.asarray(values, np.float64)


@dataclass(frozen=True)
class SmoothingConfig:
    """One-Euro parameters of one code group (see :data:`CODE_SMOOTHING`)."""

    min_cutoff: float
    """Hz at strength 1 (divided by the strength)."""
    beta: float
    """Hz per (code unit / s)."""
    d_cutoff: float = 1.0


CODE_SMOOTHING: dict[str, SmoothingConfig] = {
    "pose": SmoothingConfig(min_cutoff=1.5, beta=0.3),
    "cam": SmoothingConfig(min_cutoff=1.5, beta=0.0),
    "exp": SmoothingConfig(min_cutoff=2.0, beta=0.05),
}
"""Defaults per code group at ``strength = 1``: pose (axis-angle, rad), the photo-frame camera
(see :func:`smooth_motion`), expression coefficients. At 30 fps, min_cutoff 1.5 Hz bounds the
lag by 30 / (2π · 1.5) ≈ 3.2 frames; ``strength`` s divides every min_cutoff (lag bound × s)."""


class MotionSmoother:
    """The per-frame smoothing stage of ``deca video``: One-Euro filters on pose, exp and camera.

    One filter per code group with the :data:`CODE_SMOOTHING` parameters, every ``min_cutoff``
    divided by ``strength``. The camera must be given in the *photo* frame
    (:func:`pydeca.geometry.camera.cam_to_photo`), so that crop changes between frames are not filtered
    as if the head had moved.

    Guarantee: each group lags a ramp by at most ``lag_frames(group)`` =
    :func:`lag_bound` ``(rate, min_cutoff / strength)`` frames (pose and camera: 3.2 frames at
    30 fps and strength 1).

    Args:
        rate: frames per second of the sequence, > 0.
        strength: 0 < s ≤ :data:`MAX_STRENGTH`; larger = smoother and more lag (the lag bound
            scales with s).

    Raises:
        OptionError: ``strength`` or ``rate`` out of range, NaN or infinite.

    Example:
        >>> smoother = MotionSmoother(30.0)
        >>> pose, exp, cam = smoother(np.zeros(6), np.zeros(50), np.array([500.0, 0.1, -0.2]))
        >>> round(smoother.lag_frames("pose"), 2)
        3.18
    """

    GROUPS = ("pose", "exp", "cam")

    def __init__(self, rate: float, strength: float = 1.0) -> None:
        strength = check_strength(strength)
        if not (math.isfinite(rate) and rate > 0):
            raise OptionError(f"rate: expected frames per second > 0, got {rate!r}")
        self.rate, self.strength = float(rate), strength
        self.filters = {}
        for key in self.GROUPS:
            cfg = CODE_SMOOTHING[key]
            self.filters[key] = OneEuroFilter(rate, cfg.min_cutoff / strength, cfg.beta, cfg.d_cutoff)

    def lag_frames(self, group: str) -> float:
        """Upper bound, in frames, of the lag of ``group`` (``"pose"``, ``"exp"`` or ``"cam"``)."""
        return lag_bound(self.rate, CODE_SMOOTHING[group].min_cutoff / self.strength)

    def reset(self) -> None:
        """Forget the past (after untracked frames: the next frame passes unchanged)."""
        for f in self.filters.values():
            f.reset()

    def __call__(
        self, pose: np.ndarray, exp: np.ndarray, photo_cam: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Filter one frame: pose (6,), exp (50,), photo camera (3,) → smoothed float64 copies."""
        return self.filters["pose"](pose), self.filters["exp"](exp), self.filters["cam"](photo_cam)


def smooth_motion(
    smoother: MotionSmoother,
    pose: np.ndarray,
    exp: np.ndarray,
    cam: np.ndarray,
    tforms: np.ndarray,
    *,
    restart: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The smoothing stage of ``deca video`` for N consecutive tracked frames, in order.

    The crop cameras are moved to the photo frame (:func:`~pydeca.geometry.camera.cam_to_photo`) so
    that per-frame crop changes are not mistaken for motion, filtered with pose and expression, and
    moved back into each frame's own crop. ``smoother`` keeps its state between calls (the stream
    goes on). All of it runs in float64 on the CPU.

    Args:
        smoother: the filters (state carried across calls).
        pose: (N, 6) axis-angle radians.
        exp: (N, 50) expression coefficients.
        cam: (N, 3) crop cameras ``(s, tx, ty)`` of ``tforms``.
        tforms: (N, 3, 3) photo pixel → crop pixel of each frame.
        restart: (N,) bool, reset the filters before frame j (after a gap or on a new track).

    Returns:
        Smoothed ``(pose, exp, cam)``, float64, shapes as given; ``cam`` in each frame's crop.
    """
    pose, exp = np.array(pose, dtype=np.float64), np.array(exp, dtype=np.float64)
    t = torch.from_numpy(np.array(tforms, dtype=np.float64))
    crop_cam = torch.from_numpy(np.array(cam, dtype=np.float64))
    photo_cam = cam_to_photo(crop_cam, t, CROP_SIZE).numpy()
    for j in range(len(pose)):
        if restart is not None and restart[j]:
            smoother.reset()
        pose[j], exp[j], photo_cam[j] = smoother(pose[j], exp[j], photo_cam[j])
    return pose, exp, cam_from_photo(torch.from_numpy(photo_cam), t, CROP_SIZE).numpy()
