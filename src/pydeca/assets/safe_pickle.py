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

Parsing is bounded: the opcodes are scanned first (:func:`~pydeca.assets.pickle_bounds.
check_pickle_bounds`: nesting depth, length prefixes), every array, tensor or storage size a pickle
claims is checked against the size of the file before anything is allocated, and the result is
walked iteratively (each object once, depth capped). Whatever the bytes, :func:`safe_load` returns
or raises a :class:`~pydeca.errors.PydecaError`.
"""

from __future__ import annotations

import codecs
import collections
import contextvars
import importlib
import io
import math
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from pydeca.assets.paths import reading_asset
from pydeca.assets.pickle_bounds import MAX_NESTING, check_pickle_bounds
from pydeca.errors import AssetFormatError, AssetNotFoundError, PydecaError, UnsafePickleError

__all__ = ["DEFAULT_ALLOWED", "SafeUnpickler", "safe_load"]

_NPY_MAGIC = b"\x93NUMPY"
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_LEGACY_PROTOCOL = 1001
_CLAIM_SLACK = 1 << 16
"""Bytes an array may claim beyond the size of the pickle it comes from (headers, tiny arrays)."""
_MAX_BYTES: contextvars.ContextVar[int] = contextvars.ContextVar("_MAX_BYTES", default=1 << 28)
"""The largest array a pickle being loaded may claim: its own size plus :data:`_CLAIM_SLACK`."""


def _check_claim(shape: Any, itemsize: int, what: str) -> tuple[int, ...]:
    """``shape`` as a tuple of ints, if ``prod(shape) * itemsize`` fits the current byte budget.

    Raises:
        pickle.UnpicklingError: a non-integer or negative extent, or more bytes than the file
            could hold (checked in Python ints, before anything is allocated).
    """
    if not isinstance(shape, tuple | list) or not all(isinstance(n, int | np.integer) for n in shape):
        raise pickle.UnpicklingError(f"{what} has an invalid shape {str(shape)[:80]}")
    extents = tuple(int(n) for n in shape)
    if any(n < 0 for n in extents):
        raise pickle.UnpicklingError(f"{what} has a negative extent in shape {extents}")
    nbytes = math.prod(extents) * max(int(itemsize), 1)
    if nbytes > _MAX_BYTES.get():
        raise pickle.UnpicklingError(
            f"{what} claims shape {extents} ({nbytes:,} bytes), more than the file holds"
        )
    return extents


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


class _PickledArray(np.ndarray):
    """An ndarray being unpickled: its ``__setstate__`` checks the claimed size first.

    Turned back into a plain ``np.ndarray`` (a view, no copy) once the pickle is loaded.
    """

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("invalid ndarray state")
        shape, dtype, fortran, raw = state[-4:]
        dtype = _as_dtype(dtype)
        if not isinstance(fortran, bool | int):
            raise pickle.UnpicklingError("invalid ndarray state: fortran flag")
        extents = _check_claim(shape, dtype.itemsize, "an ndarray")
        count = math.prod(extents)
        if dtype.hasobject:
            if not isinstance(raw, list) or len(raw) != count:
                raise pickle.UnpicklingError(f"an object ndarray of {count} elements has other data")
        elif not isinstance(raw, bytes | bytearray | str) or len(raw) != count * dtype.itemsize:
            raise pickle.UnpicklingError(f"an ndarray of {count * dtype.itemsize} bytes has other data")
        super().__setstate__((*state[:-4], shape, dtype, bool(fortran), raw))


class _NdarrayMarker:
    """What ``numpy.ndarray`` resolves to: only :func:`_reconstruct` may use it, as its subtype."""

    def __new__(cls, *_args: Any, **_kwargs: Any) -> _NdarrayMarker:
        raise pickle.UnpicklingError("direct numpy.ndarray construction is not allowed")


_NUMPY_RECONSTRUCT = _numpy_core_attr("multiarray", "_reconstruct")


def _reconstruct_array(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """``numpy.core.multiarray._reconstruct`` for plain ndarrays, with a size check."""
    if subtype is not _NdarrayMarker:
        raise pickle.UnpicklingError("numpy _reconstruct is allowed only for numpy.ndarray")
    extents = _check_claim(shape, 1, "an ndarray")
    if not isinstance(dtype, bytes | str) or len(dtype) > 8:
        raise pickle.UnpicklingError("numpy _reconstruct with an unexpected dtype argument")
    return _NUMPY_RECONSTRUCT(_PickledArray, extents, dtype)


class _DtypeStub:
    """A pickled ``numpy.dtype``: its BUILD state is checked here, never passed to numpy's C code.

    Only plain dtypes are supported (no structured fields, subarrays or datetime metadata), which is
    all DECA's files hold; numpy's own ``dtype.__setstate__`` crashes the interpreter on some
    malformed states.
    """

    def __init__(self, spec: str) -> None:
        self.dtype = np.dtype(spec)

    def __setstate__(self, state: Any) -> None:
        if not (
            isinstance(state, tuple)
            and len(state) in (8, 9)
            and state[0] in (3, 4)
            and state[1] in ("<", ">", "|", "=")
            and state[2] is None
            and state[3] is None
            and state[4] is None
            and all(isinstance(n, int) for n in state[5:8])
        ):
            raise pickle.UnpicklingError(f"unsupported numpy dtype state {str(state)[:80]}")
        if state[1] in "<>" and self.dtype.itemsize > 1:
            self.dtype = self.dtype.newbyteorder(state[1])


def _as_dtype(value: Any) -> np.dtype:
    if isinstance(value, _DtypeStub):
        return value.dtype
    if isinstance(value, np.dtype):
        return value
    raise pickle.UnpicklingError(f"expected a numpy dtype, found {type(value).__name__}")


def _make_dtype(spec: Any, align: Any = False, copy: Any = False) -> _DtypeStub:
    """``numpy.dtype`` from a type string, as pickles create it (``dtype('f8', False, True)``)."""
    if not isinstance(spec, str) or len(spec) > 16:
        raise pickle.UnpicklingError(f"numpy.dtype from {type(spec).__name__} is not allowed")
    del align, copy  # meaningful only for structured dtypes, which are refused
    try:
        stub = _DtypeStub(spec)
    except TypeError as exc:
        raise pickle.UnpicklingError(f"unknown numpy dtype {spec!r}") from exc
    if stub.dtype.names is not None or stub.dtype.subdtype is not None or stub.dtype.kind in "mMV":
        raise pickle.UnpicklingError(f"numpy dtype {spec!r} is not supported")
    return stub


_NUMPY_SCALAR = _numpy_core_attr("multiarray", "scalar")
_NUMPY_FROMBUFFER = _numpy_core_attr("numeric", "_frombuffer")


def _scalar(dtype: Any, data: Any = None) -> Any:
    """``numpy.core.multiarray.scalar`` with its arguments checked first."""
    dtype = _as_dtype(dtype)
    if dtype.hasobject:
        return data
    if not isinstance(data, bytes | str) or len(data) != dtype.itemsize:
        raise pickle.UnpicklingError(f"a numpy {dtype} scalar with {len(str(data))} bytes of data")
    return _NUMPY_SCALAR(dtype, data.encode("latin1") if isinstance(data, str) else data)


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """``numpy.core.numeric._frombuffer`` (protocol 5 arrays) with its arguments checked first."""
    dtype = _as_dtype(dtype)
    if dtype.hasobject or not isinstance(buf, bytes | bytearray | pickle.PickleBuffer) or order not in "CF":
        raise pickle.UnpicklingError("numpy _frombuffer with unexpected arguments")
    shape = _check_claim(shape, dtype.itemsize, "an ndarray")
    return _NUMPY_FROMBUFFER(buf, dtype, shape, order)


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
        raw_shape = state.get("_shape", state.get("shape"))
        try:
            if raw_shape is None:  # neither scipy's "_shape" nor the older "shape"
                raise KeyError("_shape")
            shape = tuple(int(s) for s in raw_shape)
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
    if not isinstance(blob, bytes):
        raise pickle.UnpicklingError("embedded torch storage is not bytes")
    stream = io.BytesIO(blob)

    def unpickle(with_storages: dict[str, Any] | None = None) -> Any:
        start = stream.tell()
        check_pickle_bounds(stream, "<torch storage>")
        stream.seek(start)
        unpickler = SafeUnpickler(stream, source="<torch storage>", max_bytes=len(blob) + _CLAIM_SLACK)
        unpickler.storages = with_storages
        return unpickler.load()

    if unpickle() != _TORCH_LEGACY_MAGIC or unpickle() != _TORCH_LEGACY_PROTOCOL:
        raise pickle.UnpicklingError("embedded torch storage is not in the legacy torch.save format")
    unpickle()  # sys info (endianness, type sizes); storages are always little-endian here
    records: dict[str, Any] = {}
    root = unpickle(records)
    keys = unpickle()
    arrays: dict[str, np.ndarray] = {}
    if not isinstance(keys, list) or not isinstance(root, _StorageRef) or root.key not in records:
        raise pickle.UnpicklingError("embedded torch blob does not hold a storage")
    for key in keys:
        dtype = records[str(key)]
        count = int(np.frombuffer(_read_exactly(stream, 8), "<i8")[0])
        if count < 0 or count * dtype.itemsize > len(blob):
            raise pickle.UnpicklingError(f"embedded torch storage claims {count:,} elements")
        raw = _read_exactly(stream, count * dtype.itemsize)
        arrays[str(key)] = np.frombuffer(raw, dtype).copy()
    return arrays[root.key]


def _read_exactly(stream: io.BytesIO, nbytes: int) -> bytes:
    data = stream.read(nbytes)
    if len(data) != nbytes:
        raise pickle.UnpicklingError("embedded torch storage is truncated")
    return data


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
    if not isinstance(storage, np.ndarray) or storage.ndim != 1 or storage.dtype.hasobject:
        raise pickle.UnpicklingError("a tensor rebuilt from something other than a storage")
    size = _check_claim(size, storage.itemsize, "a tensor")
    stride = _check_claim(stride, 1, "a tensor's strides")
    if not isinstance(storage_offset, int) or not 0 <= storage_offset <= storage.size:
        raise pickle.UnpicklingError("a tensor's storage offset is outside its storage")
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
        ("numpy", "ndarray"): _NdarrayMarker,
        ("numpy", "dtype"): _make_dtype,
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
        allowed[(f"{package}.multiarray", "_reconstruct")] = _reconstruct_array
        allowed[(f"{package}.multiarray", "scalar")] = _scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = _frombuffer
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
        max_bytes: the largest array, tensor or storage the pickle may claim (default 256 MiB;
            :func:`safe_load` passes the size of the data plus a little).
    """

    def __init__(
        self,
        file: io.BufferedIOBase | io.BytesIO,
        *,
        source: str = "<bytes>",
        allowed: Mapping[tuple[str, str], Callable[..., Any]] | None = None,
        max_bytes: int | None = None,
    ) -> None:
        super().__init__(file, encoding="latin1")
        self.source = source
        self.allowed = DEFAULT_ALLOWED if allowed is None else allowed
        self.max_bytes = _MAX_BYTES.get() if max_bytes is None else max_bytes
        self.storages: dict[str, Any] | None = None

    def load(self) -> Any:
        """Unpickle with :attr:`max_bytes` as the budget of every size the pickle claims."""
        token = _MAX_BYTES.set(self.max_bytes)
        try:
            return super().load()
        finally:
            _MAX_BYTES.reset(token)

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
def _needs_walk(obj: Any) -> bool:
    """Whether ``obj`` may hold or be something :func:`_rebuilt` replaces."""
    if isinstance(obj, _DtypeStub):
        return True
    if isinstance(obj, np.ndarray):
        return isinstance(obj, _PickledArray) or obj.dtype.hasobject
    return isinstance(obj, _StateStub | dict | list | tuple)


