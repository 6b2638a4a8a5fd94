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
import shlex
import warnings
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
from .paths import (
    ASSET_FILES,
    HOW_TO_GET,
    REQUIRED_ASSETS,
    SEARCH_SUBDIRS,
    find_asset,
    reading_asset,
    resolve_asset_dir,
    write_cache_file,
)
from .synthetic_checkpoint import deterministic_checkpoint
from .template import load_template_mesh
from .uv_maps import load_fixed_displacement, load_uv_mask

__all__ = [
    "ALBEDO_ASSETS",
    "DEMO_CHECKPOINT_SEED_PREFIX",
    "AssetBundle",
    "find_asset",
    "load_assets",
    "missing_assets",
    "missing_assets_message",
    "report_missing_albedo",
]

DEMO_CHECKPOINT_SEED_PREFIX = "pydeca-demo/"
"""Seed prefix of the demo pack's in-memory checkpoint (fixtures README §2 rule, other seeds)."""

ALBEDO_ASSETS = ("albedo_bfm", "albedo_flame")
"""The optional albedo models, in the order they are looked for."""

_albedo_absence_reported = False
"""Whether this process has said that no albedo model was found (it is said once)."""


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


def missing_assets(asset_dir: Path, *, demo: bool = False) -> list[str]:
    """The required assets (keys of ``ASSET_FILES``) that ``asset_dir`` lacks, in report order.

    A demo pack does not need ``deca_model.tar``: its seeded weights are drawn on first use.
    """
    return [
        name
        for name in REQUIRED_ASSETS
        if find_asset(asset_dir, name) is None and not (demo and name == "checkpoint")
    ]


def missing_assets_message(asset_dir: Path, missing: list[str]) -> str:
    """One message naming every missing file, each with the command that gets it.

    Example (an asset directory holding only the FLAME model)::

        the asset directory /data lacks 6 required files:
          deca_model.tar not found: `deca fetch deca` (the DECA weights, from Google Drive)
          landmark_embedding.npy not found: `deca fetch data` (DECA's public data files)
          ...
        `deca fetch all --assets /data` gets them all; `deca doctor --assets /data` shows every asset
        (sizes, checksums); `--assets demo` runs on the generated demo pack instead.
    """
    count = f"{len(missing)} required file{'s' if len(missing) != 1 else ''}"
    where = shlex.quote(str(asset_dir))
    lines = [f"the asset directory {asset_dir} lacks {count}:"]
    lines += [f"  {ASSET_FILES[name]} not found: {HOW_TO_GET[name]}" for name in missing]
    lines.append(
        f"`deca fetch all --assets {where}` gets them all; `deca doctor --assets {where}` shows "
        "every asset (sizes, checksums); `--assets demo` runs on the generated demo pack instead."
    )
    return "\n".join(lines)


def _is_demo_dir(asset_dir: Path) -> bool:
    marker = asset_dir / ASSET_FILES["demo_marker"]
    if not marker.is_file():
        return False
    try:
        document = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and bool(document.get("pydeca_demo", False))


def report_missing_albedo(asset_dir: Path) -> bool:
    """Warn, once per process, that no albedo model is in ``asset_dir``; say where we looked.

    Returns:
        Whether the warning was issued now (False after the first time).
    """
    global _albedo_absence_reported  # noqa: PLW0603 - a once-per-process flag
    if _albedo_absence_reported:
        return False
    _albedo_absence_reported = True
    names = " or ".join(ASSET_FILES[name] for name in ALBEDO_ASSETS)
    folders = ", ".join(f"{sub}/" if sub else "the folder itself" for sub in SEARCH_SUBDIRS)
    warnings.warn(
        f"no albedo model ({names}) in {asset_dir} (looked in {folders}): reconstructions have no "
        f"albedo texture, so texture renders and textured meshes are unavailable; to add one: "
        f"{HOW_TO_GET['albedo_bfm']}",
        stacklevel=3,
    )
    return True


def _load_albedo(
    asset_dir: Path, cache_dir: str | Path | None, sources: dict[str, str]
) -> AlbedoBasis | None:
    for name in ALBEDO_ASSETS:
        path = find_asset(asset_dir, name)
        if path is not None:
            with reading_asset(path):
                albedo = load_albedo_basis(path, cache_dir=cache_dir)
            sources["albedo"] = str(path)
            return albedo
    report_missing_albedo(asset_dir)
    return None


def load_assets(assets: str | Path | None = None, *, cache_dir: str | Path | None = None) -> AssetBundle:
    """Load every asset DECA needs from one directory.

    Args:
        assets: the asset directory, ``"demo"`` for the generated demo pack, or ``None`` to use
            ``$PYDECA_HOME`` and then the platform data dir. When that default directory holds no
            FLAME model, the demo pack is used (and the result says so via ``is_demo``).
        cache_dir: where converted caches (FLAME ``.npz``) and the demo pack go; default
            ``$PYDECA_CACHE`` or the platform cache dir.

    Raises:
        AssetNotFoundError: the directory lacks required files; one message lists every one of
            them with the command that gets it (:func:`missing_assets_message`).
        AssetFormatError, CheckpointError, UnsafePickleError: a file is not what it should be.
    """
    if assets is not None and str(assets) == "demo":
        asset_dir = _demo_dir(cache_dir)
    else:
        asset_dir = resolve_asset_dir(assets)
        if assets is None and find_asset(asset_dir, "flame_model") is None:
            asset_dir = _demo_dir(cache_dir)
    is_demo = _is_demo_dir(asset_dir)
    missing = missing_assets(asset_dir, demo=is_demo)
    if missing:  # report every missing file at once, before parsing anything
        raise AssetNotFoundError(missing_assets_message(asset_dir, missing))
    paths = {name: path for name in REQUIRED_ASSETS if (path := find_asset(asset_dir, name)) is not None}
    sources = {name: str(path) for name, path in paths.items()}

    with reading_asset(paths["flame_model"]):
        flame = load_flame_model(paths["flame_model"], cache_dir=cache_dir)
    with reading_asset(paths["landmark_embedding"]):
        embedding = load_landmark_embedding(paths["landmark_embedding"], num_faces=flame.faces.shape[0])
    with reading_asset(paths["head_template"]):
        template = load_template_mesh(paths["head_template"])
    with reading_asset(paths["face_eye_mask"]):
        face_eye_mask = load_uv_mask(paths["face_eye_mask"])
    with reading_asset(paths["face_mask"]):
        face_mask = load_uv_mask(paths["face_mask"])
    with reading_asset(paths["fixed_displacement"]):
        fixed_displacement = load_fixed_displacement(paths["fixed_displacement"])
    albedo = _load_albedo(asset_dir, cache_dir, sources)

    checkpoint_path = paths.get("checkpoint")
    if checkpoint_path is None:  # only a demo pack gets here without one (see missing_assets)
        checkpoint = deterministic_checkpoint(seed_prefix=DEMO_CHECKPOINT_SEED_PREFIX)
        sources["checkpoint"] = "generated in memory (demo pack)"
        # Drawing 53 M normals takes ~0.8 s; later runs load the file like real weights (~0.1 s).
        write_cache_file(asset_dir / ASSET_FILES["checkpoint"], lambda fh: torch.save(checkpoint, fh))
    else:
        with reading_asset(checkpoint_path):
            checkpoint = load_checkpoint(checkpoint_path)
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
