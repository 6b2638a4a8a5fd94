"""Fuzzing suite (issue 8): every parser pydeca owns survives any byte string.

For each parser a Hypothesis strategy produces file contents; the test writes them to a file with
the parser's suffix, parses it and requires one of two outcomes:

* a **valid result**, whose arrays/tensors hold at most :data:`RESULT_BYTES` bytes in total, or
* a :class:`pydeca.errors.PydecaError` subclass (the parser refused the file with a message).

Any other exception fails the test, and Hypothesis shrinks it to a minimal file.

Where the bytes come from. Pure random bytes rarely pass a magic number, so every strategy mixes
(1) **mutations of valid seed files** built in memory (a tiny FLAME pickle with a chumpy ``Ch`` and
a csc matrix, DECA's landmark embedding, torch checkpoints in zip and legacy format, ``.npz`` /
``.json`` parameter files, landmark ``.txt`` / ``.mat``, an OBJ, PNG/JPEG/GIF/WebP/BMP/TIFF images,
an MP4 and an AVI): byte flips, "interesting" integers (0, −1, 2³¹, 2⁶³ …) written over the data,
truncations, insertions, deletions and splices; and (2) **structured generators**: pickle opcode
streams from a grammar of the opcodes the restricted unpickler meets (MARK, EMPTY_LIST, APPEND,
GLOBAL of allowed and refused names, REDUCE, BUILD, NEWOBJ, memo ops, BINUNICODE / BINBYTES / FRAME
with lying lengths, nesting tens of thousands deep, ``ndarray`` / tensor-rebuild calls claiming
absurd shapes), ``.npz`` archives whose ``.npy`` headers claim random shapes and dtypes, JSON
documents with random nesting (also 10⁵ levels deep), huge numbers, NaN and Infinity, OBJ files
from a grammar of ``v`` / ``vt`` / ``f`` lines with odd indices.

Bounded time: Hypothesis' ``deadline`` (2 s per example) fails slow parses; a ``SIGALRM`` timer
(:data:`HANG_SECONDS`) turns a hang into a failure instead of a stuck CI job.

Bounded memory: while a parser runs, the process' address-space limit (``RLIMIT_AS``) is lowered to
its current size plus :data:`MEMORY_HEADROOM`. A parser that believes a header claiming gigabytes
then gets a ``MemoryError`` at the allocation — whether numpy, Pillow, FFmpeg or torch makes it —
instead of the allocation silently succeeding (Linux overcommits) or the machine swapping; the
``MemoryError`` is not a ``PydecaError``, so the test fails. This is cheaper and more complete than
forking a subprocess per example (tens of milliseconds each) or ``tracemalloc`` (which sees only
Python/numpy allocations and slows every allocation down). On platforms without ``RLIMIT_AS`` (macOS
ignores it) only the result-size check applies.

CI runs the ``ci`` profile (a few hundred examples per parser, derandomized, no example database);
``HYPOTHESIS_PROFILE=dev`` runs random seeds, ``benchmarks/fuzz_long.py`` runs long campaigns.
Every crash found is pinned as an explicit example in :data:`REPRODUCERS`.
"""

from __future__ import annotations

import contextlib
import copyreg
import dataclasses
import io
import json
import os
import pickle
import re
import signal
import struct
import sys
import traceback
import types
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
import scipy.sparse
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from paths import SHARED
from pydeca.errors import PydecaError

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

RESULT_BYTES = 64 * 2**20
"""Largest total size (bytes) of the arrays a parser may return for these small inputs."""
MEMORY_HEADROOM = 1 * 2**30
"""Address space (bytes) a single parse may add to the process."""
HANG_SECONDS = 20
"""A parse still running after this many seconds is a hang."""

