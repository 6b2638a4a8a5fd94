"""DECA's training loss terms as pure functions (reference §3.8; training-and-evaluation.md §1).

Every function returns an *unweighted* scalar term; :class:`LossWeights` holds the factors DECA
multiplies them by. Landmarks are in crop NDC (x, y ∈ [−1, 1], x = −1 at the left edge, y = −1 at the
top edge, see :func:`pydeca.geometry.project`), images are RGB in [0, 1], UV maps are DECA's 256×256
layout (row 0 is v = 1). The released code's defects are fixed here, each fix noted in the docstring:
the landmark target is never modified in place, eyelid/lip distances have finite gradients where two
points coincide, the consistency permutation follows the real batch, and ID-MRF does not amplify
float noise on duplicated (masked-out) features. Terms that DECA sums over the batch (the code
regularisers, ``z_symmetry``, ID-MRF) are kept as sums so DECA's weights keep their meaning; their
scale grows with the batch size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pydeca.checks import check_shapes
from pydeca.constants import NUM_LANDMARKS
from pydeca.errors import ShapeError

__all__ = [
    "EYE_PAIRS",
    "ID_MRF_LAYER_WEIGHTS",
    "LIP_PAIRS",
    "VGG19_ID_MRF_LAYERS",
    "VGGFACE2_MEAN_BGR",
    "LossWeights",
    "albedo_reg",
    "consistency_permutation",
    "detail_photometric_loss",
    "expression_reg",
    "eye_closure_loss",
    "id_mrf_layer",
    "id_mrf_loss",
    "identity_loss",
    "jaw_close_reg",
    "jaw_roll_reg",
    "landmark_weights",
    "light_reg",
    "lip_closure_loss",
    "photometric_loss",
    "repeat_batch",
    "shape_reg",
    "squared_norm_reg",
    "swap_codes",
    "vggface2_preprocess",
    "weighted_landmark_loss",
    "z_diff",
    "z_reg",
    "z_symmetry",
]

EYE_PAIRS: tuple[tuple[int, int], ...] = ((37, 41), (38, 40), (43, 47), (44, 46))
"""0-based 68-landmark index pairs (upper lid, lower lid) of the four vertical eyelid distances."""

LIP_PAIRS: tuple[tuple[int, int], ...] = ((61, 67), (62, 66), (63, 65))
"""0-based 68-landmark index pairs (upper, lower) of the three inner-lip distances."""

VGG19_ID_MRF_LAYERS: tuple[int, ...] = (11, 20)
"""Indices into torchvision's ``vgg19().features`` whose outputs ID-MRF compares.

