"""Where pydeca's asset files live: DECA's file names and the asset / cache directories.

Resolution order of the asset directory: an explicit argument (``--assets DIR``) → the
``PYDECA_HOME`` environment variable → the platform data directory
(``platformdirs.user_data_dir("pydeca")``). Converted files (the FLAME ``.npz``) go to the cache
directory: ``PYDECA_CACHE`` → ``platformdirs.user_cache_dir("pydeca")``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import platformdirs

from pydeca.errors import AssetError, AssetFormatError, PydecaError

__all__ = [
    "ALTERNATIVE_LOCATIONS",
    "ASSET_FILES",
    "HOW_TO_GET",
    "MANIFEST_FILE",
    "REQUIRED_ASSETS",
    "SEARCH_SUBDIRS",
    "asset_candidates",
    "asset_path",
    "asset_read_error",
    "default_cache_dir",
    "find_asset",
    "reading_asset",
    "resolve_asset_dir",
    "write_cache_file",
]

ASSET_FILES: dict[str, str] = {
    "flame_model": "generic_model.pkl",
    "landmark_embedding": "landmark_embedding.npy",
    "head_template": "head_template.obj",
    "face_mask": "uv_face_mask.png",
    "face_eye_mask": "uv_face_eye_mask.png",
    "fixed_displacement": "fixed_displacement_256.npy",
    "mean_texture": "mean_texture.jpg",
    "albedo_bfm": "FLAME_albedo_from_BFM.npz",
    "albedo_flame": "FLAME_texture.npz",
    "checkpoint": "deca_model.tar",
    "demo_marker": "pydeca_demo.json",
}
"""Logical asset name → DECA's file name inside the asset directory."""

SEARCH_SUBDIRS: tuple[str, ...] = ("", "FLAME2020", "data", "data/FLAME2020")
"""Folders of the asset dir searched for every file, in order: pydeca's flat layout, DECA's
``data/FLAME2020/`` (the fork and the Apple-Silicon port keep ``generic_model.pkl``,
``landmark_embedding.npy`` and ``FLAME_albedo_from_BFM.npz`` there), and a DECA checkout's root
(``data/``, ``data/FLAME2020/``) passed as the asset dir."""

ALTERNATIVE_LOCATIONS: dict[str, tuple[str, ...]] = {
    name: tuple(f"{sub}/{filename}" for sub in SEARCH_SUBDIRS[1:]) for name, filename in ASSET_FILES.items()
}
"""Logical asset name → the other places, relative to the asset dir, where a known layout keeps it."""

REQUIRED_ASSETS = (
    "flame_model",
    "checkpoint",
    "landmark_embedding",
    "head_template",
    "face_mask",
    "face_eye_mask",
    "fixed_displacement",
)
"""The assets :func:`pydeca.assets.bundle.load_assets` cannot do without (in the order reported)."""

HOW_TO_GET: dict[str, str] = {
    "flame_model": "register at https://flame.is.tue.mpg.de, then `deca fetch flame`",
    "checkpoint": "`deca fetch deca` (the DECA weights, from Google Drive)",
    "landmark_embedding": "`deca fetch data` (DECA's public data files)",
    "head_template": "`deca fetch data` (DECA's public data files)",
    "face_mask": "`deca fetch data` (DECA's public data files)",
    "face_eye_mask": "`deca fetch data` (DECA's public data files)",
    "fixed_displacement": "`deca fetch data` (DECA's public data files)",
    "mean_texture": "`deca fetch data` (optional)",
    "albedo_bfm": "optional: convert the BFM albedo (https://github.com/TimoBolkart/BFM_to_FLAME)",
    "albedo_flame": "optional: the FLAME texture space from https://flame.is.tue.mpg.de",
}
"""Logical asset name → the command (or page) that gets it."""

MANIFEST_FILE = "pydeca_assets.json"
"""Record of what ``deca fetch`` downloaded into an asset directory (digest, size, URL, time)."""


def resolve_asset_dir(explicit: str | Path | None = None) -> Path:
    """The asset directory: ``explicit`` → ``$PYDECA_HOME`` → the platform user data dir.

    The directory is not required to exist (``deca fetch`` creates it); ``~`` is expanded.
    """
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    env = os.environ.get("PYDECA_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("pydeca"))


def asset_candidates(asset_dir: Path, name: str) -> list[Path]:
    """Every path, in search order, where logical asset ``name`` may live in ``asset_dir``."""
    return [Path(asset_dir) / relative for relative in (ASSET_FILES[name], *ALTERNATIVE_LOCATIONS[name])]


def find_asset(asset_dir: Path, name: str) -> Path | None:
    """The file of logical asset ``name`` (a key of :data:`ASSET_FILES`) in ``asset_dir``, if any.

    Searched in :data:`SEARCH_SUBDIRS` order (:func:`asset_candidates`). When no file is found, a
    folder bearing the file's name is returned (not reported as absent), so that loading it names
    the problem.
    """
    candidates = asset_candidates(asset_dir, name)
    return next((p for p in candidates if p.is_file()), None) or next(
        (p for p in candidates if p.is_dir()), None
    )


def asset_read_error(path: Path | str, exc: OSError) -> AssetError:
    """A one-line :class:`AssetError` for an asset file that exists but cannot be read.

    Args:
        path: the file.
        exc: the error the read raised (permission denied, a folder, an I/O error).
    """
    if isinstance(exc, IsADirectoryError) or Path(path).is_dir():
        return AssetFormatError(
            f"{path} is a folder, but the asset must be a file: remove or rename the folder and put "
            "the file there (`deca doctor` lists every asset and how to get it)"
        )
    if isinstance(exc, PermissionError):
        return AssetError(
            f"cannot read {path}: permission denied; make it readable (e.g. `chmod a+r {path}`) or "
            "run as a user who may read it"
        )
    reason = exc.strerror or type(exc).__name__
    return AssetError(
        f"cannot read {path} ({reason}): check the disk, then replace the file (`deca doctor` says "
        "how to get it)"
    )


@contextmanager
def reading_asset(path: Path | str) -> Iterator[None]:
    """Turn an :class:`OSError` raised while reading asset ``path`` into :func:`asset_read_error`.

    pydeca's own errors pass through unchanged.
    """
    try:
        yield
    except PydecaError:
        raise
    except OSError as exc:
        raise asset_read_error(path, exc) from exc


def default_cache_dir() -> Path:
    """The cache directory for converted assets: ``$PYDECA_CACHE`` → platform user cache dir."""
    env = os.environ.get("PYDECA_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("pydeca"))


def asset_path(name: str, asset_dir: str | Path | None = None) -> Path:
    """Path of the logical asset ``name`` (a key of :data:`ASSET_FILES`) in the asset directory.

    Raises:
        KeyError: ``name`` is not a known asset.
    """
    if name not in ASSET_FILES:
        raise KeyError(f"unknown asset {name!r}; known: {', '.join(ASSET_FILES)}")
    return resolve_asset_dir(asset_dir) / ASSET_FILES[name]


def write_cache_file(path: Path, write: Callable[[IO[bytes]], object]) -> bool:
    """Write a cache file atomically (``write(handle)`` to a temporary file, then ``os.replace``).

    A cache is an optimisation, so failing to write one is not an error.

    Returns:
        True if ``path`` now holds the new file; False if the directory is not writable or the disk
        is full (nothing is left behind).
    """
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.stem}", suffix=".tmp", delete=False
        ) as fh:
            tmp_name = fh.name
            write(fh)
        os.replace(tmp_name, path)
        return True
    except OSError:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
        return False