settings.register_profile(
    "ci",
    max_examples=300,
    deadline=2000,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=1000,
    deadline=2000,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")


# ------------------------------------------------------------------------------------ guards
class ParseHang(Exception):
    """A parser ran longer than :data:`HANG_SECONDS` (not a PydecaError: the test fails)."""


def _address_space() -> int:
    """Current virtual memory size of this process, bytes (0 when unknown)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


@contextlib.contextmanager
def memory_guard(headroom: int = MEMORY_HEADROOM) -> Iterator[None]:
    """Cap the address space at its current size + ``headroom`` while the block runs (Linux)."""
    size = _address_space()
    if resource is None or size == 0 or not hasattr(resource, "RLIMIT_AS"):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + headroom
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextlib.contextmanager
def time_guard(seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Raise :class:`ParseHang` in the main thread after ``seconds`` (no-op off the main thread)."""
    if not hasattr(signal, "setitimer") or not _in_main_thread():
        yield
        return

    def _alarm(signum: int, frame: Any) -> None:
        raise ParseHang(f"parser still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def result_nbytes(obj: Any, _depth: int = 0) -> int:  # noqa: PLR0911 - one return per container kind
    """Total bytes of the numpy arrays / torch tensors inside a parser's result."""
    if _depth > 50:
        return 0
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, torch.Tensor):
        return int(obj.numel() * obj.element_size())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(result_nbytes(getattr(obj, f.name), _depth + 1) for f in dataclasses.fields(obj))
    if isinstance(obj, dict):
        return sum(result_nbytes(v, _depth + 1) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(result_nbytes(v, _depth + 1) for v in obj)
    return 0


def parse_guarded(parse: Callable[[Path], Any], path: Path) -> PydecaError | None:
    """Run ``parse(path)`` under the guards; the PydecaError it raised, or None if it succeeded.

    Raises:
        AssertionError: the result holds more than :data:`RESULT_BYTES` of arrays.
        Exception: anything the parser raised that is not a PydecaError (the finding).
    """
    with time_guard(), memory_guard():
        try:
            result = parse(path)
        except PydecaError as exc:
            return exc
    size = result_nbytes(result)
    assert size <= RESULT_BYTES, f"{path.name}: parser returned {size:,} bytes of arrays"
    return None


# -------------------------------------------------------------------------- byte mutations
INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 2**31 - 1, 2**31, 2**32 - 1, 2**63 - 1, 2**64 - 1]
"""Integers written over seed bytes (little- and big-endian, 1/2/4/8 bytes): lengths and sizes."""


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """One of ``seeds`` with 1–4 random edits (flip, overwrite, truncate, insert, delete, splice)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        n = len(data)
        pos = draw(st.integers(0, max(n - 1, 0)))
        op = draw(st.sampled_from(["flip", "byte", "int", "truncate", "insert", "delete", "splice"]))
        if op == "flip" and n:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and n:
            data[pos] = draw(st.integers(0, 255))
        elif op == "int" and n:
            width = draw(st.sampled_from([1, 2, 4, 8]))
            value = draw(st.sampled_from(INTERESTING)) % (256**width)
            order = draw(st.sampled_from(["little", "big"]))
            data[pos : pos + width] = value.to_bytes(width, order)
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "splice" and n:
            start = draw(st.integers(0, n - 1))
            chunk = data[start : start + draw(st.integers(1, 256))]
            data[pos:pos] = chunk
    return bytes(data)


# ------------------------------------------------------------------------------------- seeds
class _Ch:
    """Pickled as ``chumpy.ch.Ch`` (protocol 2: NEWOBJ + BUILD of ``{'x': array}``), as FLAME is."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (copyreg.__newobj__, (type(self),), {"x": self.x})


@cache
def flame_pickle_seed() -> bytes:
    """A FLAME-layout pickle: 4 vertices, 2 faces, 2 joints, a chumpy shapedirs, a csc regressor."""
    rng = np.random.default_rng(0)
    model = {
        "v_template": rng.normal(size=(4, 3)),
        "f": np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
        "shapedirs": _Ch(rng.normal(size=(4, 3, 4))),
        "posedirs": rng.normal(size=(4, 3, 9)),
        "J_regressor": scipy.sparse.csc_matrix(np.full((2, 4), 0.25)),
        "weights": np.full((4, 2), 0.5),
        "kintree_table": np.array([[2**32 - 1, 0], [0, 1]], np.int64),
    }
    fake = types.ModuleType("chumpy.ch")
    fake.Ch = _Ch  # type: ignore[attr-defined]
    module, qualname = _Ch.__module__, _Ch.__qualname__
    _Ch.__module__, _Ch.__qualname__ = "chumpy.ch", "Ch"
    fakes = {"chumpy": types.ModuleType("chumpy"), "chumpy.ch": fake}
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        return pickle.dumps(model, protocol=2)
    finally:
        _Ch.__module__, _Ch.__qualname__ = module, qualname
        for name, previous in saved.items():
            if previous is None:
                del sys.modules[name]
            else:  # pragma: no cover - chumpy is never installed with pydeca
                sys.modules[name] = previous


@cache
def embedding_seed() -> bytes:
    """DECA's ``landmark_embedding.npy`` (object array, torch tensors in legacy format inside)."""
    path = SHARED / "flame-topology" / "landmark_embedding.npy"
    if path.is_file():
        return path.read_bytes()
    from pydeca.assets.data import LandmarkEmbedding
    from pydeca.assets.embedding import save_landmark_embedding

    emb = LandmarkEmbedding(
        static_faces=np.arange(51),
        static_bary=np.full((51, 3), 1 / 3, np.float32),
        dynamic_faces=np.zeros((79, 17), np.int64),
        dynamic_bary=np.full((79, 17, 3), 1 / 3, np.float32),
        full_faces=np.arange(68),
        full_bary=np.full((68, 3), 1 / 3, np.float32),
    )
    buf = io.BytesIO()
    save_landmark_embedding(buf, emb)  # type: ignore[arg-type]
    return buf.getvalue()


@cache
def checkpoint_seeds() -> list[bytes]:
    """``torch.save`` of ``{E_flame, E_detail, D_detail}`` state dicts, zip and legacy format."""
    state = {
        "E_flame": {
            "layers.0.weight": torch.arange(6.0).reshape(2, 3),
            "bn.num_batches_tracked": torch.tensor(3),
        },
        "E_detail": {"fc.bias": torch.ones(2, dtype=torch.float64)},
        "D_detail": {"w": torch.zeros(1, 2, dtype=torch.int32)},
        "opt": {"lr": 1e-4},
    }
    seeds = []
    for zipped in (True, False):
        buf = io.BytesIO()
        torch.save(state, buf, _use_new_zipfile_serialization=zipped)
        seeds.append(buf.getvalue())
    return seeds


def _code_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    sizes = {"shape": (100,), "tex": (50,), "exp": (50,), "pose": (6,), "cam": (3,), "light": (9, 3)}
    arrays = {name: (0.1 * rng.normal(size=size)).astype(np.float32) for name, size in sizes.items()}
    arrays["cam"] = np.array([9.0, 0.01, -0.02], np.float32)  # DECA's crops give a scale s of 8-10
    return arrays


@cache
def params_seeds() -> tuple[bytes, bytes]:
    """A ``deca reconstruct`` parameter file as (``.npz`` bytes, ``.json`` bytes)."""
    arrays = _code_arrays()
    buf = io.BytesIO()
    np.savez(buf, **arrays, meta_json=np.array(json.dumps({"demo": True})))
    document = {
        "meta": {"demo": True},
        "dtypes": {k: v.dtype.str for k, v in arrays.items()},
        "arrays": {k: np.round(v, 3).tolist() for k, v in arrays.items()},
    }
    return buf.getvalue(), json.dumps(document).encode()


def _points68() -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    return np.stack([100 + 40 * np.cos(t), 120 + 50 * np.sin(t), np.zeros(68)], axis=1)


@cache
def landmark_seeds() -> tuple[list[bytes], list[bytes]]:
    """Landmark files: (``.txt`` seeds 68×2 and 68×3, ``.mat`` seeds pt3d_68 3×68 plain/compressed)."""
    points = _points68()
    txt = []
    for cols in (2, 3):
        buf = io.BytesIO()
        np.savetxt(buf, points[:, :cols], fmt="%.3f")
        txt.append(buf.getvalue())
    mat = []
    for compress in (False, True):
        buf = io.BytesIO()
        scipy.io.savemat(buf, {"pt3d_68": points.T, "pose": np.zeros(3)}, do_compression=compress)
        mat.append(buf.getvalue())
    return txt, mat


@cache
def obj_seed() -> bytes:
    """A small OBJ with v, vt, v/vt/vn faces, comments and an mtllib line."""
    return (
        b"# cube corner\nmtllib m.mtl\nv 0 0 0\nv 1 0 0\nv 1 1 0 0.5 0.5 0.5\nv 0 1 0\n"
        b"vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvn 0 0 1\nusemtl skin\n"
        b"f 1/1/1 2/2/1 3/3/1\nf 1/1/1 3/3/1 -1/-1/1\n"
    )


@cache
def image_seeds() -> list[bytes]:
    """A 12×10 photo-like image in PNG (RGB, RGBA, 16-bit grey), JPEG (EXIF), GIF, WebP, BMP, TIFF."""
    from PIL import Image

    rng = np.random.default_rng(2)
    rgb = Image.fromarray(rng.integers(0, 255, (10, 12, 3), dtype=np.uint8))
    out = []
    for img, fmt, kwargs in (
        (rgb, "PNG", {}),
        (rgb.convert("RGBA"), "PNG", {}),
        (Image.fromarray(rng.integers(0, 65535, (10, 12), dtype=np.uint16)), "PNG", {}),
        (rgb, "JPEG", {"exif": _exif_orientation(6)}),
        (rgb, "GIF", {}),
        (rgb, "WEBP", {}),
        (rgb, "BMP", {}),
        (rgb, "TIFF", {}),
    ):
        buf = io.BytesIO()
        img.save(buf, format=fmt, **kwargs)
        out.append(buf.getvalue())
    return out


def _exif_orientation(value: int) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


@cache
def video_seeds() -> list[bytes]:
    """3-frame 32×32 videos: MPEG-4 Part 2 in MP4 and MJPEG in AVI (a few kB each)."""
    import av

    out = []
    for fmt, codec, pix in (("mp4", "mpeg4", "yuv420p"), ("avi", "mjpeg", "yuvj420p")):
        buf = io.BytesIO()
        with av.open(buf, mode="w", format=fmt) as container:
            stream = container.add_stream(codec, rate=10)
            stream.width = stream.height = 32
            stream.pix_fmt = pix
            for i in range(3):
                frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * i, np.uint8), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        out.append(buf.getvalue())
    return out


