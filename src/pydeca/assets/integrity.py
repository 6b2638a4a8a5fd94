"""Checks on downloaded assets that have no published checksum, and the record of what was fetched.

DECA's public data files are pinned by SHA-256 (:data:`pydeca.assets.fetch.DATA_FILES`). The DECA
checkpoint and the FLAME model are not: no official digest is published, and pydeca does not invent
one. Instead ``deca fetch`` checks what can be checked right after a download:

* ``deca_model.tar``: not an HTML page, large enough to hold DECA's 53.5 M numbers
  (:data:`MIN_CHECKPOINT_BYTES`), and loads through :func:`~pydeca.assets.checkpoint.load_checkpoint`
  (``weights_only``) into the networks of :func:`pydeca.nets.build_networks` strictly (every key,
  every shape; built on the ``meta`` device, so nothing is allocated);
* ``generic_model.pkl``: a pickle that the restricted unpickler reads, with FLAME 2020's shapes
  (:data:`FLAME2020_SHAPES`);

and records the SHA-256 and size of every file it wrote in ``<asset dir>/pydeca_assets.json``
(:data:`~pydeca.assets.paths.MANIFEST_FILE`), which ``deca doctor`` compares the files against
later ("modified since fetch").
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydeca.errors import AssetFormatError, CheckpointError

from .download import check_checkpoint_file, looks_like_html, sha256_file
from .paths import MANIFEST_FILE, write_cache_file

__all__ = [
    "FLAME2020_SHAPES",
    "MANIFEST_VERSION",
    "MIN_CHECKPOINT_BYTES",
    "quick_check_checkpoint",
    "quick_check_flame",
    "read_manifest",
    "record_fetch",
    "verify_checkpoint",
    "verify_flame_model",
]

MIN_CHECKPOINT_BYTES = 100_000_000
"""Smallest plausible ``deca_model.tar``: DECA's three networks hold 53,466,077 numbers (213.9 MB as
float32, the released format); under 100 MB the file cannot hold them even as float16."""

FLAME2020_SHAPES: dict[str, tuple[int, ...]] = {
    "v_template": (5023, 3),
    "faces": (9976, 3),
    "shapedirs": (5023, 3, 300),
    "exprdirs": (5023, 3, 100),
    "posedirs": (5023, 3, 36),
    "J_regressor": (5, 5023),
    "lbs_weights": (5023, 5),
    "parents": (5,),
}
"""Field of :class:`~pydeca.assets.data.FlameModelData` → its shape for FLAME 2020's generic model."""

MANIFEST_VERSION = 1
"""Version of the ``pydeca_assets.json`` layout."""

_PICKLE_PROTO = b"\x80"
_ZIP_MAGIC = b"PK\x03\x04"


def _with_hint(message: str, hint: str) -> str:
    return f"{message} {hint}".strip()


def quick_check_checkpoint(path: Path, hint: str = "") -> None:
    """Cheap checks of a ``deca_model.tar``: a torch file by its first bytes, and a plausible size.

    Raises:
        CheckpointError: an HTML page, not a torch file, or smaller than :data:`MIN_CHECKPOINT_BYTES`
            (the message ends with ``hint``).
    """
    check_checkpoint_file(path, hint)
    size = path.stat().st_size
    if size < MIN_CHECKPOINT_BYTES:
        raise CheckpointError(
            _with_hint(
                f"{path} has {size:,} bytes: too small to be DECA's checkpoint (its networks hold "
                f"53.5 M numbers, 214 MB as float32; the download most likely stopped early or is "
                f"another file).",
                hint,
            )
        )


def verify_checkpoint(path: Path, hint: str = "") -> str:
    """Check that ``path`` is a DECA checkpoint: cheap checks, then a strict load into the networks.

    Returns:
        A one-line description of what was verified, for the manifest and ``deca fetch``'s output.

    Raises:
        CheckpointError: see :func:`quick_check_checkpoint`, :func:`~pydeca.assets.checkpoint.
            load_checkpoint` and :func:`~pydeca.assets.checkpoint.load_networks`; ``hint`` appended.
    """
    from pydeca.nets import build_networks  # noqa: PLC0415 - torch models only when verifying

    from .checkpoint import load_checkpoint, load_networks  # noqa: PLC0415

    quick_check_checkpoint(path, hint)
    try:
        state = load_checkpoint(path)
        networks = build_networks(device="meta")
        load_networks(networks, state, assign=True)
    except CheckpointError as err:
        raise CheckpointError(_with_hint(str(err), hint)) from err
    numbers = sum(t.numel() for module in networks.values() for t in module.state_dict().values())
    del state, networks  # release the memory map before the file is renamed
    return f"loads strictly into DECA's networks ({numbers:,} numbers)"


