"""Gradients of rendering (training's photometric and identity losses need them).

``torch.autograd.gradcheck`` in float64 on a tiny mesh: the SH-shaded textured render
(:meth:`MeshRenderer.render_texture` with ``light``) against the world vertices, the weak-perspective
camera, the SH light and the albedo texture, and vertex-attribute interpolation against attributes
and vertices. Gradients reach the vertices through the barycentrics (no blur: the silhouette itself
has no gradient, as PyTorch3D with ``blur_radius=0``); the face under each pixel stays fixed for the
finite-difference steps, which the tests check.
"""

from __future__ import annotations

import torch

from pydeca.geometry.camera import weak_perspective_project
from pydeca.render.interpolate import interpolate_vertex_attributes
from pydeca.render.rasterize import rasterize
from pydeca.render.renderer import MeshRenderer

SIZE = 9
FACES = torch.tensor([[0, 1, 2], [0, 2, 3], [1, 4, 2]])
UV = torch.tensor([[0.1, 0.1], [0.9, 0.15], [0.85, 0.9], [0.12, 0.8], [0.95, 0.5]], dtype=torch.float64)


def _inputs() -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(3)
    verts = torch.tensor(
        [[[-0.8, -0.7, 0.05], [0.75, -0.6, 0.0], [0.7, 0.8, -0.05], [-0.75, 0.7, 0.02], [0.95, 0.1, 0.1]]],
        dtype=torch.float64,
    )
    cam = torch.tensor([[0.93, 0.013, -0.021]], dtype=torch.float64)
    light = torch.randn(1, 9, 3, generator=generator, dtype=torch.float64) * 0.3
    light[:, 0] += 2.0
    texture = torch.rand(1, 3, 6, 6, generator=generator, dtype=torch.float64)
    return tuple(t.requires_grad_() for t in (verts, cam, light, texture))


def _renderer() -> MeshRenderer:
    return MeshRenderer(FACES, UV, FACES).double()


def test_shaded_render_gradients_match_finite_differences() -> None:
    renderer = _renderer()

    def render(verts, cam, light, texture):
        trans = weak_perspective_project(verts, cam)
        images, _ = renderer.render_texture(trans, texture, SIZE, light=light, vertices=verts)
        return images

    inputs = _inputs()
    coverage = rasterize(weak_perspective_project(inputs[0], inputs[1]), FACES, SIZE).face_index
    assert (coverage >= 0).sum() > 30  # about half of the 81 pixels are covered by the 3 faces
    assert torch.autograd.gradcheck(render, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)
    # every input receives a gradient (a sum of the image is enough to see it)
    total = render(*inputs).sum()
    for name, grad in zip(
        ("verts", "cam", "light", "texture"), torch.autograd.grad(total, inputs), strict=True
    ):
        assert grad.abs().sum() > 0, name


def test_interpolation_gradients_match_finite_differences() -> None:
    verts, cam, _, _ = _inputs()
    attrs = torch.randn(1, 5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    attrs.requires_grad_()

    def interpolate(verts, attrs):
        fragments = rasterize(weak_perspective_project(verts, cam.detach()), FACES, SIZE)
        return interpolate_vertex_attributes(fragments, attrs, FACES)

    assert torch.autograd.gradcheck(interpolate, (verts, attrs), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_inference_render_builds_no_graph() -> None:
    renderer = _renderer()
    verts, cam, light, texture = _inputs()
    with torch.inference_mode():
        images, _ = renderer.render_texture(
            weak_perspective_project(verts, cam), texture, SIZE, light=light, vertices=verts
        )
    assert not images.requires_grad
    assert images.is_inference()
