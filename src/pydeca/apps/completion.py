"""Which inputs an output folder holds, and which are complete: the record ``--skip-existing`` trusts.

``deca reconstruct`` appends one JSON line to ``OUT/.deca-completed.jsonl`` when every face of an
input (a photo, a video frame) has been written, and one more for a video once all its kept frames
are complete::

    {"input": "/abs/photos/a.jpg", "size": 48213, "mtime_ns": 1717..., "base": "a", "name": "a",
     "files": ["a/a.obj", "a/a.npz", ...]}
    {"input": "/abs/clip.mp4", "size": ..., "mtime_ns": ..., "base": "clip", "name": "clip",
     "files": [], "parts": ["clip_frame000000", ...]}

**Identity.** An input is identified by its resolved path (symlinks followed) plus its size and
modification time in nanoseconds; an in-memory image by the SHA-256 of its pixels
(``"input": "", "sha256": ...``). Not by its stem: ``day1/face.jpg`` and a later ``day2/face.jpg``
are different inputs.

**Names.** The record says which input owns which output name (``base``), so a later run never
writes another input's outputs: a name owned by a different input gets a new one
(:func:`pydeca.io.output_names.claim_names`), and an input keeps the name it had before.

**Completion.** An input counts as complete when a line for its name has the same identity (path,
size and mtime — a photo edited since is done again), every listed file (relative to ``OUT``) is
still there, and every listed part is complete. So a run interrupted mid-input, an input with a
failed face (``--face all``), or outputs deleted by hand are done again; a video whose frames are
all complete is skipped without being decoded. Lines written before identities were recorded
(no ``size``/``mtime_ns``) still tell who owns a name but never count as complete. Appending a short
line is atomic enough: a line torn by a crash does not parse and is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pydeca.io.output_names import COMPLETION_FILE, FaceFiles, face_name, frame_name, video_files

__all__ = ["COMPLETION_FILE", "CompletionLog", "InputIdentity", "identity_of_array", "identity_of_file"]

_Record = dict[str, Any]
"""One parsed line of the completion record (JSON object; values as written by :meth:`CompletionLog.mark`)."""


@dataclass(frozen=True)
class InputIdentity:
    """What identifies an input across runs: resolved path + size + mtime, or a pixel hash."""

    path: str
    """Resolved absolute path; ``""`` for an in-memory image."""
    size: int | None = None
    """File size in bytes (None for in-memory images or an unreadable file)."""
    mtime_ns: int | None = None
    """Modification time in nanoseconds (None as ``size``)."""
    sha256: str | None = None
    """SHA-256 of an in-memory image's shape, dtype and pixels."""

    @property
    def owner(self) -> str:
        """The key that owns output names: the path, or ``memory:<sha256>`` for an image."""
        return self.path or (f"memory:{self.sha256}" if self.sha256 else "")

    def fields(self) -> _Record:
        """The record fields of this identity."""
        out: _Record = {"input": self.path, "size": self.size, "mtime_ns": self.mtime_ns}
        if self.sha256 is not None:
            out["sha256"] = self.sha256
        return out

    def matches(self, record: _Record) -> bool:
        """True when ``record`` was written for exactly this input (old lines never match)."""
        if self.sha256 is not None:
            return record.get("sha256") == self.sha256
        if self.size is None or self.mtime_ns is None:
            return False
        return record.get("size") == self.size and record.get("mtime_ns") == self.mtime_ns


def identity_of_file(path: str | os.PathLike[str]) -> InputIdentity:
    """The identity of an input file (size and mtime None when it cannot be stat'ed)."""
    resolved = os.path.realpath(path)
    try:
        info = os.stat(resolved)
    except OSError:
        return InputIdentity(resolved)
    return InputIdentity(resolved, int(info.st_size), int(info.st_mtime_ns))


def identity_of_array(image: object) -> InputIdentity:
    """The identity of an in-memory image: SHA-256 of its shape, dtype and bytes."""
    try:
        array = np.ascontiguousarray(image)
        digest = hashlib.sha256(f"{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes())
    except (TypeError, ValueError):
        return InputIdentity("")
    return InputIdentity("", sha256=digest.hexdigest())


def _record_owner(record: _Record) -> str:
    source = str(record.get("input", ""))
    sha = record.get("sha256")
    return source or (f"memory:{sha}" if sha else "")


def _on_disk(out_dir: Path, name: str) -> bool:
    """Whether outputs named ``name`` (a face, its first ``--face all`` face, a video's) exist."""
    faces = FaceFiles(name)
    candidates = [faces.folder, *faces.beside, face_name(name, 0, 2), frame_name(name, 0)]
    candidates += list(video_files(name).values())
    return any(os.path.lexists(out_dir / candidate) for candidate in candidates)


class CompletionLog:
    """The completion record of one output folder (read once, appended to as inputs complete).

    Args:
        out_dir: the output folder (the record file need not exist yet).
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / COMPLETION_FILE
        self._records: dict[tuple[str, str], _Record] = {}
        self._owners: dict[str, str] = {}
        self._names: dict[str, str] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        for line in lines:
            try:
                record = json.loads(line)
                self._add(record)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # a line torn by an interrupted run

    def _add(self, record: _Record) -> None:
        owner, name = _record_owner(record), str(record["name"])
        base = str(record.get("base", name))
        self._records[(owner, name)] = record
        self._owners[name.casefold()] = owner
        self._owners[base.casefold()] = owner
        if owner:
            self._names[owner] = base

    def owner_of(self, name: str) -> str | None:
        """Who owns output ``name`` here: an owner key, ``""`` for outputs nobody recorded, None if free."""
        owner = self._owners.get(name.casefold())
        if owner is not None:
            return owner
        return "" if _on_disk(self.out_dir, name) else None

    def previous_name(self, owner: str) -> str | None:
        """The name the input with owner key ``owner`` was last recorded under (None if never)."""
        return self._names.get(owner)

    def is_complete(self, identity: InputIdentity, name: str) -> bool:
        """True when this very input was completed under ``name`` and its files are all there."""
        record = self._records.get((identity.owner, name))
        if record is None or not identity.matches(record):
            return False
        if not all((self.out_dir / relative).is_file() for relative in record.get("files", [])):
            return False
        return all(self.is_complete(identity, part) for part in record.get("parts", []))

    def mark(
        self,
        identity: InputIdentity,
        name: str,
        files: list[str],
        parts: list[str] | None = None,
        *,
        base: str | None = None,
    ) -> None:
        """Record an input as complete under ``name`` with its written ``files``.

        Args:
            identity: the input (:func:`identity_of_file` / :func:`identity_of_array`).
            name: its output name (a video frame's name for a frame).
            files: the paths written for it (absolute or relative to the output folder).
            parts: names of sub-inputs (a video's frames) that must be complete too.
            base: the input's own output name when ``name`` is a part of it (default ``name``).

        Raises:
            OSError: the record cannot be written.
        """
        relative = [os.path.relpath(path, self.out_dir) for path in files]
        record: _Record = {**identity.fields(), "base": base or name, "name": name, "files": relative}
        if parts is not None:
            record["parts"] = list(parts)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        self._add(record)