# -------------------------------------------------------------------- structured: pickles
ALLOWED_GLOBALS = [
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
    ("builtins", "set"),
    ("__builtin__", "frozenset"),
    ("collections", "OrderedDict"),
    ("copy_reg", "_reconstructor"),
    ("__builtin__", "object"),
    ("chumpy.ch", "Ch"),
    ("scipy.sparse.csc", "csc_matrix"),
    ("scipy.sparse", "coo_matrix"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch.storage", "_load_from_bytes"),
    ("torch", "FloatStorage"),
]
REFUSED_GLOBALS = [
    ("os", "system"),
    ("builtins", "eval"),
    ("numpy", "load"),
    ("torch", "load"),
    ("x", "y\x00"),
]


def _u32(n: int) -> bytes:
    return struct.pack("<I", n % 2**32)


def _uni(text: str) -> bytes:
    raw = text.encode("utf-8", "surrogatepass")
    return b"X" + _u32(len(raw)) + raw


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _tuple_of_ints(values: list[int]) -> bytes:
    return b"(" + b"".join(b"\x8a" + _long_bytes(v) for v in values) + b"t"


def _long_bytes(v: int) -> bytes:
    raw = v.to_bytes((v.bit_length() + 8) // 8 or 1, "little", signed=True)
    return bytes([len(raw)]) + raw


_SIMPLE_OPS = [
    b"N", b"\x88", b"\x89", b"]", b"}", b")", b"(", b"a", b"e", b"s", b"u", b"t", b"l", b"d",
    b"\x85", b"\x86", b"\x87", b"\x8f", b"\x90", b"\x91", b"\x94", b"2", b"0", b"1", b"R", b"b",
    b"\x81", b"\x92", b"o", b"Q", b"\x93", b".",
]  # fmt: skip
"""Argument-free opcodes: literals, containers, MEMOIZE/DUP/POP, REDUCE, BUILD, NEWOBJ(_EX), OBJ,
BINPERSID, STACK_GLOBAL and STOP."""


@st.composite
def pickle_op(draw: st.DrawFn) -> bytes:  # noqa: PLR0911, PLR0912 - one branch per grammar rule
    """One opcode (with arguments) or a macro of the pickle grammar."""
    kind = draw(
        st.sampled_from(
            [
                "simple",
                "int",
                "long",
                "float",
                "unicode",
                "bytes",
                "memo",
                "global",
                "frame",
                "deep",
                "array_claim",
                "tensor_claim",
                "reconstruct",
                "dtype_state",
                "persid",
            ]
        )
    )
    ints = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([*INTERESTING, -1, 2**40, 10**12]))
    if kind == "simple":
        return draw(st.sampled_from(_SIMPLE_OPS))
    if kind == "int":
        return draw(
            st.sampled_from(
                [
                    b"K" + bytes([draw(st.integers(0, 255))]),
                    b"J" + struct.pack("<i", draw(st.integers(-(2**31), 2**31 - 1))),
                ]
            )
        )
    if kind == "long":
        return b"\x8a" + _long_bytes(draw(ints))
    if kind == "float":
        return b"G" + struct.pack(">d", draw(st.floats(allow_nan=True)))
    if kind == "unicode":
        text = draw(st.text(max_size=8))
        raw = text.encode("utf-8", "surrogatepass")
        claimed = draw(st.one_of(st.just(len(raw)), st.sampled_from([len(raw) + 1, 2**31, 2**32 - 1])))
        op = draw(
            st.sampled_from(
                [b"X" + _u32(claimed), b"\x8c" + bytes([claimed % 256]), b"\x8d" + struct.pack("<Q", claimed)]
            )
        )
        return op + raw
    if kind == "bytes":
        raw = draw(st.binary(max_size=16))
        claimed = draw(st.one_of(st.just(len(raw)), st.sampled_from([2**31, 2**32 - 1])))
        op = draw(
            st.sampled_from(
                [b"B" + _u32(claimed), b"C" + bytes([claimed % 256]), b"\x8e" + struct.pack("<Q", claimed)]
            )
        )
        return op + raw
    if kind == "memo":
        idx = draw(st.sampled_from([0, 1, 2, 255, 2**31]))
        return draw(
            st.sampled_from(
                [b"q" + bytes([idx % 256]), b"h" + bytes([idx % 256]), b"r" + _u32(idx), b"j" + _u32(idx)]
            )
        )
    if kind == "global":
        module, name = draw(st.sampled_from(ALLOWED_GLOBALS + REFUSED_GLOBALS))
        if draw(st.booleans()):
            return _global(module, name)
        return (
            b"\x8c"
            + bytes([len(module)])
            + module.encode()
            + b"\x8c"
            + bytes([len(name)])
            + name.encode()
            + b"\x93"
        )
    if kind == "frame":
        return b"\x95" + struct.pack("<Q", draw(st.sampled_from([0, 1, 9, 2**31, 2**63])))
    if kind == "deep":
        depth = draw(st.sampled_from([10, 1000, 5000, 50_000]))
        shape = draw(st.sampled_from(["list", "tuple", "dict", "mark"]))
        if shape == "list":  # [[[...]]]: n empty lists, each appended to the one below
            return b"]" * depth + b"a" * (depth - 1)
        if shape == "tuple":
            return b"N" + b"\x85" * depth
        if shape == "dict":
            return b"}" + b"K\x00}" * depth + b"s" * depth
        return b"(" * depth
    if kind == "array_claim":  # numpy.ndarray(shape, dtype) with an absurd shape
        shape = draw(st.lists(st.sampled_from([0, 1, 3, 2**16, 2**31, 2**40, -1]), min_size=1, max_size=3))
        dtype = draw(st.sampled_from([b"", _global("numpy", "dtype") + _uni("f8") + b"\x85R"]))
        return _global("numpy", "ndarray") + b"(" + _tuple_of_ints(shape) + dtype + b"tR"
    if kind == "tensor_claim":  # _rebuild_tensor_v2(storage, offset, size, stride)
        size = draw(st.lists(st.sampled_from([0, 1, 2, 2**20, 2**31]), min_size=0, max_size=3))
        stride = draw(st.lists(st.sampled_from([0, 1, -1, 2**40]), min_size=len(size), max_size=len(size)))
        storage = (
            _global("numpy.core.multiarray", "_reconstruct")
            + b"("
            + _global("numpy", "ndarray")
            + _tuple_of_ints([4])
            + b"C\x01btR"
        )
        offset = draw(st.sampled_from([0, 1, 2**40, -5]))
        return (
            _global("torch._utils", "_rebuild_tensor_v2") + b"(" + storage + b"\x8a" + _long_bytes(offset)
            + _tuple_of_ints(size) + _tuple_of_ints(stride) + b"tR"
        )  # fmt: skip
    if kind == "reconstruct":  # an ndarray pickled as numpy does, with a random BUILD state
        shape = draw(st.lists(st.sampled_from([0, 1, 2, 3, 2**31, 2**40]), min_size=1, max_size=2))
        dtype = draw(st.sampled_from(["f8", "u1", "O", "V3", "c16", "U2"]))
        payload = draw(st.binary(max_size=24))
        return (
            _global("numpy.core.multiarray", "_reconstruct") + b"(" + _global("numpy", "ndarray")
            + _tuple_of_ints([0]) + b"C\x01btR"
            + b"(K\x01" + _tuple_of_ints(shape) + _global("numpy", "dtype") + _uni(dtype)
            + b"\x89\x88\x87R" + b"\x89C" + bytes([len(payload)]) + payload + b"tb"
        )  # fmt: skip
    if kind == "dtype_state":  # numpy.dtype(descr, False, True) then BUILD with a forged state tuple
        descr = draw(st.sampled_from(["f8", "u1", "O", "V8", "<U4"]))
        number = st.sampled_from([b"J\xff\xff\xff\xff", b"K\x00", b"K\x08", b"J\xff\xff\xff\x7f"])
        middle = draw(st.sampled_from([b"N", b"NNN"]))  # 6- and 8-tuple states (numpy accepts both)
        state = b"(K\x03" + _uni(draw(st.sampled_from(["<", "|", ">"]))) + middle
        state += (
            draw(number)
            + draw(number)
            + draw(st.sampled_from([b"K\x00", b"K\x3f", b"J\xff\xff\xff\xff"]))
            + b"t"
        )
        return _global("numpy", "dtype") + _uni(descr) + b"\x89\x88\x87R" + state + b"b"
    # persistent id: ('storage', torch.FloatStorage, key, 'cpu', numel)
    return b"(" + _uni("storage") + _global("torch", "FloatStorage") + _uni("0") + _uni("cpu") + b"K\x04tQ"


@st.composite
def pickle_stream(draw: st.DrawFn) -> bytes:
    """``PROTO n`` + 1–30 grammar items + (usually) ``STOP``."""
    proto = b"\x80" + bytes([draw(st.sampled_from([2, 3, 4, 5]))])
    body = b"".join(draw(st.lists(pickle_op(), min_size=1, max_size=30)))
    return proto + body + draw(st.sampled_from([b".", b".", b""]))


# ------------------------------------------------------------------ structured: npz / json
DTYPES = ["<f4", "<f8", ">f4", "|u1", "<i8", "|b1", "<c16", "|O", "<U10", "|V16", "<m8[s]", "<f2", "zz"]
SHAPES = st.lists(st.sampled_from([0, 1, 3, 50, 100, 2**31, 2**40, 2**62, -1]), max_size=4).map(tuple)


@st.composite
def npy_bytes(draw: st.DrawFn) -> bytes:
    """An ``.npy`` whose header claims a random dtype / shape and whose payload is random."""
    header = "{'descr': %r, 'fortran_order': %r, 'shape': %r, }" % (  # noqa: UP031 - numpy's own format
        draw(st.sampled_from(DTYPES)),
        draw(st.booleans()),
        draw(SHAPES),
    )
    version = draw(st.sampled_from([(1, 0), (2, 0), (3, 0)]))
    raw = header.encode("latin1")
    pad = 16 - (len(raw) + 11) % 16
    raw += b" " * pad + b"\n"
    length = struct.pack("<H", len(raw)) if version == (1, 0) else struct.pack("<I", len(raw))
    payload = draw(st.binary(max_size=64))
    if draw(st.booleans()):
        payload = bytes(4 * draw(st.sampled_from([3, 50, 100, 300])))
    return b"\x93NUMPY" + bytes(version) + length + raw + payload


@st.composite
def npz_bytes(draw: st.DrawFn) -> bytes:
    """A zip of 1–8 ``.npy`` members: code names, ``meta_json`` or junk, stored or deflated."""
    names = st.sampled_from(
        ["shape", "tex", "exp", "pose", "cam", "light", "detail", "meta_json", "x", "../a"]
    )
    buf = io.BytesIO()
    compression = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    with zipfile.ZipFile(buf, "w", compression) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate member names are part of the test
        for name in draw(st.lists(names, min_size=1, max_size=8)):
            archive.writestr(name + ".npy", draw(npy_bytes()))
    return buf.getvalue()


JSON_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**30), 10**30),
    st.sampled_from([10**400, -(10**400), 1e308]),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | JSON_NUMBERS | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=40,
)


