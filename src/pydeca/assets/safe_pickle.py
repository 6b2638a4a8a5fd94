"""Restricted unpickling of DECA's asset files: an allow-list, nothing else is ever executed.

The FLAME ``generic_model.pkl`` holds numpy arrays, a ``scipy.sparse`` matrix and a chumpy ``Ch``
object; ``landmark_embedding.npy`` holds numpy arrays and two pickled ``torch.Tensor`` objects.
:func:`safe_load` reads both without chumpy, without torch and without running any code that the
file names: :class:`SafeUnpickler.find_class` resolves only the ``(module, name)`` pairs of
:data:`DEFAULT_ALLOWED` and refuses everything else *before* calling it.

What the allowed globals become:

* numpy reconstruction helpers, ``numpy.ndarray`` / ``numpy.dtype`` → the real numpy objects;
* ``scipy.sparse`` csc / csr / coo matrices (old and new module paths) → a stub that keeps its
  pickled state, turned into a real scipy sparse matrix after loading;
* ``chumpy.ch.Ch`` → a stub that keeps its pickled state; after loading it is replaced by the
  stored value ``state['x']`` (a numpy array);
* ``torch._utils._rebuild_tensor_v2`` with ``torch.storage._load_from_bytes`` (the legacy,
  non-zip ``torch.save`` format of a storage) → a **numpy array** with the tensor's shape, strides
  and dtype; torch is not imported.

Everything runs with ``encoding="latin1"`` so Python-2 pickles (FLAME 2020) load unchanged.
"""

from __future__ import annotations

import codecs
import collections
import importlib
import io
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from pydeca.errors import AssetFormatError, AssetNotFoundError, UnsafePickleError

__all__ = ["DEFAULT_ALLOWED", "SafeUnpickler", "safe_load"]

_NPY_MAGIC = b"\x93NUMPY"
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_LEGACY_PROTOCOL = 1001


# --------------------------------------------------------------------------------------- numpy
def _numpy_core_attr(submodule: str, name: str) -> Any:
    """``numpy._core.<submodule>.<name>`` (numpy 2) or ``numpy.core...`` (numpy 1), no warning."""
    for package in ("numpy._core", "numpy.core"):
        try:
            return getattr(importlib.import_module(f"{package}.{submodule}"), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"numpy has no {submodule}.{name}")  # pragma: no cover


