"""Loading DECA's network checkpoint (``deca_model.tar``) safely and strictly.

``load_checkpoint(path)`` reads the file with ``torch.load(weights_only=True)`` (no arbitrary
pickle code runs) and returns the three state dicts DECA uses (reference §1.9); extra top-level
entries a trainer writes (``opt``, ``global_step``, ``batch_size``) are ignored. What goes wrong with
real downloads gets its own message: a missing file, a web page saved instead of the checkpoint
(Google Drive's virus-scan or quota page), a truncated download, a file of another kind.
``load_networks(networks, state)`` then copies the weights into the modules of
:func:`pydeca.nets.build_networks`, reporting every missing, unexpected or mis-shaped key at once.

Parsing is bounded: before ``torch.load`` runs, the pickle inside the file is scanned
(:func:`~pydeca.assets.pickle_bounds.check_pickle_bounds`: nesting depth, length prefixes), and any
exception ``torch.load`` raises on a crafted file (RecursionError, MemoryError, OverflowError, ...)
becomes a :class:`~pydeca.errors.CheckpointError` naming the file: whatever the bytes, the loader
returns or raises a :class:`~pydeca.errors.PydecaError`.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from pydeca.errors import AssetFormatError, AssetNotFoundError, CheckpointError, PydecaError

from .paths import reading_asset
from .pickle_bounds import check_pickle_bounds

__all__ = ["REQUIRED_MODULES", "load_checkpoint", "load_networks"]

REQUIRED_MODULES = ("E_flame", "E_detail", "D_detail")
"""The state dicts DECA reads from the checkpoint (E_flame, E_detail, D_detail)."""

_FETCH_HINT = "download it with `deca fetch deca` (or pass the path of your deca_model.tar)"
_REDOWNLOAD = (
    "delete it and download it again with `deca fetch deca`; if that keeps failing, download "
    "deca_model.tar in a web browser (confirm Google Drive's 'download anyway' prompt) and pass its path"
)
_EXPECTED_SIZE = "the released file holds 53.5 M float32 numbers, about 214 MB or more"
_SNIFF_BYTES = 512
_LIST_LIMIT = 20
_PICKLE_SCAN_BYTES = 64 << 20
"""Most bytes of pickle read for the bound scan (DECA's state-dict pickle is ~50 kB)."""
_LEGACY_PICKLES = 5
"""Pickles at the start of a legacy torch.save file: magic, protocol, sys info, object, keys."""
"""Keys listed per category and module in a mismatch report before summarising the rest."""


def _sniff(head: bytes) -> str:
    """Classify a file by its first bytes: zip, pickle, tar, html, empty or unknown."""
    if not head:
        return "empty"
    if head.startswith(b"PK\x03\x04"):
        return "zip"  # torch.save since 1.6
    if head[:1] == b"\x80" and len(head) > 1 and head[1] in range(2, 6):
        return "pickle"  # legacy torch.save (pickle protocol 2 + magic number)
    if head[257:262] == b"ustar":
        return "tar"  # torch.save before 0.4
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:_SNIFF_BYTES]:
        return "html"
    return "unknown"


def _size_text(size: int) -> str:
    return f"{size:,} bytes ({size / 1e6:.1f} MB)"


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, dict[str, Tensor]]:
    """Read DECA's ``deca_model.tar`` (a ``torch.save`` dict) into plain CPU state dicts.

    Args:
        path: the checkpoint file.

    Returns:
        ``{"E_flame": {key: Tensor}, "E_detail": {...}, "D_detail": {...}}`` on the CPU, keys in the
        file's order. Other top-level entries (``opt``, ``global_step``, ``batch_size``) are dropped.

    Raises:
        AssetNotFoundError: the file does not exist (the message gives the fetch command).
        CheckpointError: the file is a web page, truncated or corrupt, not a PyTorch file, holds
            objects ``weights_only`` loading refuses, is crafted (nesting, absurd sizes), or lacks
            one of the three state dicts.
        AssetError: the file cannot be read (permission denied, an I/O error).
    """
    path = Path(path).expanduser()
    try:
        with reading_asset(path):
            return _load_checkpoint(path)
    except PydecaError:
        raise
    except Exception as exc:  # any byte string must end in a PydecaError, never another type
        raise CheckpointError(
            f"{path} cannot be loaded as a PyTorch checkpoint ({type(exc).__name__}: {str(exc)[:200]}); "
            f"it is corrupt or not DECA's deca_model.tar. To fix: {_REDOWNLOAD}"
        ) from exc


