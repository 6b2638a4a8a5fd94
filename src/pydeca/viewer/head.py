"""The live head of the dashboard: dial values → vertex positions (and colours) in milliseconds.

:class:`LiveHead` keeps one reconstructed face and everything that does not change while dials
move on the server: the model's FLAME bases, the mesh triangles, the texture sampled at every
vertex. An update runs FLAME for one face (shape and expression blend, LBS), and for the detail
mesh the detail decoder only when the expression or jaw changed (its output is cached), then
:func:`~pydeca.geometry.dense_mesh.dense_vertices`. Nothing is rendered and no mesh is rebuilt.

Frames: vertices are FLAME world coordinates, metres (+y up, +z out of the face).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from pydeca.geometry.dense_mesh import dense_vertices
from pydeca.geometry.normals import vertex_normals
from pydeca.io.mesh import texture_vertex_colors
from pydeca.model import DECA
from pydeca.nets import Codes
from pydeca.pipeline.faces import FaceResult
from pydeca.render.shading import sh_basis
from pydeca.results import DetailMaps, PhotoTexture, Reconstruction

from .controls import HeadControls, TextureChoice

__all__ = ["GREY_ALBEDO", "HeadMesh", "LiveHead"]

GREY_ALBEDO = 0.7
"""Albedo of the ``grey`` texture mode (DECA's grey fill)."""

_MIN_SHADING = 0.05
"""Floor of the original shading when relighting the photo texture (avoids dividing by ~0)."""

_MAX_RELIGHT = 3.0
"""Cap of the relighting ratio of the photo texture."""


@dataclass(frozen=True, eq=False)
class HeadMesh:
    """What the browser shows: one mesh in the FLAME world frame."""

    vertices: np.ndarray
    """(N, 3) float32 positions, metres (N = 5023 coarse, 58,515 dense at R = 256)."""
    faces: np.ndarray
    """(M, 3) uint32 triangles (the same array object for every update of one mesh kind)."""
    colors: np.ndarray | None
    """(N, 3) uint8 shaded vertex colours, or ``None`` for the ``clay`` mode (lit by the browser)."""
    dense: bool
    """True for the dense detail mesh, False for the coarse FLAME mesh."""


class LiveHead:
    """One face, re-posed from dial values (:class:`~pydeca.viewer.controls.HeadControls`).

    Args:
        model: the model that reconstructed ``face``.
        face: the reconstructed face (B = 1).
    """

    def __init__(self, model: DECA, face: FaceResult) -> None:
        self.model = model
        self.face = face
        self.base_codes: Codes = face.codes.to(model.device)
        topology = model.topology
        self.coarse_faces = np.ascontiguousarray(np.asarray(topology.faces), dtype=np.uint32)
        self.dense_faces = np.ascontiguousarray(topology.dense.faces.cpu().numpy(), dtype=np.uint32)
        self._dense = topology.dense.to(model.device)
        self._faces = model.faces
        self._dense_faces_t = self._dense.faces
        self.textures = self._texture_images(face.reconstruction)
        self._colors: dict[tuple[str, bool], Tensor] = {}
        self._uv_z_key: bytes | None = None
        self._uv_z: Tensor | None = None

    # ------------------------------------------------------------------ what the face offers
    @property
    def has_detail(self) -> bool:
        """True when the face has a detail code (the dense detail mesh can be shown)."""
        return self.base_codes.detail is not None

    @property
    def texture_choices(self) -> tuple[TextureChoice, ...]:
        """The texture modes this face supports (``albedo`` needs an albedo model)."""
        choices: list[TextureChoice] = ["photo"] if "photo" in self.textures else []
        if "albedo" in self.textures:
            choices.append("albedo")
        return (*choices, "grey", "clay")

    def initial_controls(self) -> HeadControls:
        """The dials of the reconstruction itself (what *reset* restores)."""
        texture = self.texture_choices[0]
        return HeadControls.from_codes(self.base_codes, texture=texture, detail=self.has_detail)

    @staticmethod
    def _texture_images(rec: Reconstruction) -> dict[str, Tensor]:
        """(3, R, R) unlit textures by mode: the photo's and the albedo model's, when present."""
        textures = {}
        if rec.photo_texture is not None:
            textures["photo"] = rec.photo_texture.uv_texture_gt[0].detach()
        if rec.model_texture is not None:
            textures["albedo"] = rec.model_texture.albedo[0].detach()
        return textures

    def _vertex_texture(self, mode: TextureChoice, dense: bool) -> Tensor:
        """(N, 3) float texture colour at every vertex of the coarse or dense mesh (cached)."""
        key = (mode, dense)
        if key not in self._colors:
            if mode == "grey":
                count = self._dense.bary.shape[0] if dense else self.model.flame.v_template.shape[0]
                colors = torch.full((count, 3), GREY_ALBEDO, device=self.model.device)
            else:
                image = self.textures[mode]
                if dense:  # one dense vertex per texel: the exact texel colour
                    colors = image[:, self._dense.pixel_rows, self._dense.pixel_cols].T
                else:
                    topo = self.model.topology
                    uint8 = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
                    sampled = texture_vertex_colors(uint8, topo.faces, topo.uvcoords, topo.uvfaces)
                    colors = torch.from_numpy(sampled).to(self.model.device).float() / 255.0
            self._colors[key] = colors.float().contiguous()
        return self._colors[key]

    # ------------------------------------------------------------------ geometry
    def _detail_uv_z(self, codes: Codes) -> Tensor:
        """(1, 1, R, R) detail displacement for these codes' jaw and expression (last one cached)."""
        key = codes.pose[:, 3:].cpu().numpy().tobytes() + codes.exp.cpu().numpy().tobytes()
        if key != self._uv_z_key or self._uv_z is None:
            self._uv_z = self.model.decode_displacement(codes)
            self._uv_z_key = key
        return self._uv_z

    def _displacement(self, codes: Codes, strength: float) -> Tensor:
        """(1, R, R) metres: ``strength · uv_z + fixed displacement`` (the detail OBJ's)."""
        return (self._detail_uv_z(codes) * strength + self.model.fixed_displacement)[:, 0]

    @torch.inference_mode()
    def update(self, controls: HeadControls) -> HeadMesh:
        """The mesh for these dials.

        Args:
            controls: dial values.

        Returns:
            The dense detail mesh when ``controls.detail`` and the face has a detail code, else the
            coarse mesh; coloured unless ``controls.texture == "clay"``.
        """
        codes = controls.to_codes(self.base_codes)
        flame = self.model.flame(codes.shape, codes.exp, codes.pose)
        vertices = flame.vertices
        normals = vertex_normals(vertices, self._faces)
        dense = controls.detail and self.has_detail
        faces = self.coarse_faces
        if dense:
            displacement = self._displacement(codes, controls.detail_strength)
            vertices = dense_vertices(vertices, normals, displacement, self._dense)
            faces = self.dense_faces
            if controls.texture != "clay":
                normals = vertex_normals(vertices, self._dense_faces_t)
        colors = None
        if controls.texture != "clay":
            colors = self._shade(controls, codes, normals[0], dense)
        return HeadMesh(vertices[0].float().cpu().numpy(), faces, colors, dense)

    def _shade(self, controls: HeadControls, codes: Codes, normals: Tensor, dense: bool) -> np.ndarray:
        """(N, 3) uint8: the texture lit by the edited SH light at every vertex normal.

        The photo texture already carries the photo's light, so it is *relit*: multiplied by the
        ratio of the edited light's shading to the reconstruction's (1 at the reconstruction's own
        light, whatever the expression).
        """
        mode = controls.texture
        if mode not in self.textures and mode != "grey":
            mode = "grey"
        albedo = self._vertex_texture(mode, dense)
        basis = sh_basis(normals)  # (N, 9)
        shading = basis @ codes.light[0]  # (N, 3)
        if mode == "photo":
            original = (basis @ self.base_codes.light[0]).clamp(min=_MIN_SHADING)
            colors = albedo * (shading / original).clamp(0.0, _MAX_RELIGHT)
        else:
            colors = albedo * shading
        return (colors.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).cpu().numpy()

    # ------------------------------------------------------------------ files
    @torch.inference_mode()
    def reconstruction(self, controls: HeadControls) -> FaceResult:
        """The dialled head as a face the writers take (same photo, crop and transform).

        Its codes are :meth:`HeadControls.to_codes`; the detail maps are scaled by
        ``detail_strength`` (and absent with ``detail`` off); the photo texture is the face's own.
        """
        codes = controls.to_codes(self.base_codes)
        use_detail = controls.detail and self.has_detail
        rec = self.model.decode(codes, use_detail=use_detail)
        if rec.detail is not None and controls.detail_strength != 1.0:
            uv_z = rec.detail.uv_z * float(controls.detail_strength)
            rec = replace(
                rec,
                detail=DetailMaps(
                    uv_z=uv_z,
                    displacement_map=uv_z + self.model.fixed_displacement,
                    uv_detail_normals=self.model.detail_normals(uv_z, rec.vertices, rec.normals),
                ),
            )
        own = self.face.reconstruction.photo_texture
        if own is not None:
            rec = replace(rec, photo_texture=PhotoTexture(own.uv_texture_gt, texture_mode=own.texture_mode))
        return replace(self.face, reconstruction=rec)