@st.composite
def json_bytes(draw: st.DrawFn) -> bytes:
    """A parameter document with random dtypes / arrays, raw random JSON, or deep nesting text."""
    kind = draw(st.sampled_from(["document", "document", "value", "deep"]))
    if kind == "deep":
        depth = draw(st.sampled_from([100, 2000, 100_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        inner = opener * depth + "1" + closer * draw(st.sampled_from([depth, 0]))
        return ('{"arrays": {"shape": ' + inner + "}}").encode()
    if kind == "value":
        return json.dumps(draw(JSON_VALUES)).encode()
    codes = ["shape", "tex", "exp", "pose", "cam", "light", "detail", "meta_json"]
    arrays = draw(st.dictionaries(st.sampled_from(codes), JSON_VALUES, max_size=8))
    for name in draw(st.lists(st.sampled_from(codes[:6]), max_size=6)):
        size = {"shape": 100, "tex": 50, "exp": 50, "pose": 6, "cam": 3, "light": 27}[name]
        arrays[name] = draw(st.lists(JSON_NUMBERS, min_size=size, max_size=size))
    document = {
        "meta": draw(JSON_VALUES),
        "dtypes": draw(st.dictionaries(st.sampled_from(codes), st.sampled_from([*DTYPES, "S3", "object"]))),
        "arrays": arrays,
    }
    if draw(st.booleans()):
        document = draw(
            st.sampled_from([{"arrays": []}, {"arrays": None}, [], "x", {"arrays": arrays, "dtypes": []}])
        )
    return json.dumps(document).encode()


# ------------------------------------------------------------------ structured: text files
NUMBER_TOKENS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**25), 10**25).map(str),
    st.sampled_from(["", "x", "1e999", "-0", "0x10", "1,5", "١٢"]),
)