def _load_checkpoint(path: Path) -> dict[str, dict[str, Tensor]]:
    """:func:`load_checkpoint` once ``path`` is expanded; unexpected exceptions propagate."""
    if path.is_dir():
        raise AssetNotFoundError(
            f"DECA checkpoint path {path} is a directory; pass the file deca_model.tar inside it, "
            f"or {_FETCH_HINT}"
        )
    if not path.is_file():
        raise AssetNotFoundError(f"DECA checkpoint not found: {path}; {_FETCH_HINT}")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(_SNIFF_BYTES)
    kind = _sniff(head)
    if kind == "html":
        raise CheckpointError(
            f"{path} is a web page (HTML), not a PyTorch checkpoint: most likely Google Drive's "
            f"virus-scan warning or download-quota page was saved instead of the file "
            f"({_size_text(size)}). To fix: {_REDOWNLOAD}"
        )
    truncated = CheckpointError(
        f"{path} is truncated or corrupt ({_size_text(size)}; {_EXPECTED_SIZE}): the download "
        f"most likely stopped early. To fix: {_REDOWNLOAD}"
    )
    if kind == "empty" or (kind == "zip" and not zipfile.is_zipfile(path)):
        raise truncated
    if kind == "unknown":
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint: it starts with {head[:40]!r} ({_size_text(size)}), "
            f"neither a torch.save zip archive nor a legacy pickle. Check the path points to "
            f"deca_model.tar; to get it: {_FETCH_HINT}"
        )
    try:
        _check_bounds(path, kind, size)
    except AssetFormatError as err:
        raise CheckpointError(f"{err}. To fix: {_REDOWNLOAD}") from err
    try:
        # mmap: a zip checkpoint is read lazily, page by page, as load_state_dict copies it.
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=kind == "zip")
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "weights_only" in text or "Weights only" in text:
            blocked = re.findall(r"GLOBAL (\S+)", text) or [text.splitlines()[0]]
            raise CheckpointError(
                f"{path} holds Python objects other than tensors, which pydeca does not unpickle "
                f"(torch.load weights_only=True blocked: {', '.join(blocked)}). Use the released "
                f"deca_model.tar, or re-save the three state dicts as plain tensors"
            ) from exc
        raise truncated from exc
    except (EOFError, RuntimeError, zipfile.BadZipFile, ValueError, OSError, KeyError, IndexError) as exc:
        if kind == "zip" and not _is_torch_zip(path):
            raise CheckpointError(
                f"{path} is a zip archive but not a torch.save file (it holds {_zip_names(path)[:5]}); "
                f"if you downloaded an archive, extract deca_model.tar from it and pass that path"
            ) from exc
        raise truncated from exc
    return _select_modules(obj, path)


def _check_bounds(path: Path, kind: str, size: int) -> None:
    """Scan the pickle(s) of a torch.save file before ``torch.load`` builds anything.

    Raises:
        AssetFormatError: a pickle nests too deep, has a length prefix past its end or is garbage.
    """
    if kind == "zip":
        with zipfile.ZipFile(path) as archive:
            member = next((i for i in archive.infolist() if i.filename.endswith("data.pkl")), None)
            if member is None:
                return  # torch.load reports the layout (see _is_torch_zip)
            if member.file_size > min(_PICKLE_SCAN_BYTES, 4 * size):
                raise AssetFormatError(f"{path}: its data.pkl claims {member.file_size:,} bytes")
            stream, count = io.BytesIO(archive.read(member)), 1
    elif kind == "pickle":
        with path.open("rb") as fh:
            stream, count = io.BytesIO(fh.read(_PICKLE_SCAN_BYTES)), _LEGACY_PICKLES
    else:
        return
    for _ in range(count):
        check_pickle_bounds(stream, str(path))


def _zip_names(path: Path) -> list[str]:
    """Member names of a zip archive (empty if it cannot be read)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def _is_torch_zip(path: Path) -> bool:
    """Whether a zip archive has torch.save's layout (``<name>/data.pkl``)."""
    return any(name.endswith("data.pkl") for name in _zip_names(path))


