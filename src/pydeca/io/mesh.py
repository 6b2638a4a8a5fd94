"""Mesh files: OBJ (+ MTL + texture PNG + normal-map PNG), binary PLY, and GLB.

Vertex positions are written as given (pydeca writes FLAME-frame metres: +x subject's left, +y up,
+z toward the camera). Triangles are written in their stored corner order (DECA's ``save_obj``,
reference §2.14). UV coordinates follow the OBJ convention (v = 0 at the bottom of the texture);
texture images are stored with row 0 at the top (v = 1), as every DECA UV map.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from pydeca.errors import InputError, ShapeError

from .atomic import atomic_write, atomic_write_bytes, atomic_write_text
from .fast_text import format_face_corners, format_table
from .images import save_image

__all__ = [
    "MATERIAL_NAME",
    "obj_side_files",
    "read_obj",
    "split_uv_seams",
    "texture_vertex_colors",
    "write_glb",
    "write_obj",
    "write_ply",
]

VERTEX_DECIMALS = 7
"""Decimals of OBJ vertex coordinates (0.1 µm for metres)."""

MATERIAL_NAME = "FaceTexture"
"""Material name DECA writes into its OBJ/MTL pairs."""


_TEXT_CACHE: OrderedDict[tuple[str, bytes], str] = OrderedDict()
_TEXT_CACHE_SIZE = 8


def _cached_text(kind: str, *arrays: np.ndarray) -> str:
    """OBJ lines of the topology (``f``, ``vt``, ``f v/vt``), formatted once per distinct content.

    A reconstruction run writes the same faces and UVs for every face (only vertices change), so the
    text is cached, keyed by a digest of the arrays (a few ms for the 115k dense faces).
    """
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    key = (kind, digest.digest())
    if key not in _TEXT_CACHE:
        if kind == "f":
            text = format_table("f", [(arrays[0] + 1, 0)])
        elif kind == "vt":
            text = format_table("vt", [(arrays[0], 7)])
        else:
            text = format_face_corners(arrays[0] + 1, arrays[1] + 1)
        _TEXT_CACHE[key] = text.decode()
        if len(_TEXT_CACHE) > _TEXT_CACHE_SIZE:
            _TEXT_CACHE.popitem(last=False)
    return _TEXT_CACHE[key]


def _check_faces(name: str, faces: np.ndarray, count: int) -> np.ndarray:
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ShapeError(f"{name}: expected (F, 3), got {faces.shape}")
    if faces.size and (faces.min() < 0 or faces.max() >= count):
        raise ShapeError(f"{name}: indices must lie in [0, {count}), got [{faces.min()}, {faces.max()}]")
    return faces.astype(np.int64)


def _np(x: Any) -> np.ndarray:
    """Array from numpy or torch input (detached, on the CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def write_obj(
    path: str | os.PathLike[str],
    vertices: Any,
    faces: Any,
    *,
    uvcoords: Any = None,
    uvfaces: Any = None,
    texture: Any = None,
    normal_map: Any = None,
    vertex_colors: Any = None,
    header: str | None = None,
) -> Path:
    """Write a triangle mesh as Wavefront OBJ, with its material and textures when given.

    Files (``<name>`` = file stem of ``path``), following DECA's ``save_obj`` (reference §2.14):

    * ``<name>.obj``: ``mtllib <name>.mtl`` and ``usemtl FaceTexture`` (only with a texture),
      ``v x y z [r g b]``, ``vt u v``, ``f v/vt v/vt v/vt`` (1-based, stored order) or ``f v v v``.
    * ``<name>.mtl``: ``newmtl FaceTexture``, ``map_Kd <name>.png`` and, with a normal map,
      ``norm <name>_normals.png`` (file names relative to the MTL; DECA wrote the normal map as
      ``disp`` with the full path, which viewers read as a displacement map).
    * ``<name>.png`` (texture) and ``<name>_normals.png`` (normal map) as given, row 0 = v = 1.

    Every file is written atomically. Numbers use ``%.9g`` (exact for float32 input).

    Args:
        path: the ``.obj`` path.
        vertices: (V, 3) positions (numpy or torch).
        faces: (F, 3) int 0-based vertex indices.
        uvcoords: (T, 2) UV coordinates in [0, 1], v = 0 at the bottom of the texture.
        uvfaces: (F, 3) int 0-based indices into ``uvcoords``; required with ``uvcoords``.
        texture: (H, W, 3) uint8 RGB (or float [0, 1], or torch (3, H, W)); needs UVs.
        normal_map: (H, W, 3) uint8 RGB normal map (for DECA: world-frame normals · 0.5 + 0.5).
        vertex_colors: (V, 3) uint8 or float in [0, 1]; written as floats in [0, 1] after x y z.
        header: optional comment text written at the top (each line prefixed with ``#``).

    Returns:
        The ``.obj`` path.

    Raises:
        ShapeError: on inconsistent shapes or out-of-range indices.
    """
    obj_path = Path(path)
    name = obj_path.stem
    if texture is not None and uvcoords is None:
        raise ShapeError("texture needs uvcoords and uvfaces")
    text = _obj_text(
        _np(vertices),
        _np(faces),
        mtllib=f"{name}.mtl" if texture is not None else None,
        uvcoords=None if uvcoords is None else _np(uvcoords),
        uvfaces=None if uvfaces is None else _np(uvfaces),
        vertex_colors=None if vertex_colors is None else _np(vertex_colors),
        header=header,
    )
    if texture is not None:
        mtl = [f"newmtl {MATERIAL_NAME}", f"map_Kd {name}.png"]
        save_image(obj_path.with_name(f"{name}.png"), texture)
        if normal_map is not None:
            mtl.append(f"norm {name}_normals.png")
        atomic_write_text(obj_path.with_name(f"{name}.mtl"), "\n".join(mtl) + "\n")
    if normal_map is not None:
        save_image(obj_path.with_name(f"{name}_normals.png"), normal_map)
    atomic_write_text(obj_path, text)
    return obj_path


def obj_side_files(path: str | os.PathLike[str], *, texture: bool, normal_map: bool) -> list[Path]:
    """The files :func:`write_obj` writes beside ``path`` for the given options, in writing order.

    Args:
        path: the ``.obj`` path.
        texture: a texture was given (then ``<name>.mtl`` and ``<name>.png`` are written).
        normal_map: a normal map was given (``<name>_normals.png``).

    Returns:
        The side files (not including ``path`` itself).
    """
    obj_path = Path(path)
    name = obj_path.stem
    files = [obj_path.with_name(f"{name}.png"), obj_path.with_name(f"{name}.mtl")] if texture else []
    if normal_map:
        files.append(obj_path.with_name(f"{name}_normals.png"))
    return files


def texture_vertex_colors(texture: Any, faces: Any, uvcoords: Any, uvfaces: Any) -> np.ndarray:
    """Per-vertex colours sampled from a UV texture (nearest texel), for formats without textures.

    A vertex on a UV seam has several UVs; the one of its last corner in ``faces`` order is used
    (the colours either side of a seam agree up to texture resolution).

    Args:
        texture: (H, W, 3) uint8 RGB (or anything :func:`~pydeca.io.images.to_uint8_image` takes),
            row 0 = v = 1.
        faces: (F, 3) int vertex indices.
        uvcoords: (T, 2) UVs in [0, 1], v = 0 at the bottom of the texture.
        uvfaces: (F, 3) int indices into ``uvcoords``.

    Returns:
        (V, 3) uint8 with V = ``faces.max() + 1``; texel (row, col) = ``(floor((1 − v) H),
        floor(u W))`` clipped to the image.
    """
    from .images import to_uint8_image  # noqa: PLC0415

    image = to_uint8_image(texture)
    height, width = image.shape[:2]
    tris = _np(faces).astype(np.int64)
    uv = _np(uvcoords).astype(np.float64)
    uv_of_vertex = np.zeros(int(tris.max()) + 1, dtype=np.int64)
    uv_of_vertex[tris.ravel()] = _check_faces("uvfaces", _np(uvfaces), len(uv)).ravel()
    u, v = uv[uv_of_vertex, 0], uv[uv_of_vertex, 1]
    cols = np.clip(np.floor(u * width), 0, width - 1).astype(np.int64)
    rows = np.clip(np.floor((1.0 - v) * height), 0, height - 1).astype(np.int64)
    return image[rows, cols]


def _obj_text(
    verts: np.ndarray,
    faces: np.ndarray,
    *,
    mtllib: str | None,
    uvcoords: np.ndarray | None,
    uvfaces: np.ndarray | None,
    vertex_colors: np.ndarray | None,
    header: str | None,
) -> str:
    """The OBJ file text of :func:`write_obj` (shapes checked here)."""
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise ShapeError(f"vertices: expected (V, 3), got {verts.shape}")
    tris = _check_faces("faces", faces, len(verts))
    if (uvcoords is None) != (uvfaces is None):
        raise ShapeError("uvcoords and uvfaces must be given together")
    out = io.StringIO()
    if header:
        out.write("".join(f"# {line}\n" for line in header.splitlines()))
    if mtllib is not None:
        out.write(f"mtllib {mtllib}\n")
    # 1. vertices, with colours as floats in [0, 1] when given
    if vertex_colors is not None:
        if vertex_colors.shape != verts.shape:
            raise ShapeError(f"vertex_colors: expected {verts.shape}, got {vertex_colors.shape}")
        colors = vertex_colors / 255.0 if vertex_colors.dtype == np.uint8 else vertex_colors
        out.write(format_table("v", [(verts, VERTEX_DECIMALS), (colors, 4)]).decode())
    else:
        out.write(format_table("v", [(verts, VERTEX_DECIMALS)]).decode())
    if uvcoords is None or uvfaces is None:
        out.write(_cached_text("f", tris))
        return out.getvalue()
    # 2. UVs, then faces as 1-based v/vt corners in stored order
    if uvcoords.ndim != 2 or uvcoords.shape[1] != 2:
        raise ShapeError(f"uvcoords: expected (T, 2), got {uvcoords.shape}")
    uvf = _check_faces("uvfaces", uvfaces, len(uvcoords))
    if uvf.shape != tris.shape:
        raise ShapeError(f"uvfaces: expected {tris.shape} as faces, got {uvf.shape}")
    out.write(_cached_text("vt", uvcoords))
    if mtllib is not None:
        out.write(f"usemtl {MATERIAL_NAME}\n")
    out.write(_cached_text("f/", tris, uvf))
    return out.getvalue()


class _ObjLineError(ValueError):
    """A malformed OBJ line; :func:`read_obj` adds the file name and line number."""


def _obj_numbers(rest: list[str], least: int, what: str) -> list[float]:
    """The finite numbers of a ``v`` / ``vt`` line (at least ``least`` of them)."""
    if len(rest) < least:
        raise _ObjLineError(f"a {what} line needs at least {least} numbers, got {len(rest)}")
    try:
        values = [float(x) for x in rest]
    except ValueError:
        raise _ObjLineError(f"a {what} line holds a value that is not a number") from None
    if not all(np.isfinite(values)):
        raise _ObjLineError(f"a {what} line holds NaN or infinite values")
    return values


def _obj_index(text: str, count: int) -> int:
    """A 1-based (or negative, relative to the ``count`` elements so far) OBJ index → 0-based."""
    try:
        index = int(text)
    except ValueError:
        raise _ObjLineError(f"face index {text[:20]!r} is not an integer") from None
    if index == 0:
        raise _ObjLineError("face index 0 (OBJ indices start at 1)")
    return index - 1 if index > 0 else count + index


def _obj_face(rest: list[str], n_verts: int, n_uvs: int) -> tuple[list[int], list[int] | None]:
    """Vertex and (when given on every corner) UV indices of an ``f`` line, 0-based."""
    if len(rest) != 3:
        raise _ObjLineError(f"face with {len(rest)} corners; only triangles are supported")
    corners = [c.split("/") for c in rest]
    verts = [_obj_index(c[0], n_verts) for c in corners]
    with_uv = [len(c) > 1 and c[1] != "" for c in corners]
    if any(with_uv) and not all(with_uv):
        raise _ObjLineError("face gives UV indices on some corners only")
    return verts, [_obj_index(c[1], n_uvs) for c in corners] if all(with_uv) else None


def _index_array(name: str, rows: list[list[int]], count: int, p: Path) -> np.ndarray:
    """(F, 3) int64 from 0-based index rows, each within ``[0, count)``."""
    if rows and (min(min(r) for r in rows) < 0 or max(max(r) for r in rows) >= count):
        raise InputError(f"{p}: a face references a {name} outside the {count} defined; the OBJ is damaged")
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def read_obj(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a triangle OBJ such as :func:`write_obj` writes (``v``, ``vt``, ``f``, ``mtllib``, ``usemtl``).

    Face indices may be 1-based or negative (relative to the elements defined so far); other line
    types are ignored.

    Returns:
        ``{"vertices": (V, 3) float64, "vertex_colors": (V, 3) float64 or None (only when every
        ``v`` line has colours), "uvcoords": (T, 2) float64 or None, "faces": (F, 3) int64 0-based,
        "uvfaces": (F, 3) int64 0-based or None, "mtllib": str or None, "material": str or None}``.

    Raises:
        InputError: the file is missing or not UTF-8 text, a line is malformed (the message gives
            its number), a face is not a triangle, gives UVs for only some faces, or references an
            index outside the vertices / UVs defined.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: OBJ file not found")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not a UTF-8 text OBJ file ({exc.reason} at byte {exc.start})") from None
    verts: list[list[float]] = []
    uvs: list[list[float]] = []
    faces: list[list[int]] = []
    uvfaces: list[list[int]] = []
    mtllib = material = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        parts = raw.split()
        if not parts or parts[0].startswith("#"):
            continue
        key, rest = parts[0], parts[1:]
        try:
            if key == "v":
                verts.append(_obj_numbers(rest, 3, "v"))
            elif key == "vt":
                uvs.append(_obj_numbers(rest, 2, "vt")[:2])
            elif key == "f":
                face, uvface = _obj_face(rest, len(verts), len(uvs))
                faces.append(face)
                if uvface is not None:
                    uvfaces.append(uvface)
            elif key == "mtllib":
                mtllib = " ".join(rest)
            elif key == "usemtl":
                material = " ".join(rest)
        except _ObjLineError as exc:
            raise InputError(f"{p}:{lineno}: {exc}: {raw.strip()[:80]!r}") from None
    if uvfaces and len(uvfaces) != len(faces):
        raise InputError(
            f"{p}: {len(uvfaces)} of {len(faces)} faces have UV indices; give them on all or none"
        )
    coloured = bool(verts) and all(len(v) >= 6 for v in verts)
    v = np.asarray([row[:6] if coloured else row[:3] for row in verts], dtype=np.float64).reshape(
        -1, 6 if coloured else 3
    )
    return {
        "vertices": v[:, :3],
        "vertex_colors": v[:, 3:6] if coloured else None,
        "uvcoords": np.asarray(uvs, dtype=np.float64).reshape(-1, 2) if uvs else None,
        "faces": _index_array("vertex", faces, len(verts), p),
        "uvfaces": _index_array("UV coordinate", uvfaces, len(uvs), p) if uvfaces else None,
        "mtllib": mtllib,
        "material": material,
    }


def split_uv_seams(faces: Any, uvfaces: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Give every distinct (vertex, uv) corner pair its own vertex, as glTF/PLY need per-vertex UVs.

    Args:
        faces: (F, 3) int vertex indices.
        uvfaces: (F, 3) int UV indices.

    Returns:
        ``(vertex_ids (N,), uv_ids (N,), new_faces (F, 3))``: new vertex ``n`` is the old vertex
        ``vertex_ids[n]`` with UV ``uv_ids[n]``; ``new_faces`` index the N new vertices. Pairs are
        sorted by (vertex, uv), so a mesh without seams keeps its vertex order.
    """
    f = _np(faces).astype(np.int64)
    uf = _np(uvfaces).astype(np.int64)
    if f.shape != uf.shape or f.ndim != 2 or f.shape[1] != 3:
        raise ShapeError(f"faces and uvfaces: expected two (F, 3) arrays, got {f.shape} and {uf.shape}")
    pairs = np.stack([f.ravel(), uf.ravel()], axis=1)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    return unique[:, 0], unique[:, 1], inverse.reshape(f.shape)


def write_ply(path: str | os.PathLike[str], vertices: Any, faces: Any, vertex_colors: Any = None) -> Path:
    """Write a binary little-endian PLY (via trimesh), atomically.

    Args:
        path: the ``.ply`` path.
        vertices: (V, 3) positions.
        faces: (F, 3) int 0-based vertex indices, stored order kept.
        vertex_colors: (V, 3) or (V, 4) uint8, or float in [0, 1].

    Returns:
        The path.
    """
    import trimesh  # noqa: PLC0415 - heavy import, only needed when exporting

    verts = _np(vertices)
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise ShapeError(f"vertices: expected (V, 3), got {verts.shape}")
    tris = _check_faces("faces", _np(faces), len(verts))
    colors = None
    if vertex_colors is not None:
        colors = _np(vertex_colors)
        if colors.dtype != np.uint8:
            colors = np.rint(np.clip(colors, 0.0, 1.0) * 255.0).astype(np.uint8)
    mesh = trimesh.Trimesh(verts, tris, vertex_colors=colors, process=False, validate=False)
    data = _exported_bytes(mesh.export(file_type="ply", encoding="binary"), "ply")
    return atomic_write_bytes(path, data)


def _exported_bytes(data: object, file_type: str) -> bytes:
    """``Trimesh.export``'s result (typed ``dict | bytes | str``) for a binary format, as bytes."""
    if not isinstance(data, bytes):
        raise TypeError(f"trimesh exported {type(data).__name__} for {file_type}, expected bytes")
    return data


def write_glb(
    path: str | os.PathLike[str],
    vertices: Any,
    faces: Any,
    *,
    uvcoords: Any = None,
    uvfaces: Any = None,
    texture: Any = None,
) -> Path:
    """Write a binary glTF (GLB) mesh via trimesh, textured when UVs and a texture are given.

    glTF stores one UV per vertex, so vertices are split at UV seams (:func:`split_uv_seams`);
    the file then holds more vertices than ``vertices`` but the same positions. glTF's frame
    (+y up, +z toward the viewer, metres) is FLAME's, so no axis change is applied.

    Args:
        path: the ``.glb`` path.
        vertices: (V, 3) positions, metres.
        faces: (F, 3) int 0-based vertex indices.
        uvcoords: (T, 2) UVs in [0, 1], v = 0 at the bottom of the texture.
        uvfaces: (F, 3) int indices into ``uvcoords``.
        texture: (H, W, 3) uint8 RGB (or float [0, 1], or torch (3, H, W)), row 0 = v = 1.

    Returns:
        The path.
    """
    import trimesh  # noqa: PLC0415 - heavy import, only needed when exporting
    from PIL import Image  # noqa: PLC0415

    from .images import to_uint8_image  # noqa: PLC0415

    verts = _np(vertices)
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise ShapeError(f"vertices: expected (V, 3), got {verts.shape}")
    tris = _check_faces("faces", _np(faces), len(verts))
    if (uvcoords is None) != (uvfaces is None):
        raise ShapeError("uvcoords and uvfaces must be given together")
    if uvcoords is None:
        mesh = trimesh.Trimesh(verts, tris, process=False, validate=False)
    else:
        uv = _np(uvcoords)
        vertex_ids, uv_ids, new_faces = split_uv_seams(tris, _check_faces("uvfaces", _np(uvfaces), len(uv)))
        image = Image.fromarray(to_uint8_image(texture)) if texture is not None else None
        visual = trimesh.visual.TextureVisuals(uv=uv[uv_ids], image=image)
        mesh = trimesh.Trimesh(verts[vertex_ids], new_faces, visual=visual, process=False, validate=False)
    data = _exported_bytes(mesh.export(file_type="glb"), "glb")
    with atomic_write(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
