"""Read and write the topology template ``head_template.obj`` (reference §1.3).

Only ``v``, ``vt`` and triangle ``f`` lines are read (``f v/vt``, ``f v/vt/vn``; 1-based or
negative relative indices); every other line is ignored. Each group of lines is parsed in one
vectorised numpy conversion; a malformed line raises :class:`~pydeca.errors.AssetFormatError`
with its line number.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from pydeca.assets.data import TemplateMesh
from pydeca.errors import AssetFormatError, AssetNotFoundError

__all__ = ["load_template_mesh", "save_template_obj"]


def _bad_line(source: str, lineno: int, line: str, why: str) -> AssetFormatError:
    return AssetFormatError(f"{source}:{lineno}: {why}: {line.strip()!r}")


def _parse_numbers(
    rows: list[str], linenos: list[int], width: int, dtype: type, *, source: str, what: str
) -> np.ndarray:
    """Parse ``rows`` (line bodies without the tag) into an (N, width) array in one call."""
    if not rows:
        return np.zeros((0, width), dtype)
    tokens = " ".join(rows).split()
    try:
        if len(tokens) != width * len(rows):
            raise ValueError
        return _finite(
            np.array(tokens, dtype=np.float64 if dtype is float else np.int64), source, what
        ).reshape(-1, width)
    except (ValueError, OverflowError):  # OverflowError: an index beyond int64
        pass
    for body, lineno in zip(rows, linenos, strict=True):  # slow path: locate the bad line
        parts = body.split()
        try:
            if len(parts) < width:
                raise ValueError
            _finite(np.array(parts[:width], dtype=np.float64 if dtype is float else np.int64), source, what)
        except (ValueError, OverflowError):
            need = "finite numbers" if dtype is float else "integer indices"
            raise _bad_line(source, lineno, body, f"malformed {what} line (needs {need})") from None
        if len(parts) != width and what == "f":
            raise _bad_line(source, lineno, body, "only triangles are supported") from None
    # Extra trailing values on v / vt lines (vertex colours, w) are allowed: parse per line width.
    return np.array([body.split()[:width] for body in rows], dtype=np.float64).reshape(-1, width)


def _finite(values: np.ndarray, source: str, what: str) -> np.ndarray:
    """``values`` if every one is finite and within float32 range (the template's storage type).

    Raises:
        ValueError: otherwise (the caller names the line).
    """
    if values.dtype.kind == "f" and not (np.abs(values) <= np.finfo(np.float32).max).all():
        raise ValueError(f"{source}: a {what} line holds NaN, infinite or out-of-range values")
    return values


def _resolve(index: np.ndarray, count: int, source: str, what: str) -> np.ndarray:
    """1-based (or negative, relative) OBJ indices → 0-based, range-checked."""
    index = np.where(index < 0, index + count, index - 1)
    if index.size and (index.min() < 0 or index.max() >= count):
        raise AssetFormatError(f"{source}: an f line references a {what} index outside 1..{count}")
    return index


def load_template_mesh(path: str | Path) -> TemplateMesh:
    """Load an OBJ template with UVs: vertices, UV coordinates, faces and UV faces.

    Args:
        path: OBJ file whose ``f`` lines are triangles ``v/vt`` or ``v/vt/vn``.

    Returns:
        :class:`TemplateMesh`: ``verts`` (V, 3) float32, ``uvcoords`` (T, 2) float32 ``(u, v)``,
        ``faces`` / ``uvfaces`` (F, 3) int64, 0-based.

    Raises:
        AssetNotFoundError: the file does not exist.
        AssetFormatError: a malformed line (message has the line number), non-triangles, missing
            UV indices or out-of-range indices.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise AssetNotFoundError(
            f"template mesh not found: {path}. Run `deca fetch data` to get "
            "head_template.obj (a DECA public data file) or pass the right asset directory."
        )
    source = str(path)
    groups: dict[str, tuple[list[str], list[int]]] = {"v": ([], []), "vt": ([], []), "f": ([], [])}
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        tag, _, body = line.strip().partition(" ")
        if tag in groups:
            groups[tag][0].append(body)
            groups[tag][1].append(lineno)
    verts = _parse_numbers(*groups["v"], 3, float, source=source, what="v")
    uvs = _parse_numbers(*groups["vt"], 2, float, source=source, what="vt")
    f_rows, f_linenos = groups["f"]
    if not f_rows:
        raise AssetFormatError(f"{source}: no 'f' lines; not a mesh")
    first = f_rows[0].split()[0] if f_rows[0].split() else ""
    parts_per_corner = first.count("/") + 1
    if parts_per_corner < 2 or "//" in f_rows[0]:
        raise _bad_line(source, f_linenos[0], f_rows[0], "faces need UV indices (f v/vt ...)")
    bodies = [body.replace("/", " ") for body in f_rows]
    corners = _parse_numbers(bodies, f_linenos, 3 * parts_per_corner, int, source=source, what="f")
    corners = corners.reshape(-1, 3, parts_per_corner)
    return TemplateMesh(
        verts=verts.astype(np.float32),
        uvcoords=uvs.astype(np.float32),
        faces=_resolve(corners[..., 0], len(verts), source, "vertex"),
        uvfaces=_resolve(corners[..., 1], len(uvs), source, "vt"),
    )


def save_template_obj(path: str | Path, mesh: TemplateMesh) -> None:
    """Write ``mesh`` as an OBJ with ``v``, ``vt`` and ``f v/vt`` lines (1-based, 9 significant digits).

    :func:`load_template_mesh` reads the result back exactly (float32 values round-trip).
    """
    out = io.StringIO()
    out.write("# pydeca template mesh\n")
    np.savetxt(out, np.asarray(mesh.verts, np.float64), fmt="v %.9g %.9g %.9g")
    np.savetxt(out, np.asarray(mesh.uvcoords, np.float64), fmt="vt %.9g %.9g")
    corners = np.stack([np.asarray(mesh.faces), np.asarray(mesh.uvfaces)], axis=-1).reshape(-1, 6) + 1
    np.savetxt(out, corners, fmt="f %d/%d %d/%d %d/%d")
    Path(path).expanduser().write_text(out.getvalue(), encoding="utf-8")