def _encode_latin1(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """``_codecs.encode`` restricted to latin-1, the only use in pickles of raw array bytes."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return codecs.encode(text, "latin1", errors)


# ------------------------------------------------------------------------------------- stubs
class _StateStub:
    """Base of the stubs: NEWOBJ creates it, BUILD stores the pickled state; nothing else runs."""

    state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def convert(self, source: str) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError


class _ChumpyStub(_StateStub):
    """Stands in for ``chumpy.ch.Ch``; converts to the stored value ``state['x']``."""

    def convert(self, source: str) -> np.ndarray:
        state = self.state if isinstance(self.state, dict) else {}
        value = state.get("x")
        if isinstance(value, np.ndarray):
            return value
        # Fallback for unexpected layouts: the single ndarray in the state.
        arrays = [v for v in state.values() if isinstance(v, np.ndarray)]
        if len(arrays) == 1:
            return arrays[0]
        raise AssetFormatError(
            f"{source}: a chumpy object has no stored array (state keys {sorted(state)}); "
            "only plain chumpy.ch.Ch values are supported. Re-download the file."
        )


class _SparseStub(_StateStub):
    """Stands in for a scipy sparse matrix; converts from its BUILD state."""

    fmt = "csc"

    def convert(self, source: str) -> scipy.sparse.spmatrix:
        state = self.state if isinstance(self.state, dict) else {}
        shape = state.get("_shape", state.get("shape"))
        try:
            shape = tuple(int(s) for s in shape)
            data = np.asarray(state["data"])
            if self.fmt == "coo":
                if "coords" in state:
                    row, col = (np.asarray(c) for c in state["coords"])
                else:
                    row, col = np.asarray(state["row"]), np.asarray(state["col"])
                return scipy.sparse.coo_matrix((data, (row, col)), shape=shape)
            cls = scipy.sparse.csc_matrix if self.fmt == "csc" else scipy.sparse.csr_matrix
            return cls((data, np.asarray(state["indices"]), np.asarray(state["indptr"])), shape=shape)
        except (KeyError, TypeError, ValueError) as exc:
            raise AssetFormatError(
                f"{source}: cannot rebuild a scipy.sparse {self.fmt} matrix from state keys "
                f"{sorted(state)} ({exc}). Re-download the file."
            ) from exc


class _CsrStub(_SparseStub):
    fmt = "csr"


class _CooStub(_SparseStub):
    fmt = "coo"


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` (protocol 0/1 objects), limited to creating pydeca's stubs."""
    if base is not object or not (isinstance(cls, type) and issubclass(cls, _StateStub)):
        raise pickle.UnpicklingError("copyreg._reconstructor is allowed only for allow-listed classes")
    return cls.__new__(cls)


# ------------------------------------------------------------------------------ torch tensors
class _TorchStorageType:
    """Marker for a ``torch.<X>Storage`` class in a legacy storage record: only its dtype."""

    def __init__(self, dtype: str) -> None:
        self.dtype = np.dtype(dtype)


_TORCH_STORAGE_DTYPES = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


def _load_torch_storage_bytes(blob: bytes) -> np.ndarray:
    """Parse a storage written by legacy (non-zip) ``torch.save`` into a 1-D numpy array.

    Layout: pickles of the magic number, the protocol version and a sys-info dict; a pickle of
    the storage object (a persistent id ``('storage', <Storage class>, key, location, numel,
    view_metadata?)``); a pickle of the list of storage keys; then for each key an int64 element
    count followed by the raw little-endian elements.
    """
    stream = io.BytesIO(blob)

    def unpickle(with_storages: dict[str, Any] | None = None) -> Any:
        unpickler = SafeUnpickler(stream, source="<torch storage>")
        unpickler.storages = with_storages
        return unpickler.load()

    if unpickle() != _TORCH_LEGACY_MAGIC or unpickle() != _TORCH_LEGACY_PROTOCOL:
        raise pickle.UnpicklingError("embedded torch storage is not in the legacy torch.save format")
    unpickle()  # sys info (endianness, type sizes); storages are always little-endian here
    records: dict[str, Any] = {}
    root = unpickle(records)
    keys = unpickle()
    arrays: dict[str, np.ndarray] = {}
    for key in keys:
        dtype = records[key]
        count = int(np.frombuffer(stream.read(8), "<i8")[0])
        raw = stream.read(count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise pickle.UnpicklingError("embedded torch storage is truncated")
        arrays[key] = np.frombuffer(raw, dtype).copy()
    if not isinstance(root, _StorageRef):
        raise pickle.UnpicklingError("embedded torch blob does not hold a storage")
    return arrays[root.key]


class _StorageRef:
    """A persistent storage id resolved to its key (data is read after the pickle)."""

    def __init__(self, key: str) -> None:
        self.key = key


def _rebuild_tensor_v2(
    storage: np.ndarray,
    storage_offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    *_ignored: Any,
) -> np.ndarray:
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: the tensor as a numpy array (a copy)."""
    storage = np.asarray(storage)
    if not size:
        return np.array(storage[storage_offset])
    itemsize = storage.itemsize
    extent = storage_offset + 1 + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if min(size) > 0 and (extent > storage.size or min(stride) < 0):
        raise pickle.UnpicklingError("tensor view exceeds its storage")
    view = np.lib.stride_tricks.as_strided(
        storage[storage_offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)
    )
    return np.array(view)


# -------------------------------------------------------------------------------- allow-list
def _default_allowed() -> dict[tuple[str, str], Callable[..., Any]]:
    allowed: dict[tuple[str, str], Callable[..., Any]] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _encode_latin1,
        ("__builtin__", "set"): set,
        ("builtins", "set"): set,
        ("__builtin__", "frozenset"): frozenset,
        ("builtins", "frozenset"): frozenset,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("__builtin__", "object"): object,
        ("builtins", "object"): object,
        ("copy_reg", "_reconstructor"): _reconstructor,
        ("copyreg", "_reconstructor"): _reconstructor,
        ("chumpy.ch", "Ch"): _ChumpyStub,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch.storage", "_load_from_bytes"): _load_torch_storage_bytes,
    }
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = _numpy_core_attr("multiarray", "_reconstruct")
        allowed[(f"{package}.multiarray", "scalar")] = _numpy_core_attr("multiarray", "scalar")
        allowed[(f"{package}.numeric", "_frombuffer")] = _numpy_core_attr("numeric", "_frombuffer")
    for fmt, stub in (("csc", _SparseStub), ("csr", _CsrStub), ("coo", _CooStub)):
        for module in (f"scipy.sparse.{fmt}", f"scipy.sparse._{fmt}", "scipy.sparse"):
            allowed[(module, f"{fmt}_matrix")] = stub
    for name, dtype in _TORCH_STORAGE_DTYPES.items():
        allowed[("torch", name)] = _TorchStorageType(dtype)  # type: ignore[assignment]
    return allowed


DEFAULT_ALLOWED: Mapping[tuple[str, str], Callable[..., Any]] = _default_allowed()
"""The ``(module, name)`` globals :func:`safe_load` resolves by default, and what they map to."""


class SafeUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` that resolves only allow-listed globals.

    Args:
        file: binary stream positioned at the pickle.
        source: file name used in error messages.
        allowed: ``(module, name) -> object`` allow-list (default :data:`DEFAULT_ALLOWED`).
    """

    def __init__(
        self,
        file: io.BufferedIOBase | io.BytesIO,
        *,
        source: str = "<bytes>",
        allowed: Mapping[tuple[str, str], Callable[..., Any]] | None = None,
    ) -> None:
        super().__init__(file, encoding="latin1")
        self.source = source
        self.allowed = DEFAULT_ALLOWED if allowed is None else allowed
        self.storages: dict[str, Any] | None = None

    def find_class(self, module: str, name: str) -> Any:
        """Return the allow-listed object for ``module.name``; refuse anything else unexecuted."""
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self.source}: refused to load the pickled global '{module}.{name}', which is "
                "not on pydeca's allow-list (nothing from the file was executed). The file is not "
                "a genuine DECA/FLAME asset or is corrupted; re-download it."
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        """Resolve legacy torch storage ids ``('storage', type, key, location, numel, ...)``."""
        if (
            self.storages is not None
            and isinstance(pid, tuple)
            and len(pid) >= 5
            and pid[0] == "storage"
            and isinstance(pid[1], _TorchStorageType)
        ):
            key = str(pid[2])
            self.storages[key] = pid[1].dtype
            return _StorageRef(key)
        raise pickle.UnpicklingError(f"{self.source}: unsupported persistent id in pickle")


# ---------------------------------------------------------------------------------- loading
def _replace_stubs(obj: Any, source: str) -> Any:
    """Walk dicts, lists, tuples and object arrays; replace stubs by their converted values."""
    if isinstance(obj, _StateStub):
        return obj.convert(source)
    if isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = _replace_stubs(value, source)
        return obj
    if isinstance(obj, list):
        obj[:] = [_replace_stubs(v, source) for v in obj]
        return obj
    if isinstance(obj, tuple):
        return tuple(_replace_stubs(v, source) for v in obj)
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        flat = obj.reshape(-1)
        for i in range(flat.size):
            flat[i] = _replace_stubs(flat[i], source)
        return obj
    return obj


def _read_source(source: str | Path | bytes) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), "<bytes>"
    path = Path(source)
    if not path.is_file():
        raise AssetNotFoundError(f"{path}: file not found")
    return path.read_bytes(), str(path)