@st.composite
def landmark_txt(draw: st.DrawFn) -> bytes:
    """68 (or nearby counts of) rows of 2–3 number tokens, some of them junk."""
    rows = draw(st.sampled_from([0, 1, 67, 68, 69]))
    cols = draw(st.sampled_from([1, 2, 3, 4]))
    good = _points68()
    lines = []
    for i in range(rows):
        values = [f"{good[i % 68, j % 3]:.2f}" for j in range(cols)]
        if draw(st.integers(0, 9)) == 0:
            values[draw(st.integers(0, cols - 1))] = draw(NUMBER_TOKENS)
        lines.append(draw(st.sampled_from([" ", "\t", ","])).join(values))
    return "\n".join(lines).encode()


@st.composite
def obj_text(draw: st.DrawFn) -> bytes:
    """An OBJ from a grammar of v / vt / f / other lines with odd numbers and indices."""
    index = st.one_of(st.integers(-6, 8), st.sampled_from([0, 2**31, 2**63, 10**30, -(10**20)])).map(str)
    corner = st.one_of(
        st.tuples(index, index).map("/".join),
        st.tuples(index, index, index).map("/".join),
        index,
        st.tuples(index, index).map("//".join),
        st.sampled_from(["1/", "/1", "a/b", "1/1/1/1"]),
    )
    line = st.one_of(
        st.lists(NUMBER_TOKENS, min_size=2, max_size=7).map(lambda t: "v " + " ".join(t)),
        st.lists(NUMBER_TOKENS, min_size=1, max_size=3).map(lambda t: "vt " + " ".join(t)),
        st.lists(corner, min_size=0, max_size=5).map(lambda t: "f " + " ".join(t)),
        st.sampled_from(["# c", "", "vn 0 0 1", "mtllib a.mtl", "usemtl x", "f", "v", "o obj", "\x00\xff"]),
    )
    valid = obj_seed().decode().splitlines()
    lines = draw(st.lists(st.one_of(line, st.sampled_from(valid)), max_size=20))
    return "\n".join(lines).encode("utf-8", "surrogatepass")


