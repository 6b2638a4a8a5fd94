"""The DECA model: ``encode`` images into codes, ``decode`` codes into a reconstruction.

``DECA`` owns the three networks (E_flame, E_detail, D_detail), the FLAME layer, the albedo model and
the topology buffers (faces, the cached UV raster, DECA's UV grid). Decoding is separate from
rendering (architecture.md, property 4): :meth:`DECA.decode` returns geometry, landmarks and UV maps
(a :class:`~pydeca.results.Reconstruction`); images are rendered on request by :mod:`pydeca.render`.
Photos (detection, cropping, batching) go through :mod:`pydeca.pipeline` (``pydeca.reconstruct``).

Example:
    >>> import pydeca, torch                                     # doctest: +SKIP
    >>> model = pydeca.DECA.load(assets="demo")                  # doctest: +SKIP
    >>> codes = model.encode(torch.rand(1, 3, 224, 224))         # doctest: +SKIP
    >>> model.decode(codes).vertices.shape                       # doctest: +SKIP
    torch.Size([1, 5023, 3])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TypeVar, get_args

import numpy as np
import torch
from torch import Tensor, nn

from .assets.bundle import AssetBundle, load_assets
from .assets.checkpoint import load_networks
from .assets.paths import default_cache_dir
from .checks import check_shapes
from .constants import CROP_SIZE, NUM_EXP, NUM_SHAPE
from .errors import InputError, OptionError
from .flame import FLAME, AlbedoModel, JawType
from .flame.flame import check_jaw_type
from .geometry.camera import crop_to_image_ndc, weak_perspective_project
from .geometry.normals import vertex_normals
from .geometry.rotations import euler_to_axis_angle
from .geometry.topology import Topology
from .geometry.uv_grid import displacement_normals
from .geometry.uv_raster import UVGather
from .nets import Codes, DetailDecoder, ResnetEncoder, build_networks
from .render.renderer import MeshRenderer, extract_texture
from .render.shading import sh_shading
from .results import DetailMaps, PhotoTexture, Reconstruction, TextureMaps, TextureMode

__all__ = ["DECA", "DEVICE_CHOICES", "Reconstruction", "TextureMode", "resolve_device"]


def _check_choice(option: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise :class:`OptionError` naming ``option`` and every choice unless ``value`` is one of them."""
    if value not in choices:
        raise OptionError(f"{option}: expected one of {', '.join(map(repr, choices))}, got {value!r}")


VISIBILITY_NORMAL_Z = 0.1
"""A landmark is visible when its camera-space normal z is below this (camera looks along +z)."""


_Net = TypeVar("_Net", bound=nn.Module)


def _network(networks: Mapping[str, nn.Module], name: str, kind: type[_Net]) -> _Net:
    """``networks[name]``, checked to be a ``kind``."""
    network = networks[name]
    if not isinstance(network, kind):
        raise TypeError(f"network {name!r}: expected {kind.__name__}, got {type(network).__name__}")
    return network


DEVICE_CHOICES = ("auto", "cpu", "mps", "cuda")
"""Device names accepted by :func:`resolve_device` (``cuda:N`` picks one GPU)."""


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """The torch device for a device name, checked to be usable here.

    Args:
        device: ``"auto"`` / ``None`` (CUDA if available, else Apple MPS if available, else CPU),
            ``"cpu"``, ``"mps"``, ``"cuda"``, ``"cuda:N"``, or a ``torch.device`` of those types.

    Raises:
        OptionError: (a ``ValueError``) for another name, or a device this machine / this PyTorch
            build does not have; the message says what to use instead.
    """
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    choices = "choose auto, cpu, mps or cuda (cuda:N for one GPU)"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise OptionError(f"unknown device {device!r}; {choices}") from exc
    if resolved.type not in ("cpu", "mps", "cuda"):
        raise OptionError(f"unsupported device {device!r}; {choices}")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build of PyTorch" if torch.version.cuda is None else "no CUDA GPU visible"
            raise OptionError(
                f"device {device!r} requested but CUDA is not available ({build}, torch "
                f"{torch.__version__}); use --device cpu or --device auto, or install a CUDA build of PyTorch"
            )
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise OptionError(f"device {device!r} requested but only {count} CUDA device(s) exist (cuda:0…)")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise OptionError(
            f"device {device!r} requested but Apple MPS is not available (it needs macOS 12.3+ on Apple "
            "silicon and a PyTorch built with MPS); use --device cpu or --device auto"
        )
    return resolved


