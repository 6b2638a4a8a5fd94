"""Download the assets DECA needs: ``deca fetch`` (architecture.md, *Assets*; reference §1, §1.9).

Three groups, each a function of its own, all writing into one asset directory:

* ``data``: DECA's public data files (template OBJ, landmark embedding, UV masks, fixed
  displacement, mean texture) from the DECA GitHub repository, verified against the SHA-256 table
  :data:`DATA_FILES` (reference §1: the files' sizes; hashes of the published files).
* ``deca``: the released checkpoint ``deca_model.tar`` (a ``torch.save`` file, reference §1.9) from
  Google Drive, through the optional ``gdown`` package (``pip install "pydeca[fetch]"``).
* ``flame``: ``generic_model.pkl`` from the licence-gated FLAME 2020 archive, an HTTP POST with the
  user's FLAME account (arguments, else ``FLAME_USERNAME`` / ``FLAME_PASSWORD``, else a prompt).

Downloads go through :func:`pydeca.assets.download.download` (resumable, verified, rejects HTML
pages); every failure raises an :class:`~pydeca.errors.AssetError` naming the URL and the exact
destination path.
"""

from __future__ import annotations

import getpass
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydeca.errors import AssetError, AssetFormatError, CheckpointError, InputError

from .download import check_checkpoint_file, download, looks_like_html, sha256_file

__all__ = [
    "DATA_BASE_URL",
    "DATA_FILES",
    "DECA_DRIVE_ID",
    "DECA_MANUAL_URL",
    "DECA_WEIGHTS",
    "FLAME_ARCHIVE",
    "FLAME_SITE",
    "FLAME_URL",
    "RemoteFile",
    "check_checkpoint_file",
    "download",
    "fetch",
    "fetch_data",
    "fetch_deca",
    "fetch_flame",
    "looks_like_html",
    "sha256_file",
]


@dataclass(frozen=True)
class RemoteFile:
    """A file to download: its name in the asset directory, where it comes from, what it must be."""

    name: str
    """File name inside the asset directory."""
    url: str
    """Where to download it from."""
    sha256: str | None
    """Lower-case hex SHA-256 of the expected bytes, or ``None`` when not pinned."""
    size: int | None
    """Expected size in bytes, or ``None`` when not pinned."""
    method: Literal["GET", "POST"] = "GET"
    """HTTP method (FLAME's download is a POST of the login form)."""


DATA_BASE_URL = "https://github.com/yfeng95/DECA/raw/master/data/"
"""Folder of DECA's public data files; a file's URL is this + its name."""

_DATA_TABLE: tuple[tuple[str, str, int], ...] = (
    ("head_template.obj", "dd5bfbce75adb99b1963f43bca7ec3557bd4a7321f8fc515f4100599e80d99f2", 563_358),
    ("landmark_embedding.npy", "8095348eeafce5a02f6bd8765146307f9567a3f03b316d788a2e47336d667954", 31_292),
    (
        "fixed_displacement_256.npy",
        "296d01113d67bdaace6f6fe741f7d855e58dc0707f0bb113758520ffa5d8cb93",
        524_416,
    ),
    ("mean_texture.jpg", "34364c02dec9dfb30580d1575b375553c6cd8d5da5caa6ac5a611ce65b91f529", 53_722),
    ("uv_face_mask.png", "bbf570444e3dddcdc54eaab7eeece97fe87d61cc3761e2c8b22ef495905e56fa", 12_112),
    ("uv_face_eye_mask.png", "a5069d8ffaf020008ae92d5062c4e98600f723aac4eb869731f190e4630467b5", 11_522),
)

DATA_FILES: tuple[RemoteFile, ...] = tuple(
    RemoteFile(name, DATA_BASE_URL + name, sha, size) for name, sha, size in _DATA_TABLE
)
"""DECA's public data files with the SHA-256 and size of the published bytes."""

DECA_DRIVE_ID = "1rp8kdyLPvErw2dTmqtjISRVvQLj6Yzje"
"""Google Drive file id of the released ``deca_model.tar``."""
DECA_MANUAL_URL = f"https://drive.google.com/file/d/{DECA_DRIVE_ID}"
"""The page a user opens in a browser to download ``deca_model.tar`` by hand."""
DECA_WEIGHTS = RemoteFile("deca_model.tar", f"https://drive.google.com/uc?id={DECA_DRIVE_ID}", None, None)
"""The released DECA checkpoint (no published checksum)."""

FLAME_SITE = "https://flame.is.tue.mpg.de"
"""Where users register for FLAME and accept its licence."""
FLAME_URL = "https://download.is.tue.mpg.de/download.php?domain=flame&sfile=FLAME2020.zip&resume=1"
"""The FLAME 2020 archive; POST ``username`` and ``password`` of a FLAME account."""
FLAME_ARCHIVE = RemoteFile("FLAME2020.zip", FLAME_URL, None, None, "POST")
"""The FLAME 2020 zip; ``generic_model.pkl`` is extracted from it."""

