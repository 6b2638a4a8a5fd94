"""The README's headline Python example runs as written, on the demo pack, against real photos."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh

from paths import REPO

README = REPO / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_headline_api_example_runs(
    shared: Path, tmp_path: Path, demo_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first python block of the README (``import pydeca`` ...) with its file names made real."""
    block = next(code for code in _python_blocks() if code.startswith("import pydeca"))
    monkeypatch.setenv("PYDECA_HOME", str(tmp_path / "no-assets"))  # nothing installed: the demo pack
    monkeypatch.setenv("PYDECA_CACHE", str(demo_cache))
    monkeypatch.chdir(tmp_path)
    photos = shared / "images" / "examples"
    (tmp_path / "selfie.jpg").write_bytes((photos / "IMG_0392_inputs.jpg").read_bytes())
    (tmp_path / "group.jpg").write_bytes((photos / "alfw1.png").read_bytes())
    namespace: dict[str, Any] = {}
    exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README

    model, face, faces, mesh = (namespace[k] for k in ("model", "face", "faces", "mesh"))
    assert model.is_demo
    assert face.landmarks.shape == (68, 2)
    assert len(faces) >= 1
    assert faces[0].name == "group"
    vertices = face.reconstruction.vertices
    assert isinstance(mesh, trimesh.Trimesh)
    assert mesh.vertices.shape == (vertices.shape[1], 3)
    for written in ("selfie/selfie.npz", "selfie/selfie.obj", "selfie_vis.jpg"):
        assert (tmp_path / "out" / written).is_file(), written
    # the closing claim of the example: decoding the saved codes gives the same vertices
    np.testing.assert_allclose(namespace["vertices"].cpu().numpy(), vertices.cpu().numpy(), atol=1e-5)


def test_contributing_module_map_names_real_files() -> None:
    """Every path in CONTRIBUTING's "Where is X" table exists, and every module appears in it."""
    root = REPO
    text = (root / "CONTRIBUTING.md").read_text(encoding="utf-8")
    table = text[text.index("## Where is X") :]
    named = set(re.findall(r"`([a-z_/]+(?:\.py|/))`", table))
    package = root / "src" / "pydeca"
    missing = sorted(name for name in named if not (package / name).exists() and not (root / name).exists())
    assert not missing, f"CONTRIBUTING names files that do not exist: {missing}"
    listed = {name for name in named if name.endswith(".py")}
    folders = {name for name in named if name.endswith("/")}
    modules = {
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "__init__.py" and not path.name.startswith("_")
    }
    unlisted = sorted(m for m in modules if m not in listed and not any(m.startswith(f) for f in folders))
    assert not unlisted, f"modules missing from CONTRIBUTING's map: {unlisted}"