def quick_check_flame(path: Path, hint: str = "") -> None:
    """Cheap check of a ``generic_model.pkl``: a pickle by its first byte, not HTML, not a zip.

    Raises:
        AssetFormatError: the file is an HTML page (a failed login), a zip archive (the FLAME
            download itself) or not a pickle; the message ends with ``hint``.
    """
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(_PICKLE_PROTO):
        return
    if looks_like_html(head):
        what = "an HTML page (a login or error page), not the FLAME model"
    elif head.startswith(_ZIP_MAGIC):
        what = "a zip archive (extract generic_model.pkl from FLAME2020.zip)"
    else:
        what = f"not a pickle (it starts with {head[:8]!r})"
    raise AssetFormatError(_with_hint(f"{path} is {what}.", hint))


def verify_flame_model(path: Path, hint: str = "") -> str:
    """Parse ``path`` with the restricted unpickler and check FLAME 2020's shapes.

    Returns:
        A one-line description of what was verified.

    Raises:
        AssetFormatError: not a FLAME pickle, or shapes other than :data:`FLAME2020_SHAPES`.
        UnsafePickleError: the pickle references globals outside the allow-list.
    """
    from .flame_model import flame_data_from_dict  # noqa: PLC0415 - numpy/scipy only when verifying
    from .safe_pickle import safe_load  # noqa: PLC0415

    quick_check_flame(path, hint)
    try:
        data = flame_data_from_dict(safe_load(path), str(path))
    except AssetFormatError as err:
        raise AssetFormatError(_with_hint(str(err), hint)) from err
    wrong = [
        f"{name} {getattr(data, name).shape} (FLAME 2020: {shape})"
        for name, shape in FLAME2020_SHAPES.items()
        if getattr(data, name).shape != shape
    ]
    if wrong:
        raise AssetFormatError(
            _with_hint(f"{path} is a FLAME-format model but not FLAME 2020: {', '.join(wrong)}.", hint)
        )
    return "reads with the safe loader; FLAME 2020 shapes (5023 vertices, 300 shape + 100 expression)"


def read_manifest(asset_dir: Path) -> dict[str, dict[str, Any]]:
    """The fetch records of ``asset_dir``: relative file path → ``{"sha256", "size", "url", ...}``.

    A missing or unreadable manifest reads as ``{}`` (nothing recorded).
    """
    try:
        raw = json.loads((Path(asset_dir) / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = raw.get("files") if isinstance(raw, dict) else None
    return {k: v for k, v in files.items() if isinstance(v, dict)} if isinstance(files, dict) else {}


def record_fetch(asset_dir: Path, path: Path, *, url: str, check: str, sha256: str | None = None) -> bool:
    """Record the digest and size of ``path`` (inside ``asset_dir``), fetched from ``url``.

    Args:
        asset_dir: the asset directory holding the manifest.
        path: the file just written.
        url: where it came from (never credentials: FLAME's are POSTed, not in the URL).
        check: what was verified (:func:`verify_checkpoint`'s description, ...).
        sha256: the file's digest when already computed.

    Returns:
        Whether the manifest was written (a read-only directory is not an error).
    """
    asset_dir = Path(asset_dir)
    files = read_manifest(asset_dir)
    files[path.relative_to(asset_dir).as_posix()] = {
        "sha256": sha256 or sha256_file(path),
        "size": path.stat().st_size,
        "url": url,
        "fetched": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "check": check,
    }
    document = {"pydeca_assets": MANIFEST_VERSION, "files": dict(sorted(files.items()))}
    text = json.dumps(document, indent=2) + "\n"
    return write_cache_file(asset_dir / MANIFEST_FILE, lambda fh: fh.write(text.encode("utf-8")))
