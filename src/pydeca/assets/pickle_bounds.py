"""Bounded parsing of untrusted pickles: an opcode scan before anything is built.

Unpickling itself is a loop in C, but what it builds can be hostile: a tuple nested a million
levels deep (ten bytes per level) crashes CPython with a C stack overflow as soon as it is hashed
(a dict key, a set member), and length prefixes can claim terabytes. :func:`check_pickle_bounds`
walks the opcodes with :func:`pickletools.genops` (pure Python, nothing is constructed, each length
prefix is checked against the bytes that are really there) and simulates the unpickler's stack with
one number per item: an upper bound of its nesting depth. Anything nested deeper than
:data:`MAX_NESTING` is refused before the real unpickler runs.

The bound is exact for immutable containers (tuples, frozensets), the ones whose hashing recurses;
a mutable container grown after being memoised can hide depth from the scan, which is why the
loaders walk the result iteratively with the same limit afterwards.
"""

from __future__ import annotations

import io
import pickletools

from pydeca.errors import AssetFormatError

__all__ = ["MAX_NESTING", "check_pickle_bounds"]

MAX_NESTING = 100
"""Deepest container nesting accepted in an asset pickle (DECA's files nest at most 5 levels)."""

_GROWING = {"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS"}
"""Opcodes that add the items above them to the container below them."""
_CONTAINERS = {"LIST", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "DICT", "FROZENSET"}
"""Opcodes that build a new container from the items they pop."""
_EMPTY = {"EMPTY_LIST", "EMPTY_TUPLE", "EMPTY_DICT", "EMPTY_SET"}
_PUT = {"PUT", "BINPUT", "LONG_BINPUT"}
_GET = {"GET", "BINGET", "LONG_BINGET"}


class _Scan:
    """The unpickler's stack and memo, each item replaced by a bound of its nesting depth."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.stack: list[int] = []
        self.marks: list[int] = []
        self.memo: dict[int, int] = {}

    def fail(self, why: str) -> AssetFormatError:
        return AssetFormatError(
            f"{self.source}: not a readable pickle ({why}); the file is corrupt or crafted, "
            "replace it with a genuine copy"
        )

    def pop(self, op: pickletools.OpcodeInfo) -> list[int]:
        """Pop what ``op`` consumes; the container an item-adding opcode grows comes first."""
        before = op.stack_before
        if pickletools.markobject in before:
            if not self.marks:
                raise self.fail(f"opcode {op.name} without a MARK")
            start = self.marks.pop()
            items = self.stack[start:]
            del self.stack[start:]
            below = before.index(pickletools.markobject)
        else:
            items, below = [], len(before)
        if len(self.stack) < below:
            raise self.fail(f"opcode {op.name} on a stack of {len(self.stack)} items")
        bottom = self.stack[len(self.stack) - below :] if below else []
        del self.stack[len(self.stack) - below :]
        return bottom + items

    def step(self, op: pickletools.OpcodeInfo, arg: object) -> None:
        name = op.name
        if name in _PUT or name == "MEMOIZE":
            if not self.stack:
                raise self.fail(f"opcode {name} on an empty stack")
            key = len(self.memo) if name == "MEMOIZE" else int(arg)  # type: ignore[call-overload]
            self.memo[key] = self.stack[-1]
            return
        if name in _GET:
            self.stack.append(self.memo.get(int(arg), 0))  # type: ignore[call-overload]
            return
        popped = self.pop(op)
        if name in _EMPTY:
            depth = 1
        elif name in _CONTAINERS:
            depth = 1 + max(popped, default=0)
        elif name in _GROWING:
            depth = max(popped[0], 1 + max(popped[1:], default=0))
        else:  # REDUCE, BUILD, NEWOBJ, DUP, ...: the result may hold any of its inputs
            depth = max(popped, default=0)
        if depth > MAX_NESTING:
            raise self.fail(f"containers nested more than {MAX_NESTING} levels deep")
        for item in op.stack_after:
            if item is pickletools.markobject:
                self.marks.append(len(self.stack))
            else:
                self.stack.append(depth)


def check_pickle_bounds(stream: io.BytesIO, source: str) -> None:
    """Scan one pickle from ``stream``'s position to its STOP opcode; leave the position there.

    Args:
        stream: an in-memory stream (a length prefix larger than the bytes left is refused without
            being allocated, which a file object would not guarantee).
        source: file name for messages.

    Raises:
        AssetFormatError: the bytes are not a well-formed pickle (bad opcode, a length prefix
            beyond the end, truncated) or nest containers deeper than :data:`MAX_NESTING`.
    """
    scan = _Scan(source)
    try:
        for op, arg, _pos in pickletools.genops(stream):
            scan.step(op, arg)
    except AssetFormatError:
        raise
    except Exception as exc:  # genops raises ValueError and others on garbage
        raise scan.fail(f"{type(exc).__name__}: {str(exc)[:160]}") from exc
