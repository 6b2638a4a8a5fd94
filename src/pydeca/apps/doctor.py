"""``deca doctor``: every asset found or not, its size and checksum, what is wrong, how to get it.

Checks per file found: every asset is first *loaded* with the loader the model uses, through the
same safe parsing and validation (:func:`_load_asset`: the FLAME model is unpickled with the
allow-list and its kinematic tree, shapes and values checked; the checkpoint is loaded strictly into
DECA's networks built on the ``meta`` device, after its size is checked; the landmark embedding's
triangle ids are checked against the FLAME mesh; ...), so a file that would make ``deca reconstruct``
fail is reported here with the loader's message. Then DECA's data files are compared with the
published SHA-256 table (:data:`pydeca.assets.fetch.DATA_FILES`) and any file ``deca fetch``
recorded in ``pydeca_assets.json`` with that record ("modified since fetch"). ``--assets demo``
reports on the generated demo pack, as every other command reads it.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import torch

from pydeca._version import __version__
from pydeca.assets.albedo import load_albedo_basis
from pydeca.assets.demo_pack import ensure_demo_pack, is_demo_pack
from pydeca.assets.download import sha256_file
from pydeca.assets.embedding import load_landmark_embedding
from pydeca.assets.fetch import DATA_FILES
from pydeca.assets.flame_model import load_flame_model
from pydeca.assets.integrity import quick_check_flame, read_manifest, verify_checkpoint
from pydeca.assets.paths import (
    ASSET_FILES,
    HOW_TO_GET,
    REQUIRED_ASSETS,
    find_asset,
    reading_asset,
    resolve_asset_dir,
)
from pydeca.assets.template import load_template_mesh
from pydeca.assets.uv_maps import load_fixed_displacement, load_mean_texture, load_uv_mask
from pydeca.errors import PydecaError

__all__ = ["HOW_TO_GET", "REQUIRED", "run_doctor"]

REQUIRED = REQUIRED_ASSETS
"""The assets without which ``deca reconstruct`` refuses to run (the demo pack needs no checkpoint)."""

_PUBLISHED = {remote.name: remote for remote in DATA_FILES}
_UNPUBLISHED = ("checkpoint", "flame_model")
"""Assets with no published checksum (``deca fetch --force`` verifies them on download)."""
_DEMO_CHECKPOINT = "generated on first use (seeded random weights)"
_DEMO_NOTE = "the generated demo pack: synthetic assets, reconstructions with it are not meaningful"


def _since_fetch(record: dict[str, Any]) -> str:
    size = record.get("size")
    fetched = f"{size:,} B" if isinstance(size, int) else "a file"
    return (
        f"modified since fetch: `deca fetch` wrote {fetched} with sha256 "
        f"{str(record.get('sha256'))[:16]}… on {record.get('fetched', '?')}"
    )


def _unpublished_verdict(
    name: str, sha256: str, record: dict[str, Any] | None, demo: bool
) -> tuple[str, str]:
    """Status of a file without a published checksum: its ``deca fetch`` record, if any."""
    if record is not None and record.get("sha256") != sha256:
        advice = "fetch it again with --force unless you replaced it on purpose"
        return "warning", f"{_since_fetch(record)}; {advice}"
    if record is not None:
        return "ok", f"unchanged since fetched on {record.get('fetched', '?')} ({record.get('check')})"
    if demo:
        return "info", "generated demo file"
    if name in _UNPUBLISHED:
        return "info", (
            "no published checksum and no `deca fetch` record; `deca fetch` with --force downloads "
            "and verifies it"
        )
    return "info", "no published checksum"


def _load_asset(name: str, path: Path, loaded: dict[str, Any], cache_dir: str | Path | None) -> None:
    """Load ``path`` as asset ``name`` with the model's own loader; keep the result in ``loaded``.

    Raises:
        PydecaError: what the model loader would raise for this file.
    """
    with reading_asset(path):
        if name == "flame_model":
            quick_check_flame(path)  # an HTML page or a zip gets its specific message
            loaded[name] = load_flame_model(path, cache_dir=cache_dir)
        elif name == "checkpoint":
            verify_checkpoint(path)
        elif name == "landmark_embedding":
            flame = loaded.get("flame_model")
            num_faces = None if flame is None else flame.faces.shape[0]
            loaded[name] = load_landmark_embedding(path, num_faces=num_faces)
        elif name == "head_template":
            loaded[name] = load_template_mesh(path)
        elif name in ("face_mask", "face_eye_mask"):
            load_uv_mask(path)
        elif name == "fixed_displacement":
            load_fixed_displacement(path)
        elif name == "mean_texture":
            load_mean_texture(path)
        elif name in ("albedo_bfm", "albedo_flame"):
            load_albedo_basis(path, cache_dir=cache_dir)


def _load_verdict(name: str, path: Path, loaded: dict[str, Any], cache_dir: str | Path | None) -> str | None:
    """None if ``path`` loads as asset ``name``; else the one-line reason it does not."""
    try:
        _load_asset(name, path, loaded, cache_dir)
    except PydecaError as err:
        return " ".join(str(err).split())  # one line, even for multi-line mismatch reports
    except Exception as exc:  # doctor reports; it never crashes on a file
        return f"{path}: cannot be loaded ({type(exc).__name__}: {exc})"
    return None


def _check(
    name: str,
    path: Path,
    sha256: str,
    *,
    record: dict[str, Any] | None,
    demo: bool,
    load_error: str | None = None,
) -> dict[str, str]:
    """``{"status": "ok" | "info" | "warning" | "error", "message": ...}`` for one found file.

    Order: 1. the load with the model's loader (``load_error``, see :func:`_load_verdict`);
    2. DECA's published SHA-256 (data files, not in a demo pack); 3. the ``deca fetch`` record
    (``record``); 4. what is left unverifiable.
    """
    published = None if demo else _PUBLISHED.get(path.name)
    if published is None:
        status, message = _unpublished_verdict(name, sha256, record, demo)
    elif sha256 == published.sha256:
        status, message = "ok", "matches DECA's published file (sha256)"
    else:
        modified = record is not None and record.get("sha256") != sha256
        status, message = (
            "error",
            (
                f"{_since_fetch(record) + '; it ' if modified and record else ''}differs from DECA's "
                f"published file (expected {published.size:,} B, sha256 {(published.sha256 or '')[:16]}…): "
                "`deca fetch data` replaces it"
            ),
        )
    if load_error is not None:  # the file would fail the model: that comes first
        also = f"; {message}" if status in ("error", "warning") else ""
        status, message = "error", f"{load_error}{also}"
    return {"status": status, "message": message}


def _inspect(
    name: str,
    path: Path,
    record: dict[str, Any] | None,
    *,
    demo: bool,
    loaded: dict[str, Any],
    cache_dir: str | Path | None,
) -> dict[str, Any]:
    """``found``, ``path``, ``size``, ``sha256`` and ``check`` of one found asset file."""
    load_error = _load_verdict(name, path, loaded, cache_dir)
    try:
        sha256, size = sha256_file(path), path.stat().st_size
    except OSError:  # unreadable or a folder: the load error says so
        sha256, size = "", 0
    check = _check(name, path, sha256, record=record, demo=demo, load_error=load_error)
    return {"found": True, "path": str(path), "size": size, "sha256": sha256, "check": check}


def _environment_lines(asset_dir: Path) -> list[str]:
    devices = "cpu" + (", cuda" if torch.cuda.is_available() else "")
    devices += ", mps" if torch.backends.mps.is_available() else ""
    return [
        f"pydeca {__version__}, torch {torch.__version__}, Python {platform.python_version()}",
        f"devices: {devices}",
        f"asset directory: {asset_dir}",
    ]


def run_doctor(assets: str | Path | None = None, *, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Inspect the asset directory (``"demo"``: the generated demo pack) and report on every asset.

    Args:
        assets: as ``--assets``: a directory, ``"demo"``, or ``None`` for ``$PYDECA_HOME`` / the
            platform data dir.
        cache_dir: where the demo pack lives (default ``$PYDECA_CACHE`` / the platform cache dir).

    Returns:
        A JSON-ready dict: ``asset_dir``, ``is_demo``, ``demo_fallback`` (no FLAME model in the
        default directory, so commands use the demo pack), ``files`` (logical name → ``file``,
        ``required``, ``found``, ``how_to_get``, and when found ``path``, ``size``, ``sha256``,
        ``check``), ``problems`` (one line each), ``ok`` (required assets present, no error) and
        ``text`` (the human-readable report).
    """
    demo_requested = assets is not None and str(assets) == "demo"
    asset_dir = ensure_demo_pack(cache_dir) if demo_requested else resolve_asset_dir(assets)
    demo = is_demo_pack(asset_dir)
    manifest = read_manifest(asset_dir)
    lines = _environment_lines(asset_dir)
    if demo:
        lines[-1] += f" ({_DEMO_NOTE})"
    files: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    loaded: dict[str, Any] = {}
    for name, how_to_get in HOW_TO_GET.items():
        filename = ASSET_FILES[name]
        required = name in REQUIRED and not (demo and name == "checkpoint")
        entry: dict[str, Any] = {"file": filename, "required": required, "how_to_get": how_to_get}
        files[name] = entry
        path = find_asset(asset_dir, name)
        if path is None:
            entry["found"] = False
            label = filename if name in REQUIRED else f"{filename} (optional)"
            if demo and name == "checkpoint":
                entry["how_to_get"] = _DEMO_CHECKPOINT
            lines.append(f"  missing  {label:<28} -> {entry['how_to_get']}")
            if required:
                problems.append(f"{filename} is missing: {how_to_get}")
            continue
        shown = path.relative_to(asset_dir).as_posix()
        entry.update(_inspect(name, path, manifest.get(shown), demo=demo, loaded=loaded, cache_dir=cache_dir))
        check, sha256 = entry["check"], entry["sha256"]
        lines.append(f"  found    {shown:<28} {entry['size']:>13,d} B  sha256 {sha256[:16]}…")
        status, message = check["status"], check["message"]
        if status == "error":
            lines.append(f"           ERROR: {message} -> {how_to_get}")
            problems.append(f"{shown}: {message}")
        elif status == "warning":
            lines.append(f"           WARNING: {message}")
        else:
            lines.append(f"           {status}: {message}")
    demo_fallback = assets is None and not demo and files["flame_model"]["found"] is False
    ok = not problems
    if demo_fallback:
        lines.append(
            "no FLAME model here: commands run without --assets use the generated demo pack "
            "(`deca doctor --assets demo` reports on it)"
        )
    if ok:
        lines.append("all required assets are present and pass their checks")
    else:
        lines.append(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}:")
        lines += [f"  - {problem}" for problem in problems]
        lines.append("`--assets demo` runs every command on the generated demo pack meanwhile")
    return {
        "asset_dir": str(asset_dir),
        "is_demo": demo,
        "demo_fallback": demo_fallback,
        "files": files,
        "problems": problems,
        "ok": ok,
        "text": "\n".join(lines),
    }