def _select_modules(obj: object, path: Path) -> dict[str, dict[str, Tensor]]:
    """Check the loaded object is ``{module: state_dict}`` and keep the required modules."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{path} holds a {type(obj).__name__}, not a dict of state dicts; DECA's checkpoint is "
            f"a dict with keys {list(REQUIRED_MODULES)}. To get it: {_FETCH_HINT}"
        )
    missing = [name for name in REQUIRED_MODULES if name not in obj]
    if missing:
        found = [str(k) for k in list(obj)[:12]]
        raise CheckpointError(
            f"{path} lacks the state dicts {missing} (top-level keys found: {found}); it is not a "
            f"DECA checkpoint. To get deca_model.tar: {_FETCH_HINT}"
        )
    result: dict[str, dict[str, Tensor]] = {}
    for name in REQUIRED_MODULES:
        state = obj[name]
        if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
            raise CheckpointError(
                f"{path}: entry {name!r} is not a state dict of tensors ({type(state).__name__}); "
                f"the file is not a DECA checkpoint. To get deca_model.tar: {_FETCH_HINT}"
            )
        result[name] = dict(state)
    return result


def _strip_wrapper_prefix(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Remove a ``module.`` (DataParallel) or ``_orig_mod.`` (torch.compile) prefix on every key."""
    for prefix in ("module.", "_orig_mod."):
        if state and all(k.startswith(prefix) for k in state):
            return {k[len(prefix) :]: v for k, v in state.items()}
    return dict(state)


def _conform(given: dict[str, Tensor], expected: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Fill absent ``num_batches_tracked`` counters with 0 and view (1,)-shaped 0-d entries as ().

    Exactly what ``torch.nn.Module._load_from_state_dict`` tolerates for a 0-d parameter or buffer:
    a 1-D input of one element. Nothing else is reshaped.
    """
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in given:
            given[key] = torch.zeros_like(value, device="cpu")
        elif key in given and value.ndim == 0 and tuple(given[key].shape) == (1,):
            given[key] = given[key].reshape(())
    return given


def _listing(label: str, items: list[str]) -> str:
    shown = ", ".join(items[:_LIST_LIMIT])
    more = f", … and {len(items) - _LIST_LIMIT} more" if len(items) > _LIST_LIMIT else ""
    return f"  {label} ({len(items)}): {shown}{more}"


def load_networks(
    networks: Mapping[str, nn.Module], state: Mapping[str, Mapping[str, Tensor]], *, assign: bool = False
) -> None:
    """Copy checkpoint weights into ``networks`` strictly; report every problem at once.

    Every key of each module's ``state_dict()`` must be present with the same shape, and no other
    key may be; only absent ``num_batches_tracked`` counters are tolerated (set to 0; whether the
    released file has them is unverified, reference §1.9). A 0-d entry (``num_batches_tracked``)
    stored with shape (1,) is accepted as PyTorch's own ``load_state_dict`` accepts it; any other
    shape, (2,) included, is a mismatch. A ``module.``/``_orig_mod.`` prefix on
    all keys of a module is stripped. Values are cast to each parameter's dtype and device.

    Args:
        networks: ``{name: module}``, e.g. :func:`pydeca.nets.build_networks`'s result (or a subset).
        state: ``{name: state_dict}``, e.g. :func:`load_checkpoint`'s result; modules not in
            ``networks`` are ignored.
        assign: adopt the checkpoint tensors as the parameters instead of copying into them (cast
            to each parameter's dtype first) — for modules built on the ``meta`` device, which then
            never allocate or initialise weights of their own.

    Raises:
        CheckpointError: listing, per module, the missing keys, the unexpected keys and the shape
            mismatches (``key: expected (…), got (…)``), and modules absent from ``state``.
            Nothing is loaded when it is raised.
    """
    problems: list[str] = []
    prepared: dict[str, dict[str, Tensor]] = {}
    for name, module in networks.items():
        if name not in state:
            problems.append(f"{name}: missing from the checkpoint (it has {sorted(state)})")
            continue
        expected = module.state_dict()
        given = _conform(_strip_wrapper_prefix(state[name]), expected)
        missing = [k for k in expected if k not in given]
        unexpected = [k for k in given if k not in expected]
        mismatched = [
            f"{k}: expected {tuple(v.shape)}, got {tuple(given[k].shape)}"
            for k, v in expected.items()
            if k in given and tuple(given[k].shape) != tuple(v.shape)
        ]
        if missing or unexpected or mismatched:
            lines = [f"{name}:"]
            if missing:
                lines.append(_listing("missing keys", missing))
            if unexpected:
                lines.append(_listing("unexpected keys", unexpected))
            if mismatched:
                lines.append(_listing("shape mismatches", mismatched))
            problems.append("\n".join(lines))
        prepared[name] = given
    if problems:
        raise CheckpointError(
            "the checkpoint does not match DECA's networks (is it DECA's deca_model.tar?):\n"
            + "\n".join(problems)
        )
    for name, module in networks.items():
        if assign:
            expected = module.state_dict()
            values = {key: value.to(expected[key].dtype) for key, value in prepared[name].items()}
            module.load_state_dict(values, strict=True, assign=True)
        else:
            module.load_state_dict(prepared[name], strict=True)
