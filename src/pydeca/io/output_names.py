"""Every name pydeca gives an output, and the checks that make an output folder usable.

One module owns the rules, so every app names its files the same way:

* **Stems** (:func:`safe_stem`): an input's file stem made safe to use as a file name on every
  platform — path separators, ``..``, control and Windows-forbidden characters become ``_``;
  leading dots, dashes and spaces and trailing dots and spaces are dropped; an empty stem becomes
  ``input``; a Windows device name (``CON``, ``nul.txt``, ``COM1`` ...) gets ``_`` after it; a stem
  longer than :data:`MAX_STEM_BYTES` UTF-8 bytes is cut and ends with ``-`` and 8 hex digits of
  the original's SHA-256, so two long names stay apart. No input name can place a file outside
  the output folder.
* **Within a run** (:func:`unique_output_names`): inputs whose stems collide get a suffix from their
  folder and/or extension.
* **Across runs** (:func:`claim_names`): a name already used in the output folder by a *different*
  input gets ``_2``, ``_3``, ...; never a silent overwrite.
* **Parts**: ``<name>_face<k>`` (``--face all``, k = 0 for the largest face),
  ``<name>_frame<index:06d>`` (video frames, the source frame index), ``<id>_to_<exp>`` (transfer).
* **Files of a face** (:class:`FaceFiles`): inside ``OUT/<name>/`` and beside it.
* **Staging**: a face is written into ``OUT/.<name>.partial-<pid>-<hex>/`` and renamed into place
  (:func:`staging_dir`, :func:`remove_stale_partials`).

Nothing here imports from ``pydeca.apps`` or the model: pure path logic.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydeca.errors import OutputError

__all__ = [
    "COMPLETION_FILE",
    "FRAME_DIGITS",
    "MAX_STEM_BYTES",
    "PARTIAL_MARK",
    "FaceFiles",
    "claim_names",
    "face_name",
    "frame_name",
    "prepare_output_dir",
    "remove_stale_partials",
    "safe_stem",
    "staging_dir",
    "transfer_name",
    "unique_output_names",
    "video_files",
]

COMPLETION_FILE = ".deca-completed.jsonl"
"""File name of the completion record inside the output folder (see ``pydeca.apps.completion``)."""

MAX_STEM_BYTES = 120
"""Longest output name in UTF-8 bytes: the longest file built from it
(``.orig_<name>_shape_detail_images.tmp-<8 hex>.jpg``, and the staging folder) stays under the
255-byte file-name limit of common file systems, with room for ``_face<k>``/``_frame<index>``."""

FRAME_DIGITS = 6
"""Zero padding of frame numbers in names: ``clip_frame000042``."""

PARTIAL_MARK = ".partial-"
"""Marks a face's staging folder: ``.<name>.partial-<pid>-<hex>``."""

_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
"""Control characters, path separators and characters Windows forbids in file names."""

_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{port}{digit}" for port in ("COM", "LPT") for digit in (*"123456789", "¹", "²", "³")]
)

_FALLBACK_STEM = "input"


