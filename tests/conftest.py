"""Shared test fixtures: the read-only `../shared` folder, devices and dtypes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from paths import PARITY_NAMES, SHARED


def pytest_configure(config: pytest.Config) -> None:
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The read-only `shared/` folder beside the repository (fixtures, topology, photos)."""
    if not SHARED.is_dir():
        # The parity and fixture tests are the core of the suite: a missing folder must not turn
        # them into silent skips (CI would pass without running them).
        message = f"shared folder not found at {SHARED} (set PYDECA_SHARED to its path)"
        if os.environ.get("PYDECA_SKIP_SHARED") == "1":
            pytest.skip(message)
        pytest.fail(f"{message}; PYDECA_SKIP_SHARED=1 skips the tests that need it", pytrace=False)
    return SHARED


@pytest.fixture(scope="session")
def topology_dir(shared: Path) -> Path:
    """DECA's public data files (template OBJ, landmark embedding, masks, fixed displacement)."""
    return shared / "flame-topology"


@pytest.fixture(scope="session")
def fixtures_dir(shared: Path) -> Path:
    """`shared/fixtures`: synthetic FLAME pickle, checkpoint manifest, parity references."""
    return shared / "fixtures"


_DEVICE_AVAILABLE = {
    "cpu": lambda: True,
    "cuda": torch.cuda.is_available,
    "mps": torch.backends.mps.is_available,
}


@pytest.fixture(params=list(_DEVICE_AVAILABLE))
def device(request: pytest.FixtureRequest) -> torch.device:
    """Every device: CPU always; CUDA and Apple MPS skipped where absent."""
    if not _DEVICE_AVAILABLE[request.param]():
        pytest.skip(f"device {request.param!r} is not available here")
    return torch.device(request.param)


@pytest.fixture(params=[torch.float32, torch.float64], ids=["f32", "f64"])
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    """Floating dtypes the math functions must support (float64 skipped on MPS, which has none)."""
    if (
        request.param == torch.float64
        and "device" in request.fixturenames
        and request.getfixturevalue("device").type == "mps"
    ):
        pytest.skip("MPS has no float64")
    return request.param


@pytest.fixture(scope="session")
def reference_bundle(shared: Path, tmp_path_factory: pytest.TempPathFactory):
    """The assets the parity references were made with, as an AssetBundle (no albedo model).

    FLAME: the synthetic chumpy pickle; topology, embedding, masks: DECA's public files; weights: the
    deterministic test checkpoint of fixtures/README.md §2 (built in memory).
    """
    from pydeca.assets.bundle import AssetBundle
    from pydeca.assets.embedding import load_landmark_embedding
    from pydeca.assets.flame_model import load_flame_model
    from pydeca.assets.synthetic_checkpoint import deterministic_checkpoint
    from pydeca.assets.template import load_template_mesh
    from pydeca.assets.uv_maps import load_fixed_displacement, load_uv_mask

    topo = shared / "flame-topology"
    cache = tmp_path_factory.mktemp("flame-cache")
    return AssetBundle(
        asset_dir=topo,
        flame=load_flame_model(shared / "fixtures" / "flame2020_synthetic_chumpy.pkl", cache_dir=cache),
        embedding=load_landmark_embedding(topo / "landmark_embedding.npy"),
        template=load_template_mesh(topo / "head_template.obj"),
        face_eye_mask=load_uv_mask(topo / "uv_face_eye_mask.png"),
        face_mask=load_uv_mask(topo / "uv_face_mask.png"),
        fixed_displacement=load_fixed_displacement(topo / "fixed_displacement_256.npy"),
        checkpoint=deterministic_checkpoint(),
    )


@pytest.fixture(scope="session")
def reference_model(reference_bundle, tmp_path_factory: pytest.TempPathFactory):
    """pydeca.DECA built from :func:`reference_bundle` on the CPU (topology cache in a temp dir)."""
    from pydeca.model import DECA

    return DECA(reference_bundle, cache_dir=tmp_path_factory.mktemp("topology-cache"))


def _test_cache() -> Path:
    """A cache kept across test runs: ``$PYDECA_TEST_CACHE`` or ``~/.cache/pydeca-tests``."""
    return Path(os.environ.get("PYDECA_TEST_CACHE") or Path.home() / ".cache" / "pydeca-tests")


@pytest.fixture(scope="session")
def bfm_albedo_path(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic BFM-format albedo the parity references used, made by shared/tools (~12 s).

    Made once per version of ``make_assets.py`` (keyed by its SHA-256) and kept in
    :func:`_test_cache`, so later runs reuse it; an unwritable cache falls back to a temp folder.
    """
    import hashlib
    import shutil
    import subprocess
    import sys

    tool = shared / "tools" / "make_assets.py"
    key = hashlib.sha256(tool.read_bytes()).hexdigest()[:16]
    cached = _test_cache() / f"albedo-{key}" / "FLAME_albedo_from_BFM.npz"
    if cached.is_file():
        return cached
    pytest.importorskip("cv2", reason="shared/tools/make_assets.py needs opencv for the albedo")
    out = tmp_path_factory.mktemp("make-assets") / "out"
    subprocess.run(
        [sys.executable, str(tool), "--out", str(out), "--only", "albedo"], check=True, capture_output=True
    )
    made = out / "FLAME2020" / "FLAME_albedo_from_BFM.npz"
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{cached.name}.{os.getpid()}")
        shutil.copyfile(made, partial)
        partial.replace(cached)  # atomic: a concurrent run sees the whole file or none
    except OSError:
        return made
    return cached


@pytest.fixture(scope="session", params=PARITY_NAMES)
def parity(request: pytest.FixtureRequest, shared: Path) -> dict:
    """One parity reference (fixtures README §4) as a dict of numpy arrays, plus its ``name``."""
    import numpy as np

    with np.load(shared / "fixtures" / "parity" / f"{request.param}.npz") as data:
        out = {key: data[key] for key in data.files}
    out["name"] = request.param
    return out


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pydeca cache directory holding the generated demo pack (shared by the tests)."""
    return tmp_path_factory.mktemp("pydeca-cache")


@pytest.fixture(scope="session")
def demo_model(demo_cache: Path):
    """pydeca.DECA on the generated demo asset pack, CPU."""
    from pydeca.model import DECA

    return DECA.load("demo", device="cpu", cache_dir=demo_cache)
