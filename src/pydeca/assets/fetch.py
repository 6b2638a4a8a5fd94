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
destination path. The checkpoint and the FLAME model have no published checksum: they are verified
by loading them (:mod:`pydeca.assets.integrity`), and the digest of every file written is recorded
in ``<asset dir>/pydeca_assets.json`` for ``deca doctor``.

Where files come from (a lab mirror, a local test server): per group, the first that is set of
the function argument, ``mirror`` (``deca fetch --mirror URL``: a folder URL holding the data files
and ``deca_model.tar``), the environment variables ``PYDECA_DATA_URL`` (folder of the data files),
``PYDECA_DECA_URL`` (the checkpoint), ``PYDECA_FLAME_URL`` (the FLAME 2020 zip, POSTed with the
account), ``PYDECA_MIRROR``, and the official location (:func:`resolve_sources`).
"""

from __future__ import annotations

import getpass
import os
import sys
import urllib.parse
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydeca.errors import AssetError, AssetFormatError, CheckpointError, InputError

from .download import check_checkpoint_file, download, looks_like_html, sha256_file
from .integrity import (
    quick_check_checkpoint,
    quick_check_flame,
    record_fetch,
    verify_checkpoint,
    verify_flame_model,
)
from .paths import find_asset

__all__ = [
    "DATA_BASE_URL",
    "DATA_FILES",
    "DECA_DRIVE_ID",
    "DECA_MANUAL_URL",
    "DECA_WEIGHTS",
    "ENV_DATA_URL",
    "ENV_DECA_URL",
    "ENV_FLAME_URL",
    "ENV_MIRROR",
    "FLAME_ARCHIVE",
    "FLAME_SITE",
    "FLAME_URL",
    "FetchSources",
    "RemoteFile",
    "check_checkpoint_file",
    "download",
    "fetch",
    "fetch_data",
    "fetch_deca",
    "fetch_flame",
    "looks_like_html",
    "resolve_sources",
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

ENV_MIRROR = "PYDECA_MIRROR"
"""Environment variable: folder URL of a mirror holding the data files and ``deca_model.tar``."""
ENV_DATA_URL = "PYDECA_DATA_URL"
"""Environment variable: folder URL of DECA's data files (a file's URL is this + its name)."""
ENV_DECA_URL = "PYDECA_DECA_URL"
"""Environment variable: URL of ``deca_model.tar`` (Google Drive URLs go through gdown)."""
ENV_FLAME_URL = "PYDECA_FLAME_URL"
"""Environment variable: URL of the FLAME 2020 zip (POSTed with the FLAME account)."""

_DATA_CHECK = "sha256 matches DECA's published file"


@dataclass(frozen=True)
class FetchSources:
    """Where :func:`fetch` downloads each group from (see :func:`resolve_sources`)."""

    data_base_url: str
    """Folder URL of the data files, ending with ``/``; a file's URL is this + its name."""
    deca_url: str
    """URL of ``deca_model.tar``."""
    flame_url: str
    """URL of the FLAME 2020 zip."""