GROUPS = ("data", "deca", "flame")
"""The asset groups of :func:`fetch` (``"all"`` means every one)."""


def _is_present(path: Path, sha256: str | None) -> bool:
    """Whether ``path`` exists (and has the SHA-256 ``sha256`` when one is given)."""
    return path.is_file() and (sha256 is None or sha256_file(path) == sha256)


def _fetch_data(asset_dir: Path, base_url: str, progress: bool, force: bool) -> tuple[list[Path], list[Path]]:
    downloaded, present = [], []
    for remote in DATA_FILES:
        dest = asset_dir / remote.name
        if not force and _is_present(dest, remote.sha256):
            present.append(dest)
            continue
        download(
            base_url + remote.name,
            dest,
            sha256=remote.sha256,
            expected_size=remote.size,
            progress=progress,
            expect_binary=True,
        )
        downloaded.append(dest)
    return downloaded, present


def fetch_data(
    asset_dir: Path, *, base_url: str = DATA_BASE_URL, progress: bool = True, force: bool = False
) -> list[Path]:
    """Download DECA's public data files (:data:`DATA_FILES`) into ``asset_dir``.

    Files already present with the right SHA-256 are skipped (unless ``force``); a present file with
    a wrong hash is downloaded again.

    Returns:
        The paths of all the data files, in :data:`DATA_FILES` order.
    """
    _fetch_data(Path(asset_dir), base_url, progress, force)
    return [Path(asset_dir) / remote.name for remote in DATA_FILES]


def _deca_hint(dest: Path) -> str:
    return f"Download it manually from {DECA_MANUAL_URL} and put it at {dest}."


