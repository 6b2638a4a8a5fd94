"""Everything DECA needs from disk, found in one asset directory and loaded in one call.

:func:`load_assets` resolves the directory (explicit argument → ``$PYDECA_HOME`` → platform data
dir; ``"demo"`` selects the generated demo pack), parses every file with the safe loaders of this
package and returns an :class:`AssetBundle` of plain arrays. The real FLAME/DECA files and the demo
pack go through exactly the same code; the only difference is that a demo pack (marked by
``pydeca_demo.json``) is generated without ``deca_model.tar``: its seeded random weights are drawn
in memory on first use and saved there, so that later loads read them like the real checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pydeca.errors import AssetNotFoundError

from .albedo import load_albedo_basis
from .checkpoint import load_checkpoint
from .data import AlbedoBasis, FlameModelData, LandmarkEmbedding, TemplateMesh
from .demo_pack import ensure_demo_pack
from .embedding import load_landmark_embedding
from .flame_model import load_flame_model
from .paths import ASSET_FILES, resolve_asset_dir, write_cache_file
from .synthetic_checkpoint import deterministic_checkpoint
from .template import load_template_mesh
from .uv_maps import load_fixed_displacement, load_uv_mask

__all__ = ["DEMO_CHECKPOINT_SEED_PREFIX", "AssetBundle", "find_asset", "load_assets"]

DEMO_CHECKPOINT_SEED_PREFIX = "pydeca-demo/"
"""Seed prefix of the demo pack's in-memory checkpoint (fixtures README §2 rule, other seeds)."""

# Where DECA's own `data/` folder and the FLAME download put files, relative to the asset dir.
_ALTERNATIVE_LOCATIONS = {"flame_model": ("FLAME2020/generic_model.pkl",)}


@dataclass
class AssetBundle:
    """The parsed assets of one directory (numpy arrays; see :mod:`pydeca.assets.data`).

    ``checkpoint`` maps ``"E_flame"``, ``"E_detail"``, ``"D_detail"`` to state dicts. ``albedo`` is
    ``None`` when no albedo model is installed (DECA then renders without texture).
    """

    asset_dir: Path
    flame: FlameModelData
    embedding: LandmarkEmbedding
    template: TemplateMesh
    face_eye_mask: np.ndarray
    """(R, R) float32 in [0, 1], 1 on face and eye texels (``uv_face_eye_mask.png``)."""
    face_mask: np.ndarray
    """(R, R) float32 in [0, 1], 1 on face texels (``uv_face_mask.png``)."""
    fixed_displacement: np.ndarray
    """(R, R) float32 metres, added to every predicted displacement map."""
    checkpoint: dict[str, dict[str, torch.Tensor]]
    albedo: AlbedoBasis | None = None
    is_demo: bool = False
    sources: dict[str, str] = field(default_factory=dict)
    """Logical asset name → the file it was read from (or ``"generated in memory"``)."""


def find_asset(asset_dir: Path, name: str) -> Path | None:
    """Return the path of logical asset ``name`` (a key of ``ASSET_FILES``) in ``asset_dir``, if any."""
    candidates = (ASSET_FILES[name], *_ALTERNATIVE_LOCATIONS.get(name, ()))
    for relative in candidates:
        path = asset_dir / relative
        if path.is_file():
            return path
    return None


def _require(asset_dir: Path, name: str, hint: str) -> Path:
    path = find_asset(asset_dir, name)
    if path is None:
        raise AssetNotFoundError(
            f"{ASSET_FILES[name]} not found in the asset directory {asset_dir}. {hint} "
            "(`deca doctor` lists everything that is missing; `--assets demo` runs on the "
            "generated demo pack instead.)"
        )
    return path


def _is_demo_dir(asset_dir: Path) -> bool:
    marker = asset_dir / ASSET_FILES["demo_marker"]
    if not marker.is_file():
        return False
    return bool(json.loads(marker.read_text(encoding="utf-8")).get("pydeca_demo", False))


def load_assets(assets: str | Path | None = None, *, cache_dir: str | Path | None = None) -> AssetBundle:
    """Load every asset DECA needs from one directory.

    Args:
        assets: the asset directory, ``"demo"`` for the generated demo pack, or ``None`` to use
            ``$PYDECA_HOME`` and then the platform data dir. When that default directory holds no
            FLAME model, the demo pack is used (and the result says so via ``is_demo``).
        cache_dir: where converted caches (FLAME ``.npz``) and the demo pack go; default
            ``$PYDECA_CACHE`` or the platform cache dir.

    Raises:
        AssetNotFoundError: an explicitly given directory lacks a required file (message: how to
            get it).
        AssetFormatError, CheckpointError, UnsafePickleError: a file is not what it should be.
    """
    if assets is not None and str(assets) == "demo":
        asset_dir = _demo_dir(cache_dir)
    else:
        asset_dir = resolve_asset_dir(assets)
        if assets is None and find_asset(asset_dir, "flame_model") is None:
            asset_dir = _demo_dir(cache_dir)
    is_demo = _is_demo_dir(asset_dir)
    sources: dict[str, str] = {}

    def need(name: str, hint: str) -> Path:
        path = _require(asset_dir, name, hint)
        sources[name] = str(path)
        return path

    flame = load_flame_model(
        need("flame_model", "Register at https://flame.is.tue.mpg.de and run `deca fetch flame`."),
        cache_dir=cache_dir,
    )
    data_hint = "Run `deca fetch data` to download DECA's public data files."
    embedding = load_landmark_embedding(need("landmark_embedding", data_hint))
    template = load_template_mesh(need("head_template", data_hint))
    face_eye_mask = load_uv_mask(need("face_eye_mask", data_hint))
    face_mask = load_uv_mask(need("face_mask", data_hint))
    fixed_displacement = load_fixed_displacement(need("fixed_displacement", data_hint))

    albedo = None
    for name in ("albedo_bfm", "albedo_flame"):
        path = find_asset(asset_dir, name)
        if path is not None:
            albedo = load_albedo_basis(path)
            sources["albedo"] = str(path)
            break

    checkpoint_path = find_asset(asset_dir, "checkpoint")
    if checkpoint_path is None and is_demo:
        checkpoint = deterministic_checkpoint(seed_prefix=DEMO_CHECKPOINT_SEED_PREFIX)
        sources["checkpoint"] = "generated in memory (demo pack)"
        # Drawing 53 M normals takes ~0.8 s; later runs load the file like real weights (~0.1 s).
        write_cache_file(asset_dir / ASSET_FILES["checkpoint"], lambda fh: torch.save(checkpoint, fh))
    else:
        checkpoint = load_checkpoint(
            need("checkpoint", "Run `deca fetch deca` to download the DECA weights.")
        )
    return AssetBundle(
        asset_dir=asset_dir,
        flame=flame,
        embedding=embedding,
        template=template,
        face_eye_mask=face_eye_mask,
        face_mask=face_mask,
        fixed_displacement=fixed_displacement,
        checkpoint=checkpoint,
        albedo=albedo,
        is_demo=is_demo,
        sources=sources,
    )


def _demo_dir(cache_dir: str | Path | None) -> Path:
    return ensure_demo_pack(cache_dir)
