"""The dashboard through its Python API and real widget callbacks (a viser server on a free port).

Setting a widget's value on the server runs its callbacks exactly as a browser's change does, so
these tests drive the same code paths as a user, without a browser (that is test_browser.py).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch
import trimesh

from pydeca.io.mesh import read_obj
from pydeca.io.params import load_codes
from pydeca.viewer import Dashboard, expression_of


@pytest.fixture(scope="module")
def smile(demo_face):
    """A real expression preset: the face's own codes with another expression (from codes, not made up)."""
    exp, jaw = expression_of(demo_face.codes)
    return exp[::-1].copy(), jaw + np.array([8.0, 0.0, 0.0], np.float32)


@pytest.fixture
def dashboard(demo_model, demo_face, smile):
    board = Dashboard(demo_model, [demo_face, demo_face], expressions={"smile": smile})
    board.serve(port=0, block=False)
    yield board
    board.stop()


def _flame_vertices(model, controls, base):
    codes = controls.to_codes(base)
    with torch.inference_mode():
        return model.flame(codes.shape, codes.exp, codes.pose).vertices[0].numpy()


def test_serving_sends_one_head_and_lists_faces(dashboard) -> None:
    assert dashboard.port > 0
    assert dashboard.updates == 1
    assert list(dashboard.faces) == ["IMG_0392_inputs", "IMG_0392_inputs (2)"]
    assert dashboard.panel.face.visible
    assert len(dashboard.panel.expression) == 50
    assert len(dashboard.panel.shape) == 100


def test_a_slider_moves_exactly_the_vertices_flame_predicts(dashboard, demo_model) -> None:
    panel = dashboard.panel
    panel.detail.value = False
    panel.texture.value = "clay"
    node = dashboard._node
    before = dashboard.mesh.vertices.copy()
    updates = dashboard.updates
    panel.expression[2].value = 1.25
    assert dashboard.updates == updates + 1
    assert dashboard.controls.exp[2] == pytest.approx(1.25)
    expected = _flame_vertices(demo_model, dashboard.controls, dashboard.head.base_codes)
    np.testing.assert_allclose(dashboard.mesh.vertices, expected, atol=1e-6)
    moved = np.abs(dashboard.mesh.vertices - before).max(axis=1) > 1e-7
    assert 0 < moved.sum() <= len(moved)
    # in clay mode the scene node is updated in place: same handle, only its positions change
    assert dashboard._node is node
    np.testing.assert_array_equal(node.vertices, dashboard.mesh.vertices)


def test_head_pose_slider_rotates_the_head(dashboard, demo_model) -> None:
    dashboard.panel.detail.value = False
    dashboard.panel.head[0].value = 30.0
    assert dashboard.controls.head[0] == pytest.approx(30.0)
    expected = _flame_vertices(demo_model, dashboard.controls, dashboard.head.base_codes)
    np.testing.assert_allclose(dashboard.mesh.vertices, expected, atol=1e-6)


def test_reset_and_presets_cost_one_update_and_restore(dashboard, smile) -> None:
    initial = dashboard.mesh.vertices.copy()
    dashboard.panel.expression[0].value = 2.0
    dashboard.panel.shape[1].value = -1.0
    dashboard.panel.jaw[0].value = 15.0
    updates = dashboard.updates
    dashboard.panel.reset.value = True  # a click, as the browser sends it
    assert dashboard.updates == updates + 1
    np.testing.assert_allclose(dashboard.mesh.vertices, initial, atol=1e-6)
    assert dashboard.panel.expression[0].value == pytest.approx(
        float(dashboard.head.initial_controls().exp[0]), abs=0.01
    )

    updates = dashboard.updates
    dashboard.panel.preset.value = "smile"
    assert dashboard.updates == updates + 1
    np.testing.assert_array_equal(dashboard.controls.exp, smile[0])
    np.testing.assert_allclose(dashboard.controls.jaw, smile[1])
    np.testing.assert_allclose([s.value for s in dashboard.panel.expression], smile[0], atol=0.006)


