"""The package's import graph points down only: a layer imports strictly lower layers, never higher.

The layers (architecture.md, *Layout*), lowest first. A module may import its own unit (package or
module) and any unit of a strictly lower rank — at module level or inside a function alike, since a
deferred import is still a dependency. The root ``pydeca/__init__.py`` is the public facade: it may
re-export anything (lazily), and nothing inside the package imports it (``pydeca._version`` holds the
version).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from paths import PACKAGE

RANKS: dict[str, int] = {
    "_version": 0,
    "errors": 0,
    "constants": 0,
    "checks": 1,
    "nets": 2,
    "assets": 3,
    "results": 3,
    "geometry": 4,
    "flame": 5,
    "render": 5,
    "detect": 5,
    "io": 5,
    "model": 6,
    "pipeline": 7,
    "export": 8,
    "viewer": 8,
    "train": 8,
    "eval": 8,
    "apps": 9,
    "cli": 10,
}
"""Rank of each top-level unit of ``pydeca``: imports go from a higher rank to a lower one only."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every ``pydeca`` import in a file, relative ones resolved."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not node.module and node.level:  # `from . import x`: a submodule x, or a name of the package
                root = PACKAGE.parent.joinpath(*target.split("."))
                found += [
                    (node.lineno, f"{target}.{alias.name}" if _is_module(root / alias.name) else target)
                    for alias in node.names
                ]
            else:
                found.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, target) for line, target in found if target.split(".")[0] == "pydeca"]


def _is_module(path: Path) -> bool:
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "pydeca"


def _violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _module_name(path)
        if source == "pydeca":
            continue  # the facade re-exports the public API
        source_unit = _unit(source)
        for line, target in _imported_modules(path):
            target_unit = _unit(target)
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if target_unit == source_unit:
                continue
            if target_unit == "pydeca":
                problems.append(f"{where} imports the facade `pydeca`; import the module that defines it")
            elif source_unit not in RANKS or target_unit not in RANKS:
                problems.append(f"{where}: unit {source_unit!r} or {target_unit!r} has no rank in RANKS")
            elif RANKS[target_unit] >= RANKS[source_unit]:
                problems.append(
                    f"{where}: {source_unit} (rank {RANKS[source_unit]}) imports "
                    f"{target_unit} (rank {RANKS[target_unit]})"
                )
    return problems


def test_every_unit_has_a_rank() -> None:
    units = {_unit(_module_name(path)) for path in PACKAGE.rglob("*.py")} - {"pydeca"}
    assert units <= set(RANKS), f"units without a rank: {sorted(units - set(RANKS))}"


def test_imports_point_down_only() -> None:
    problems = _violations()
    assert not problems, "upward or sideways imports:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("from pydeca.apps import x", ["pydeca.apps"]),
        ("from .. import errors", ["pydeca.errors"]),
        ("from ..model import DECA", ["pydeca.model"]),
        ("import pydeca.io.params as p", ["pydeca.io.params"]),
        ("from .. import __version__", ["pydeca"]),
        ("import numpy", []),
    ],
)
def test_import_resolution(tmp_path: Path, code: str, expected: list[str], monkeypatch) -> None:
    """The checker itself: relative imports of a module two levels down resolve to the right unit."""
    fake = tmp_path / "pydeca" / "flame" / "lbs.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(code + "\n")
    (tmp_path / "pydeca" / "errors.py").write_text("")
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path / "pydeca")
    assert [target for _, target in _imported_modules(fake)] == expected
