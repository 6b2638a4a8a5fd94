"""Download the assets DECA needs: ``deca fetch`` (architecture.md, *Assets*; reference §1, §1.9).

Three groups, each a function of its own, all writing into one asset directory:

* ``data``: DECA's public data files (template OBJ, landmark embedding, UV masks, fixed
  displacement, mean texture) from the DECA GitHub repository, verified against the SHA-256 table
  :data:`DATA_FILES` (reference §1: the files' sizes; hashes of the published files).
* ``deca``: the released checkpoint ``deca_model.tar`` (a ``torch.save`` file, reference §1.9) from
  Google Drive, through the optional ``gdown`` package (``pip install "pydeca[fetch]"``).
* ``flame``: ``generic_model.pkl`` from the licence-gated FLAME 2020 archive, an HTTP POST with the
  user's FLAME account (arguments, else ``FLAME_USERNAME`` / ``FLAME_PASSWORD``, else the
  ``ask_account`` callback: ``deca fetch`` asks in the terminal; this module never reads stdin).

Each group's function returns a :class:`FetchReport` (files downloaded now, files already present,
what was verified); :func:`fetch` runs the groups asked for and joins their reports.

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

import os
import urllib.parse
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
    "ENV_FLAME_PASSWORD",
    "ENV_FLAME_URL",
    "ENV_FLAME_USERNAME",
    "ENV_MIRROR",
    "FLAME_ARCHIVE",
    "FLAME_SITE",
    "FLAME_URL",
    "GROUPS",
    "AccountPrompt",
    "FetchReport",
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
ENV_FLAME_USERNAME = "FLAME_USERNAME"
"""Environment variable: user name (e-mail) of the FLAME account."""
ENV_FLAME_PASSWORD = "FLAME_PASSWORD"  # noqa: S105 - the variable's name, not a password
"""Environment variable: password of the FLAME account."""

AccountPrompt = Callable[[str | None, str | None], tuple[str, str]]
"""Asks the user for the FLAME account: ``ask_account(username, password) -> (username, password)``.

