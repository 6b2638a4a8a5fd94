"""Everything that depends only on the template topology, computed once and cached on disk.

:class:`Topology` bundles the faces, the UV layout, the UV raster (face id + barycentrics per
texel) and the dense detail mesh. Building the raster and the dense mesh takes about a second;
the result is stored as an ``.npz`` keyed by a content hash (sha256 over the faces, UV coordinates,
UV faces and template vertices, the UV size and :data:`CACHE_VERSION`), so later runs only load it.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pydeca.assets.data import TemplateMesh
from pydeca.assets.paths import write_cache_file
from pydeca.geometry.dense_mesh import DenseMesh, build_dense_mesh
from pydeca.geometry.uv_raster import UVRaster, rasterize_uv

__all__ = ["CACHE_VERSION", "Topology", "topology_hash"]

CACHE_VERSION = "pydeca-topology-v2"
"""Bumped whenever the raster or dense-mesh rules change, so stale caches are ignored."""

_KEYS = (
    "faces",
    "uvcoords",
    "uvfaces",
    "uv_face_index",
    "uv_bary",
    "dense_rows",
    "dense_cols",
    "dense_vertex_faces",
    "dense_bary",
    "dense_faces",
)


def topology_hash(template: TemplateMesh, uv_size: int) -> str:
    """Content hash (sha256 hex) of what the cached topology depends on."""
    h = hashlib.sha256()
    for arr, dtype in (
        (template.faces, np.int64),
        (template.uvcoords, np.float32),
        (template.uvfaces, np.int64),
        (template.verts, np.float32),
    ):
        h.update(np.ascontiguousarray(np.asarray(arr, dtype=dtype)).tobytes())
    h.update(f"uv_size={int(uv_size)};{CACHE_VERSION}".encode())
    return h.hexdigest()


@dataclass
class Topology:
    """Template topology and everything precomputed from it (F faces, T UV coordinates, R = UV size)."""

    faces: torch.Tensor
    """(F, 3) int64 vertex ids."""
    uvcoords: torch.Tensor
    """(T, 2) float32 ``(u, v)``, v = 1 at the top of UV images."""
    uvfaces: torch.Tensor
    """(F, 3) int64 UV-coordinate ids, corner-aligned with ``faces``."""
    uv_raster: UVRaster
    """Face id and barycentrics per texel of the R × R UV image."""
    dense: DenseMesh
    """The dense detail mesh (one vertex per covered texel)."""

    @property
    def uv_size(self) -> int:
        """R, the UV image side in texels."""
        return self.uv_raster.size

    def to(self, device: torch.device | str) -> Topology:
        """Return a copy with every tensor on ``device``."""
        return Topology(
            self.faces.to(device),
            self.uvcoords.to(device),
            self.uvfaces.to(device),
            self.uv_raster.to(device),
            self.dense.to(device),
        )

    @classmethod
    def from_template(
        cls, template: TemplateMesh, *, uv_size: int = 256, cache_dir: str | Path | None = None
    ) -> Topology:
        """Compute (or load from the cache) the topology of ``template``.

        Args:
            template: the parsed template mesh (``head_template.obj``).
            uv_size: R, side of the UV images in texels (256 in DECA).
            cache_dir: directory of ``topology-<hash>.npz`` files; ``None`` computes in memory
                without caching. The write is atomic (temporary file + rename); an unreadable
                cache file is recomputed and replaced, and an unwritable directory only costs the
                recomputation next time (both with a warning).

        Returns:
            :class:`Topology` on the CPU.
        """
        path = None
        if cache_dir is not None:
            path = Path(cache_dir) / f"topology-{topology_hash(template, uv_size)[:32]}.npz"
            if path.is_file():
                try:
                    return cls._load(path)
                except (OSError, ValueError, KeyError) as exc:
                    warnings.warn(
                        f"topology cache {path} is unreadable ({exc}); recomputing it", stacklevel=2
                    )
        topo = cls._compute(template, uv_size)
        if path is not None:
            topo._save(path)
        return topo

    @classmethod
    def _compute(cls, template: TemplateMesh, uv_size: int) -> Topology:
        faces = torch.as_tensor(np.asarray(template.faces, dtype=np.int64))
        uvfaces = torch.as_tensor(np.asarray(template.uvfaces, dtype=np.int64))
        uvcoords = torch.as_tensor(np.asarray(template.uvcoords, dtype=np.float32))
        raster = rasterize_uv(uvcoords, uvfaces, uv_size)
        dense = build_dense_mesh(raster, faces, np.asarray(template.verts))
        return cls(faces, uvcoords, uvfaces, raster, dense)

    def _save(self, path: Path) -> None:
        arrays = {
            "faces": self.faces,
            "uvcoords": self.uvcoords,
            "uvfaces": self.uvfaces,
            "uv_face_index": self.uv_raster.face_index,
            "uv_bary": self.uv_raster.bary,
            "dense_rows": self.dense.pixel_rows,
            "dense_cols": self.dense.pixel_cols,
            "dense_vertex_faces": self.dense.vertex_faces,
            "dense_bary": self.dense.bary,
            "dense_faces": self.dense.faces,
        }
        numpy_arrays = {k: v.cpu().numpy() for k, v in arrays.items()}
        if not write_cache_file(path, lambda fh: np.savez(fh, allow_pickle=False, **numpy_arrays)):
            warnings.warn(
                f"could not write the topology cache {path}; it is recomputed next time", stacklevel=3
            )

    @classmethod
    def _load(cls, path: Path) -> Topology:
        with np.load(path, allow_pickle=False) as data:
            t = {k: torch.from_numpy(data[k].copy()) for k in _KEYS}
        return cls(
            faces=t["faces"],
            uvcoords=t["uvcoords"],
            uvfaces=t["uvfaces"],
            uv_raster=UVRaster(t["uv_face_index"], t["uv_bary"]),
            dense=DenseMesh(
                t["dense_rows"], t["dense_cols"], t["dense_vertex_faces"], t["dense_bary"], t["dense_faces"]
            ),
        )