def _folder(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def resolve_sources(
    *,
    mirror: str | None = None,
    data_base_url: str | None = None,
    deca_url: str | None = None,
    flame_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> FetchSources:
    """The download URLs: per group the first set of argument → ``mirror`` → env var → official.

    The environment variables are :data:`ENV_DATA_URL`, :data:`ENV_DECA_URL`, :data:`ENV_FLAME_URL`
    and then :data:`ENV_MIRROR`. A mirror is a folder URL holding the data files and
    ``deca_model.tar`` under their own names; FLAME is not taken from a mirror (its licence is
    per user): set :data:`ENV_FLAME_URL` for that.

    Example:
        >>> resolve_sources(mirror="http://lab/deca", environ={}).deca_url
        'http://lab/deca/deca_model.tar'
    """
    env = os.environ if environ is None else environ
    env_mirror = env.get(ENV_MIRROR) or None

    def first(*candidates: str | None) -> str:
        return next(c for c in candidates if c)

    def in_mirror(folder: str | None, name: str = "") -> str | None:
        return _folder(folder) + name if folder else None

    return FetchSources(
        data_base_url=_folder(
            first(
                data_base_url, in_mirror(mirror), env.get(ENV_DATA_URL), in_mirror(env_mirror), DATA_BASE_URL
            )
        ),
        deca_url=first(
            deca_url,
            in_mirror(mirror, DECA_WEIGHTS.name),
            env.get(ENV_DECA_URL),
            in_mirror(env_mirror, DECA_WEIGHTS.name),
            DECA_WEIGHTS.url,
        ),
        flame_url=first(flame_url, env.get(ENV_FLAME_URL), FLAME_URL),
    )


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
        url = base_url + remote.name
        download(
            url,
            dest,
            sha256=remote.sha256,
            expected_size=remote.size,
            progress=progress,
            expect_binary=True,
        )
        record_fetch(asset_dir, dest, url=url, check=_DATA_CHECK, sha256=remote.sha256)
        downloaded.append(dest)
    return downloaded, present


def fetch_data(
    asset_dir: Path, *, base_url: str = DATA_BASE_URL, progress: bool = True, force: bool = False
) -> list[Path]:
    """Download DECA's public data files (:data:`DATA_FILES`) into ``asset_dir``.

    Files already present with the right SHA-256 are skipped (unless ``force``); a present file with
    a wrong hash is downloaded again. Each download is recorded in the asset manifest.

    Returns:
        The paths of all the data files, in :data:`DATA_FILES` order.
    """
    _fetch_data(Path(asset_dir), _folder(base_url), progress, force)
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


def _usable(path: Path | None, quick_check: Callable[[Path], None]) -> Path | None:
    """``path`` if it exists and passes ``quick_check``; else ``None`` (download it again)."""
    if path is None or not path.is_file():
        return None
    try:
        quick_check(path)
    except AssetError:
        return None
    return path


def _fetch_deca(asset_dir: Path, url: str, progress: bool, force: bool) -> tuple[Path, str | None]:
    """Download and verify ``deca_model.tar``; returns its path and what was verified (None: kept)."""
    dest = asset_dir / DECA_WEIGHTS.name
    hint = _deca_hint(dest)
    if not force and _usable(dest, quick_check_checkpoint):
        return dest, None  # an HTML page or a short file from an earlier attempt is replaced
    checks: list[str] = []

    def validate(part: Path) -> None:
        checks.append(verify_checkpoint(part, hint))

    if not _is_drive_url(url):
        try:
            download(
                url,
                dest,
                progress=progress,
                validate=validate,
                manual=f"download it manually from {DECA_MANUAL_URL} and put it at {dest}",
            )
        except AssetFormatError as err:  # download's HTML check (Content-Type or first bytes)
            raise CheckpointError(
                f"{url} returned an HTML page, not the DECA checkpoint (Google Drive's quota or "
                f"virus-scan page is the usual cause). {hint}"
            ) from err
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_suffix(dest.suffix + ".part")
        _gdown(url, part, dest, progress)
        try:
            validate(part)
        except CheckpointError:
            part.unlink(missing_ok=True)
            raise
        os.replace(part, dest)
    record_fetch(asset_dir, dest, url=url, check=checks[-1])
    return dest, checks[-1]


def fetch_deca(
    asset_dir: Path, *, url: str | None = None, progress: bool = True, force: bool = False
) -> Path:
    """Download the released DECA checkpoint to ``asset_dir / "deca_model.tar"`` and verify it.

    A Google Drive URL (the default, :data:`DECA_WEIGHTS`) goes through gdown; any other URL (a
    mirror, tests) through :func:`download`. The download must load strictly into DECA's networks
    (:func:`~pydeca.assets.integrity.verify_checkpoint`); its digest goes into the asset manifest.
    An existing file that passes the cheap checks (a torch file of plausible size) is kept unless
    ``force``; one that does not (an HTML page, a truncated download) is downloaded again.

    Raises:
        CheckpointError: the download is an HTML page (Drive's quota / virus-scan page), too small,
            or not DECA's checkpoint; the message gives the manual download link and the path.
        AssetError: the host cannot be reached or gdown is missing.
    """
    return _fetch_deca(Path(asset_dir), url or DECA_WEIGHTS.url, progress, force)[0]


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


def _extract_generic_model(zip_path: Path, dest: Path, hint: str) -> str:
    """Extract ``generic_model.pkl`` (any folder) from the FLAME zip, verify it, move it to ``dest``.

    Returns:
        What was verified (:func:`~pydeca.assets.integrity.verify_flame_model`).
    """
    with zipfile.ZipFile(zip_path) as archive:
        members = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == dest.name]
        if not members:
            raise AssetFormatError(
                f"{zip_path} has no {dest.name} (members: {', '.join(archive.namelist()[:10])}); {hint}"
            )
        part = dest.with_suffix(dest.suffix + ".part")
        with archive.open(min(members, key=len)) as src, open(part, "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
    try:
        check = verify_flame_model(part, f"(extracted from {zip_path}) {hint}")
    except Exception:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return check


def _fetch_flame(
    asset_dir: Path,
    *,
    username: str | None,
    password: str | None,
    url: str,
    progress: bool,
    force: bool,
    keep_zip: bool,
) -> tuple[Path, str | None]:
    """Download FLAME 2020, extract and verify the model; returns its path and the check (None: kept)."""
    existing = _usable(find_asset(asset_dir, "flame_model"), quick_check_flame)
    if not force and existing is not None:
        return existing, None
    dest = asset_dir / "generic_model.pkl"
    hint = f"Download FLAME 2020 from {FLAME_SITE} and put generic_model.pkl at {dest}."
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
    try:
        check = _extract_generic_model(zip_path, dest, hint)
    except AssetError:
        if not keep_zip:  # a zip whose model is unusable would only fail again
            zip_path.unlink(missing_ok=True)
        raise
    if not keep_zip:
        zip_path.unlink()
    record_fetch(asset_dir, dest, url=url, check=check)
    return dest, check


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
    a terminal. The extracted model must read with the safe loader and have FLAME 2020's shapes
    (:func:`~pydeca.assets.integrity.verify_flame_model`); its digest goes into the asset manifest.
    The archive is kept as ``FLAME2020.zip`` only when ``keep_zip``. An existing model (at the top
    or in DECA's ``FLAME2020/`` folder) that is a pickle is kept unless ``force``.

    Returns:
        The path of the model (the existing one when kept).

    Raises:
        AssetError: no credentials in a non-interactive session; host unreachable.
        AssetFormatError: login failed (an HTML page or a non-zip answer), the zip lacks the model,
            or the model is not FLAME 2020.
    """
    return _fetch_flame(
        Path(asset_dir),
        username=username,
        password=password,
        url=url,
        progress=progress,
        force=force,
        keep_zip=keep_zip,
    )[0]


def fetch(
    what: Sequence[str],
    asset_dir: str | Path | None = None,
    *,
    progress: bool = True,
    force: bool = False,
    username: str | None = None,
    password: str | None = None,
    keep_zip: bool = False,
    mirror: str | None = None,
    data_base_url: str | None = None,
    deca_url: str | None = None,
    flame_url: str | None = None,
) -> dict[str, Any]:
    """Fetch the asset groups ``what`` (``"data"``, ``"deca"``, ``"flame"``, ``"all"``).

    The asset directory is resolved with :func:`pydeca.assets.paths.resolve_asset_dir`, the URLs
    with :func:`resolve_sources` (arguments, ``mirror``, environment variables, official). FLAME
    credentials are resolved before anything is downloaded, so a missing account fails fast.

    Returns:
        ``{"asset_dir": str, "downloaded": [...], "present": [...], "checks": {path: what was
        verified}}``: paths (str) downloaded now and already present.

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
    sources = resolve_sources(
        mirror=mirror, data_base_url=data_base_url, deca_url=deca_url, flame_url=flame_url
    )
    report: dict[str, Any] = {"asset_dir": str(root), "downloaded": [], "present": [], "checks": {}}

    def add(path: Path, check: str | None) -> None:
        report["present" if check is None else "downloaded"].append(str(path))
        if check is not None:
            report["checks"][str(path)] = check

    if "flame" in groups and (force or _usable(find_asset(root, "flame_model"), quick_check_flame) is None):
        username, password = _flame_credentials(username, password)
    if "data" in groups:
        downloaded, present = _fetch_data(root, sources.data_base_url, progress, force)
        for path in present:
            add(path, None)
        for path in downloaded:
            add(path, _DATA_CHECK)
    if "deca" in groups:
        add(*_fetch_deca(root, sources.deca_url, progress, force))
    if "flame" in groups:
        add(
            *_fetch_flame(
                root,
                username=username,
                password=password,
                url=sources.flame_url,
                progress=progress,
                force=force,
                keep_zip=keep_zip,
            )
        )
    return report
