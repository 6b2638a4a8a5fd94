"""HTTP downloads for ``deca fetch``: resumable, verified, and loud about HTML pages.

:func:`download` is the one HTTP routine (standard library only): it streams into ``<dest>.part``,
resumes an interrupted ``.part`` with a ``Range`` request, shows a tqdm bar, rejects HTML pages
where a binary file was expected (Google Drive's quota / virus-scan page, a failed login), checks
the size and SHA-256, and only then renames the file into place. Every failure raises an
:class:`~pydeca.errors.AssetError` naming the URL and the exact destination path.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.client import HTTPException, HTTPResponse
from pathlib import Path

from tqdm.auto import tqdm

from pydeca.errors import AssetError, AssetFormatError, CheckpointError

__all__ = ["check_checkpoint_file", "download", "looks_like_html", "sha256_file"]


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
    length_header = response.headers.get("Content-Length")
    length = int(length_header) if length_header and length_header.isdigit() else None
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
    """Check a complete ``.part``: HTML sniff, size, ``validate``, SHA-256.

    A short file is kept for resuming (:class:`AssetError`), unless it is an HTML page (an error
    page served with a binary Content-Type is complete, not interrupted); any other failure
    deletes it.
    """
    size = part.stat().st_size
    with open(part, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    is_html = expect_binary and looks_like_html(head)
    if expected_size is not None and size < expected_size and not is_html:
        raise AssetError(
            f"download of {url} stopped at {size} of {expected_size} bytes; run the command again to "
            f"resume, or {fix}"
        )
    try:
        if is_html:
            raise _html_error(url, dest, head, fix)
        if expected_size is not None and size != expected_size:
            raise AssetFormatError(
                f"{url} gave {size} bytes, expected {expected_size}, for {dest}; the partial file was "
                f"deleted: retry, or {fix}"
            )
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
