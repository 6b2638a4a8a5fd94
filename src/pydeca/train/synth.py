"""Synthetic training data: random FLAME faces rendered with known codes, written as a manifest.

Each identity has one random shape and albedo code; each of its views a random expression, head
pose, jaw opening, camera and SH light. A view is rendered with :class:`~pydeca.model.DECA`'s
FLAME, albedo model and renderer (SH-shaded albedo, 2× supersampled) over a random smooth
background, so every file is exact ground truth for the training losses.

Output folder layout (``<view>`` = ``<identity>/view<kk>``, identity = ``synth<iiii>``):
    - ``images/<view>.png``: (size, size) RGB photo.
    - ``landmarks/<view>.npy``: (68, 2) float64 ``(x, y)`` photo pixels (pixel ``i`` centred at
      ``i``, as :mod:`pydeca.train.data`): the decoded ``landmarks2d`` through
      :func:`pydeca.geometry.camera.ndc_to_pixels`, so :class:`~pydeca.train.data.FaceDataset`'s
      crop maps them back to the projection's crop NDC exactly.
    - ``masks/<view>.png``: skin mask, 255 on the rendered face region (DECA's UV face mask), 0 else.
    - ``codes/<view>.npz`` (+ ``.json``): ground-truth codes (:func:`pydeca.io.params.save_params`;
      :func:`pydeca.io.params.load_codes` reads them), unbatched (``shape`` (100,), …); the camera
      is the whole photo's (the photo is the crop: photo NDC = crop NDC).
    - ``manifest.jsonl``: :func:`pydeca.train.data.write_manifest` rows (identity, image,
      landmarks, mask).
    - ``ground_truth.jsonl``: one ``{"image": …, "codes": …}`` line per manifest row (paths
      relative to the folder), since :class:`~pydeca.train.data.ManifestRow` has no codes field.

Reproducibility: every random draw comes from ``numpy.random.default_rng(seed)`` in a fixed order
(identity, then its views), so the same seed, size and model give the same files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from PIL import Image

from pydeca.constants import NUM_EXP, NUM_SHAPE, NUM_TEX
from pydeca.errors import OptionError
from pydeca.geometry.camera import ndc_to_pixels, weak_perspective_project
from pydeca.geometry.rotations import euler_to_axis_angle
from pydeca.io.atomic import atomic_write_text
from pydeca.io.params import save_params
from pydeca.model import DECA
from pydeca.nets.codes import Codes
from pydeca.train.data import ManifestRow, write_manifest

__all__ = ["GROUND_TRUTH_NAME", "MANIFEST_NAME", "SynthConfig", "random_codes", "synthesize"]

MANIFEST_NAME = "manifest.jsonl"
GROUND_TRUTH_NAME = "ground_truth.jsonl"

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SynthConfig:
    """Ranges of the random codes (angles in degrees; camera scale in crop NDC per metre).

    ``cam_scale``: DECA's encoder gives ``s`` ≈ 9 on its 1.25 × box crops (the demo pack: 8.97 on
    ``alfw1.png``; the parity test checkpoint, scaled like the released one: 9.03–9.06), so the
    synthetic photo is framed like a DECA crop: the landmark box spans ~60 % of the side, and
    :class:`~pydeca.train.data.TrainingCrop`'s 1.4–1.8 × box crop may reach a few pixels past the
    photo (zero-filled, as for real photos cropped near their border).
    """

    shape_std: float = 1.0
    """Std of shape coefficient 0; coefficient i has std ``shape_std · shape_decay**i``."""
    shape_decay: float = 0.97
    tex_std: float = 1.0
    """Std of albedo coefficient 0 (same decay as the shape)."""
    exp_std: float = 0.5
    """Std of expression coefficient 0; coefficient i has std ``exp_std · 0.9**i`` (small)."""
    yaw: float = 40.0
    pitch: float = 20.0
    roll: float = 5.0
    jaw_max: float = 20.0
    """Mouth opening U(0, jaw_max) degrees about the jaw's x axis."""
    cam_scale: tuple[float, float] = (8.0, 10.0)
    cam_jitter: float = 0.05
    """Face-centre offset from the photo centre, U(−j, j) in crop NDC per axis."""
    ambient: tuple[float, float] = (2.6, 3.4)
    """SH coefficient 0 (shading 0.28 × this in every direction)."""
    directional: tuple[float, float] = (0.2, 0.6)
    """Strength of the band-1 SH light toward a random frontal direction."""
    tint: float = 0.08
    """Per-channel colour variation of the light (multiplicative, U(1 − t, 1 + t))."""


def _std(n: int, first: float, decay: float) -> FloatArray:
    return first * decay ** np.arange(n, dtype=np.float64)


def _rotation(rng: np.random.Generator, cfg: SynthConfig) -> FloatArray:
    """(3,) axis-angle head pose: pitch about x, yaw about y, roll about z (degrees → radians)."""
    euler = np.radians(
        [rng.uniform(-cfg.pitch, cfg.pitch), rng.uniform(-cfg.yaw, cfg.yaw), rng.uniform(-cfg.roll, cfg.roll)]
    )
    return euler_to_axis_angle(torch.as_tensor(euler)).numpy()