def _children(obj: Any) -> list[Any]:
    if isinstance(obj, _StateStub):
        return [obj.state]
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, list | tuple):
        return list(obj)
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        return list(obj.flat)
    return []


def _rebuilt(obj: Any, done: dict[int, Any], source: str) -> Any:
    """``obj`` with its children replaced by their converted values (in place where mutable)."""

    def sub(value: Any) -> Any:
        return done.get(id(value), value)

    if isinstance(obj, _DtypeStub):
        return obj.dtype
    if isinstance(obj, _StateStub):
        obj.state = sub(obj.state)
        return obj.convert(source)
    if isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = sub(value)
        return obj
    if isinstance(obj, list):
        obj[:] = [sub(v) for v in obj]
        return obj
    if isinstance(obj, tuple):
        return tuple(sub(v) for v in obj)
    if obj.dtype.hasobject:  # an ndarray, see _needs_walk
        for i in range(obj.size):
            obj.flat[i] = sub(obj.flat[i])
    return obj.view(np.ndarray)


def _replace_stubs(root: Any, source: str) -> Any:
    """Replace stubs by their converted values and pickled arrays by plain ndarrays.

    Iterative and post-order (children first), each object once (shared and cyclic references
    stay shared), nesting capped at :data:`~pydeca.assets.pickle_bounds.MAX_NESTING`.

    Raises:
        AssetFormatError: nesting deeper than the cap, or a stub whose state cannot be converted.
    """
    done: dict[int, Any] = {}
    active: set[int] = set()
    alive: list[Any] = []  # keeps every visited object alive, so ids stay unique
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    while stack:
        obj, depth, expanded = stack.pop()
        key = id(obj)
        if expanded:
            done[key] = _rebuilt(obj, done, source)
            active.discard(key)
            continue
        if key in done or key in active or not _needs_walk(obj):
            continue
        if depth > MAX_NESTING:
            raise AssetFormatError(
                f"{source}: refused: containers nested more than {MAX_NESTING} levels deep; the "
                "file is corrupt or crafted, not a DECA/FLAME asset"
            )
        active.add(key)
        alive.append(obj)
        stack.append((obj, depth, True))
        stack.extend((child, depth + 1, False) for child in _children(obj) if _needs_walk(child))
    return done.get(id(root), root)


