"""``deca synth``: render synthetic training faces with known codes (:mod:`pydeca.train.synth`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pydeca.apps.common import load_model, say
from pydeca.model import DECA
from pydeca.train.synth import GROUND_TRUTH_NAME, synthesize

__all__ = ["SynthSummary", "run_synth"]


@dataclass
class SynthSummary:
    """What ``deca synth`` wrote."""

    manifest: str
    ground_truth: str
    identities: int
    views: int
    size: int
    seed: int
    demo: bool
    seconds: float = 0.0
    failed: dict[str, str] = field(default_factory=dict)
    """Always empty (a failure stops the run); kept for the CLI's exit-status rule."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``--json``)."""
        return {
            "manifest": self.manifest,
            "ground_truth": self.ground_truth,
            "identities": self.identities,
            "views": self.views,
            "images": self.identities * self.views,
            "size": self.size,
            "seed": self.seed,
            "demo": self.demo,
            "seconds": round(self.seconds, 3),
        }


def run_synth(
    output: str | Path,
    *,
    identities: int,
    views: int,
    size: int = 224,
    seed: int = 0,
    assets: str | Path | None = None,
    device: str | torch.device | None = "auto",
    quiet: bool = False,
    model: DECA | None = None,
) -> SynthSummary:
    """Load the model (or use ``model``), synthesise ``identities × views`` photos into ``output``."""
    start = time.perf_counter()
    model = load_model(model, assets, device, quiet)
    manifest = synthesize(model, output, identities, views, size=size, seed=seed)
    summary = SynthSummary(
        manifest=str(manifest),
        ground_truth=str(manifest.parent / GROUND_TRUTH_NAME),
        identities=identities,
        views=views,
        size=size,
        seed=seed,
        demo=model.is_demo,
        seconds=time.perf_counter() - start,
    )
    say(
        quiet,
        f"deca: {identities * views} synthetic photos ({identities} identities × {views} views, "
        f"{size}px) -> {manifest}",
    )
    return summary
