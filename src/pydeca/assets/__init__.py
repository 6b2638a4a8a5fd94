"""Assets: where DECA's files live, how they are fetched, verified and loaded safely, and the demo pack.

The official files (FLAME 2020 ``generic_model.pkl``, ``deca_model.tar``, DECA's ``data/`` files)
load unchanged: pickles through a restricted unpickler (no chumpy, no arbitrary code), checkpoints
with ``torch.load(weights_only=True)``. :func:`load_assets` reads a whole asset directory into an
:class:`AssetBundle` of plain arrays; ``"demo"`` selects the generated demo pack.
"""

from __future__ import annotations

from .bundle import AssetBundle, load_assets
from .checkpoint import load_checkpoint, load_networks
from .demo_pack import ensure_demo_pack, generate_demo_pack
from .flame_model import load_flame_model
from .paths import ASSET_FILES, default_cache_dir, resolve_asset_dir
from .safe_pickle import safe_load

__all__ = [
    "ASSET_FILES",
    "AssetBundle",
    "default_cache_dir",
    "ensure_demo_pack",
    "generate_demo_pack",
    "load_assets",
    "load_checkpoint",
    "load_flame_model",
    "load_networks",
    "resolve_asset_dir",
    "safe_load",
]
