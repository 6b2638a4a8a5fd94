"""The DECA model: ``encode`` images into codes, ``decode`` codes into a reconstruction.

``DECA`` owns the three networks (E_flame, E_detail, D_detail), the FLAME layer, the albedo model and
the topology buffers (faces, the cached UV raster, DECA's UV grid). Decoding is separate from
rendering (architecture.md, property 4): :meth:`DECA.decode` returns geometry, landmarks and UV maps;
images are rendered on request by :mod:`pydeca.render`.

Example:
    >>> import pydeca, torch                                     # doctest: +SKIP
    >>> model = pydeca.DECA.load(assets="demo")                  # doctest: +SKIP
    >>> codes = model.encode(torch.rand(1, 3, 224, 224))         # doctest: +SKIP
    >>> model.decode(codes).vertices.shape                       # doctest: +SKIP
    torch.Size([1, 5023, 3])
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .assets.bundle import AssetBundle, load_assets
from .assets.checkpoint import load_networks
from .checks import check_shapes
from .constants import CROP_SIZE, NUM_EXP, NUM_SHAPE
from .flame import FLAME, AlbedoModel
from .geometry.camera import weak_perspective_project
from .geometry.normals import vertex_normals
from .geometry.topology import Topology
from .geometry.uv_grid import displacement_normals, uv_grid_faces
from .geometry.uv_raster import world2uv
from .nets import Codes, build_networks
from .render.shading import sh_shading

__all__ = ["DECA", "Reconstruction", "resolve_device"]

VISIBILITY_NORMAL_Z = 0.1
"""A landmark is visible when its camera-space normal z is below this (camera looks along +z)."""


@dataclass
class Reconstruction:
    """Everything :meth:`DECA.decode` computes for a batch of B faces (V = 5023 for FLAME, R = 256).

    Frames: *world* is FLAME's (metres, +x subject's left, +y up, +z out of the face); *NDC* is the
    crop's (x = −1 left edge, y = −1 top edge, smaller z nearer, weak perspective ``codes.cam``).
    UV images have row 0 at v = 1.
    """

    codes: Codes
    vertices: Tensor
    """(B, V, 3) world, metres."""
    normals: Tensor
    """(B, V, 3) world unit vertex normals."""
    trans_verts: Tensor
    """(B, V, 3) NDC."""
    landmarks2d: Tensor
    """(B, 68, 2) NDC x, y of the 2D-fitting landmarks (17 pose-dependent contour + 51 static)."""
    landmarks3d: Tensor
    """(B, 68, 4) NDC x, y, z of the fixed 3D landmarks + visibility (1.0 visible, 0.0 hidden)."""
    landmarks3d_world: Tensor
    """(B, 68, 3) the fixed 3D landmarks, world, metres."""
    uv_z: Tensor | None = None
    """(B, 1, R, R) raw detail-decoder displacement, metres (±0.01)."""
    displacement_map: Tensor | None = None
    """(B, 1, R, R) ``uv_z`` + the fixed displacement, metres (what the detail mesh uses)."""
    uv_detail_normals: Tensor | None = None
    """(B, 3, R, R) world normals with detail inside the face-eye mask, coarse outside."""
    albedo: Tensor | None = None
    """(B, 3, R, R) RGB albedo UV map, nominally [0, 1] (``None`` without an albedo model)."""
    uv_shading: Tensor | None = None
    """(B, 3, R, R) SH shading of ``uv_detail_normals`` (or the coarse normals) with ``codes.light``."""
    uv_texture: Tensor | None = None
    """(B, 3, R, R) ``albedo · uv_shading``."""
    is_demo: bool = False
    """Made with the generated demo asset pack: not a meaningful reconstruction."""

    @property
    def batch_size(self) -> int:
        """B."""
        return self.vertices.shape[0]

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Every tensor (codes prefixed ``code_``) as a float32 numpy array, batch dimension kept."""
        out = {f"code_{k}": v for k, v in self.codes.to_numpy().items()}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Tensor):
                out[item.name] = value.detach().float().cpu().numpy()
        return out


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` → CUDA if available, else Apple MPS if available, else CPU."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


class DECA(nn.Module):
    """DECA: encoders, FLAME, albedo and detail decoder, with the template topology.

    Args:
        assets: an :class:`~pydeca.assets.bundle.AssetBundle` (see :meth:`load` to build one).
        num_shape: identity components used (DECA: 100).
        num_expression: expression components used (DECA: 50).
        cache_dir: where the topology cache goes (default: the platform cache dir).
    """

    def __init__(
        self,
        assets: AssetBundle,
        *,
        num_shape: int = NUM_SHAPE,
        num_expression: int = NUM_EXP,
        cache_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.is_demo = assets.is_demo
        self.asset_dir = assets.asset_dir
        # Allocate without random initialisation: every value comes from the checkpoint.
        networks = {name: net.to_empty(device="cpu") for name, net in build_networks(device="meta").items()}
        load_networks(networks, assets.checkpoint)
        self.E_flame = networks["E_flame"]
        self.E_detail = networks["E_detail"]
        self.D_detail = networks["D_detail"]
        self.flame = FLAME(assets.flame, assets.embedding, num_shape=num_shape, num_expression=num_expression)
        self.albedo_model = AlbedoModel(assets.albedo) if assets.albedo is not None else None
        self.topology = Topology.from_template(assets.template, cache_dir=cache_dir)
        uv_size = assets.face_eye_mask.shape[-1]
        self.uv_size = uv_size

        def buffer(name: str, value: np.ndarray | Tensor) -> None:
            self.register_buffer(name, torch.as_tensor(value), persistent=False)

        buffer("faces", torch.as_tensor(assets.flame.faces, dtype=torch.long))
        buffer("uv_face_index", torch.as_tensor(self.topology.uv_raster.face_index))
        buffer("uv_bary", torch.as_tensor(self.topology.uv_raster.bary, dtype=torch.float32))
        buffer("uv_face_eye_mask", torch.as_tensor(assets.face_eye_mask, dtype=torch.float32)[None, None])
        buffer("uv_face_mask", torch.as_tensor(assets.face_mask, dtype=torch.float32)[None, None])
        buffer(
            "fixed_displacement",
            torch.as_tensor(assets.fixed_displacement, dtype=torch.float32)[None, None],
        )
        buffer("uv_grid_faces", uv_grid_faces(uv_size))
        self.eval()

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(
        cls,
        assets: str | Path | AssetBundle | None = None,
        *,
        device: str | torch.device | None = "auto",
        cache_dir: str | Path | None = None,
    ) -> DECA:
        """Load the assets (directory, ``"demo"``, or default location) and build the model.

        Args:
            assets: asset directory, ``"demo"``, an already loaded bundle, or ``None`` for
                ``$PYDECA_HOME`` / the platform data dir (falling back to the demo pack).
            device: ``"auto"`` (CUDA → MPS → CPU), ``"cpu"``, ``"mps"``, ``"cuda"``.
            cache_dir: converted-asset and topology cache directory.
        """
        bundle = assets if isinstance(assets, AssetBundle) else load_assets(assets, cache_dir=cache_dir)
        return cls(bundle, cache_dir=cache_dir).to(resolve_device(device))

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return self.flame.v_template.device

    # ------------------------------------------------------------------ encode
    @torch.inference_mode()
    def encode(self, images: Tensor, *, use_detail: bool = True) -> Codes:
        """Regress codes from face crops.

        Args:
            images: (B, 3, 224, 224) RGB crops in [0, 1] (see :mod:`pydeca.detect.crop`).
            use_detail: also run E_detail (``codes.detail``); otherwise ``codes.detail`` is None.

        Returns:
            :class:`~pydeca.nets.Codes` with batch size B.
        """
        check_shapes(images=(images, f"B 3 {CROP_SIZE} {CROP_SIZE}"))
        images = images.to(self.device, torch.float32)
        detail = self.E_detail(images) if use_detail else None
        return Codes.from_flame_vector(self.E_flame(images), detail=detail)

    # ------------------------------------------------------------------ decode
    def world2uv(self, attributes: Tensor) -> Tensor:
        """Per-vertex attributes (B, V, C) → UV image (B, C, R, R), zero outside the UV layout."""
        return world2uv(attributes, self.faces, _Raster(self.uv_face_index, self.uv_bary))

    def decode(self, codes: Codes, *, use_detail: bool = True) -> Reconstruction:
        """Codes → geometry, landmarks and UV maps (no image rendering; see :mod:`pydeca.render`).

        Differentiable (no ``inference_mode`` inside); wrap calls in ``torch.inference_mode()`` for
        speed when no gradients are needed.

        Args:
            codes: batch of B codes (``codes.detail`` needed when ``use_detail``).
            use_detail: decode the detail displacement and detail normals.
        """
        codes = codes.to(self.device)
        flame = self.flame(codes.shape, codes.exp, codes.pose)
        vertices = flame.vertices
        trans_verts = weak_perspective_project(vertices, codes.cam)
        landmarks2d = weak_perspective_project(flame.landmarks2d, codes.cam)[..., :2]
        landmarks3d = weak_perspective_project(flame.landmarks3d, codes.cam)
        normals = vertex_normals(vertices, self.faces)
        camera_normals = vertex_normals(trans_verts, self.faces)
        landmark_normals = self.flame.full_landmarks(camera_normals)
        visible = (landmark_normals[..., 2:3] < VISIBILITY_NORMAL_Z).to(landmarks3d.dtype)
        rec = Reconstruction(
            codes=codes,
            vertices=vertices,
            normals=normals,
            trans_verts=trans_verts,
            landmarks2d=landmarks2d,
            landmarks3d=torch.cat([landmarks3d, visible], dim=-1),
            landmarks3d_world=flame.landmarks3d,
            is_demo=self.is_demo,
        )
        uv_normals = self.world2uv(normals)
        if use_detail and codes.detail is not None:
            rec.uv_z = self.decode_displacement(codes)
            rec.displacement_map = rec.uv_z + self.fixed_displacement
            rec.uv_detail_normals = self.detail_normals(rec.uv_z, vertices, normals, uv_normals)
        if self.albedo_model is not None:
            rec.albedo = self.albedo_model(codes.tex)
            shading_normals = rec.uv_detail_normals if rec.uv_detail_normals is not None else uv_normals
            rec.uv_shading = sh_shading(shading_normals, codes.light)
            rec.uv_texture = rec.albedo * rec.uv_shading
        return rec

    def decode_displacement(self, codes: Codes) -> Tensor:
        """D_detail on ``[jaw pose (3), expression (50), detail (128)]`` → (B, 1, R, R) metres."""
        if codes.detail is None:
            raise ValueError("codes.detail is None: encode with use_detail=True to decode detail")
        return self.D_detail(torch.cat([codes.pose[:, 3:], codes.exp, codes.detail], dim=1))

    def detail_normals(
        self, uv_z: Tensor, vertices: Tensor, normals: Tensor, uv_normals: Tensor | None = None
    ) -> Tensor:
        """DECA's detail normals (reference §2.8): displaced UV grid inside the face-eye mask.

        Args:
            uv_z: (B, 1, R, R) detail displacement, metres.
            vertices: (B, V, 3) world vertices.
            normals: (B, V, 3) world vertex normals.
            uv_normals: ``world2uv(normals)`` if already computed.

        Returns:
            (B, 3, R, R) world normals: ``detail · M + coarse · (1 − M)``, M = face-eye mask.
        """
        uv_positions = self.world2uv(vertices).detach()
        coarse = (uv_normals if uv_normals is not None else self.world2uv(normals)).detach()
        mask = self.uv_face_eye_mask
        displacement = uv_z * mask + self.fixed_displacement
        detail = displacement_normals(uv_positions, coarse, displacement, self.uv_grid_faces)
        return detail * mask + coarse * (1 - mask)


@dataclass(frozen=True)
class _Raster:
    """The two fields of :class:`~pydeca.geometry.uv_raster.UVRaster` that ``world2uv`` reads."""

    face_index: Tensor
    bary: Tensor