def _light(rng: np.random.Generator, cfg: SynthConfig) -> FloatArray:
    """(9, 3) SH coefficients: ambient + one band-1 light from a random frontal direction, nearly white."""
    direction = np.array([rng.uniform(-1, 1), rng.uniform(-0.5, 1), rng.uniform(0.5, 1.0)])
    direction /= np.linalg.norm(direction)
    colour = rng.uniform(1.0 - cfg.tint, 1.0 + cfg.tint, size=3)
    light = np.zeros((9, 3))
    light[0] = rng.uniform(*cfg.ambient) * colour
    light[1:4] = rng.uniform(*cfg.directional) * direction[:, None] * colour[None]
    return light


def random_codes(
    rng: np.random.Generator,
    views: int,
    cfg: SynthConfig | None = None,
    *,
    num_tex: int = NUM_TEX,
) -> dict[str, FloatArray]:
    """Codes of one identity seen ``views`` times, as (views, …) float64 arrays.

    ``shape`` and ``tex`` are shared by the views; ``exp``, ``pose``, ``light`` and the camera scale
    are drawn per view. ``cam`` translations are 0 here (:func:`synthesize` centres the face).
    Keys and shapes as :meth:`pydeca.nets.Codes.to_numpy` (no ``detail``).
    """
    cfg = cfg or SynthConfig()
    shape = rng.standard_normal(NUM_SHAPE) * _std(NUM_SHAPE, cfg.shape_std, cfg.shape_decay)
    tex = rng.standard_normal(num_tex) * _std(num_tex, cfg.tex_std, cfg.shape_decay)
    exp, pose, cam, light = [], [], [], []
    for _ in range(views):
        exp.append(rng.standard_normal(NUM_EXP) * _std(NUM_EXP, cfg.exp_std, 0.9))
        jaw = np.radians(rng.uniform(0.0, cfg.jaw_max))
        pose.append(np.concatenate([_rotation(rng, cfg), [jaw, 0.0, 0.0]]))
        cam.append([rng.uniform(*cfg.cam_scale), 0.0, 0.0])
        light.append(_light(rng, cfg))
    return {
        "shape": np.repeat(shape[None], views, 0),
        "tex": np.repeat(tex[None], views, 0),
        "exp": np.stack(exp),
        "pose": np.stack(pose),
        "cam": np.asarray(cam, dtype=np.float64),
        "light": np.stack(light),
    }


def random_background(rng: np.random.Generator, batch: int, size: int) -> torch.Tensor:
    """(B, 3, size, size) float32 in [0, 1]: a bilinear gradient of 4 random corner colours + smooth noise."""
    corners = torch.as_tensor(rng.uniform(0.05, 0.95, size=(batch, 3, 2, 2)), dtype=torch.float32)
    gradient = F.interpolate(corners, size=(size, size), mode="bilinear", align_corners=True)
    noise = torch.as_tensor(rng.standard_normal((batch, 3, 8, 8)), dtype=torch.float32) * 0.06
    smooth = F.interpolate(noise, size=(size, size), mode="bicubic", align_corners=False)
    return (gradient + smooth).clamp(0.0, 1.0)


def _center_camera(model: DECA, codes: Codes, rng: np.random.Generator, jitter: float) -> Codes:
    """Codes with ``cam`` translations putting the landmark box centre at U(−j, j) crop NDC."""
    with torch.no_grad():
        flame = model.flame(codes.shape, codes.exp, codes.pose)
        zero = codes.cam * codes.cam.new_tensor((1.0, 0.0, 0.0))
        lmk = weak_perspective_project(flame.landmarks2d, zero)[..., :2]  # (B, 68, 2) NDC, no shift
    centre = (lmk.amin(1) + lmk.amax(1)) / 2  # (B, 2)
    offset = torch.as_tensor(rng.uniform(-jitter, jitter, size=centre.shape), dtype=centre.dtype)
    s = codes.cam[:, 0]
    # x' = s (x + tx), y' = −s (y + ty): move the centre (cx, cy) to the offset (ox, oy)
    tx = (offset[:, 0] - centre[:, 0]) / s
    ty = (centre[:, 1] - offset[:, 1]) / s
    cam = torch.stack([s, tx, ty], dim=-1)
    return Codes(codes.shape, codes.tex, codes.exp, codes.pose, cam, codes.light, codes.detail)


@dataclass(frozen=True)
class RenderedViews:
    """Renders of a batch of B codes at ``size``."""

    images: torch.Tensor
    """(B, 3, S, S) float32 RGB in [0, 1] over the background."""
    masks: torch.Tensor
    """(B, S, S) bool skin mask (DECA's UV face mask rendered, > 0.5)."""
    landmarks: FloatArray
    """(B, 68, 2) float64 photo pixels (pixel ``i`` centred at ``i``)."""


