"""Consistency checks of parsed assets, run at load time so a bad file is named, not a later crash.

A FLAME model with a cyclic kinematic tree, NaN blendshapes or faces indexing past the last vertex
loads as arrays but makes every reconstruction fail far from the cause. These checks turn each
such defect into an :class:`~pydeca.errors.AssetFormatError` naming the file and the field.
"""

from __future__ import annotations

import numpy as np

from pydeca.errors import AssetFormatError

from .data import AlbedoBasis, FlameModelData, LandmarkEmbedding

__all__ = ["check_finite", "validate_albedo", "validate_flame_data", "validate_landmark_embedding"]

_FIX = "the file is corrupt or not the genuine asset; replace it (`deca doctor` says how to get it)"


def _fail(source: str, field: str, problem: str) -> AssetFormatError:
    return AssetFormatError(f"{source}: {field!r} {problem}; {_FIX}")


def check_finite(array: np.ndarray, field: str, source: str) -> None:
    """Raise :class:`AssetFormatError` if a float ``array`` holds NaN or ±inf (integers pass)."""
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise _fail(source, field, f"holds {bad:,} NaN or infinite values")


def _check_shape(array: np.ndarray, expected: tuple[int | None, ...], field: str, source: str) -> None:
    ok = array.ndim == len(expected)
    ok = ok and all(e is None or e == n for e, n in zip(expected, array.shape, strict=True))
    if not ok:
        spec = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise _fail(source, field, f"has shape {array.shape}, expected {spec}")


def _check_indices(array: np.ndarray, count: int, field: str, source: str, what: str) -> None:
    if array.dtype.kind not in "iu":
        raise _fail(source, field, f"has dtype {array.dtype}, expected integer {what} indices")
    if array.size and (int(array.min()) < 0 or int(array.max()) >= count):
        raise _fail(
            source, field, f"indexes {what}s outside 0..{count - 1} (found {array.min()}..{array.max()})"
        )


def _check_parents(parents: np.ndarray, source: str) -> None:
    """A tree rooted at joint 0 with every parent listed before its child (what LBS walks)."""
    if parents.ndim != 1 or parents.size == 0 or int(parents[0]) != -1:
        found = parents.tolist()[:8]
        raise _fail(source, "kintree_table", f"must start with the root (parent −1), found {found}")
    for joint in range(1, parents.size):
        parent = int(parents[joint])
        if not 0 <= parent < joint:
            kind = "a cycle or a forward reference" if 0 <= parent < parents.size else "out of range"
            raise _fail(
                source,
                "kintree_table",
                f"gives joint {joint} the parent {parent} ({kind}); each joint's parent must be an "
                "earlier joint, forming a tree rooted at joint 0",
            )


def validate_flame_data(data: FlameModelData, source: str) -> None:
    """Check that the arrays of a FLAME model agree with each other and are finite.

    V vertices, F faces, J joints: ``v_template`` (V, 3); ``faces`` (F, 3) integer < V;
    ``shapedirs``/``exprdirs`` (V, 3, *); ``posedirs`` (V, 3, 9·(J−1)); ``J_regressor`` (J, V);
    ``lbs_weights`` (V, J); ``parents`` (J,) a tree rooted at 0 with ``parents[j] < j``.

    Raises:
        AssetFormatError: naming ``source`` and the first field that is wrong.
    """
    _check_shape(data.v_template, (None, 3), "v_template", source)
    num_verts = data.v_template.shape[0]
    _check_shape(data.parents, (None,), "kintree_table", source)
    num_joints = data.parents.shape[0]
    _check_shape(data.faces, (None, 3), "f", source)
    _check_shape(data.shapedirs, (num_verts, 3, None), "shapedirs", source)
    _check_shape(data.exprdirs, (num_verts, 3, None), "shapedirs (expression part)", source)
    _check_shape(data.posedirs, (num_verts, 3, 9 * (num_joints - 1)), "posedirs", source)
    _check_shape(data.J_regressor, (num_joints, num_verts), "J_regressor", source)
    _check_shape(data.lbs_weights, (num_verts, num_joints), "weights", source)
    _check_indices(data.faces, num_verts, "f", source, "vertex")
    _check_parents(data.parents, source)
    for field in ("v_template", "shapedirs", "exprdirs", "posedirs", "J_regressor", "lbs_weights"):
        check_finite(getattr(data, field), field, source)


def validate_landmark_embedding(emb: LandmarkEmbedding, source: str, num_faces: int | None = None) -> None:
    """Check triangle ids (integer, within ``num_faces`` when given) and finite barycentrics.

    Raises:
        AssetFormatError: naming ``source`` and the field.
    """
    for kind in ("static", "dynamic", "full"):
        faces, bary = getattr(emb, f"{kind}_faces"), getattr(emb, f"{kind}_bary")
        field = f"{kind}_lmk_faces_idx"
        if faces.dtype.kind not in "iu":
            raise _fail(source, field, f"has dtype {faces.dtype}, expected integer triangle ids")
        if faces.size and int(faces.min()) < 0:
            raise _fail(source, field, f"holds a negative triangle id ({int(faces.min())})")
        if num_faces is not None:
            _check_indices(faces, num_faces, field, source, "triangle")
        check_finite(bary, f"{kind}_lmk_bary_coords", source)


def validate_albedo(albedo: AlbedoBasis, source: str) -> None:
    """Check the albedo mean (3, R, R) and basis (K, 3, R, R) agree and are finite.

    Raises:
        AssetFormatError: naming ``source`` and the field.
    """
    _check_shape(albedo.mean, (3, None, None), "mean", source)
    size = albedo.mean.shape[1]
    _check_shape(albedo.mean, (3, size, size), "mean", source)
    _check_shape(albedo.basis, (None, 3, size, size), "basis", source)
    check_finite(albedo.mean, "mean", source)
    check_finite(albedo.basis, "basis", source)
