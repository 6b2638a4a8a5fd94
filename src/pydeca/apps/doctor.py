"""``deca doctor``: what the asset directory holds, its checksums, and how to get what is missing."""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path

import torch

from pydeca import __version__
from pydeca.assets.bundle import find_asset
from pydeca.assets.paths import ASSET_FILES, resolve_asset_dir

__all__ = ["HOW_TO_GET", "run_doctor"]

HOW_TO_GET = {
    "flame_model": "register at https://flame.is.tue.mpg.de, then `deca fetch flame`",
    "checkpoint": "`deca fetch deca` (DECA weights, Google Drive)",
    "landmark_embedding": "`deca fetch data` (DECA's public data files)",
    "head_template": "`deca fetch data`",
    "face_mask": "`deca fetch data`",
    "face_eye_mask": "`deca fetch data`",
    "fixed_displacement": "`deca fetch data`",
    "mean_texture": "`deca fetch data` (optional)",
    "albedo_bfm": "optional: convert the BFM albedo (https://github.com/TimoBolkart/BFM_to_FLAME)",
    "albedo_flame": "optional: FLAME texture space from https://flame.is.tue.mpg.de",
}
REQUIRED = (
    "flame_model",
    "checkpoint",
    "landmark_embedding",
    "head_template",
    "face_mask",
    "face_eye_mask",
    "fixed_displacement",
)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_doctor(assets: str | Path | None = None) -> dict:
    """Inspect the asset directory; returns a JSON-ready report with a ``text`` rendering and ``ok``."""
    asset_dir = resolve_asset_dir(assets)
    files = {}
    lines = [
        f"pydeca {__version__}, torch {torch.__version__}, Python {platform.python_version()}",
        f"devices: cpu{', cuda' if torch.cuda.is_available() else ''}"
        f"{', mps' if torch.backends.mps.is_available() else ''}",
        f"asset directory: {asset_dir}",
    ]
    for name, how_to_get in HOW_TO_GET.items():
        path = find_asset(asset_dir, name)
        entry = {"file": ASSET_FILES[name], "required": name in REQUIRED}
        if path is None:
            entry["found"] = False
            entry["how_to_get"] = how_to_get
            lines.append(f"  missing  {ASSET_FILES[name]:<28} -> {how_to_get}")
        else:
            entry.update(found=True, path=str(path), size=path.stat().st_size, sha256=_sha256(path))
            size, digest = entry["size"], entry["sha256"][:16]
            lines.append(f"  found    {ASSET_FILES[name]:<28} {size:>12,d} B  sha256 {digest}…")
        files[name] = entry
    ok = all(files[name]["found"] for name in REQUIRED)
    if not ok:
        lines.append(
            "some required assets are missing: `deca demo` and `--assets demo` still run on the "
            "generated demo asset pack"
        )
    return {"asset_dir": str(asset_dir), "files": files, "ok": ok, "text": "\n".join(lines)}
