"""The live view's GLB (``pydeca.viewer.scene_glb``): a valid glTF binary with unlit vertex colours."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
import trimesh

from pydeca.viewer.scene_glb import GlbPacker, srgb_to_linear


def _chunks(data: bytes) -> tuple[dict, bytes]:
    magic, version, total = struct.unpack("<III", data[:12])
    assert (magic, version, total) == (0x46546C67, 2, len(data))
    json_length, json_type = struct.unpack("<II", data[12:20])
    assert json_type == 0x4E4F534A
    assert json_length % 4 == 0
    document = json.loads(data[20 : 20 + json_length])
    bin_length, bin_type = struct.unpack("<II", data[20 + json_length : 28 + json_length])
    assert bin_type == 0x004E4942
    assert bin_length % 4 == 0
    return document, data[28 + json_length :]


def test_srgb_to_linear_known_values() -> None:
    np.testing.assert_allclose(
        srgb_to_linear(np.array([0.0, 0.04045, 0.5, 1.0])), [0.0, 0.0031308, 0.2140411, 1.0], atol=1e-6
    )


def test_glb_holds_positions_colours_and_triangles() -> None:
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    faces = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 1]])
    colors = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128]], np.uint8)
    data = GlbPacker(faces).pack(vertices, colors)
    document, binary = _chunks(data)
    assert document["extensionsUsed"] == ["KHR_materials_unlit"]
    assert "KHR_materials_unlit" in document["materials"][0]["extensions"]
    positions = document["accessors"][1]
    assert positions["min"] == [0, 0, 0]
    assert positions["max"] == [1, 1, 1]
    view = document["bufferViews"][2]
    rgba = np.frombuffer(
        binary[view["byteOffset"] : view["byteOffset"] + view["byteLength"]], np.uint16
    ).reshape(4, 4)
    np.testing.assert_allclose(rgba[3, :3] / 65535, srgb_to_linear(np.array([128 / 255] * 3)), atol=1e-4)
    assert rgba[0].tolist() == [65535, 0, 0, 65535]
    mesh = trimesh.load(io.BytesIO(data), file_type="glb", force="mesh", process=False)
    np.testing.assert_array_equal(mesh.vertices, vertices)
    np.testing.assert_array_equal(mesh.faces, faces)


def test_packer_rejects_mismatched_arrays() -> None:
    packer = GlbPacker(np.array([[0, 1, 5]]))
    with pytest.raises(ValueError, match="covering index 5"):
        packer.pack(np.zeros((3, 3), np.float32), np.zeros((3, 3), np.uint8))