def render_views(
    model: DECA, codes: Codes, background: torch.Tensor, size: int, *, supersample: int = 2
) -> RenderedViews:
    """Render the SH-shaded albedo of ``codes`` over ``background`` (one batched rasterisation).

    Args:
        model: a loaded DECA (its FLAME, albedo model — mean grey 0.6 without one — and renderer).
        codes: B codes (``cam`` refers to the whole photo as the crop).
        background: (B, 3, size, size) float in [0, 1].
        size: photo side, pixels.
        supersample: render at ``supersample · size`` and average-pool (anti-aliasing).
    """
    codes = codes.to(model.device, torch.float32)
    with torch.no_grad():
        rec = model.decode(codes, use_detail=False)
        if rec.model_texture is not None:
            albedo = rec.model_texture.albedo.clamp(0.0, 1.0)
        else:
            albedo = rec.vertices.new_full((codes.batch_size, 3, model.uv_size, model.uv_size), 0.6)
        big = size * supersample
        fragments = model.renderer.rasterize(rec.trans_verts, big)
        shaded, alpha = model.renderer.render_texture(
            rec.trans_verts, albedo, big, fragments=fragments, light=codes.light, vertices=rec.vertices
        )
        face = model.uv_face_mask.expand(codes.batch_size, -1, -1, -1).to(albedo)
        skin, _ = model.renderer.render_texture(rec.trans_verts, face, big, fragments=fragments)
        if supersample > 1:
            shaded, alpha, skin = (F.avg_pool2d(t, supersample) for t in (shaded, alpha, skin))
        images = shaded.clamp(0.0, 1.0) + background.to(shaded) * (1 - alpha)
        landmarks = ndc_to_pixels(rec.landmarks2d.to(torch.float64), size)
    return RenderedViews(
        images=images.clamp(0.0, 1.0).cpu(),
        masks=(skin[:, 0] > 0.5).cpu(),
        landmarks=landmarks.cpu().numpy(),
    )


def _png(path: Path, array: npt.NDArray[np.uint8]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG")


def _relative(path: Path, base: Path) -> str:
    return path.relative_to(base).as_posix()


def synthesize(
    model: DECA,
    out_dir: str | os.PathLike[str],
    identities: int,
    views: int,
    *,
    size: int = 224,
    seed: int = 0,
    config: SynthConfig | None = None,
) -> Path:
    """Render ``identities × views`` synthetic faces with known codes into ``out_dir``.

    See the module docstring for the files written. Identities are rendered one batch (of
    ``views``) at a time.

    Args:
        model: a loaded DECA.
        out_dir: output folder (created; existing files of the same names are replaced).
        identities: number of identities (≥ 1).
        views: photos per identity (≥ 1).
        size: photo side in pixels (≥ 16).
        seed: seed of every random draw.
        config: ranges of the random codes (default :class:`SynthConfig`).

    Returns:
        The manifest path ``out_dir/manifest.jsonl``.

    Raises:
        OptionError: for a count or size out of range.
    """
    for name, value, low in (("identities", identities, 1), ("views", views, 1), ("size", size, 16)):
        if value < low:
            raise OptionError(f"{name}: expected >= {low}, got {value}")
    cfg = config or SynthConfig()
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    num_tex = model.albedo_model.num_components if model.albedo_model is not None else NUM_TEX
    rows: list[ManifestRow] = []
    truth: list[str] = []
    for i in range(identities):
        identity = f"synth{i:04d}"
        arrays = random_codes(rng, views, cfg, num_tex=num_tex)
        codes = Codes(**{k: torch.as_tensor(v, dtype=torch.float32) for k, v in arrays.items()})
        codes = _center_camera(model, codes.to(model.device), rng, cfg.cam_jitter)
        background = random_background(rng, views, size)
        rendered = render_views(model, codes, background, size)
        pixels = (rendered.images.permute(0, 2, 3, 1).numpy() * 255.0 + 0.5).astype(np.uint8)
        masks = rendered.masks.numpy().astype(np.uint8) * 255
        numpy_codes = codes.to_numpy()
        for k in range(views):
            view = f"{identity}/view{k:02d}"
            image = root / "images" / f"{view}.png"
            mask = root / "masks" / f"{view}.png"
            landmarks = root / "landmarks" / f"{view}.npy"
            stem = root / "codes" / view
            _png(image, pixels[k])
            _png(mask, masks[k])
            landmarks.parent.mkdir(parents=True, exist_ok=True)
            np.save(landmarks, rendered.landmarks[k])
            stem.parent.mkdir(parents=True, exist_ok=True)
            meta: dict[str, Any] = {
                "identity": identity,
                "view": k,
                "size": size,
                "seed": seed,
                "synthetic": True,
            }
            npz, _ = save_params(stem, {name: value[k] for name, value in numpy_codes.items()}, meta)
            rows.append(ManifestRow(identity=identity, image=image, landmarks=landmarks, mask=mask))
            truth.append(json.dumps({"image": _relative(image, root), "codes": _relative(npz, root)}))
    atomic_write_text(root / GROUND_TRUTH_NAME, "".join(line + "\n" for line in truth))
    return write_manifest(root / MANIFEST_NAME, rows)