# ---------------------------------------------------------------------------------- stems
def _cut_utf8(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding has at most ``limit`` bytes."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def safe_stem(stem: str) -> str:
    """A file stem made safe as an output name (see the module docstring for the rules).

    Args:
        stem: an input file's stem (or any user-given name).

    Returns:
        A non-empty name with no separator, no control character, not ``.``/``..``, not starting
        with ``.`` or ``-``, not a Windows device name, at most :data:`MAX_STEM_BYTES` bytes.

    Example:
        >>> [safe_stem(s) for s in ("..", "a/b", "-x", "con", "", "photo")]
        ['input', 'a_b', 'x', 'con_', 'input', 'photo']
    """
    text = unicodedata.normalize("NFC", stem)
    text = "".join("_" if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c for c in text)
    text = _FORBIDDEN.sub("_", text)
    text = text.lstrip(" .-").rstrip(" .")
    text = text or _FALLBACK_STEM
    head, dot, rest = text.partition(".")
    if head.rstrip(" ").upper() in _WINDOWS_DEVICES:  # reserved with any extension too
        text = f"{head}_{dot}{rest}"
    if len(text.encode("utf-8")) > MAX_STEM_BYTES:
        digest = hashlib.sha256(stem.encode("utf-8", errors="surrogatepass")).hexdigest()[:8]
        text = _cut_utf8(text, MAX_STEM_BYTES - 9).rstrip(" .") + "-" + digest
    return text


# ---------------------------------------------------------------------------------- parts
def face_name(name: str, index: int, count: int) -> str:
    """Name of face ``index`` (0 = largest) of ``count`` kept faces: ``name`` alone when one."""
    return name if count == 1 else f"{name}_face{index}"


def frame_name(name: str, index: int) -> str:
    """Name of video frame ``index`` (0-based source frame number): ``clip_frame000042``."""
    return f"{name}_frame{index:0{FRAME_DIGITS}d}"


def transfer_name(identity: str, expression: str) -> str:
    """Name of one transfer result: ``<identity>_to_<expression>`` (both already safe names)."""
    return f"{identity}_to_{expression}"


def video_files(name: str) -> dict[str, str]:
    """Outputs of ``deca video`` for a video named ``name``, relative to the output folder.

    Returns:
        ``{"video": "<name>_deca.mp4", "params": "<name>_params.npz", "meshes": "<name>_meshes"}``;
        the meshes folder holds :func:`frame_name` ``+ ".obj"`` per tracked frame.
    """
    return {"video": f"{name}_deca.mp4", "params": f"{name}_params.npz", "meshes": f"{name}_meshes"}


@dataclass(frozen=True)
class FaceFiles:
    """File names of one face ``name``: inside its folder ``OUT/<name>/`` and beside it in ``OUT``.

    Inside the folder: ``<name>.obj`` (+ ``.mtl``, ``.png``, ``_normals.png``), ``<name>_detail.obj``,
    ``<name>.ply``, ``<name>.glb``, ``<name>.npz`` / ``.json`` (parameters), ``<name>_kpt2d.txt`` /
    ``_kpt3d.txt``, ``<name>_depth.jpg``, ``<name>.mat``, panels ``<name>_<key>.jpg`` and
    ``orig_<name>_<key>.jpg``. Beside it: ``<name>_vis.jpg``, ``<name>_vis_original_size.jpg``.
    """

    name: str

    @property
    def folder(self) -> str:
        """The face's folder, relative to the output folder."""
        return self.name

    @property
    def obj(self) -> str:
        """Coarse mesh (its ``.mtl`` and textures are named by ``pydeca.io.mesh.write_obj``)."""
        return f"{self.name}.obj"

    @property
    def detail_obj(self) -> str:
        """Dense detail mesh with vertex colours."""
        return f"{self.name}_detail.obj"

    @property
    def ply(self) -> str:
        """Coarse mesh as PLY."""
        return f"{self.name}.ply"

    @property
    def glb(self) -> str:
        """Textured coarse mesh as GLB."""
        return f"{self.name}.glb"

    @property
    def params(self) -> str:
        """Parameter files without suffix (``.npz`` and ``.json`` are added)."""
        return self.name

    @property
    def mat(self) -> str:
        """DECA's opdict as MATLAB file."""
        return f"{self.name}.mat"

    @property
    def depth(self) -> str:
        """8-bit depth image."""
        return f"{self.name}_depth.jpg"

    def kpt(self, key: str) -> str:
        """Landmark table ``key`` (``kpt2d`` / ``kpt3d``)."""
        return f"{self.name}_{key}.txt"

    def panel(self, key: str) -> str:
        """Single crop panel ``key`` (``--save-images``)."""
        return f"{self.name}_{key}.jpg"

    def orig_panel(self, key: str) -> str:
        """Single panel ``key`` at photo size (``--save-images --render-orig``)."""
        return f"orig_{self.name}_{key}.jpg"

    @property
    def vis(self) -> str:
        """Visualisation grid, beside the folder."""
        return f"{self.name}_vis.jpg"

    @property
    def vis_original_size(self) -> str:
        """Visualisation on the photo, beside the folder."""
        return f"{self.name}_vis_original_size.jpg"

    @property
    def beside(self) -> tuple[str, ...]:
        """Every file a face may have beside its folder."""
        return (self.vis, self.vis_original_size)


# ---------------------------------------------------------------------------------- unique names
def _path_label(path: Path, depth: int, with_suffix: bool) -> str:
    """``depth`` trailing folder names of ``path`` and/or its extension, joined by ``_``."""
    folders = Path(os.path.abspath(path)).parent.parts[1:]  # without the root
    parts = list(folders[len(folders) - depth :]) if depth else []
    if with_suffix:
        parts.append(path.suffix.lstrip(".") or "noext")
    return "_".join(parts)


def _distinguishing_labels(group: Sequence[Path]) -> list[str]:
    """The shortest path labels that tell a group of same-stem inputs apart (see below)."""
    deepest = max(len(Path(os.path.abspath(p)).parent.parts) - 1 for p in group)
    for depth in range(deepest + 1):
        for with_suffix in (False, True):
            if depth == 0 and not with_suffix:
                continue
            labels = [_path_label(p, depth, with_suffix) for p in group]
            if len({label.casefold() for label in labels}) == len(labels):
                return labels
    return [_path_label(p, 0, True) for p in group]  # identical up to case: made unique by number


def unique_output_names(paths: Sequence[Path]) -> list[str]:
    """Output names of input files: the safe stem, disambiguated where stems collide.

    Deterministic: the same inputs in the same order always get the same names. Stems are compared
    case-insensitively (``Face.png`` and ``face.jpg`` would share a folder on macOS and Windows),
    after :func:`safe_stem`.

    1. An input whose stem no other input shares keeps it: ``a/face.png`` → ``face``.
    2. Inputs sharing a stem get ``_<label>``: the extension, or the fewest trailing parent-folder
       names (then folder names + extension) that tell them apart, tried in the order extension,
       1 folder, 1 folder + extension, 2 folders, ...: ``a/face.png``, ``b/face.png`` → ``face_a``,
       ``face_b``; ``a/face.png``, ``a/face.JPG`` → ``face_png``, ``face_JPG``; all three →
       ``face_a_png``, ``face_b_png``, ``face_a_JPG``.
    3. A name still taken (by another input's plain stem, or equal up to case) gets ``_2``, ``_3``,
       ... in input order.

    Args:
        paths: the input files, in input order (no file twice).

    Returns:
        One safe name per path, unique (case-insensitively), in the same order.

    Example:
        >>> unique_output_names([Path("a/face.png"), Path("b/face.png"), Path("a/face.JPG"), Path("x.png")])
        ['face_a_png', 'face_b_png', 'face_a_JPG', 'x']
    """
    stems = [safe_stem(path.stem) for path in paths]
    groups: dict[str, list[int]] = defaultdict(list)
    for index, stem in enumerate(stems):
        groups[stem.casefold()].append(index)
    names: list[str | None] = [None] * len(paths)
    taken: set[str] = set()
    for members in groups.values():  # 1. plain stems first, so they never get a number
        if len(members) == 1:
            names[members[0]] = stems[members[0]]
            taken.add(stems[members[0]].casefold())
    for members in groups.values():  # 2. and 3.
        if len(members) == 1:
            continue
        labels = _distinguishing_labels([paths[i] for i in members])
        for index, label in zip(members, labels, strict=True):
            base = candidate = safe_stem(f"{stems[index]}_{label}")
            number = 2
            while candidate.casefold() in taken:
                candidate, number = f"{base}_{number}", number + 1
            taken.add(candidate.casefold())
            names[index] = candidate
    return [str(name) for name in names]


def claim_names(
    wanted: Sequence[str],
    owners: Sequence[str],
    owner_of: Callable[[str], str | None],
    previous: Callable[[str], str | None] = lambda owner: None,
) -> list[str]:
    """Names for a run's inputs that never take a name another input owns in the output folder.

    For input ``i`` (owner key ``owners[i]``, e.g. its resolved path): the name it had in an
    earlier run (``previous(owner)``) if still free in this run; else ``wanted[i]`` when that is
    unowned or its own; else ``wanted[i]_2``, ``_3``, ... Names are compared case-insensitively.

    Args:
        wanted: names unique within this run (:func:`unique_output_names`).
        owners: one owner key per input.
        owner_of: ``name → owner key`` of the output folder; ``""`` for a name in use by outputs
            nobody owns (another tool's, an older pydeca's); None for a free name.
        previous: ``owner key → name`` it was written under before (None if never).

    Returns:
        One name per input, unique within the run, each free or already owned by that input.

    Example:
        >>> used = {"face": "/day1/face.jpg"}
        >>> claim_names(["face"], ["/day2/face.jpg"], used.get)
        ['face_2']
    """
    used: set[str] = set()
    names = []
    for base, owner in zip(wanted, owners, strict=True):
        before = previous(owner) if owner else None
        if before is not None and before.casefold() not in used and owner_of(before) in (None, owner):
            candidate = before
        else:
            candidate, number = base, 2
            while candidate.casefold() in used or owner_of(candidate) not in (None, owner):
                candidate, number = f"{base}_{number}", number + 1
        used.add(candidate.casefold())
        names.append(candidate)
    return names


# ---------------------------------------------------------------------------------- output folder
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def staging_dir(out_dir: Path, name: str) -> Path:
    """A fresh staging folder path for face ``name``: ``OUT/.<name>.partial-<pid>-<hex>`` (not created)."""
    return Path(out_dir) / f".{name}{PARTIAL_MARK}{os.getpid()}-{secrets.token_hex(3)}"


def remove_stale_partials(out_dir: Path) -> list[Path]:
    """Remove staging folders left by killed runs (their process is gone); return what was removed.

    A staging folder holding ``old/`` (a face's previous outputs moved aside during the final
    rename) whose face folder is missing is first moved back, so a kill at that instant loses
    nothing.
    """
    removed = []
    with contextlib.suppress(OSError):
        for entry in Path(out_dir).iterdir():
            match = re.fullmatch(r"\.(.+)\.partial-(\d+)-[0-9a-f]+", entry.name)
            if match is None or not entry.is_dir() or _pid_alive(int(match.group(2))):
                continue
            target = entry.parent / match.group(1)
            with contextlib.suppress(OSError):
                if (entry / "old").is_dir() and not target.exists():
                    os.rename(entry / "old", target)
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _fix(path: Path) -> str:
    return f"choose a folder you can write to with -o (now {path})"


def _probe_write(folder: Path) -> None:
    """Create, fill and remove a small file in ``folder``; raise OSError when that fails."""
    probe = folder / f".deca-write-test-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        with open(probe, "wb") as handle:
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def prepare_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create the output folder if needed and check it is usable; call it before loading the model.

    Checks: ``path`` is (or can be created as) a folder; pydeca can write there (``os.access``
    and a real probe write, so read-only mounts and full disks are caught even for root); the
    completion record ``OUT/.deca-completed.jsonl``, if present, is a writable file. Staging
    folders of killed runs are removed (:func:`remove_stale_partials`).

    Args:
        path: the output folder (``-o``).

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        OutputError: one line naming the path and the fix.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: the output folder (-o) is an existing file; pass a folder path instead")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(
            f"{out}: cannot create the output folder ({error.strerror or error}); {_fix(out)}"
        ) from error
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: the output folder is not writable; {_fix(out)}")
    try:
        _probe_write(out)
    except OSError as error:
        reason = "the disk is full" if error.errno == errno.ENOSPC else (error.strerror or str(error))
        raise OutputError(f"{out}: cannot write into the output folder ({reason}); {_fix(out)}") from error
    record = out / COMPLETION_FILE
    if record.exists() and not record.is_file():
        raise OutputError(
            f"{record}: is not a file but pydeca keeps its completion record there; remove or rename it"
        )
    if record.exists():
        try:
            with open(record, "a", encoding="utf-8"):
                pass
        except OSError as error:
            raise OutputError(
                f"{record}: the completion record cannot be written ({error.strerror or error}); "
                "make it writable or remove it"
            ) from error
    remove_stale_partials(out)
    return out