DECA calls them "relu3_2" and "relu4_2" because its wrapper counts conv and ReLU modules together;
they are the standard relu3_1 and relu4_1 (training-and-evaluation.md §1)."""

ID_MRF_LAYER_WEIGHTS: tuple[float, ...] = (1.0, 2.0)
"""Weights of :data:`VGG19_ID_MRF_LAYERS` in DECA's ID-MRF: both layers are style layers (weight 1)
and the second is also the content layer (weight 1), so it counts twice."""

VGGFACE2_MEAN_BGR: tuple[float, float, float] = (91.4953, 103.8827, 131.0912)
"""Per-channel mean (B, G, R; 0–255 scale) of the VGGFace2 ResNet-50 identity network."""

_VGGFACE2_CROP = 10
_VGGFACE2_SIZE = 224
_MRF_BANDWIDTH = 0.5
_MRF_EPS = 1e-5
_MRF_SNAP = 1e-6
_LANDMARK_EPS = 1e-8


@dataclass(frozen=True)
class LossWeights:
    """DECA's loss weights (config keys of reference §3.6 in brackets); the total is Σ weight · term.

    Paper vs release: the released pretrain config uses ``landmark`` 1.0 where the paper's table
    says 1e-4 (the coarse-stage comments quote 1.0); the authors' own pretrain log used ``eye``
    0.5, ``albedo`` 1e-5, ``photo_detail`` 5.0 and ``mrf`` 0.01. The pretrain stage sets
    ``photo``, ``identity``, ``albedo`` and ``light`` to 0. Shape and detail consistency have no
    weight: they are the batch doubling (:func:`consistency_permutation`, weight 1 in the paper).
    """

    landmark: float = 1.0
    """[lmk] :func:`weighted_landmark_loss`."""
    eye: float = 1.0
    """[eyed] :func:`eye_closure_loss`."""
    lip: float = 0.5
    """[lipd] :func:`lip_closure_loss`."""
    photo: float = 2.0
    """[photo] :func:`photometric_loss`."""
    identity: float = 0.2
    """[id] :func:`identity_loss`."""
    shape: float = 1e-4
    """[reg_shape] :func:`shape_reg`."""
    expression: float = 1e-4
    """[reg_exp] :func:`expression_reg`."""
    albedo: float = 1e-4
    """[reg_tex] :func:`albedo_reg`."""
    light: float = 1.0
    """[reg_light] :func:`light_reg`."""
    jaw_roll: float = 100.0
    """(hard-coded) :func:`jaw_roll_reg`, only with ``jaw_type='euler'``."""
    jaw_close: float = 10.0
    """(hard-coded) :func:`jaw_close_reg`, only with ``jaw_type='euler'``."""
    photo_detail: float = 2.0
    """[photo_D] :func:`detail_photometric_loss`."""
    mrf: float = 5e-2
    """[mrf] :func:`id_mrf_loss`; DECA multiplies it by ``photo_detail`` as well."""
    z_reg: float = 5e-3
    """[reg_z] :func:`z_reg`."""
    z_diff: float = 5e-3
    """[reg_diff] :func:`z_diff`."""
    z_symmetry: float = 5e-3
    """[reg_sym] :func:`z_symmetry`."""


# --- landmarks ---------------------------------------------------------------------------------


def landmark_weights(*, device: torch.device | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """DECA's per-landmark weights of the 68-point (iBUG) layout.

    Convention (0-based): all 1; jaw points 5, 6, 10, 11 → 2; nose 27–35 → 1.5 with 30, 31, 35 → 3;
    mouth 48–67 → 1.5 with the corners 48, 54 → 3.

    Returns:
        (68,) weights, float32 unless ``dtype`` is given.

    Example:
        >>> w = landmark_weights()
        >>> w[[0, 5, 27, 30, 48, 50]].tolist(), float(w.sum())
        ([1.0, 2.0, 1.5, 3.0, 3.0, 1.5], 94.0)
    """
    weights = torch.ones(NUM_LANDMARKS, device=device, dtype=dtype)
    weights[[5, 6, 10, 11]] = 2.0
    weights[27:36] = 1.5
    weights[[30, 31, 35]] = 3.0
    weights[48:68] = 1.5
    weights[[48, 54]] = 3.0
    return weights


def weighted_landmark_loss(pred: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    """Weighted L1 distance between predicted and target 2D landmarks.

    Convention:
        ``Σ w (|Δx| + |Δy|) / (2 Σ w + 1e-8)`` over every point of the batch, with ``w`` = per-landmark
        weight × the target's confidence column (when present). DECA wrote the weights into its
        target tensor in place; here ``target`` is left unchanged. ``weights=None`` is DECA's
        unweighted variant (``useWlmk: False``, which crashed on (B, 68, 3) targets in DECA).

    Args:
        pred: (B, 68, 2) crop NDC.
        target: (B, 68, 2) or (B, 68, 3) crop NDC ``(x, y[, confidence])``.
        weights: (68,) per-landmark weights, e.g. :func:`landmark_weights`; ``None`` → all ones.

    Returns:
        Scalar, in NDC units (half the weighted mean of |Δx| + |Δy|).

    Raises:
        ShapeError: on shapes other than the above.

    Example:
        >>> pred, target = torch.zeros(1, 68, 2), torch.zeros(1, 68, 3)
        >>> target[..., 2] = 1.0
        >>> target[0, 0, 0] = 0.5  # landmark 0 (weight 1) is off by 0.5 in x
        >>> round(float(weighted_landmark_loss(pred, target, landmark_weights())), 6)  # 0.5 / (2 * 94)
        0.00266
    """
    check_shapes(pred=(pred, "B 68 2"), target=(target, "B 68 *"))
    if target.shape[-1] not in (2, 3):
        raise ShapeError(f"target: expected (B, 68, 2) or (B, 68, 3), got {tuple(target.shape)}")
    w = pred.new_ones(NUM_LANDMARKS) if weights is None else weights
    check_shapes(weights=(w, "68"))
    w = w.expand(pred.shape[0], NUM_LANDMARKS)
    if target.shape[-1] == 3:
        w = w * target[..., 2]
    l1 = (pred - target[..., :2]).abs().sum(dim=-1)
    return (w * l1).sum() / (2.0 * w.sum() + _LANDMARK_EPS)


def _safe_norm(x: Tensor) -> Tensor:
    """Euclidean norm over the last axis with a zero (not NaN) gradient at x = 0."""
    sq = (x * x).sum(dim=-1)
    positive = sq > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, sq, torch.ones_like(sq))), 0.0)


def _pair_distance_loss(pred: Tensor, target: Tensor, pairs: Sequence[tuple[int, int]]) -> Tensor:
    check_shapes(pred=(pred, "B 68 2"), target=(target, "B 68 *"))
    upper = [a for a, _ in pairs]
    lower = [b for _, b in pairs]
    d_pred = _safe_norm(pred[:, upper] - pred[:, lower])
    d_target = _safe_norm(target[:, upper, :2] - target[:, lower, :2])
    return (d_pred - d_target).abs().mean()


def eye_closure_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean absolute difference of the four vertical eyelid distances (:data:`EYE_PAIRS`).

    The distance has a zero gradient (DECA: NaN) where both points of a pair coincide.

    Args:
        pred: (B, 68, 2) crop NDC.
        target: (B, 68, 2) or (B, 68, 3) crop NDC; a confidence column is ignored.

    Returns:
        Scalar, NDC units: mean over B × 4 of ``|d_pred − d_target|``.
    """
    return _pair_distance_loss(pred, target, EYE_PAIRS)


