"""release_freed_memory: calls glibc's malloc_trim where it exists, a no-op elsewhere.

How much memory it gives back is measured by ``benchmarks/bench_memory.py``, not asserted here.
"""

from __future__ import annotations

import platform

from pydeca.apps import memory


def test_reports_whether_trim_ran():
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert memory.release_freed_memory() is glibc


def test_calls_malloc_trim_with_zero_padding(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: calls.append)
    assert memory.release_freed_memory() is True
    assert calls == [0]


def test_without_the_allocator_call_it_is_a_no_op(monkeypatch):
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    assert memory.release_freed_memory() is False