# ------------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    """A parser under fuzzing: its file suffix, how to call it, and where its bytes come from."""

    name: str
    suffix: str
    parse: Callable[[Path], Any]
    strategy: Callable[[], st.SearchStrategy[bytes]]


def _parse_safe_pickle(path: Path) -> Any:
    from pydeca.assets.safe_pickle import safe_load

    return safe_load(path)


def _parse_flame(path: Path) -> Any:
    from pydeca.assets.flame_model import load_flame_model

    cache_dir = path.parent / "flame-cache"
    cache_dir.mkdir(exist_ok=True)
    return load_flame_model(path, cache_dir=cache_dir, num_identity=2)


def _parse_embedding(path: Path) -> Any:
    from pydeca.assets.embedding import load_landmark_embedding

    return load_landmark_embedding(path)


def _parse_checkpoint(path: Path) -> Any:
    from pydeca.assets.checkpoint import load_checkpoint

    return load_checkpoint(path)


def _parse_codes(path: Path) -> Any:
    from pydeca.io.params import load_codes

    return load_codes(path)


def _parse_landmarks(path: Path) -> Any:
    from pydeca.detect.landmark_files import read_landmark_face

    return read_landmark_face(path)


def _parse_template(path: Path) -> Any:
    from pydeca.assets.template import load_template_mesh

    return load_template_mesh(path)


def _parse_obj(path: Path) -> Any:
    from pydeca.io.mesh import read_obj

    return read_obj(path)


def _parse_image(path: Path) -> Any:
    from pydeca.io.images import load_image

    return load_image(path, min_side=1)


def _parse_video(path: Path) -> Any:
    from pydeca.io.video import iter_video_frames, video_info

    info = video_info(path)
    for index, frame in iter_video_frames(path):
        assert frame.nbytes <= RESULT_BYTES, f"frame {index} takes {frame.nbytes:,} bytes"
    return info


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "safe_pickle",
            ".pkl",
            _parse_safe_pickle,
            lambda: st.one_of(pickle_stream(), mutated([flame_pickle_seed(), embedding_seed()])),
        ),
        Target("flame_model", ".pkl", _parse_flame, lambda: mutated([flame_pickle_seed()])),
        Target("landmark_embedding", ".npy", _parse_embedding, lambda: mutated([embedding_seed()])),
        Target("checkpoint", ".tar", _parse_checkpoint, lambda: mutated(checkpoint_seeds())),
        Target(
            "params_npz", ".npz", _parse_codes, lambda: st.one_of(npz_bytes(), mutated([params_seeds()[0]]))
        ),
        Target(
            "params_json",
            ".json",
            _parse_codes,
            lambda: st.one_of(json_bytes(), mutated([params_seeds()[1]])),
        ),
        Target(
            "landmarks_txt",
            ".txt",
            _parse_landmarks,
            lambda: st.one_of(landmark_txt(), mutated(landmark_seeds()[0])),
        ),
        Target("landmarks_mat", ".mat", _parse_landmarks, lambda: mutated(landmark_seeds()[1])),
        Target("template_obj", ".obj", _parse_template, lambda: st.one_of(obj_text(), mutated([obj_seed()]))),
        Target("mesh_obj", ".obj", _parse_obj, lambda: st.one_of(obj_text(), mutated([obj_seed()]))),
        Target("image", ".png", _parse_image, lambda: mutated(image_seeds())),
        Target("video", ".mp4", _parse_video, lambda: mutated(video_seeds())),
    )
}

DTYPE_SETSTATE_SEGFAULT = (
    b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00f8\x89\x88\x87R"
    b"(K\x03X\x01\x00\x00\x00<NJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb."
)
"""``numpy.dtype('f8')`` then BUILD ``(3, '<', None, -1, -1, 0)``: ``dtype.__setstate__`` accepts an
item size of −1 and the interpreter segfaults when the dtype is used (found by this suite)."""

REPRODUCERS: dict[str, list[bytes]] = {name: [] for name in TARGETS}
"""Minimal inputs that once crashed a parser (a non-PydecaError), re-tested on every run."""
REPRODUCERS["safe_pickle"] += [DTYPE_SETSTATE_SEGFAULT]
REPRODUCERS["flame_model"] += [DTYPE_SETSTATE_SEGFAULT]
MAT4_HUGE_NAME = struct.pack("<5i", 0, 1, 1, 0, 2**31 - 1) + b"pt3d_68\x00"
"""A MAT v4 header whose variable name claims 2 GiB: SciPy allocated it when reading from a file."""
REPRODUCERS["landmarks_mat"] += [MAT4_HUGE_NAME, b""]
REPRODUCERS["template_obj"] += [
    b"v 0 0 0\nvt 0 0\nf 1/99999999999999999999 1/1 1/1\n",
    b"v 1e39 0 0\nvt 0 0\nf 1/1 1/1 1/1\n",
]
REPRODUCERS["mesh_obj"] += [b"v 0 0 0\nv 1 0 0 1 1 1\nf 1 2 1\n", b"v 1 x 0\n", b"f 1 2 3\n", b"# caf\xe9\n"]