def test_a_bad_upload_changes_nothing(dashboard) -> None:
    dashboard.panel.expression[4].value = 0.5
    controls, presets, updates = dashboard.controls, dict(dashboard.presets), dashboard.updates
    vertices = dashboard.mesh.vertices.copy()

    class Uploaded:
        name = "../../../etc/evil.png"
        content = b"\x89PNG\r\n\x1a\nthis is not a png"

    dashboard._on_upload(Uploaded())
    assert dashboard.controls is controls
    assert dashboard.presets == presets
    assert dashboard.updates == updates
    np.testing.assert_array_equal(dashboard.mesh.vertices, vertices)
    assert dashboard.panel.status.content.startswith("**Upload refused:** evil")


def test_a_parameter_upload_becomes_a_preset(dashboard, demo_face, tmp_path) -> None:
    _name, content = dashboard.download("npz")
    updates = dashboard.updates
    label = dashboard.add_expression_upload("saved face.npz", content)
    assert label == "saved face"
    assert "saved face" in dashboard.panel.preset.options
    assert dashboard.updates == updates + 1
    np.testing.assert_allclose(dashboard.controls.exp, demo_face.codes.exp[0].numpy(), atol=1e-6)


def test_downloads_parse(dashboard, demo_model, tmp_path) -> None:
    dashboard.panel.expression[1].value = -1.0
    name, data = dashboard.download("obj")
    assert name == "IMG_0392_inputs_dialled_obj.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path)
    assert {"IMG_0392_inputs_dialled.obj", "IMG_0392_inputs_dialled_detail.obj"} <= names
    coarse = read_obj(tmp_path / "IMG_0392_inputs_dialled.obj")
    assert coarse["vertices"].shape == tuple(demo_model.flame.v_template.shape)
    assert len(coarse["faces"]) == len(demo_model.faces)
    expected = _flame_vertices(demo_model, dashboard.controls, dashboard.head.base_codes)
    np.testing.assert_allclose(coarse["vertices"], expected, atol=1e-5)
    detail = read_obj(tmp_path / "IMG_0392_inputs_dialled_detail.obj")
    assert detail["vertices"].shape == dashboard.mesh.vertices.shape  # the dense mesh on screen
    np.testing.assert_allclose(detail["vertices"], dashboard.mesh.vertices, atol=1e-5)

    name, data = dashboard.download("glb")
    scene = trimesh.load(io.BytesIO(data), file_type="glb", process=False)
    assert name.endswith(".glb")
    assert sum(len(g.faces) for g in scene.geometry.values()) == len(demo_model.faces)

    name, data = dashboard.download("npz")
    (tmp_path / name).write_bytes(data)
    codes = load_codes(tmp_path / name)
    expected_codes = dashboard.controls.to_codes(dashboard.head.base_codes)
    torch.testing.assert_close(codes.exp, expected_codes.exp)
    torch.testing.assert_close(codes.light, expected_codes.light)
    with pytest.raises(ValueError, match="download"):
        dashboard.download("fbx")


def test_face_dropdown_switches_with_one_update(dashboard) -> None:
    dashboard.panel.expression[0].value = 1.0
    updates = dashboard.updates
    dashboard.panel.face.value = "IMG_0392_inputs (2)"
    assert dashboard.face_name == "IMG_0392_inputs (2)"
    assert dashboard.updates == updates + 1
    initial = dashboard.head.initial_controls()
    np.testing.assert_array_equal(dashboard.controls.exp, initial.exp)


def test_random_buttons_stay_in_range(dashboard) -> None:
    dashboard.panel.random_expression.value = True
    exp = dashboard.controls.exp
    assert np.abs(exp).max() < 5.0
    assert np.abs(exp).sum() > 0.5
    dashboard.panel.random_identity.value = True
    assert not np.array_equal(dashboard.controls.shape, dashboard.head.initial_controls().shape)
    assert dashboard.controls.exp is exp or np.array_equal(dashboard.controls.exp, exp)


def test_lighting_dials_change_colours_not_geometry(dashboard) -> None:
    dashboard.apply(replace(dashboard.head.initial_controls(), texture="grey"))
    vertices, colors = dashboard.mesh.vertices.copy(), dashboard.mesh.colors.copy()
    dashboard.panel.light_yaw.value = 90.0
    np.testing.assert_array_equal(dashboard.mesh.vertices, vertices)
    assert np.abs(dashboard.mesh.colors.astype(int) - colors).mean() > 1.0
