"""Which inputs of an output folder are complete: the record ``--skip-existing`` trusts.

``deca reconstruct`` appends one JSON line to ``OUT/.deca-completed.jsonl`` when every face of an
input (a photo, a video frame) has been written, and one more for a video once all its kept frames
are complete::

    {"input": "/abs/photos/a.jpg", "name": "a", "files": ["a/a.obj", "a/a.npz", ...]}
    {"input": "/abs/clip.mp4", "name": "clip", "files": [], "parts": ["clip_frame0000", ...]}

An input counts as complete when its latest line exists, every listed file (relative to ``OUT``)
is still there, and every listed part is complete. So a run interrupted mid-input, an input with
a failed face (``--face all``), or outputs deleted by hand are done again; a video whose frames are
all complete is skipped without being decoded. Appending a short line is atomic enough: a line
torn by a crash does not parse and is ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["COMPLETION_FILE", "CompletionLog", "source_key"]

COMPLETION_FILE = ".deca-completed.jsonl"
"""File name of the completion record inside the output folder."""


def source_key(path: Path | None) -> str:
    """How an input is identified in the record: its absolute path (``""`` for in-memory images)."""
    return "" if path is None else os.path.abspath(path)


class CompletionLog:
    """The completion record of one output folder (read once, appended to as inputs complete).

    Args:
        out_dir: the output folder (the record file need not exist yet).
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / COMPLETION_FILE
        self._records: dict[tuple[str, str], dict] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            lines = []
        for line in lines:
            try:
                record = json.loads(line)
                self._records[(str(record["input"]), str(record["name"]))] = record
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by an interrupted run

    def is_complete(self, source: str, name: str) -> bool:
        """True when input ``source`` was completed under ``name`` and its files are all there."""
        record = self._records.get((source, name))
        if record is None:
            return False
        if not all((self.out_dir / relative).is_file() for relative in record.get("files", [])):
            return False
        return all(self.is_complete(source, part) for part in record.get("parts", []))

    def mark(self, source: str, name: str, files: list[str], parts: list[str] | None = None) -> None:
        """Record input ``source`` as complete under ``name`` with its written ``files``.

        Args:
            source: :func:`source_key` of the input.
            name: its output name.
            files: the paths written for it (absolute or relative to the output folder).
            parts: names of sub-inputs (a video's frames) that must be complete too.

        Raises:
            OSError: the record cannot be written.
        """
        relative = [os.path.relpath(path, self.out_dir) for path in files]
        record: dict = {"input": source, "name": name, "files": relative}
        if parts is not None:
            record["parts"] = list(parts)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        self._records[(source, name)] = record