TIFF_MISSING_DIMENSIONS = bytes.fromhex(
    "49492a00080000000a0000010400010000000c00000001010400010000000a0000000201030003000000860000000301"
    "0300010000000100000006010300010000000200000011010400010000008c0000001501030001000000030000001601"
    "0400010000000a0000001701040001000000680100001c010300010000000100000000000002080008000800c0576ad5"
    "4702f8416370fa1a62e9684b1db0ee681e1870cffc6e85729ccc8616d4e3b954242f9f98682b2ccf52f081b910fa2afd"
    "e347192f9e9d55e0df151d0d6ce3e68d79636345cac88a32b1864ca7b88d414d78a3ef8e81d49841007a6925152cc9be"
    "38e3bf6dd312bfac571056aa4c89faf0c79c3a6b7ca63f376e5e17a117f357eeefe0a8f65d2e2ddd0f55dcad2de75160"
    "69854063a3182e09cec7ee2e3f9f3d54cfdf8f57c97168933937d481e80344b0c24b25e3bdd383dfc75a8ac5abe401f9"
    "3b0d7150bb194ce77f7998ebee0b4938dc8b8c77f762c390f12c99b0bed648b22aef701aa4561879db5cc219660933f4"
    "da33af3297b7f671364a6ae1e333b184b91e07ad2819cf7e3b8c66d8641d0c977bc5f8a343e32e739d2812675930f596"
    "f0763d83487be8c713e9ea965656bf77a5c2b2db205c8a35f4f62b6f9ff9747b0bd868e3ba57ba6fa28c1b9c4e689612"
    "dcad4fd33f96c07002997f7e38c8c31747dd47b0"
)
"""A damaged TIFF: Pillow raises TypeError('Missing dimensions') from load_image (found by this suite)."""

MP4_WITHOUT_CODEC_CONTEXT = bytes.fromhex(
    "0000001c6674797069736f6d0000020069736f6d69736f326d7034310000000866726565000000646d646174000001b3"
    "001007000001b610c0a3047b6fe36dbf7f0000c24608f6dfc6db7e000001b3001007000001b611c0e3058b6fe36dbf7f"
    "0000c3460b16dfc6db7e000001b3001007000001b612c1a311b6fe36dbf70000c646236dfc6db7ef0000033d6d6f6f76"
    "0000006c6d766864000000000000000000000000000003e80000012c0001000001000000000000000000000000010000"
    "000000000000000000000000000100000000000000000000000000004000000000000000000000000000000000000000"
    "000000000000000000000002000002677472616b0000005c746b68640000000300000000000000000000000100000000"
    "0000012c0000000000000000000000000000000000010000000000000000000000000000000100000000000000000000"
    "0000000040000000002000000020000000000024656474730000001c656c737400000000000000010000012c00000000"
    "00010000000001df6d646961000000206d6468640000000000000000000000000000280000000c0055c400000000002d"
    "68646c72000000000000000076696465000000000000000000000000566964656f48616e646c6572000000018a6d696e"
    "6600040014766d68640000000100000000000000000000002464696e660000001c647265660000000000000001000000"
    "0c75726c20000000010000014a7374626c000000da737473640000000000000001000000ca6d70347600000000000000"
    "010000000000000000000000000000000000200020004800000048000000000000000100000000000000000000000000"
    "000000000000000000000000000000000000000018ffff000000606573647300000000038080804f0001000480808041"
    "20110000000000099500000000058080802f000001b001000001b58913000001000000012000c48d8800550104041443"
    "000001b24c61766336322e32382e31303206808080010200000014627472740000000000000995000000000000001873"
    "747473000000000000000100000003000004000000001c73747363000000000000000100000001000000030000000100"
    "0000207374737a0000000000000000000000030000001f0000001f0000001e000000147374636f000000000000000100"
    "00002c00000062756474610000005a6d657461000000000000002168646c7200000000000000006d6469726170706c00"
    "00000000000000000000002d696c737400000025a9746f6f0000001d6461746100000001000000004c61766636322e31"
    "322e313032"
)
"""A damaged MP4: video_info reads .width of a None stream.codec_context (found by this suite)."""
REPRODUCERS["image"] += [TIFF_MISSING_DIMENSIONS]
REPRODUCERS["video"] += [MP4_WITHOUT_CODEC_CONTEXT]


def check_bytes(target: Target, data: bytes, workdir: Path) -> PydecaError | None:
    """Write ``data`` to ``workdir/input<suffix>`` and parse it under the guards."""
    path = workdir / f"input{target.suffix}"
    path.write_bytes(data)
    return parse_guarded(target.parse, path)


# ---------------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _fuzz_test(name: str) -> Callable[[Path], None]:
    target = TARGETS[name]

    @settings(settings.get_profile(PROFILE))
    @given(data=st.deferred(target.strategy))
    def run(workdir: Path, data: bytes) -> None:
        check_bytes(target, data, workdir)

    for data in REPRODUCERS[name]:
        run = example(data=data)(run)
    return run