def _is_drive_url(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("drive.google.com", "docs.google.com", "drive.usercontent.google.com")


def _gdown(url: str, part: Path, dest: Path, progress: bool) -> None:
    """Download a Google Drive file into ``part`` with gdown (optional dependency)."""
    try:
        import gdown  # noqa: PLC0415 - optional extra
    except ImportError as err:
        raise AssetError(
            f'downloading from Google Drive needs gdown: pip install "pydeca[fetch]". {_deca_hint(dest)}'
        ) from err
    try:
        out = gdown.download(url=url, output=str(part), quiet=not progress, resume=True)
    except Exception as err:  # gdown raises its own exception types, and requests' ones
        raise AssetError(f"Google Drive download failed ({err}). {_deca_hint(dest)}") from err
    if out is None or not part.is_file():
        raise AssetError(f"Google Drive download failed. {_deca_hint(dest)}")


def fetch_deca(
    asset_dir: Path, *, url: str | None = None, progress: bool = True, force: bool = False
) -> Path:
    """Download the released DECA checkpoint to ``asset_dir / "deca_model.tar"``.

    A Google Drive URL (the default, :data:`DECA_WEIGHTS`) goes through gdown; any other URL (tests,
    mirrors) through :func:`download`. The result is checked with :func:`check_checkpoint_file`.
    An existing valid file is kept unless ``force``.

    Raises:
        CheckpointError: the download is an HTML page (Drive's quota / virus-scan page) or not a
            checkpoint; the message gives the manual download link and the destination path.
        AssetError: the host cannot be reached or gdown is missing.
    """
    dest = Path(asset_dir) / DECA_WEIGHTS.name
    hint = _deca_hint(dest)
    if not force and dest.is_file():
        check_checkpoint_file(dest, hint)
        return dest
    url = url or DECA_WEIGHTS.url
    if not _is_drive_url(url):
        try:
            return download(
                url,
                dest,
                progress=progress,
                validate=lambda p: check_checkpoint_file(p, hint),
                manual=f"download it manually from {DECA_MANUAL_URL} and put it at {dest}",
            )
        except AssetFormatError as err:  # download's HTML check (Content-Type or first bytes)
            raise CheckpointError(
                f"{url} returned an HTML page, not the DECA checkpoint (Google Drive's quota or "
                f"virus-scan page is the usual cause). {hint}"
            ) from err
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(dest.suffix + ".part")
    _gdown(url, part, dest, progress)
    try:
        check_checkpoint_file(part, hint)
    except CheckpointError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


def _flame_credentials(username: str | None, password: str | None) -> tuple[str, str]:
    """FLAME account: arguments → ``FLAME_USERNAME``/``FLAME_PASSWORD`` → prompt (interactive only)."""
    username = username or os.environ.get("FLAME_USERNAME") or None
    password = password or os.environ.get("FLAME_PASSWORD") or None
    if username and password:
        return username, password
    if not sys.stdin.isatty():
        raise AssetError(
            "FLAME needs your FLAME account (register and accept the licence at "
            f"{FLAME_SITE}): set the environment variables FLAME_USERNAME and FLAME_PASSWORD, "
            "or run the command in a terminal to be asked."
        )
    sys.stderr.write(f"FLAME 2020 needs your account at {FLAME_SITE}.\n")
    username = username or input("FLAME username (e-mail): ").strip()
    password = password or getpass.getpass("FLAME password: ")
    return username, password


def _login_failed(zip_path: Path) -> AssetFormatError:
    return AssetFormatError(
        f"FLAME login failed, check your FLAME account at {FLAME_SITE} (user name, password, accepted "
        f"licence); nothing was saved at {zip_path}"
    )


def _extract_generic_model(zip_path: Path, dest: Path) -> None:
    """Extract ``generic_model.pkl`` (any folder) from the FLAME zip to ``dest`` atomically."""
    with zipfile.ZipFile(zip_path) as archive:
        members = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == dest.name]
        if not members:
            raise AssetFormatError(
                f"{zip_path} has no {dest.name} (members: {', '.join(archive.namelist()[:10])}); "
                f"download FLAME 2020 from {FLAME_SITE} and put {dest.name} at {dest}"
            )
        tmp = dest.with_suffix(dest.suffix + ".part")
        with archive.open(min(members, key=len)) as src, open(tmp, "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
    os.replace(tmp, dest)


def fetch_flame(
    asset_dir: Path,
    *,
    username: str | None = None,
    password: str | None = None,
    url: str = FLAME_URL,
    progress: bool = True,
    force: bool = False,
    keep_zip: bool = False,
) -> Path:
    """Download FLAME 2020 with the user's account and extract ``asset_dir / "generic_model.pkl"``.

    Credentials: arguments, else ``FLAME_USERNAME`` / ``FLAME_PASSWORD``, else a prompt when stdin is
    a terminal. The archive is kept as ``FLAME2020.zip`` only when ``keep_zip``. An existing
    ``generic_model.pkl`` is kept unless ``force``.

    Raises:
        AssetError: no credentials in a non-interactive session; host unreachable.
        AssetFormatError: login failed (an HTML page or a non-zip answer), or the zip lacks the model.
    """
    asset_dir = Path(asset_dir)
    dest = asset_dir / "generic_model.pkl"
    if not force and dest.is_file():
        return dest
    username, password = _flame_credentials(username, password)
    zip_path = asset_dir / FLAME_ARCHIVE.name

    def _check_zip(part: Path) -> None:
        if not zipfile.is_zipfile(part):
            raise _login_failed(zip_path)

    reuse_zip = not force and zip_path.is_file() and zipfile.is_zipfile(zip_path)
    if not reuse_zip:
        try:
            download(
                url,
                zip_path,
                data={"username": username, "password": password},
                progress=progress,
                validate=_check_zip,
                manual=f"download FLAME 2020 from {FLAME_SITE} and put generic_model.pkl at {dest}",
            )
        except AssetFormatError as err:
            raise _login_failed(zip_path) from err
    _extract_generic_model(zip_path, dest)
    if not keep_zip:
        zip_path.unlink()
    return dest


def fetch(
    what: Sequence[str],
    asset_dir: str | Path | None = None,
    *,
    progress: bool = True,
    force: bool = False,
    username: str | None = None,
    password: str | None = None,
    keep_zip: bool = False,
    data_base_url: str = DATA_BASE_URL,
    deca_url: str | None = None,
    flame_url: str = FLAME_URL,
) -> dict[str, list[str]]:
    """Fetch the asset groups ``what`` (``"data"``, ``"deca"``, ``"flame"``, ``"all"``).

    The asset directory is resolved with :func:`pydeca.assets.paths.resolve_asset_dir`. FLAME
    credentials are resolved before anything is downloaded, so a missing account fails fast.

    Returns:
        ``{"downloaded": [...], "present": [...]}``: paths (str) downloaded now and already present.

    Raises:
        InputError: an unknown group name.
        AssetError: see :func:`download`, :func:`fetch_data`, :func:`fetch_deca`, :func:`fetch_flame`.
    """
    from .paths import resolve_asset_dir  # noqa: PLC0415 - keep this module importable on its own

    unknown = sorted(set(what) - {*GROUPS, "all"})
    if unknown:
        raise InputError(f"unknown asset group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}, all")
    groups = GROUPS if "all" in what else tuple(g for g in GROUPS if g in what)
    root = resolve_asset_dir(asset_dir)
    report: dict[str, list[str]] = {"downloaded": [], "present": []}

    flame_dest = root / "generic_model.pkl"
    if "flame" in groups and (force or not flame_dest.is_file()):
        username, password = _flame_credentials(username, password)
    if "data" in groups:
        downloaded, present = _fetch_data(root, data_base_url, progress, force)
        report["downloaded"] += [str(p) for p in downloaded]
        report["present"] += [str(p) for p in present]
    if "deca" in groups:
        had = not force and (root / DECA_WEIGHTS.name).is_file()
        path = fetch_deca(root, url=deca_url, progress=progress, force=force)
        report["present" if had else "downloaded"].append(str(path))
    if "flame" in groups:
        had = not force and flame_dest.is_file()
        path = fetch_flame(
            root,
            username=username,
            password=password,
            url=flame_url,
            progress=progress,
            force=force,
            keep_zip=keep_zip,
        )
        report["present" if had else "downloaded"].append(str(path))
    return report