Called with what is already known (``None`` for what is not) and returns both, e.g. asking only for
the password when the user name was given. ``deca fetch`` passes one reading the terminal
(``input`` and ``getpass``); the library never reads stdin itself.
"""

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


@dataclass(frozen=True)
class FetchReport:
    """What a fetch did in one asset directory: the files downloaded now and those already there.

    Every fetch function returns one; :func:`fetch` joins those of its groups in the order data,
    deca, flame. ``deca fetch`` prints one line per file from it, ``deca fetch --json`` prints
    :meth:`to_dict`.
    """

    asset_dir: Path
    """The asset directory the files were fetched into."""
    downloaded: tuple[Path, ...] = ()
    """Files downloaded and verified now, in download order."""
    present: tuple[Path, ...] = ()
    """Files already present and usable, left as they were (nothing was requested for them)."""
    checks: Mapping[Path, str] = field(default_factory=dict, hash=False)
    """What was verified, per downloaded file (e.g. ``"sha256 matches DECA's published file"``)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``deca fetch --json``), paths as strings.

        Returns:
            ``{"asset_dir": str, "downloaded": [str, ...], "present": [str, ...], "checks":
            {str: str}}``.

        Example:
            >>> FetchReport(Path("a"), present=(Path("a/x.png"),)).to_dict()["present"]
            ['a/x.png']
        """
        return {
            "asset_dir": str(self.asset_dir),
            "downloaded": [str(p) for p in self.downloaded],
            "present": [str(p) for p in self.present],
            "checks": {str(p): self.checks[p] for p in self.downloaded if p in self.checks},
        }


def _joined(asset_dir: Path, reports: Sequence[FetchReport]) -> FetchReport:
    """One report holding the files of ``reports``, in their order."""
    return FetchReport(
        asset_dir,
        downloaded=tuple(p for r in reports for p in r.downloaded),
        present=tuple(p for r in reports for p in r.present),
        checks={p: c for r in reports for p, c in r.checks.items()},
    )


def fetch_data(
    asset_dir: str | Path, *, base_url: str = DATA_BASE_URL, progress: bool = True, force: bool = False
) -> FetchReport:
    """Download DECA's public data files (:data:`DATA_FILES`) into ``asset_dir``.

    Files already present with the right SHA-256 are skipped (unless ``force``); a present file with
    a wrong hash is downloaded again. Each download is recorded in the asset manifest.

    Args:
        asset_dir: the asset directory (created if missing).
        base_url: folder URL of the data files; a file's URL is this + its name.
        progress: show a progress bar per download (on stderr).
        force: download every file again, even when present.

    Returns:
        The files downloaded now and those already present, each in :data:`DATA_FILES` order.

    Raises:
        AssetError: a download failed (unreachable host, HTML page, size or checksum mismatch); the
            message names the URL and the destination.
    """
    root = Path(asset_dir)
    base = _folder(base_url)
    downloaded: list[Path] = []
    present: list[Path] = []
    for remote in DATA_FILES:
        dest = root / remote.name
        if not force and _is_present(dest, remote.sha256):
            present.append(dest)
            continue
        url = base + remote.name
        download(
            url,
            dest,
            sha256=remote.sha256,
            expected_size=remote.size,
            progress=progress,
            expect_binary=True,
        )
        record_fetch(root, dest, url=url, check=_DATA_CHECK, sha256=remote.sha256)
        downloaded.append(dest)
    return FetchReport(root, tuple(downloaded), tuple(present), dict.fromkeys(downloaded, _DATA_CHECK))


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


def fetch_deca(
    asset_dir: str | Path, *, url: str | None = None, progress: bool = True, force: bool = False
) -> FetchReport:
    """Download the released DECA checkpoint to ``asset_dir / "deca_model.tar"`` and verify it.

    A Google Drive URL (the default, :data:`DECA_WEIGHTS`) goes through gdown; any other URL (a
    mirror, tests) through :func:`download`. The download must load strictly into DECA's networks
    (:func:`~pydeca.assets.integrity.verify_checkpoint`); its digest goes into the asset manifest.
    An existing file that passes the cheap checks (a torch file of plausible size) is kept unless
    ``force``; one that does not (an HTML page, a truncated download) is downloaded again.

    Args:
        asset_dir: the asset directory (created if missing).
        url: where to download the checkpoint from (default: :data:`DECA_WEIGHTS`'s Google Drive URL).
        progress: show a progress bar (on stderr).
        force: download again even when a usable checkpoint is present.

    Returns:
        The checkpoint as downloaded (with what was verified) or as present.

    Raises:
        CheckpointError: the download is an HTML page (Drive's quota / virus-scan page), too small,
            or not DECA's checkpoint; the message gives the manual download link and the path.
        AssetError: the host cannot be reached or gdown is missing.
    """
    root = Path(asset_dir)
    url = url or DECA_WEIGHTS.url
    dest = root / DECA_WEIGHTS.name
    hint = _deca_hint(dest)
    if not force and _usable(dest, quick_check_checkpoint):
        return FetchReport(root, present=(dest,))  # an HTML page or a short file is replaced below
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
    record_fetch(root, dest, url=url, check=checks[-1])
    return FetchReport(root, downloaded=(dest,), checks={dest: checks[-1]})


def _no_account_error() -> AssetError:
    return AssetError(
        f"FLAME needs your FLAME account (register and accept the licence at {FLAME_SITE}): set the "
        f"environment variables {ENV_FLAME_USERNAME} and {ENV_FLAME_PASSWORD}, or run `deca fetch` in "
        "a terminal to be asked (from Python: pass username and password, or an ask_account callback)."
    )


def _flame_account(
    username: str | None, password: str | None, ask_account: AccountPrompt | None
) -> tuple[str, str]:
    """FLAME account: arguments → :data:`ENV_FLAME_USERNAME` / :data:`ENV_FLAME_PASSWORD` → ``ask_account``.

    ``ask_account`` is called (once) only when the user name or the password is still unknown.

    Raises:
        AssetError: an account is still missing and there is no ``ask_account``, or it gave an
            empty user name or password.
    """
    username = username or os.environ.get(ENV_FLAME_USERNAME) or None
    password = password or os.environ.get(ENV_FLAME_PASSWORD) or None
    if username and password:
        return username, password
    if ask_account is None:
        raise _no_account_error()
    username, password = ask_account(username, password)
    if not (username and password):
        raise AssetError(
            f"FLAME needs both a user name and a password of your FLAME account ({FLAME_SITE}); "
            f"one was left empty. Set {ENV_FLAME_USERNAME} and {ENV_FLAME_PASSWORD} or answer both questions."
        )
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


def _usable_flame_model(asset_dir: Path) -> Path | None:
    """The FLAME model already in ``asset_dir`` (top level or DECA's ``FLAME2020/``), if usable."""
    return _usable(find_asset(asset_dir, "flame_model"), quick_check_flame)


def fetch_flame(
    asset_dir: str | Path,
    *,
    username: str | None = None,
    password: str | None = None,
    ask_account: AccountPrompt | None = None,
    url: str = FLAME_URL,
    progress: bool = True,
    force: bool = False,
    keep_zip: bool = False,
) -> FetchReport:
    """Download FLAME 2020 with the user's account and extract ``asset_dir / "generic_model.pkl"``.

    The extracted model must read with the safe loader and have FLAME 2020's shapes
    (:func:`~pydeca.assets.integrity.verify_flame_model`); its digest goes into the asset manifest.
    The archive is kept as ``FLAME2020.zip`` only when ``keep_zip``. An existing model (at the top
    or in DECA's ``FLAME2020/`` folder) that is a pickle is kept unless ``force``; then no account
    is needed and ``ask_account`` is not called.

    Args:
        asset_dir: the asset directory (created if missing).
        username: FLAME account user name (e-mail); default :data:`ENV_FLAME_USERNAME`.
        password: FLAME account password; default :data:`ENV_FLAME_PASSWORD`.
        ask_account: called once, when a download is needed and the user name or password is still
            unknown (see :data:`AccountPrompt`); this function never reads stdin itself.
        url: the FLAME 2020 zip, POSTed with the account.
        progress: show a progress bar (on stderr).
        force: download again even when a usable model is present.
        keep_zip: keep the downloaded ``FLAME2020.zip`` (and reuse it next time).

    Returns:
        The model as downloaded (with what was verified) or as present.

    Raises:
        AssetError: no account (none given, none in the environment, no ``ask_account``); host
            unreachable.
        AssetFormatError: login failed (an HTML page or a non-zip answer), the zip lacks the model,
            or the model is not FLAME 2020.
    """
    root = Path(asset_dir)
    existing = _usable_flame_model(root)
    if not force and existing is not None:
        return FetchReport(root, present=(existing,))
    dest = root / "generic_model.pkl"
    hint = f"Download FLAME 2020 from {FLAME_SITE} and put generic_model.pkl at {dest}."
    username, password = _flame_account(username, password, ask_account)
    zip_path = root / FLAME_ARCHIVE.name

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
    record_fetch(root, dest, url=url, check=check)
    return FetchReport(root, downloaded=(dest,), checks={dest: check})


def fetch(
    what: Sequence[str],
    asset_dir: str | Path | None = None,
    *,
    progress: bool = True,
    force: bool = False,
    username: str | None = None,
    password: str | None = None,
    ask_account: AccountPrompt | None = None,
    keep_zip: bool = False,
    mirror: str | None = None,
    data_base_url: str | None = None,
    deca_url: str | None = None,
    flame_url: str | None = None,
) -> FetchReport:
    """Fetch the asset groups ``what`` (``"data"``, ``"deca"``, ``"flame"``, ``"all"``).

    The asset directory is resolved with :func:`pydeca.assets.paths.resolve_asset_dir`, the URLs
    with :func:`resolve_sources` (arguments, ``mirror``, environment variables, official). The FLAME
    account is resolved (``ask_account`` called at most once) before anything is downloaded, so a
    missing account fails fast.

    Args:
        what: group names; ``"all"`` means every group of :data:`GROUPS`.
        asset_dir: the asset directory (default: ``PYDECA_HOME``, then the platform data dir).
        progress: show progress bars (on stderr).
        force: download again even what is present.
        username: FLAME account user name, see :func:`fetch_flame`.
        password: FLAME account password, see :func:`fetch_flame`.
        ask_account: asks for the FLAME account when needed, see :data:`AccountPrompt`.
        keep_zip: keep ``FLAME2020.zip``.
        mirror: folder URL holding the data files and ``deca_model.tar``.
        data_base_url: folder URL of the data files (beats ``mirror``).
        deca_url: URL of ``deca_model.tar`` (beats ``mirror``).
        flame_url: URL of the FLAME 2020 zip.

    Returns:
        Every group's files, downloaded now or already present, in the order data, deca, flame.

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
    if "flame" in groups and (force or _usable_flame_model(root) is None):
        username, password = _flame_account(username, password, ask_account)
    reports: list[FetchReport] = []
    if "data" in groups:
        reports.append(fetch_data(root, base_url=sources.data_base_url, progress=progress, force=force))
    if "deca" in groups:
        reports.append(fetch_deca(root, url=sources.deca_url, progress=progress, force=force))
    if "flame" in groups:
        reports.append(
            fetch_flame(
                root,
                username=username,
                password=password,
                ask_account=ask_account,
                url=sources.flame_url,
                progress=progress,
                force=force,
                keep_zip=keep_zip,
            )
        )
    return _joined(root, reports)