def lip_closure_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean absolute difference of the three inner-lip distances (:data:`LIP_PAIRS`).

    Same convention, arguments and gradient fix as :func:`eye_closure_loss`; mean over B × 3.
    """
    return _pair_distance_loss(pred, target, LIP_PAIRS)


# --- image terms -------------------------------------------------------------------------------


def photometric_loss(pred: Tensor, image: Tensor, mask: Tensor) -> Tensor:
    """Masked L1 photometric error: ``mean(mask · |pred − image|)`` over every pixel and channel.

    ``pred`` must be the **SH-shaded** render (albedo × shading) times the face-eye mask and the
    render alpha — DECA's release-time behaviour; later DECA code rendered unshaded albedo, which
    leaves the light code without photometric gradient. ``mask`` is the skin segmentation
    (``useSeg``), else face-eye mask × alpha.

    Args:
        pred: (B, 3, H, W) RGB in [0, 1], crop image frame.
        image: (B, 3, H, W) RGB in [0, 1].
        mask: (B, H, W) weights in [0, 1].

    Returns:
        Scalar, intensity units; the mean runs over B·3·H·W (masked pixels count as zeros).
    """
    check_shapes(pred=(pred, "B 3 H W"), image=(image, "B 3 H W"), mask=(mask, "B H W"))
    return (mask[:, None] * (pred - image).abs()).mean()


def identity_loss(features_pred: Tensor, features_target: Tensor) -> Tensor:
    """Mean of ``1 − cos`` between face-recognition embeddings of the rendering and the photo.

    DECA's embeddings are VGGFace2 ResNet-50 (2048-D) features of the albedo-and-SH overlay and of
    the input, both normalised twice (BGR·255 − mean, 10 px crop, ``x·2 − 1``, resize to 224; see
    training-and-evaluation.md §1, :func:`vggface2_preprocess`) — the extractor is the caller's.

    Args:
        features_pred: (B, D) embeddings of the rendered overlay.
        features_target: (B, D) embeddings of the input image (usually detached).

    Returns:
        Scalar in [0, 2].
    """
    check_shapes(features_pred=(features_pred, "B D"), features_target=(features_target, "B D"))
    return (1.0 - F.cosine_similarity(features_pred, features_target, dim=-1)).mean()


def vggface2_preprocess(images: Tensor) -> Tensor:
    """DECA's input normalisation for the VGGFace2 identity network, reproduced with its quirk.

    Convention, in order: RGB → BGR, ×255, minus :data:`VGGFACE2_MEAN_BGR`; crop 10 px from every
    side; ``x·2 − 1`` (a second normalisation on already mean-subtracted values — DECA's quirk, kept
    for parity with the released identity network, training-and-evaluation.md §1); bilinear resize
    (``align_corners=False``) to 224×224.

    Args:
        images: (B, 3, H, W) RGB in [0, 1], H, W > 20 (DECA: 224).

    Returns:
        (B, 3, 224, 224) BGR network input.

    Example:
        >>> x = vggface2_preprocess(torch.zeros(1, 3, 224, 224))
        >>> x.shape, [round(v, 4) for v in x[0, :, 0, 0].tolist()]  # 2·(0 − mean) − 1
        (torch.Size([1, 3, 224, 224]), [-183.9906, -208.7654, -263.1824])
    """
    check_shapes(images=(images, "B 3 H W"))
    mean = images.new_tensor(VGGFACE2_MEAN_BGR).view(1, 3, 1, 1)
    x = images.flip(1) * 255.0 - mean
    c = _VGGFACE2_CROP
    x = x[:, :, c:-c, c:-c] * 2.0 - 1.0
    return F.interpolate(x, size=(_VGGFACE2_SIZE, _VGGFACE2_SIZE), mode="bilinear", align_corners=False)


# --- code regularisers -------------------------------------------------------------------------


def squared_norm_reg(code: Tensor) -> Tensor:
    """``Σ code² / 2`` over the batch and every dimension (a sum, as DECA: grows with B).

    Args:
        code: (B, N) a coefficient vector (shape β, expression ψ, albedo α, ...).

    Returns:
        Scalar, code units squared.

    Example:
        >>> float(squared_norm_reg(torch.tensor([[1.0, 2.0], [0.0, -1.0]])))  # (1 + 4 + 0 + 1) / 2
        3.0
    """
    check_shapes(code=(code, "B N"))
    return (code * code).sum() / 2.0


shape_reg = squared_norm_reg
"""Shape regulariser [reg_shape]: :func:`squared_norm_reg` of the (B, 100) shape code."""
expression_reg = squared_norm_reg
"""Expression regulariser [reg_exp]: :func:`squared_norm_reg` of the (B, 50) expression code."""
albedo_reg = squared_norm_reg
"""Albedo regulariser [reg_tex]: :func:`squared_norm_reg` of the (B, 50) albedo code."""


def light_reg(light: Tensor) -> Tensor:
    """Push SH lighting toward white light: ``mean((mean_rgb(light) − light)²)`` over (B, 9, 3).

    Args:
        light: (B, 9, 3) SH coefficients per colour channel (RGB).

    Returns:
        Scalar; zero iff every SH coefficient is equal across R, G and B.
    """
    check_shapes(light=(light, "B 9 3"))
    return ((light.mean(dim=-1, keepdim=True) - light) ** 2).mean()


def jaw_roll_reg(jaw_euler: Tensor) -> Tensor:
    """``Σ roll² / 2`` of Euler-angle jaw poses (DECA ``jaw_type='euler'``; weight 100).

    DECA computed this (and :func:`jaw_close_reg`) on the un-doubled batch while every other term saw
    the consistency-doubled one; pass the same batch as the other terms.

    Args:
        jaw_euler: (B, 3) radians ``(x, y, z)``; roll is the last (z) angle.

    Returns:
        Scalar, rad².
    """
    check_shapes(jaw_euler=(jaw_euler, "B 3"))
    return (jaw_euler[:, 2] ** 2).sum() / 2.0


def jaw_close_reg(jaw_euler: Tensor) -> Tensor:
    """``Σ relu(−x)² / 2``: penalise a jaw rotated past closed (negative opening angle x; weight 10).

    Args:
        jaw_euler: (B, 3) radians ``(x, y, z)``; x > 0 opens the mouth.

    Returns:
        Scalar, rad².
    """
    check_shapes(jaw_euler=(jaw_euler, "B 3"))
    return (F.relu(-jaw_euler[:, 0]) ** 2).sum() / 2.0


# --- shape / detail consistency ----------------------------------------------------------------


def consistency_permutation(identity_ids: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """A random permutation of the batch that maps each image to an image of the same identity.

    Each identity's images are shuffled among themselves (an image may map to itself). Built from
    the actual ids, so it also works for a short last batch (DECA used the configured batch size).

    Args:
        identity_ids: (N,) int64 identity label of each image of the flattened batch.
        generator: CPU random generator for reproducibility.

    Returns:
        (N,) int64 on ``identity_ids``' device; ``perm`` is a permutation of ``0…N−1`` with
        ``identity_ids[perm] == identity_ids``.

    Example:
        >>> perm = consistency_permutation(torch.tensor([0, 0, 1, 1]), torch.Generator().manual_seed(0))
        >>> sorted(perm[:2].tolist()), sorted(perm[2:].tolist())
        ([0, 1], [2, 3])
    """
    check_shapes(identity_ids=(identity_ids, "N"))
    ids = identity_ids.cpu()
    perm = torch.arange(ids.shape[0])
    for identity in torch.unique(ids):
        members = torch.nonzero(ids == identity).flatten()
        perm[members] = members[torch.randperm(members.shape[0], generator=generator)]
    return perm.to(identity_ids.device)


def swap_codes(code: Tensor, permutation: Tensor) -> Tensor:
    """Consistency doubling of the swapped code: ``[code; code[permutation]]`` along the batch.

    The coarse stage swaps the shape code, the detail stage the detail code; every other tensor
    goes through :func:`repeat_batch`. All losses on the doubled batch then *are* the shape- or
    detail-consistency loss.

    Args:
        code: (N, ...) per-image codes.
        permutation: (N,) int64, from :func:`consistency_permutation`.

    Returns:
        (2N, ...) the originals, then each image's code taken from another image of its identity.
    """
    check_shapes(code=(code, "N ..."), permutation=(permutation, "N"))
    return torch.cat([code, code[permutation]], dim=0)


def repeat_batch(x: Tensor) -> Tensor:
    """Consistency doubling of an unswapped tensor: ``[x; x]`` along the batch, (N, ...) → (2N, ...)."""
    return torch.cat([x, x], dim=0)


# --- detail stage ------------------------------------------------------------------------------


def detail_photometric_loss(uv_texture: Tensor, uv_texture_gt: Tensor, vis_mask: Tensor) -> Tensor:
    """L1 between the detail-shaded UV texture and the photo unwrapped to UV, on visible texels.

    Convention: ``mean(|uv_texture · vis − uv_texture_gt · vis|)`` over B·3·H·W, on the face-box
    crop of the UV maps (rows/cols 50:206 of 256, resized back to 256) as DECA.

    Args:
        uv_texture: (B, 3, H, W) albedo × detail SH shading, RGB, UV frame.
        uv_texture_gt: (B, 3, H, W) input image sampled into UV, RGB in [0, 1].
        vis_mask: (B, 1, H, W) visibility in [0, 1] (UV image mask × self-occlusion × face-eye mask).

    Returns:
        Scalar, intensity units.
    """
    check_shapes(
        uv_texture=(uv_texture, "B 3 H W"),
        uv_texture_gt=(uv_texture_gt, "B 3 H W"),
        vis_mask=(vis_mask, "B 1 H W"),
    )
    return (uv_texture * vis_mask - uv_texture_gt * vis_mask).abs().mean()


def z_reg(uv_z: Tensor) -> Tensor:
    """Displacement magnitude: ``mean(|uv_z|)``.

    Args:
        uv_z: (B, 1, H, W) detail displacement map (DECA's D_detail output, before the 0.01 scaling).

    Returns:
        Scalar, same units as ``uv_z``.
    """
    check_shapes(uv_z=(uv_z, "B 1 H W"))
    return uv_z.abs().mean()


def z_diff(uv_shading: Tensor) -> Tensor:
    """Shading smoothness: mean squared x-gradient + mean squared y-gradient of the UV shading.

    Convention: x-differences ``s[:, :, i, j+1] − s[:, :, i, j]`` over interior rows ``i ∈ 1…H−2``;
    y-differences ``s[:, :, i+1, j] − s[:, :, i, j]`` over interior columns ``j ∈ 1…W−2``.

    Args:
        uv_shading: (B, C, H, W) SH shading of the detail normals in UV, H, W ≥ 3.

    Returns:
        Scalar, shading units squared.

    Example:
        >>> ramp = torch.arange(4.0).expand(1, 1, 4, 4)  # x-step 1, no y change
        >>> float(z_diff(ramp))
        1.0
    """
    check_shapes(uv_shading=(uv_shading, "B C H W"))
    dx = uv_shading[:, :, 1:-1, 1:] - uv_shading[:, :, 1:-1, :-1]
    dy = uv_shading[:, :, 1:, 1:-1] - uv_shading[:, :, :-1, 1:-1]
    return (dx**2).mean() + (dy**2).mean()


def _erode(mask: Tensor, size: int) -> Tensor:
    """Binary erosion with a square ``size``×``size`` window; outside the map counts as not visible."""
    visible = (mask != 0).to(mask.dtype)
    pad = size // 2
    hidden = F.pad(1.0 - visible, (pad, pad, pad, pad), value=1.0)
    return 1.0 - F.max_pool2d(hidden, kernel_size=size, stride=1)


def z_symmetry(uv_z: Tensor, vis_mask: Tensor) -> Tensor:
    """Left-right symmetry of displacements where the face is not visible.

    Convention: ``Σ (1 − erode₅ₓ₅(vis)) · |uv_z − flipLR(uv_z).detach()|`` over every texel of the
    batch (a sum, as DECA). The erosion is binary: any non-zero ``vis`` texel counts as visible and
    texels beyond the map border as not visible (DECA's behaviour).

    Args:
        uv_z: (B, 1, H, W) displacement map, UV frame (column flip = left-right mirror of the face).
        vis_mask: (B, 1, H, W) visibility (no gradient flows through it).

    Returns:
        Scalar, ``uv_z`` units.
    """
    check_shapes(uv_z=(uv_z, "B 1 H W"), vis_mask=(vis_mask, "B 1 H W"))
    invisible = 1.0 - _erode(vis_mask.detach(), 5)
    return (invisible * (uv_z - torch.flip(uv_z, dims=[-1]).detach()).abs()).sum()


def id_mrf_layer(gen: Tensor, target: Tensor) -> Tensor:
    """ID-MRF (implicit-diversity MRF) term of one feature layer, summed over the batch.

    Convention, per sample, with 1×1 patches (positions i of ``gen``, j of ``target``):
        1. centre both by the target's mean over channels at each position, ``μ_j = mean_c t_cj``
           (DECA's "channel mean": it averages the channel axis) — (B, 1, H, W);
        2. L2-normalise every position's channel vector (zero vectors stay zero; DECA: NaN);
        3. ``d_ij = (1 − cos_ij) / 2``, clamped to [0, 1] and snapped to 0 below 1e-6;
        4. ``r_ij = d_ij / (min_j d_ij + 1e-5)``;
        5. ``w_ij = exp((1 − r_ij) / 0.5)`` normalised over target positions j (a softmax: same
           value, no overflow);
        6. loss = ``−log mean_j max_i w_ij``.
    The snapping in step 3 is this module's fix for masked inputs: masked-out texels give identical
    features, whose d is pure rounding noise (~1e-7) that the 1e-5 term amplifies into ~1 % changes
    of r; snapped, identical features give exactly 0 in float32 and float64. Where d ≥ 1e-6 the
    value is DECA's.

    Args:
        gen: (B, C, H, W) features of the generated image.
        target: (B, C, H, W) features of the target image.

    Returns:
        Scalar ≥ 0; ≈ 0 when ``gen`` equals ``target`` with distinct features at every position.
    """
    check_shapes(gen=(gen, "B C H W"), target=(target, "B C H W"))
    mean = target.mean(dim=1, keepdim=True)
    # 1.–2. (B, C, N) unit channel vectors, N = positions
    g = F.normalize((gen - mean).flatten(2), dim=1)
    t = F.normalize((target - mean).flatten(2), dim=1)
    # 3. (B, N_gen, N_target) cosine distance in [0, 1]
    d = ((1.0 - torch.bmm(g.transpose(1, 2), t)) / 2.0).clamp(0.0, 1.0)
    d = torch.where(d < _MRF_SNAP, torch.zeros_like(d), d)
    # 4.–5. relative distance, exponential weights normalised over target positions
    r = d / (d.min(dim=2, keepdim=True).values + _MRF_EPS)
    w = torch.softmax((1.0 - r) / _MRF_BANDWIDTH, dim=2)
    # 6. best generated match per target position: (B, N_target) → (B,)
    return -torch.log(w.max(dim=1).values.mean(dim=1)).sum()


def id_mrf_loss(
    features_gen: Sequence[Tensor],
    features_target: Sequence[Tensor],
    layer_weights: Sequence[float] | None = None,
) -> Tensor:
    """ID-MRF loss: weighted sum of :func:`id_mrf_layer` over feature layers.

    DECA feeds the masked UV textures (``uv_texture · vis`` and ``uv_texture_gt · vis``),
    ImageNet-normalised, to a frozen VGG19 and uses the layers :data:`VGG19_ID_MRF_LAYERS` with
    :data:`ID_MRF_LAYER_WEIGHTS`. Any extractor works: pass its feature maps.

    Args:
        features_gen: L tensors (B, C_l, H_l, W_l), features of the generated image.
        features_target: L tensors of the same shapes, features of the target (usually detached).
        layer_weights: L weights; ``None`` → all 1.

    Returns:
        Scalar ≥ 0 (sum over the batch and the weighted layers).

    Raises:
        ShapeError: if the lists' lengths differ.
    """
    weights = [1.0] * len(features_gen) if layer_weights is None else list(layer_weights)
    if not len(features_gen) == len(features_target) == len(weights) or not weights:
        raise ShapeError(
            f"expected as many generated ({len(features_gen)}) as target ({len(features_target)}) "
            f"feature maps and layer weights ({len(weights)}), at least one"
        )
    terms = [w * id_mrf_layer(g, t) for w, g, t in zip(weights, features_gen, features_target, strict=True)]
    return torch.stack(terms).sum()