def run_isolated(fn: Callable[[], None], last_input: Path) -> None:
    """Run ``fn`` in a forked child so a parser that kills the interpreter fails one test, not the run.

    Raises:
        pytest.fail.Exception: ``fn`` raised (its traceback, with Hypothesis' falsifying example), or
            the child died of a signal (the message holds the input being parsed, ``last_input``).
    """
    if not hasattr(os, "fork"):  # pragma: no cover - Windows: run in-process
        fn()
        return
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        status, report = 0, b""
        try:
            fn()
        except BaseException:
            status, report = 1, traceback.format_exc().encode(errors="replace")[-60_000:]
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(report)
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        data = last_input.read_bytes() if last_input.is_file() else b"?"
        pytest.fail(
            f"the parser killed the interpreter (signal {os.WTERMSIG(status)}) "
            f"on {last_input.name} = {data!r}",
            pytrace=False,
        )
    if os.WEXITSTATUS(status) != 0:
        pytest.fail(report, pytrace=False)


@pytest.mark.parametrize("name", list(TARGETS))
def test_parser_yields_result_or_pydeca_error(name: str, workdir: Path) -> None:
    """Any generated file gives a bounded result or a PydecaError, within time and memory bounds."""
    run = _fuzz_test(name)
    run_isolated(lambda: run(workdir), workdir / f"input{TARGETS[name].suffix}")


@pytest.mark.parametrize("name", list(TARGETS))
def test_seed_files_parse(name: str, workdir: Path) -> None:
    """The unmutated seeds are valid files, so the mutations start from something that parses."""
    seeds = {
        "safe_pickle": [flame_pickle_seed(), embedding_seed()],
        "flame_model": [flame_pickle_seed()],
        "landmark_embedding": [embedding_seed()],
        "checkpoint": checkpoint_seeds(),
        "params_npz": [params_seeds()[0]],
        "params_json": [params_seeds()[1]],
        "landmarks_txt": landmark_seeds()[0],
        "landmarks_mat": landmark_seeds()[1],
        "template_obj": [obj_seed()],
        "mesh_obj": [obj_seed()],
        "image": image_seeds(),
        "video": video_seeds(),
    }[name]
    for seed in seeds:
        assert check_bytes(TARGETS[name], seed, workdir) is None


def _spin_under_time_guard(seconds: float) -> None:
    with time_guard(seconds):
        while True:
            pass


def test_guards_catch_a_huge_allocation_and_a_hang(tmp_path: Path) -> None:
    """The memory guard turns a 64 GiB allocation into MemoryError; the hang guard fires."""
    if resource is not None and _address_space():
        with pytest.raises(MemoryError):
            parse_guarded(lambda p: np.ones(2**33), tmp_path)
    with pytest.raises(ParseHang):
        _spin_under_time_guard(0.05)
    error = PydecaError("refused")

    def refuse(path: Path) -> None:
        raise error

    assert parse_guarded(refuse, tmp_path) is error
    with pytest.raises(AssertionError, match="bytes of arrays"):
        parse_guarded(lambda p: {"a": np.zeros(RESULT_BYTES + 1, np.uint8)}, tmp_path)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("landmarks_mat", MAT4_HUGE_NAME, r"'pt3d_68' is a 1×1 double array; expected 3×68"),
        ("landmarks_mat", b"", r"not a readable MATLAB \.mat landmark file \(MatReadError"),
        ("landmarks_txt", b"1 2\n" * 67 + b"inf 3\n", "landmark coordinates hold NaN or infinite values"),
        ("landmarks_txt", b"1 2\n" * 40_000, "160000 bytes is too large for a 68-point landmark file"),
        (
            "template_obj",
            REPRODUCERS["template_obj"][0],
            r"input\.obj:3: malformed f line \(needs integer indices\)",
        ),
        (
            "template_obj",
            REPRODUCERS["template_obj"][1],
            r"input\.obj:1: malformed v line \(needs finite numbers\)",
        ),
        (
            "mesh_obj",
            b"v 0 0 0\nv 1 0 0\nv 1 x 0\n",
            r"input\.obj:3: a v line holds a value that is not a number",
        ),
        ("mesh_obj", b"v 0 0 0\nf 1 2 3\n", "a face references a vertex outside the 1 defined"),
        ("mesh_obj", b"# caf\xe9\nv 0 0 0\n", "not a UTF-8 text OBJ file"),
        ("mesh_obj", b"v 0 0 0\nvt 0 0\nf 1/1 1/1 1/1\nf 1 1 1\n", "1 of 2 faces have UV indices"),
    ],
)
def test_found_crashes_are_refused_with_a_message(
    name: str, data: bytes, message: str, workdir: Path
) -> None:
    """Inputs that crashed pydeca's own parsers before this suite now give a one-line error message."""
    error = check_bytes(TARGETS[name], data, workdir)
    assert error is not None
    assert "\n" not in str(error)
    assert re.search(message, str(error)), str(error)


def test_read_obj_keeps_vertex_colours_only_when_every_vertex_has_them(workdir: Path) -> None:
    """A mix of ``v x y z`` and ``v x y z r g b`` lines (valid OBJ) parses; colours need all vertices."""
    path = workdir / "mixed.obj"
    path.write_bytes(obj_seed())
    from pydeca.io.mesh import read_obj

    mesh = read_obj(path)
    assert mesh["vertices"].shape == (4, 3)
    assert mesh["vertex_colors"] is None
    np.testing.assert_array_equal(mesh["faces"], [[0, 1, 2], [0, 2, 3]])  # -1 is the 4th vertex
    np.testing.assert_array_equal(mesh["uvfaces"], [[0, 1, 2], [0, 2, 3]])
    assert (mesh["mtllib"], mesh["material"]) == ("m.mtl", "skin")
    path.write_bytes(b"v 0 0 0 1 0.5 0\nv 1 0 0 0 0 1\nv 0 1 0 1 1 1\nf 1 2 3\n")
    np.testing.assert_array_equal(read_obj(path)["vertex_colors"], [[1, 0.5, 0], [0, 0, 1], [1, 1, 1]])
