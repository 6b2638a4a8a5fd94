"""Shared test fixtures: the read-only `../shared` folder, devices and dtypes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PYDECA_SHARED", REPO.parent / "shared")).resolve()


def pytest_configure(config: pytest.Config) -> None:
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The read-only `shared/` folder beside the repository (fixtures, topology, photos)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared folder not found at {SHARED} (set PYDECA_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def topology_dir(shared: Path) -> Path:
    """DECA's public data files (template OBJ, landmark embedding, masks, fixed displacement)."""
    return shared / "flame-topology"


@pytest.fixture(scope="session")
def fixtures_dir(shared: Path) -> Path:
    """`shared/fixtures`: synthetic FLAME pickle, checkpoint manifest, parity references."""
    return shared / "fixtures"


@pytest.fixture(params=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def device(request: pytest.FixtureRequest) -> torch.device:
    """Every device available here (CPU always; CUDA when present)."""
    return torch.device(request.param)


@pytest.fixture(params=[torch.float32, torch.float64], ids=["f32", "f64"])
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    """Floating dtypes the math functions must support."""
    return request.param
