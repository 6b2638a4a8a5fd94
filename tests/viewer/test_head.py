"""The live head (``pydeca.viewer.head``): vertices as FLAME and the writers compute them, colours."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from pydeca.geometry.dense_mesh import dense_vertices
from pydeca.geometry.normals import vertex_normals
from pydeca.render.shading import sh_basis
from pydeca.viewer.head import GREY_ALBEDO, LiveHead


@pytest.fixture(scope="module")
def head(demo_model, demo_face) -> LiveHead:
    return LiveHead(demo_model, demo_face)


def test_coarse_vertices_are_flames(head, demo_model) -> None:
    controls = head.initial_controls()
    exp = controls.exp.copy()
    exp[3] += 1.5
    controls = replace(controls.with_expression(exp), detail=False)
    mesh = head.update(controls)
    codes = controls.to_codes(head.base_codes)
    with torch.inference_mode():
        expected = demo_model.flame(codes.shape, codes.exp, codes.pose).vertices[0].numpy()
    assert not mesh.dense
    assert mesh.vertices.shape == tuple(demo_model.flame.v_template.shape)
    assert mesh.faces.shape == tuple(demo_model.faces.shape)
    np.testing.assert_allclose(mesh.vertices, expected, atol=1e-6)


def test_reconstruction_dials_reproduce_the_reconstruction(head, demo_face) -> None:
    mesh = head.update(replace(head.initial_controls(), detail=False))
    np.testing.assert_allclose(mesh.vertices, demo_face.reconstruction.vertices[0].numpy(), atol=2e-5)


def test_dense_vertices_are_the_detail_objs(head, demo_model, demo_face) -> None:
    mesh = head.update(head.initial_controls())
    rec = demo_face.reconstruction
    expected = dense_vertices(
        rec.vertices, rec.normals, rec.detail.displacement_map[:, 0], demo_model.topology.dense
    )
    assert mesh.dense
    assert mesh.vertices.shape == (demo_model.topology.dense.bary.shape[0], 3)
    assert mesh.faces is head.dense_faces
    np.testing.assert_allclose(mesh.vertices, expected[0].numpy(), atol=3e-5)


def test_detail_strength_scales_the_displacement(head, demo_model, demo_face) -> None:
    rec = demo_face.reconstruction
    flat = head.update(replace(head.initial_controls(), detail_strength=0.0))
    fixed_only = demo_model.fixed_displacement[:, 0].expand(1, -1, -1)
    expected = dense_vertices(rec.vertices, rec.normals, fixed_only, demo_model.topology.dense)
    np.testing.assert_allclose(flat.vertices, expected[0].numpy(), atol=3e-5)
    full = head.update(head.initial_controls())
    double = head.update(replace(head.initial_controls(), detail_strength=2.0))
    # displacement is linear in the strength along fixed normals: 2x moves twice as far from flat
    np.testing.assert_allclose(
        double.vertices - flat.vertices, 2 * (full.vertices - flat.vertices), atol=5e-6
    )
    assert np.abs(full.vertices - flat.vertices).max() > 1e-5


def test_the_detail_decoder_runs_only_when_expression_or_jaw_change(head, demo_model, monkeypatch) -> None:
    calls = []
    original = demo_model.decode_displacement
    monkeypatch.setattr(
        demo_model, "decode_displacement", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    controls = replace(head.initial_controls(), head=np.array([11.0, 0.0, 0.0], np.float32))
    head.update(controls)
    before = len(calls)
    head.update(replace(controls, head=np.array([25.0, 5.0, 0.0], np.float32), light_intensity=1.5))
    head.update(replace(controls, shape=controls.shape + 0.5))
    assert len(calls) == before
    head.update(controls.with_expression(controls.exp + 0.2))
    assert len(calls) == before + 1


def test_grey_colours_are_the_sh_shading(head) -> None:
    controls = replace(head.initial_controls(), detail=False, texture="grey")
    mesh = head.update(controls)
    vertices = torch.from_numpy(mesh.vertices)[None]
    normals = vertex_normals(vertices, torch.from_numpy(mesh.faces.astype(np.int64)))[0]
    shading = sh_basis(normals) @ head.base_codes.light[0]
    expected = (GREY_ALBEDO * shading).clamp(0, 1) * 255
    assert mesh.colors.dtype == np.uint8
    np.testing.assert_allclose(mesh.colors, expected.numpy(), atol=1.0)
    brighter = head.update(replace(controls, light_intensity=1.5))
    assert brighter.colors.astype(int).sum() > mesh.colors.astype(int).sum()


def test_photo_texture_at_its_own_light_is_the_photo(head, demo_face) -> None:
    mesh = head.update(head.initial_controls())  # photo texture, dense: one vertex per texel
    texture = demo_face.reconstruction.photo_texture.uv_texture_gt[0]
    dense = head.model.topology.dense
    expected = (texture[:, dense.pixel_rows, dense.pixel_cols].T.clamp(0, 1) * 255).round()
    # relit by shading ratio 1, except where the original shading was floored (nearly black)
    close = np.abs(mesh.colors.astype(float) - expected.numpy()) <= 1.0
    assert close.all(axis=1).mean() > 0.98
    relit = head.update(replace(head.initial_controls(), light_intensity=0.5))
    assert relit.colors.astype(float).mean() < 0.6 * mesh.colors.astype(float).mean()


def test_clay_sends_no_colours_and_textures_offered(head, demo_model) -> None:
    mesh = head.update(replace(head.initial_controls(), texture="clay"))
    assert mesh.colors is None
    expected = (
        ("photo", "albedo", "grey", "clay")
        if demo_model.albedo_model is not None
        else ("photo", "grey", "clay")
    )
    assert head.texture_choices == expected
