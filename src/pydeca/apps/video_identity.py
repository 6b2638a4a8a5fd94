"""The one identity of a ``deca video`` clip: the mean of the first tracked frames' estimates.

``shape`` and ``tex`` are averaged over the frames given to :meth:`IdentityMean.add` (E_flame's
per-frame estimates); the detail code over E_detail's estimates of the same frames' crops. E_detail
needs no tracking, so it runs in batches of ``batch_size`` crops as they arrive (and on the rest in
:meth:`IdentityMean.mean`); a crop whose detail code is not finite is left out of that mean.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from pydeca.constants import NUM_CAM, NUM_DETAIL, NUM_EXP, NUM_LIGHT, NUM_POSE
from pydeca.nets import Codes

__all__ = ["IdentityMean"]


class IdentityMean:
    """Running sums of the identity codes of a clip's warm-up frames.

    Args:
        encode_detail: (B, 3, 224, 224) crops in [0, 1] → (B, 128) detail codes (``DECA.E_detail``);
            run under ``torch.inference_mode``, its result is moved to the CPU.
        batch_size: crops per E_detail call, ≥ 1.

    Example:
        >>> mean = IdentityMean(lambda crops: torch.ones(len(crops), 128), batch_size=2)
        >>> codes = Codes(*(torch.full((1, n), 2.0) for n in (100, 50, 50, 6, 3)), torch.zeros(1, 9, 3))
        >>> mean.add(codes, torch.zeros(1, 3, 224, 224))
        >>> identity = mean.mean()
        >>> float(identity.shape.mean()), float(identity.detail.mean()), float(identity.pose.abs().sum())
        (2.0, 1.0, 0.0)
    """

    def __init__(self, encode_detail: Callable[[Tensor], Tensor], batch_size: int) -> None:
        self.encode_detail, self.batch_size = encode_detail, batch_size
        self.sums: dict[str, Tensor] = {}
        """``shape`` (1, 100), ``tex`` (1, 50), ``detail`` (1, 128) sums, CPU."""
        self.frames = 0
        """Frames added (the count of the shape and tex sums)."""
        self.details = 0
        """Finite detail codes summed."""
        self.crops: list[Tensor] = []
        """Crops waiting for E_detail, each (1, 3, 224, 224)."""

    def add(self, codes: Codes, crop: Tensor) -> None:
        """One tracked frame: its B = 1 codes (CPU; shape and tex are used) and its crop."""
        self._sum({"shape": codes.shape, "tex": codes.tex})
        self.frames += 1
        self.crops.append(crop)
        if len(self.crops) == self.batch_size:
            self._encode_details()

    def _sum(self, values: dict[str, Tensor]) -> None:
        for key, value in values.items():
            total = value.sum(dim=0, keepdim=True)
            self.sums[key] = self.sums[key] + total if key in self.sums else total

    def _encode_details(self) -> None:
        """E_detail on the waiting crops, one batch; non-finite rows are left out."""
        if not self.crops:
            return
        with torch.inference_mode():
            detail = self.encode_detail(torch.cat(self.crops)).to("cpu")
        self.crops = []
        finite = torch.isfinite(detail).all(dim=1)
        self._sum({"detail": detail[finite]})
        self.details += int(finite.sum())

    def mean(self) -> Codes:
        """B = 1 CPU codes: mean shape, tex and detail (zeros without a finite one), zero motion and light.

        Raises:
            ValueError: no frame was added.
        """
        if self.frames == 0:
            raise ValueError("IdentityMean.mean: no frame was added")
        self._encode_details()
        n = self.frames
        detail = self.sums["detail"] / self.details if self.details else torch.zeros(1, NUM_DETAIL)
        return Codes(
            shape=self.sums["shape"] / n,
            tex=self.sums["tex"] / n,
            exp=torch.zeros(1, NUM_EXP),
            pose=torch.zeros(1, NUM_POSE),
            cam=torch.zeros(1, NUM_CAM),
            light=torch.zeros(1, NUM_LIGHT // 3, 3),
            detail=detail,
        )
