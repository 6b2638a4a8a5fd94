"""What every app shares: status lines on stderr, the demo-pack notice, loading the model.

The photo pipeline itself (detection, cropping, batched inference, output files) is a library,
:mod:`pydeca.pipeline`; this module holds only what talks to the user.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from pydeca.model import DECA, resolve_device

__all__ = ["DEMO_NOTICE", "demo_notice", "load_model", "say", "warn"]

DEMO_NOTICE = (
    "deca: using the generated DEMO asset pack (--assets demo): outputs are not real reconstructions"
)
"""Shown (unless ``--quiet``) when the user asked for the demo pack."""


def say(quiet: bool, text: str) -> None:
    """Print a status line to stderr (stdout stays clean for ``--json``), above any progress bar."""
    if not quiet:
        tqdm.write(text, file=sys.stderr)


def warn(text: str) -> None:
    """Print a warning or error line to stderr, also with ``--quiet``, above any progress bar."""
    tqdm.write(text, file=sys.stderr)


def demo_notice(searched: Path | None, quiet: bool) -> str:
    """The demo-pack notice: ``searched`` is the asset dir that held no assets (None: asked for).

    A fallback gets a loud, multi-line warning (one line with ``quiet``) saying where pydeca looked,
    that the outputs are not real reconstructions, and how to get the assets.
    """
    if searched is None:
        return DEMO_NOTICE
    origin = "$PYDECA_HOME" if os.environ.get("PYDECA_HOME") else "the default asset directory"
    fix = "run `deca fetch` to download them (`deca doctor` lists what is missing), or pass --assets DIR"
    if quiet:
        return (
            f"deca: WARNING: no DECA/FLAME assets in {searched}; using the generated DEMO asset pack, "
            f"outputs are NOT real reconstructions: {fix}"
        )
    return "\n".join(
        (
            f"deca: WARNING: no DECA/FLAME assets were found in {searched} ({origin}).",
            "deca: WARNING: falling back to the generated DEMO asset pack (random weights, procedural head):",
            "deca: WARNING: the outputs are NOT real reconstructions of the faces in your photos.",
            f"deca: WARNING: {fix}.",
        )
    )


def load_model(
    model: DECA | None, assets: str | Path | None, device: str | torch.device | None, quiet: bool
) -> DECA:
    """``model`` if given, else :meth:`DECA.load`; announces the demo pack (loudly if a fallback).

    The device is checked first (:func:`pydeca.model.resolve_device`), so a bad ``--device`` fails
    before any asset is read. When no assets were found and the demo pack stood in, a warning is
    printed even with ``quiet`` (:func:`demo_notice`); an explicit ``assets="demo"`` is announced
    only without ``quiet``.

    Raises:
        OptionError: the device is unknown or not available.
        AssetError: the assets are missing or unusable (the message says how to fix it).
    """
    loaded_here = model is None
    if model is None:
        model = DECA.load(assets, device=resolve_device(device))
    if model.is_demo:
        searched = None
        if loaded_here and str(assets) != "demo":
            from pydeca.assets.paths import resolve_asset_dir

            looked = resolve_asset_dir(assets)
            if Path(model.asset_dir).resolve() != looked.resolve():
                searched = looked  # the demo pack stood in for the assets that were not there
        if searched is not None:
            warn(demo_notice(searched, quiet))
        else:
            say(quiet, DEMO_NOTICE)
    return model