def _npy_payload(data: bytes, name: str) -> tuple[bytes, tuple[int, ...], np.dtype, bool]:
    """Split an ``.npy`` file into (payload, shape, dtype, fortran_order) without loading it."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    except ValueError as exc:
        raise AssetFormatError(f"{name}: not a valid .npy file ({exc})") from exc
    return data[stream.tell() :], shape, dtype, fortran


def safe_load(
    source: str | Path | bytes,
    *,
    allowed: Mapping[tuple[str, str], Callable[..., Any]] | None = None,
) -> Any:
    """Unpickle a file or bytes with the allow-list; ``.npy`` files (object arrays) too.

    Args:
        source: path of a pickle or ``.npy`` file, or its bytes. A ``.npy`` is recognised by its
            magic string: its header is parsed with :mod:`numpy.lib.format` and an object-dtype
            payload is unpickled here (never with ``np.load(allow_pickle=True)``); a plain dtype
            payload is read with ``allow_pickle=False``.
        allowed: ``(module, name) -> object`` map replacing :data:`DEFAULT_ALLOWED`
            (extend with ``{**DEFAULT_ALLOWED, ...}``).

    Returns:
        The unpickled object with chumpy and sparse stubs replaced by numpy arrays and scipy sparse
        matrices, and torch tensors rebuilt as numpy arrays.

    Raises:
        UnsafePickleError: the pickle names a global outside the allow-list (not executed).
        AssetFormatError: the data is not a valid pickle / ``.npy``.
        AssetNotFoundError: ``source`` is a path that does not exist.
    """
    data, name = _read_source(source)
    if data.startswith(_NPY_MAGIC):
        payload, _shape, dtype, _fortran = _npy_payload(data, name)
        if not dtype.hasobject:
            return np.load(io.BytesIO(data), allow_pickle=False)
        data = payload
    unpickler = SafeUnpickler(io.BytesIO(data), source=name, allowed=allowed)
    try:
        result = unpickler.load()
    except UnsafePickleError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,  # e.g. a BUILD opcode on an allowed object without __dict__
        RecursionError,  # a maliciously deep nesting
    ) as exc:
        raise AssetFormatError(f"{name}: not a readable pickle of DECA/FLAME data ({exc})") from exc
    return _replace_stubs(result, name)