class DECA(nn.Module):
    """DECA: encoders, FLAME, albedo and detail decoder, with the template topology.

    Args:
        assets: an :class:`~pydeca.assets.bundle.AssetBundle` (see :meth:`load` to build one).
        num_shape: identity components used (DECA: 100).
        num_expression: expression components used (DECA: 50).
        cache_dir: where the topology cache goes (default: ``$PYDECA_CACHE``, else the platform
            cache dir).
        jaw_type: ``"aa"`` (DECA's default): E_flame regresses the jaw as axis-angle; ``"euler"``:
            as Euler angles (x = mouth opening, radians, ``R = Rx·Ry·Rz``), converted to axis-angle
            by :meth:`encode`, so :class:`~pydeca.nets.Codes` always hold axis-angle (reference
            §2.3, ``model.jaw_type``).
    """

    # submodules and non-persistent buffers (set in __init__); declared here so type checkers see
    # their types rather than nn.Module.__getattr__'s ``Tensor | Module``
    E_flame: ResnetEncoder
    """Coarse encoder: (B, 3, 224, 224) crop → (B, 236) FLAME code vector."""
    E_detail: ResnetEncoder
    """Detail encoder: (B, 3, 224, 224) crop → (B, 128) detail code."""
    D_detail: DetailDecoder
    """Detail decoder: (B, 181) → (B, 1, R, R) displacement, metres."""
    faces: Tensor
    """(F, 3) int64 template vertex indices."""
    uv_face_eye_mask: Tensor
    """(1, 1, R, R) float32 in [0, 1], 1 on face and eye texels."""
    uv_face_mask: Tensor
    """(1, 1, R, R) float32 in [0, 1], 1 on face texels."""
    fixed_displacement: Tensor
    """(1, 1, R, R) float32 metres, added to every predicted displacement map."""

    def __init__(
        self,
        assets: AssetBundle,
        *,
        num_shape: int = NUM_SHAPE,
        num_expression: int = NUM_EXP,
        cache_dir: str | Path | None = None,
        jaw_type: JawType = "aa",
    ) -> None:
        super().__init__()
        check_jaw_type(jaw_type)
        self.jaw_type: JawType = jaw_type
        self.is_demo = assets.is_demo
        self.asset_dir = assets.asset_dir
        # Allocate without random initialisation: every value comes from the checkpoint.
        networks = build_networks(device="meta")
        load_networks(networks, assets.checkpoint, assign=True)
        self.E_flame = _network(networks, "E_flame", ResnetEncoder)
        self.E_detail = _network(networks, "E_detail", ResnetEncoder)
        self.D_detail = _network(networks, "D_detail", DetailDecoder)
        self.flame = FLAME(assets.flame, assets.embedding, num_shape=num_shape, num_expression=num_expression)
        self.albedo_model = AlbedoModel(assets.albedo) if assets.albedo is not None else None
        self.topology = Topology.from_template(
            assets.template, cache_dir=default_cache_dir() if cache_dir is None else cache_dir
        )
        topo = self.topology
        self.renderer = MeshRenderer(topo.faces, topo.uvcoords, topo.uvfaces)
        uv_size = assets.face_eye_mask.shape[-1]
        self.uv_size = uv_size

        def buffer(name: str, value: np.ndarray | Tensor) -> None:
            self.register_buffer(name, torch.as_tensor(value), persistent=False)

        buffer("faces", torch.as_tensor(assets.flame.faces, dtype=torch.long))
        self.uv_gather = UVGather(self.faces, self.topology.uv_raster)
        buffer("uv_face_eye_mask", torch.as_tensor(assets.face_eye_mask, dtype=torch.float32)[None, None])
        buffer("uv_face_mask", torch.as_tensor(assets.face_mask, dtype=torch.float32)[None, None])
        buffer(
            "fixed_displacement",
            torch.as_tensor(assets.fixed_displacement, dtype=torch.float32)[None, None],
        )
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
        target = resolve_device(device)
        model = cls(bundle, cache_dir=cache_dir).to(target)
        if target.type in ("cpu", "cuda"):  # faster convolutions; MPS keeps the default layout
            model.E_flame.use_channels_last()
            model.E_detail.use_channels_last()
        if target.type == "cpu":  # own copies: nothing keeps the memory-mapped checkpoint resident
            with torch.no_grad():
                for tensor in (*model.D_detail.parameters(), *model.D_detail.buffers()):
                    tensor.data = tensor.data.clone()
        return model

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return self.flame.v_template.device

    # ------------------------------------------------------------------ encode
    @torch.inference_mode()
    def encode(self, images: Tensor, *, use_detail: bool = True) -> Codes:
        """Regress codes from face crops, for inference (runs under ``torch.inference_mode``).

        The returned codes are inference tensors: no autograd graph, not usable in a backward pass.
        For training use :meth:`encode_differentiable`, the same computation with gradients.

        Args:
            images: (B, 3, 224, 224) RGB crops in [0, 1] (see :mod:`pydeca.detect.crop`).
            use_detail: also run E_detail (``codes.detail``); otherwise ``codes.detail`` is None.

        Returns:
            :class:`~pydeca.nets.Codes` with batch size B.
        """
        return self.encode_differentiable(images, use_detail=use_detail)

    def encode_differentiable(self, images: Tensor, *, use_detail: bool = True) -> Codes:
        """:meth:`encode` without ``inference_mode``: codes carry gradients to the encoders.

        The training path: ``decode(encode_differentiable(images))`` is differentiable end to end
        with respect to the encoder weights (and ``images``). It honours the ambient autograd
        state (under ``torch.no_grad()`` no graph is built) and the modules' train/eval mode (the
        model is built in eval mode: call ``model.train()`` to update BatchNorm statistics).
        Values equal :meth:`encode`'s.

        Args:
            images: (B, 3, 224, 224) RGB crops in [0, 1] (see :mod:`pydeca.detect.crop`).
            use_detail: also run E_detail (``codes.detail``); otherwise ``codes.detail`` is None.

        Returns:
            :class:`~pydeca.nets.Codes` with batch size B.
        """
        check_shapes(images=(images, f"B 3 {CROP_SIZE} {CROP_SIZE}"))
        images = images.to(self.device, torch.float32)
        detail = self.E_detail(images) if use_detail else None
        codes = Codes.from_flame_vector(self.E_flame(images), detail=detail)
        if self.jaw_type == "euler":
            codes.pose = torch.cat([codes.pose[:, :3], euler_to_axis_angle(codes.pose[:, 3:])], 1)
        return codes

    # ------------------------------------------------------------------ decode
    def world2uv(self, attributes: Tensor) -> Tensor:
        """Per-vertex attributes (B, V, C) → UV image (B, C, R, R), zero outside the UV layout."""
        return self.uv_gather(attributes)

    def decode(
        self,
        codes: Codes,
        *,
        use_detail: bool = True,
        detail_expression: Codes | None = None,
        images: Tensor | None = None,
        texture: TextureMode = "extract",
    ) -> Reconstruction:
        """Codes → geometry, landmarks and UV maps (no image rendering; see :mod:`pydeca.render`).

        The result's core fields are always set; ``detail`` with ``use_detail`` and a detail code,
        ``model_texture`` with an albedo model, ``photo_texture`` with ``images`` (see
        :class:`~pydeca.results.Reconstruction`).

        Differentiable (no ``inference_mode`` inside): with codes from
        :meth:`encode_differentiable` a loss on the result backpropagates to the encoders; wrap
        calls in ``torch.inference_mode()`` for speed when no gradients are needed.

        Args:
            codes: batch of B codes (``codes.detail`` needed when ``use_detail``).
            use_detail: decode the detail displacement and detail normals.
            detail_expression: take the detail decoder's jaw pose and expression from these codes
                instead (DECA's ``iddict``; the detail code itself always comes from ``codes``).
            images: (B, 3, H, W) the images the crop NDC refers to (the encoder crops); when given,
                ``photo_texture.uv_texture_gt`` is extracted from them.
            texture: what ``uv_texture_gt`` holds (reference §2.9): ``"extract"`` — the photo inside
                the face-eye mask, the shaded albedo outside (grey 0.7 without an albedo model);
                ``"model"`` — the shaded albedo only; ``"photo"`` — the photo inside the mask, grey
                0.7 outside.
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
        uv_normals = self.world2uv(normals)
        detail = None
        if use_detail and codes.detail is not None:
            conditioning = codes if detail_expression is None else detail_expression.to(self.device)
            uv_z = self.decode_displacement(codes, conditioning)
            detail = DetailMaps(
                uv_z=uv_z,
                displacement_map=uv_z + self.fixed_displacement,
                uv_detail_normals=self.detail_normals(uv_z, vertices, normals, uv_normals),
            )
        model_texture = None
        if self.albedo_model is not None:
            albedo = self.albedo_model(codes.tex)
            shading_normals = detail.uv_detail_normals if detail is not None else uv_normals
            uv_shading = sh_shading(shading_normals, codes.light)
            model_texture = TextureMaps(albedo=albedo, uv_shading=uv_shading, uv_texture=albedo * uv_shading)
        rec = Reconstruction(
            codes=codes,
            vertices=vertices,
            normals=normals,
            trans_verts=trans_verts,
            landmarks2d=landmarks2d,
            landmarks3d=torch.cat([landmarks3d, visible], dim=-1),
            landmarks3d_world=flame.landmarks3d,
            is_demo=self.is_demo,
            detail=detail,
            model_texture=model_texture,
        )
        if images is not None:
            photo_texture = PhotoTexture(self.texture_from_images(rec, images, texture), texture_mode=texture)
            rec = replace(rec, photo_texture=photo_texture)
        return rec

    def texture_from_images(
        self,
        rec: Reconstruction,
        images: Tensor,
        mode: TextureMode = "extract",
        trans_verts: Tensor | None = None,
    ) -> Tensor:
        """The UV texture of a reconstruction from its images (reference §2.9; see :meth:`decode`).

        Args:
            rec: a decoded reconstruction.
            images: (B, 3, H, W) images that ``trans_verts`` is the NDC of: float in [0, 1], or
                uint8 (sampled without a float copy; see :meth:`texture_from_photo`).
            mode: ``"extract"``, ``"model"`` or ``"photo"``.
            trans_verts: NDC vertices in ``images`` (default ``rec.trans_verts``, the crop); pass
                original-image NDC to sample a full-resolution photo.

        Returns:
            (B, 3, R, R) texture. No occlusion test: a self-occluded texel takes the occluder's colour.

        Raises:
            OptionError: (a ``ValueError``) for another ``mode``, or ``"model"`` without an albedo
                model.
        """
        _check_choice("texture mode", mode, get_args(TextureMode))
        model_texture = rec.model_texture.uv_texture if rec.model_texture is not None else None
        if mode == "model":
            if model_texture is None:
                raise OptionError(
                    "texture mode 'model' needs an albedo model (none is installed); "
                    "use 'extract' or 'photo', or add FLAME_albedo_from_BFM.npz (or FLAME_texture.npz) "
                    "to the assets"
                )
            return model_texture
        fill = model_texture if mode == "extract" and model_texture is not None else None
        if fill is None:
            fill = rec.vertices.new_full((rec.batch_size, 3, self.uv_size, self.uv_size), 0.7)
        positions = self.world2uv(rec.trans_verts if trans_verts is None else trans_verts)
        images = images.to(fill.device) if images.dtype == torch.uint8 else images.to(fill)
        return extract_texture(images, positions, fill, self.uv_face_eye_mask)

    def texture_from_photo(
        self,
        rec: Reconstruction,
        photo: np.ndarray | Tensor,
        tform: np.ndarray | Tensor,
        mode: TextureMode | None = None,
        *,
        crop_size: int = CROP_SIZE,
    ) -> Tensor:
        """``uv_texture_gt`` sampled from the original photo: DECA's ``render_orig`` texture.

        With ``render_orig`` the reference decodes again with ``images`` = the original photo and the
        vertices re-expressed in its NDC (reference §2.9, §2.13), so texels take the photo's
        full-resolution colours rather than the 224² crop's. Here: the crop-NDC vertices go through
        ``T⁻¹`` (:func:`~pydeca.geometry.camera.crop_to_image_ndc`), ``world2uv`` gives every texel's
        photo NDC, and a uint8 photo is sampled bilinearly by gathers (4 pixels per texel, no float
        copy of the photo: memory O(R²) whatever its size).

        Args:
            rec: a decoded reconstruction of B faces of this photo.
            photo: (H, W, 3) uint8 RGB photo (numpy or tensor), or a (B, 3, H, W) tensor (uint8, or
                float in [0, 1]).
            tform: (3, 3) or (B, 3, 3) similarity T, photo pixel → crop pixel, of each face.
            mode: texture mode (see :meth:`decode`); default the mode ``rec``'s photo texture was made
                with, else ``"extract"``.
            crop_size: side of the crop the codes were estimated on.

        Returns:
            (B, 3, R, R) texture, as :meth:`texture_from_images` with photo-NDC vertices.
        """
        device = rec.vertices.device
        if isinstance(photo, np.ndarray):
            photo = torch.from_numpy(np.ascontiguousarray(photo))
        if photo.ndim == 3:  # (H, W, 3) → a channels-last (1, 3, H, W) view, no copy
            photo = photo.permute(2, 0, 1)[None]
        photo = photo.to(device)
        check_shapes(photo=(photo, "N 3 H W"))
        if isinstance(tform, np.ndarray):
            tform = torch.from_numpy(np.asarray(tform, dtype=np.float32))  # no float64 tensor (MPS)
        t = tform.to(device=device, dtype=rec.trans_verts.dtype)
        t = t.expand(rec.batch_size, 3, 3) if t.ndim == 2 else t
        photo_ndc = crop_to_image_ndc(rec.trans_verts, t, crop_size, (photo.shape[-2], photo.shape[-1]))
        photo = photo.expand(rec.batch_size, -1, -1, -1) if photo.shape[0] == 1 else photo
        if mode is None:
            made = rec.photo_texture.texture_mode if rec.photo_texture is not None else None
            mode = made or "extract"
        return self.texture_from_images(rec, photo, mode, trans_verts=photo_ndc)

    def decode_displacement(self, codes: Codes, conditioning: Codes | None = None) -> Tensor:
        """D_detail → (B, 1, R, R) metres.

        Args:
            codes: supplies the detail code (B, 128).
            conditioning: supplies the jaw pose and expression (default: ``codes``); the decoder
                input is ``[jaw pose (3), expression (50), detail (128)]``.
        """
        if codes.detail is None:
            raise InputError("codes.detail is None: encode with use_detail=True to decode detail")
        conditioning = codes if conditioning is None else conditioning
        return self.D_detail(torch.cat([conditioning.pose[:, 3:], conditioning.exp, codes.detail], dim=1))

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
        detail = displacement_normals(uv_positions, coarse, displacement)
        return detail * mask + coarse * (1 - mask)
