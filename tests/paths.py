"""Where the tests find the repository, the read-only ``shared/`` folder and its parity references.

Import it as ``from paths import REPO, SHARED`` (``tests/`` is on ``pythonpath``, see pyproject.toml)
instead of counting ``Path(__file__).parents[N]``, which breaks when a test moves.
"""

from __future__ import annotations

import os
from pathlib import Path

TESTS = Path(__file__).resolve().parent
"""The ``tests/`` folder (helpers, ``conftest.py``)."""
REPO = TESTS.parent
"""The repository root (``pyproject.toml``, ``README.md``, ``src/``, ``benchmarks/``)."""
PACKAGE = REPO / "src" / "pydeca"
"""The package source tree."""
BENCHMARKS = REPO / "benchmarks"
"""The benchmark scripts (some tests reuse their baselines)."""
SHARED = Path(os.environ.get("PYDECA_SHARED", REPO.parent / "shared")).resolve()
"""The read-only ``shared/`` folder beside the repository, or ``$PYDECA_SHARED``."""
PARITY_NAMES = (
    "examples__IMG_0392_inputs",
    "examples__alfw1",
    "examples__id04657-PPHljWCZ53c-000565_inputs_inputs",
)
"""Stems of the parity references in ``SHARED / "fixtures" / "parity"`` (fixtures README §4)."""
