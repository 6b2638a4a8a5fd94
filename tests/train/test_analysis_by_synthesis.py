"""Analysis by synthesis: perturbed codes of a synthetic photo are recovered from its 2D landmarks.

The landmarks come from the written files (photo pixels → crop NDC, the FaceDataset convention), so
the test covers the synthetic data's ground truth and the differentiable FLAME → weak-perspective
projection → landmark losses chain together.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pydeca.geometry.camera import pixels_to_ndc, weak_perspective_project
from pydeca.geometry.rotations import axis_angle_to_matrix, euler_to_axis_angle
from pydeca.io.params import load_codes
from pydeca.train.losses import (
    eye_closure_loss,
    landmark_weights,
    lip_closure_loss,
    photometric_loss,
    weighted_landmark_loss,
)
from pydeca.train.synth import GROUND_TRUTH_NAME, synthesize

SIZE = 64
STEPS = 300


def _angle_deg(a: torch.Tensor, b: torch.Tensor) -> float:
    """Angle of the rotation between two (1, 3) axis-angle rotations, degrees."""
    relative = axis_angle_to_matrix(a).transpose(-1, -2) @ axis_angle_to_matrix(b)
    cos = ((relative.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1.0, 1.0)
    return math.degrees(float(torch.arccos(cos)))


@pytest.fixture(scope="module")
def synthetic_view(demo_model, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("abs")
    synthesize(demo_model, root, identities=1, views=1, size=SIZE, seed=11)
    entry = json.loads((root / GROUND_TRUTH_NAME).read_text().splitlines()[0])
    codes = load_codes(root / entry["codes"])
    pixels = np.load(root / Path(entry["image"].replace("images/", "landmarks/")).with_suffix(".npy"))
    target = pixels_to_ndc(torch.as_tensor(pixels, dtype=torch.float32), SIZE)[None]  # (1, 68, 2)
    image = torch.as_tensor(np.array(Image.open(root / entry["image"])), dtype=torch.float32)
    mask = np.asarray(Image.open(root / entry["image"].replace("images/", "masks/"))) > 127
    return {
        "codes": codes,
        "landmarks": target,
        "image": image.permute(2, 0, 1)[None] / 255.0,  # (1, 3, S, S) in [0, 1]
        "mask": torch.as_tensor(mask, dtype=torch.float32)[None],  # (1, S, S)
    }


def test_perturbed_codes_are_recovered_from_landmarks(demo_model, synthetic_view):
    truth, target = synthetic_view["codes"], synthetic_view["landmarks"]
    flame = demo_model.flame
    weights = landmark_weights()
    gen = torch.Generator().manual_seed(0)

    # perturb camera (scale +15 %, shift 1 cm), head pose (≈ 10°), jaw (+6°) and expression
    cam = (truth.cam * torch.tensor([1.15, 1.0, 1.0]) + torch.tensor([0.0, 0.01, -0.01])).requires_grad_()
    offset = euler_to_axis_angle(torch.tensor([[math.radians(6), math.radians(-8), math.radians(3)]]))
    head = (truth.pose[:, :3] + offset).requires_grad_()
    jaw = (truth.pose[:, 3:] + torch.tensor([[math.radians(6), 0.0, 0.0]])).requires_grad_()
    exp = (truth.exp + 0.3 * torch.randn(truth.exp.shape, generator=gen)).requires_grad_()

    def landmarks() -> torch.Tensor:
        out = flame(truth.shape, exp, torch.cat([head, jaw], dim=1))
        return weak_perspective_project(out.landmarks2d, cam)[..., :2]

    def loss_of(pred: torch.Tensor) -> torch.Tensor:
        return (
            weighted_landmark_loss(pred, target, weights)
            + 0.5 * eye_closure_loss(pred, target)
            + 0.5 * lip_closure_loss(pred, target)
            + 1e-5 * (exp**2).sum()
        )

    with torch.no_grad():
        start = float(weighted_landmark_loss(landmarks(), target, weights))
    optimizer = torch.optim.Adam(
        [{"params": [cam, head, jaw], "lr": 0.02}, {"params": [exp], "lr": 0.05}],
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, STEPS)
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss_of(landmarks()).backward()
        optimizer.step()
        schedule.step()

    with torch.no_grad():
        end = float(weighted_landmark_loss(landmarks(), target, weights))
    scale_error = abs(float(cam.detach()[0, 0] / truth.cam[0, 0]) - 1.0)
    shift_error = float((cam.detach()[0, 1:] - truth.cam[0, 1:]).abs().max())
    head_error = _angle_deg(head.detach(), truth.pose[:, :3])
    jaw_error = _angle_deg(jaw.detach(), truth.pose[:, 3:])
    report = (
        f"landmark loss {start:.4f} -> {end:.5f}, scale {scale_error:.2%}, "
        f"shift {shift_error * 1000:.2f} mm, head {head_error:.2f} deg, jaw {jaw_error:.2f} deg"
    )
    print(report)
    assert end <= 0.1 * start, report
    assert scale_error < 0.02, report  # camera scale within 2 %
    assert shift_error < 0.002, report  # camera translation within 2 mm
    assert head_error < 2.0, report  # head pose within 2°
    assert jaw_error < 4.0, report  # jaw within 4° (expression can trade off with the jaw)


def test_light_is_recovered_photometrically(demo_model, synthetic_view):
    """SH light from the photo: a differentiable render (render_texture with light) vs the PNG."""
    truth, image = synthetic_view["codes"], synthetic_view["image"]
    with torch.no_grad():
        rec = demo_model.decode(truth, use_detail=False)
        assert rec.model_texture is not None
        albedo = rec.model_texture.albedo.clamp(0.0, 1.0)
        fragments = demo_model.renderer.rasterize(rec.trans_verts, SIZE)
    # erode the skin mask by a pixel: edge pixels mix the face with the background
    inner = -torch.nn.functional.max_pool2d(-synthetic_view["mask"], 3, stride=1, padding=1)
    # unknown: bands 0-1 (ambient + directional, what synthesize draws), from a dimmer, frontal start
    start = truth.light[:, :4] * torch.tensor([0.6, 0.0, 0.0, 0.0])[:, None]
    low = start.clone().requires_grad_()
    high = truth.light[:, 4:]  # zero: synthesize draws no band-2 light

    def render(light: torch.Tensor) -> torch.Tensor:
        images, _ = demo_model.renderer.render_texture(
            rec.trans_verts, albedo, SIZE, fragments=fragments, light=light, vertices=rec.vertices
        )
        return images

    optimizer = torch.optim.Adam([low], lr=0.05)
    for _ in range(200):
        optimizer.zero_grad()
        photometric_loss(render(torch.cat([low, high], 1)), image, inner).backward()
        optimizer.step()
    with torch.no_grad():
        face = inner.bool()[:, None].expand(-1, 3, -1, -1)
        truth_render = render(truth.light)[face]
        before = (render(torch.cat([start, high], 1))[face] - truth_render).abs().mean() / truth_render.mean()
        after = (render(torch.cat([low, high], 1))[face] - truth_render).abs().mean() / truth_render.mean()
        ambient_error = float((low[0, 0] / truth.light[0, 0] - 1).abs().max())
    print(f"light: render error {float(before):.1%} -> {float(after):.2%}, ambient error {ambient_error:.1%}")
    assert after < 0.02  # the relit face within 2 % (8-bit PNG, 2x supersampled edges)
    assert after < 0.1 * before
    assert ambient_error < 0.03
