"""Download the assets DECA needs: ``deca fetch`` (architecture.md, *Assets*; reference §1, §1.9).

Three groups, each a function of its own, all writing into one asset directory:

* ``data``: DECA's public data files (template OBJ, landmark embedding, UV masks, fixed
  displacement, mean texture) from the DECA GitHub repository, verified against the SHA-256 table
  :data:`DATA_FILES` (reference §1: the files' sizes; hashes of the published files).
* ``deca``: the released checkpoint ``deca_model.tar`` (a ``torch.save`` file, reference §1.9) from
  Google Drive, through the optional ``gdown`` package (``pip install "pydeca[fetch]"``).
* ``flame``: ``generic_model.pkl`` from the licence-gated FLAME 2020 archive, an HTTP POST with the
  user's FLAME account (arguments, else ``FLAME_USERNAME`` / ``FLAME_PASSWORD``, else a prompt).

:func:`download` is the one HTTP routine (standard library only): it streams into ``<dest>.part``,
resumes an interrupted ``.part`` with a ``Range`` request, shows a tqdm bar, rejects HTML pages
where a binary file was expected (Google Drive's quota / virus-scan page, a failed login), checks
the size and SHA-256, and only then renames the file into place. Every failure raises an
:class:`~pydeca.errors.AssetError` naming the URL and the exact destination path.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.client import HTTPException, HTTPResponse
from pathlib import Path
from typing import Literal

from tqdm.auto import tqdm

from pydeca.errors import AssetError, AssetFormatError, CheckpointError, InputError

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

_USER_AGENT = "pydeca-fetch/0.1 (Python urllib)"
_SNIFF_BYTES = 1024
_TORCH_ZIP_MAGIC = b"PK\x03\x04"
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19"  # pickle of torch's magic number
_TAR_MAGIC = b"ustar"
_TAR_MAGIC_OFFSET = 257


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Lower-case hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def looks_like_html(head: bytes) -> bool:
    """Whether the first bytes of a file are an HTML page (``<!doctype html`` / ``<html``).

    Leading whitespace and a UTF-8 byte-order mark are ignored; the test is case-insensitive.
    """
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    return text.startswith((b"<!doctype html", b"<html"))


def _html_title(head: bytes) -> str:
    """The ``<title>`` of an HTML snippet (for error messages), or ``""``."""
    match = re.search(rb"<title[^>]*>(.*?)</title>", head, re.IGNORECASE | re.DOTALL)
    if not match:
        return ""
    return " ".join(match.group(1).decode("utf-8", "replace").split())[:120]


def check_checkpoint_file(path: Path, manual_hint: str = "") -> None:
    r"""Cheaply check that ``path`` is a torch checkpoint and not, say, an HTML page.

    Accepted: torch's zip format (``PK\x03\x04``), a tar archive (``ustar`` at byte 257), torch's
    legacy pickle format (its magic number pickled first). Only the first bytes are read.

    Raises:
        CheckpointError: the file is HTML (Google Drive's quota / virus-scan page) or unrecognised;
            the message ends with ``manual_hint``.
    """
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if head.startswith((_TORCH_ZIP_MAGIC, _TORCH_LEGACY_MAGIC)):
        return
    if head[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + len(_TAR_MAGIC)] == _TAR_MAGIC:
        return
    if looks_like_html(head):
        title = _html_title(head)
        what = f"an HTML page ({title!r})" if title else "an HTML page"
        raise CheckpointError(f"{path} is {what}, not a checkpoint. {manual_hint}".strip())
    raise CheckpointError(
        f"{path} is not a torch checkpoint (first bytes {head[:8]!r}, {path.stat().st_size} bytes). "
        f"{manual_hint}".strip()
    )


def _manual(url: str, dest: Path) -> str:
    return f"download {url} manually and put it at {dest}"


def _open(
    url: str, fix: str, *, offset: int, body: bytes | None, timeout: float
) -> HTTPResponse | urllib.error.HTTPError:
    """Send the request (with ``Range: bytes=offset-`` when ``offset > 0``) and return the response."""
    headers = {"User-Agent": _USER_AGENT}
    if offset > 0:
        headers["Range"] = f"bytes={offset}-"
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    method = "GET" if body is None else "POST"
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) URLs only
    except urllib.error.HTTPError as err:
        if err.code == 416:  # range not satisfiable: the .part is complete or stale
            return err
        raise AssetError(f"{url} answered HTTP {err.code} {err.reason}; {fix}") from err
    except (urllib.error.URLError, TimeoutError, OSError, HTTPException) as err:
        reason = getattr(err, "reason", None) or err
        host = urllib.parse.urlsplit(url).netloc or url
        raise AssetError(f"could not reach {host} ({reason}); {fix}") from err


def _stream(
    response: HTTPResponse,
    part: Path,
    *,
    append: bool,
    total: int | None,
    progress: bool,
    chunk_size: int,
) -> int:
    """Copy the response body into ``part`` (appending or from scratch); return the bytes received."""
    received = 0
    with (
        open(part, "ab" if append else "wb") as fh,
        tqdm(
            total=total,
            initial=part.stat().st_size if append else 0,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=part.name.removesuffix(".part"),
            disable=not progress,
            leave=False,
        ) as bar,
    ):
        while chunk := response.read(chunk_size):
            fh.write(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    return received


def _html_error(url: str, dest: Path, head: bytes, fix: str) -> AssetFormatError:
    """The error for an HTML page received instead of the file for ``dest``."""
    title = _html_title(head)
    return AssetFormatError(
        f"{url} returned an HTML page{f' ({title!r})' if title else ''} instead of the file for {dest}; {fix}"
    )


def _receive(
    response: HTTPResponse,
    part: Path,
    url: str,
    fix: str,
    *,
    offset: int,
    expected_size: int | None,
    expect_binary: bool,
    progress: bool,
    chunk_size: int,
) -> None:
    """Write the body of ``response`` into ``part``: appended after ``offset`` bytes on a 206 answer.

    Raises:
        AssetFormatError: ``Content-Type: text/html`` while ``expect_binary`` (nothing is written).
        AssetError: the body is shorter than its ``Content-Length`` (the ``.part`` is kept).
    """
    append = offset > 0 and response.status == 206
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if expect_binary and response.headers.get_content_type() == "text/html":
        raise _html_error(url, part.with_suffix(""), response.read(_SNIFF_BYTES), fix)
    total = (offset if append else 0) + length if length is not None else expected_size
    try:
        received = _stream(
            response, part, append=append, total=total, progress=progress, chunk_size=chunk_size
        )
    except (OSError, HTTPException) as err:
        raise AssetError(
            f"download of {url} broke off ({err}); run the command again to resume, or {fix}"
        ) from err
    if length is not None and received < length:
        raise AssetError(
            f"download of {url} broke off after {part.stat().st_size} bytes ({length - received} missing); "
            f"run the command again to resume, or {fix}"
        )


def _verify(
    part: Path,
    url: str,
    dest: Path,
    fix: str,
    *,
    sha256: str | None,
    expected_size: int | None,
    expect_binary: bool,
    validate: Callable[[Path], None] | None,
) -> None:
    """Check a complete ``.part``: size, HTML sniff, ``validate``, SHA-256.

    A short file is kept for resuming (:class:`AssetError`); any other failure deletes it.
    """
    size = part.stat().st_size
    if expected_size is not None and size < expected_size:
        raise AssetError(
            f"download of {url} stopped at {size} of {expected_size} bytes; run the command again to "
            f"resume, or {fix}"
        )
    try:
        if expected_size is not None and size != expected_size:
            raise AssetFormatError(
                f"{url} gave {size} bytes, expected {expected_size}, for {dest}; the partial file was "
                f"deleted: retry, or {fix}"
            )
        with open(part, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
        if expect_binary and looks_like_html(head):
            raise _html_error(url, dest, head, fix)
        if validate is not None:
            validate(part)
        if sha256 is not None:
            got = sha256_file(part)
            if got != sha256.lower():
                raise AssetFormatError(
                    f"checksum mismatch for {dest} from {url}: expected sha256 {sha256}, got {got}; "
                    f"the download was deleted: retry, or {fix}"
                )
    except Exception:
        part.unlink(missing_ok=True)
        raise


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    expected_size: int | None = None,
    data: dict[str, str] | None = None,
    progress: bool = True,
    timeout: float = 30,
    chunk_size: int = 1 << 20,
    expect_binary: bool = True,
    validate: Callable[[Path], None] | None = None,
    manual: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming an earlier partial download.

    Steps: 1. an existing ``<dest>.part`` of N bytes is resumed with ``Range: bytes=N-`` (a 206
    answer is appended, a 200 answer restarts from scratch); 2. an answer with ``Content-Type:
    text/html`` while ``expect_binary`` is refused; 3. the body is streamed with a tqdm bar; a short
    body keeps the ``.part`` for the next call to resume; 4. size, HTML sniff (first bytes),
    ``validate(part)`` and SHA-256 are checked, a failing ``.part`` is deleted; 5. ``os.replace``.

    Args:
        url: http(s) URL.
        dest: final path; its folder is created.
        sha256: expected lower-case hex digest, or ``None`` to skip the check.
        expected_size: expected size in bytes, or ``None``.
        data: form fields; when given the request is a POST (``application/x-www-form-urlencoded``).
        progress: show a progress bar.
        timeout: seconds to wait for the connection and for each read.
        chunk_size: bytes per read.
        expect_binary: refuse HTML answers (``Content-Type`` or the first bytes).
        validate: extra check on the complete ``.part``; the errors it raises propagate.
        manual: how to get the file by hand, for error messages (default: "download <url>
            manually and put it at <dest>").

    Returns:
        ``dest``.

    Raises:
        AssetError: the host cannot be reached, answers an HTTP error, or the transfer broke off
            (the message names ``url`` and ``dest``; the ``.part`` is kept for resuming).
        AssetFormatError: an HTML page came instead of the file, or the size / SHA-256 differ.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(dest.suffix + ".part")
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    fix = manual or _manual(url, dest)

    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise AssetError(f"cannot download {url!r}: only http(s) URLs are supported; {fix}")

    # 1. request, resuming a partial file when there is one
    offset = part.stat().st_size if part.exists() else 0
    response = _open(url, fix, offset=offset, body=body, timeout=timeout)
    if isinstance(response, urllib.error.HTTPError):  # 416: nothing left to fetch, or a stale .part
        response.close()
        if expected_size is None or offset != expected_size:
            part.unlink()
            offset = 0
            response = _open(url, fix, offset=0, body=body, timeout=timeout)
            if isinstance(response, urllib.error.HTTPError):
                response.close()
                raise AssetError(f"{url} answered HTTP 416 to a plain request; {fix}")
    if not isinstance(response, urllib.error.HTTPError):
        with response:
            # 2.-3. refuse HTML, stream into the .part
            _receive(
                response,
                part,
                url,
                fix,
                offset=offset,
                expected_size=expected_size,
                expect_binary=expect_binary,
                progress=progress,
                chunk_size=chunk_size,
            )

    # 4. verify the complete file
    _verify(
        part,
        url,
        dest,
        fix,
        sha256=sha256,
        expected_size=expected_size,
        expect_binary=expect_binary,
        validate=validate,
    )
    # 5. into place
    os.replace(part, dest)
    return dest


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