def _read_source(source: str | Path | bytes) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), "<bytes>"
    path = Path(source)
    if not path.exists():
        raise AssetNotFoundError(f"{path}: file not found")
    with reading_asset(path):
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
    try:
        return _load_bytes(data, name, allowed)
    except PydecaError:
        raise
    except Exception as exc:  # any byte string must end in a PydecaError, never another type
        raise AssetFormatError(
            f"{name}: not a readable pickle of DECA/FLAME data ({type(exc).__name__}: {str(exc)[:200]}); "
            "re-download the file"
        ) from exc


def _load_bytes(data: bytes, name: str, allowed: Mapping[tuple[str, str], Callable[..., Any]] | None) -> Any:
    """:func:`safe_load` on bytes: ``.npy`` header, opcode scan, bounded unpickling, stub walk."""
    if data.startswith(_NPY_MAGIC):
        payload, shape, dtype, _fortran = _npy_payload(data, name)
        if not dtype.hasobject:
            expected = math.prod(shape) * dtype.itemsize
            if expected != len(payload):
                raise AssetFormatError(
                    f"{name}: .npy header claims {expected:,} bytes of data, the file holds {len(payload):,}"
                )
            return np.load(io.BytesIO(data), allow_pickle=False)
        data = payload
    stream = io.BytesIO(data)
    check_pickle_bounds(stream, name)
    stream.seek(0)
    unpickler = SafeUnpickler(stream, source=name, allowed=allowed, max_bytes=len(data) + _CLAIM_SLACK)
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
        RecursionError,
        MemoryError,
        OverflowError,
    ) as exc:
        raise AssetFormatError(f"{name}: not a readable pickle of DECA/FLAME data ({exc})") from exc
    return _replace_stubs(result, name)
