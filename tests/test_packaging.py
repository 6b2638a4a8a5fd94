"""The built wheel holds the whole package (every module under src/pydeca, py.typed, the script)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from paths import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    pytest.importorskip("setuptools")
    # Build from a fresh copy: setuptools reuses a stale build/ folder, which would hide a module
    # that stopped being packaged.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)]
    subprocess.run([*cmd, str(source)], check=True, capture_output=True, timeout=300)
    (path,) = out.glob("pydeca-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_contains_every_module(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    sources = sorted(p.relative_to(REPO / "src").as_posix() for p in (REPO / "src" / "pydeca").rglob("*.py"))
    assert len(sources) > 60
    missing = [name for name in sources if name not in names]
    assert not missing, f"modules left out of the wheel (a package without __init__.py?): {missing}"
    assert "pydeca/py.typed" in names


def test_wheel_declares_the_console_script(wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "deca = pydeca.cli:main" in text
