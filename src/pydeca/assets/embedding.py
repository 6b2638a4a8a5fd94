"""Read and write DECA's ``landmark_embedding.npy`` (reference §1.2) without ``allow_pickle``.

The file is an ``np.save`` of a 0-d object array holding a dict with six keys; two values are
pickled ``torch.Tensor`` objects. :func:`load_landmark_embedding` reads it through the restricted
unpickler (tensors come back as numpy arrays) and also accepts files whose values are all numpy
arrays. :func:`save_landmark_embedding` writes the same layout, with torch tensors for the two
dynamic entries as in the original file.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from pydeca.assets.data import LandmarkEmbedding
from pydeca.assets.paths import reading_asset
from pydeca.assets.safe_pickle import safe_load
from pydeca.assets.validate import validate_landmark_embedding
from pydeca.errors import AssetFormatError, AssetNotFoundError

__all__ = ["load_landmark_embedding", "save_landmark_embedding"]

_KEYS = {
    "static_faces": "static_lmk_faces_idx",
    "static_bary": "static_lmk_bary_coords",
    "dynamic_faces": "dynamic_lmk_faces_idx",
    "dynamic_bary": "dynamic_lmk_bary_coords",
    "full_faces": "full_lmk_faces_idx",
    "full_bary": "full_lmk_bary_coords",
}


def _fail(source: str, message: str) -> AssetFormatError:
    return AssetFormatError(f"{source}: {message}; this is not a DECA landmark_embedding.npy")


def load_landmark_embedding(path: str | Path, *, num_faces: int | None = None) -> LandmarkEmbedding:
    """Load the landmark embedding: triangle ids and barycentrics of the 68 landmarks.

    Args:
        path: ``landmark_embedding.npy``.
        num_faces: triangles of the FLAME mesh; when given, every triangle id must be below it.

    Returns:
        :class:`LandmarkEmbedding` with static (51,) / (51, 3), dynamic (79, 17) / (79, 17, 3) and
        full (68,) / (68, 3) arrays (the file's leading singleton axis of ``full_*`` is dropped);
        ids int64, barycentrics float32.

    Raises:
        AssetNotFoundError: the file does not exist.
        AssetFormatError: keys or shapes differ from the format above, ids are out of range,
            barycentrics are not finite, or ``path`` is a folder.
        UnsafePickleError: the file's pickle names globals outside the allow-list.
        AssetError: the file cannot be read (permission denied, an I/O error).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise AssetNotFoundError(
            f"landmark embedding not found: {path}. Run `deca fetch data` to get "
            "landmark_embedding.npy (a DECA public data file) or pass the right asset directory."
        )
    source = str(path)
    with reading_asset(path):
        obj: Any = safe_load(path)
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, dict):
        raise _fail(source, f"expected a dict, found {type(obj).__name__}")
    values: dict[str, np.ndarray] = {}
    for field, key in _KEYS.items():
        if key not in obj:
            raise _fail(source, f"required key {key!r} is missing")
        values[field] = np.asarray(obj[key])
    for name in ("full_faces", "full_bary"):  # stored with a leading batch axis (1, 68[, 3])
        if values[name].ndim >= 2 and values[name].shape[0] == 1:
            values[name] = values[name][0]
    n_static = values["static_faces"].shape[0] if values["static_faces"].ndim == 1 else -1
    dyn = values["dynamic_faces"].shape
    n_full = values["full_faces"].shape[0] if values["full_faces"].ndim == 1 else -1
    expected = {
        "static_faces": (n_static,),
        "static_bary": (n_static, 3),
        "dynamic_faces": dyn if len(dyn) == 2 else (-1, -1),
        "dynamic_bary": (*dyn, 3) if len(dyn) == 2 else (-1,),
        "full_faces": (n_full,),
        "full_bary": (n_full, 3),
    }
    for field, shape in expected.items():
        if values[field].shape != shape or -1 in shape:
            raise _fail(source, f"{_KEYS[field]!r} has shape {values[field].shape}")
    for field, value in values.items():
        if value.dtype.kind not in ("iu" if field.endswith("faces") else "biuf"):
            raise _fail(source, f"{_KEYS[field]!r} has dtype {value.dtype}")
    emb = LandmarkEmbedding(
        **{
            field: value.astype(np.int64) if field.endswith("faces") else value.astype(np.float32)
            for field, value in values.items()
        }
    )
    validate_landmark_embedding(emb, source, num_faces)
    return emb


def save_landmark_embedding(path: str | Path, emb: LandmarkEmbedding, *, torch_tensors: bool = True) -> None:
    """Write ``emb`` in the layout of DECA's ``landmark_embedding.npy``.

    ``np.save`` of a 0-d object array holding a dict; ``full_*`` keep the file's leading axis
    (1, 68[, 3]); the two ``dynamic_*`` entries are ``torch.Tensor`` objects as in the original
    (plain numpy arrays with ``torch_tensors=False``). DECA's own ``np.load(allow_pickle=True)``
    and :func:`load_landmark_embedding` both read the result; the same embedding always gives the
    same bytes.

    Args:
        path: output file (written as given; no ``.npy`` suffix is appended).
        emb: the embedding to store.
        torch_tensors: store the dynamic table as torch tensors (int64 / float32).
    """
    dynamic_faces: Any = np.asarray(emb.dynamic_faces, np.int64)
    dynamic_bary: Any = np.asarray(emb.dynamic_bary, np.float32)
    if torch_tensors:
        import torch  # noqa: PLC0415 - only needed for the writer

        dynamic_faces = torch.from_numpy(np.ascontiguousarray(dynamic_faces))
        dynamic_bary = torch.from_numpy(np.ascontiguousarray(dynamic_bary))
    record = {
        "static_lmk_faces_idx": np.asarray(emb.static_faces, np.int64),
        "static_lmk_bary_coords": np.asarray(emb.static_bary, np.float64),
        "dynamic_lmk_faces_idx": dynamic_faces,
        "dynamic_lmk_bary_coords": dynamic_bary,
        "full_lmk_faces_idx": np.asarray(emb.full_faces, np.int64)[None],
        "full_lmk_bary_coords": np.asarray(emb.full_bary, np.float32)[None],
    }
    holder = np.array(None, dtype=object)
    holder[()] = record
    buffer = io.BytesIO()
    np.save(buffer, holder, allow_pickle=True)
    data = buffer.getvalue()
    if torch_tensors:
        # torch's legacy storage pickle names each storage by its memory address; a fixed key of the
        # same length makes the file byte-deterministic (the demo pack relies on it).
        for i, tensor in enumerate((dynamic_faces, dynamic_bary)):
            key = str(tensor.untyped_storage()._cdata).encode()
            data = data.replace(key, str(i + 1).zfill(len(key)).encode())
    Path(path).expanduser().write_bytes(data)
