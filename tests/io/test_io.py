"""Images, atomic writes, meshes (OBJ/MTL/PNG, PLY, GLB) and parameter files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from pydeca.errors import InputError, ShapeError
from pydeca.io import (
    atomic_write,
    atomic_write_bytes,
    load_image,
    load_params,
    read_obj,
    save_image,
    save_params,
    split_uv_seams,
    write_glb,
    write_obj,
    write_ply,
)


def _box_mesh() -> dict[str, np.ndarray]:
    """A unit cube with a seam: 8 vertices, 12 triangles, 14 UVs (every face its own UV quad)."""
    mesh = trimesh.creation.box(extents=(0.2, 0.3, 0.1))
    verts = np.asarray(mesh.vertices, dtype=np.float32) + np.float32(0.0123)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    rng = np.random.default_rng(1)
    uv = rng.random((14, 2)).astype(np.float32)
    uvfaces = rng.integers(0, 14, size=faces.shape)
    uvfaces[0] = [0, 1, 2]
    return {"verts": verts, "faces": faces, "uv": uv, "uvfaces": uvfaces}


# ----------------------------------------------------------------------------- images


def test_load_image_modes_and_exif(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    np.testing.assert_array_equal(load_image(tmp_path / "rgb.png", min_side=1), rgb)
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "grey.png")
    grey = load_image(tmp_path / "grey.png", min_side=1)
    assert grey.shape == (20, 30, 3)
    np.testing.assert_array_equal(grey[:, :, 2], rgb[:, :, 0])
    rgba = np.concatenate([rgb, np.full((20, 30, 1), 7, np.uint8)], axis=2)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(load_image(tmp_path / "rgba.png", min_side=1), rgb)
    deep = (np.arange(600, dtype=np.uint16).reshape(20, 30) * 100).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    loaded = load_image(tmp_path / "deep.png", min_side=1)
    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded[:, :, 0], np.rint(deep * (255 / 65535)).astype(np.uint8))
    # EXIF orientation 6 (rotate 90° clockwise to view): 20x30 stored -> 30x20 upright
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb).save(tmp_path / "rot.jpg", exif=exif, quality=100)
    assert load_image(tmp_path / "rot.jpg", min_side=1).shape == (30, 20, 3)


def test_load_image_errors_name_the_file(tmp_path):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
    with pytest.raises(InputError, match=r"x\.jpg.*re-export"):
        load_image(bad, min_side=1)
    with pytest.raises(InputError, match=r"missing\.png: file not found"):
        load_image(tmp_path / "missing.png", min_side=1)
    good = tmp_path / "t.jpg"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(good)
    (tmp_path / "trunc.jpg").write_bytes(good.read_bytes()[:200])
    with pytest.raises(InputError, match=r"trunc\.jpg"):
        load_image(tmp_path / "trunc.jpg", min_side=1)


def test_save_image_formats(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    np.testing.assert_array_equal(load_image(save_image(tmp_path / "a.png", rgb), min_side=1), rgb)
    as_float = rgb / 255.0
    np.testing.assert_array_equal(load_image(save_image(tmp_path / "b.png", as_float), min_side=1), rgb)
    chw = torch.from_numpy(as_float).permute(2, 0, 1).float()
    np.testing.assert_array_equal(load_image(save_image(tmp_path / "sub" / "c.png", chw), min_side=1), rgb)
    save_image(tmp_path / "d.jpg", rgb)
    assert load_image(tmp_path / "d.jpg", min_side=1).shape == (8, 6, 3)
    with pytest.raises(ShapeError):
        save_image(tmp_path / "e.png", np.zeros((4, 4, 5)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "d.jpg", "sub"]


# ----------------------------------------------------------------------------- atomic writes


def _failing_write(target, data: bytes) -> None:
    with atomic_write(target) as tmp:
        tmp.write_bytes(data)
        raise RuntimeError("boom")


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        _failing_write(target, b"partial")
    assert list(tmp_path.iterdir()) == []
    atomic_write_bytes(target, b"v1")
    with pytest.raises(RuntimeError):
        _failing_write(target, b"v2")
    assert target.read_bytes() == b"v1"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    with atomic_write(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.suffix == ".bin"
        tmp.write_bytes(b"v3")
    assert target.read_bytes() == b"v3"


# ----------------------------------------------------------------------------- meshes


def test_obj_with_texture_round_trip(tmp_path):
    m = _box_mesh()
    tex = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    normals = np.full((16, 16, 3), 128, np.uint8)
    path = write_obj(
        tmp_path / "head.obj",
        m["verts"],
        m["faces"],
        uvcoords=m["uv"],
        uvfaces=m["uvfaces"],
        texture=tex,
        normal_map=normals,
        header="pydeca test\ndemo output",
    )
    parsed = read_obj(path)
    np.testing.assert_allclose(parsed["vertices"], m["verts"], atol=5.1e-8)  # 7 decimals
    np.testing.assert_allclose(parsed["uvcoords"], m["uv"], atol=5.1e-8)
    np.testing.assert_array_equal(parsed["faces"], m["faces"])
    np.testing.assert_array_equal(parsed["uvfaces"], m["uvfaces"])
    assert parsed["mtllib"] == "head.mtl"
    assert parsed["material"] == "FaceTexture"
    text = path.read_text()
    assert text.startswith("# pydeca test\n# demo output\nmtllib head.mtl\nv ")
    first_face = next(line for line in text.splitlines() if line.startswith("f "))
    assert first_face.split() == ["f"] + [f"{m['faces'][0][k] + 1}/{k + 1}" for k in range(3)]
    mtl = (tmp_path / "head.mtl").read_text().splitlines()
    assert mtl == ["newmtl FaceTexture", "map_Kd head.png", "norm head_normals.png"]
    for line in mtl[1:]:
        assert (tmp_path / line.split()[1]).is_file()
    np.testing.assert_array_equal(load_image(tmp_path / "head.png", min_side=1), tex)
    np.testing.assert_array_equal(load_image(tmp_path / "head_normals.png", min_side=1), normals)
    loaded = trimesh.load(path, process=False, force="mesh")
    assert len(loaded.faces) == 12


def test_obj_vertex_colors_and_torch_input(tmp_path):
    m = _box_mesh()
    colors = np.arange(24, dtype=np.uint8).reshape(8, 3) * 10
    path = write_obj(tmp_path / "d.obj", torch.from_numpy(m["verts"]), m["faces"], vertex_colors=colors)
    parsed = read_obj(path)
    assert parsed["mtllib"] is None
    assert parsed["uvfaces"] is None
    np.testing.assert_allclose(parsed["vertex_colors"], colors / 255.0, atol=5.1e-5)  # 4 decimals
    np.testing.assert_array_equal(parsed["faces"], m["faces"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.obj"]
    with pytest.raises(ShapeError):
        write_obj(tmp_path / "e.obj", m["verts"], m["faces"] + 8)
    with pytest.raises(ShapeError):
        write_obj(tmp_path / "e.obj", m["verts"], m["faces"], texture=np.zeros((4, 4, 3), np.uint8))


def test_ply_round_trip(tmp_path):
    m = _box_mesh()
    colors = np.arange(24, dtype=np.uint8).reshape(8, 3)
    path = write_ply(tmp_path / "m.ply", m["verts"], m["faces"], vertex_colors=colors)
    assert path.read_bytes().startswith(b"ply\nformat binary_little_endian 1.0\n")
    loaded = trimesh.load(path, process=False)
    np.testing.assert_allclose(loaded.vertices, m["verts"], atol=1e-6)
    np.testing.assert_array_equal(loaded.faces, m["faces"])
    np.testing.assert_array_equal(loaded.visual.vertex_colors[:, :3], colors)


def test_split_uv_seams():
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    uvfaces = np.array([[0, 1, 2], [4, 2, 3]])  # vertex 0 has two UVs (0 and 4): a seam
    vertex_ids, uv_ids, new_faces = split_uv_seams(faces, uvfaces)
    assert vertex_ids.tolist() == [0, 0, 1, 2, 3]
    assert uv_ids.tolist() == [0, 4, 1, 2, 3]
    np.testing.assert_array_equal(vertex_ids[new_faces], faces)
    np.testing.assert_array_equal(uv_ids[new_faces], uvfaces)


def test_glb_round_trip(tmp_path):
    m = _box_mesh()
    tex = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    path = write_glb(
        tmp_path / "m.glb", m["verts"], m["faces"], uvcoords=m["uv"], uvfaces=m["uvfaces"], texture=tex
    )
    loaded = trimesh.load(path, process=False, force="mesh")
    vertex_ids, uv_ids, new_faces = split_uv_seams(m["faces"], m["uvfaces"])
    assert len(loaded.vertices) == len(vertex_ids)
    np.testing.assert_allclose(loaded.vertices, m["verts"][vertex_ids], atol=1e-6)
    np.testing.assert_array_equal(loaded.faces, new_faces)
    np.testing.assert_allclose(loaded.visual.uv, m["uv"][uv_ids], atol=1e-6)
    plain = trimesh.load(write_glb(tmp_path / "p.glb", m["verts"], m["faces"]), process=False, force="mesh")
    np.testing.assert_allclose(plain.vertices, m["verts"], atol=1e-6)
    np.testing.assert_array_equal(plain.faces, m["faces"])


# ----------------------------------------------------------------------------- parameters


def test_params_round_trip(tmp_path):
    arrays = {
        "shape": torch.linspace(-1, 1, 100),
        "pose": np.arange(6, dtype=np.float64).reshape(1, 6) / 7,
        "tform": np.eye(3, dtype=np.float32),
        "vis": np.array([True, False]),
        "count": np.array(3, dtype=np.int64),
    }
    npz_path, json_path = save_params(tmp_path / "out" / "photo", arrays, {"demo": True, "image": "p.jpg"})
    assert (npz_path.name, json_path.name) == ("photo.npz", "photo.json")
    assert json.loads(json_path.read_text())["meta"] == {"demo": True, "image": "p.jpg"}
    for path in (npz_path, json_path):
        loaded = load_params(path)
        assert json.loads(str(loaded["meta_json"])) == {"demo": True, "image": "p.jpg"}
        for name, value in arrays.items():
            expected = value.numpy() if isinstance(value, torch.Tensor) else value
            assert loaded[name].dtype == expected.dtype, (path.suffix, name)
            assert loaded[name].shape == expected.shape
            np.testing.assert_array_equal(loaded[name], expected)
    with pytest.raises(InputError, match="reserved"):
        save_params(tmp_path / "x", {"meta_json": np.zeros(1)}, {})
    with pytest.raises(InputError, match="not found"):
        load_params(tmp_path / "missing.npz")


def test_obj_side_files_and_texture_vertex_colors(tmp_path):
    from pydeca.io.mesh import obj_side_files, texture_vertex_colors

    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], np.float32)
    faces = np.array([[0, 1, 2], [1, 3, 2]])
    uv = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]])
    texture = np.zeros((4, 4, 3), np.uint8)
    texture[3, 0] = (255, 0, 0)  # bottom-left texel: row 3 is v near 0
    texture[0, 3] = (0, 0, 255)  # top-right texel: row 0 is v near 1
    write_obj(
        tmp_path / "m.obj", verts, faces, uvcoords=uv, uvfaces=faces, texture=texture, normal_map=texture
    )
    listed = obj_side_files(tmp_path / "m.obj", texture=True, normal_map=True)
    assert sorted(p.name for p in listed) == ["m.mtl", "m.png", "m_normals.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.obj", *(p.name for p in listed)])
    assert obj_side_files(tmp_path / "m.obj", texture=False, normal_map=False) == []
    colors = texture_vertex_colors(texture, faces, uv, faces)
    # u = 0.1 → column floor(0.4) = 0, v = 0.1 → row floor(0.9 · 4) = 3
    np.testing.assert_array_equal(colors, [[255, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 255]])
    write_ply(tmp_path / "m.ply", verts, faces, vertex_colors=colors)
    ply = trimesh.load(tmp_path / "m.ply", process=False)
    np.testing.assert_array_equal(ply.visual.vertex_colors[:, :3], colors)


def test_load_codes_round_trip_and_errors(tmp_path):
    from pydeca.io.params import load_codes
    from pydeca.nets import Codes

    rng = np.random.default_rng(0)
    shapes = {"shape": 100, "tex": 50, "exp": 50, "pose": 6, "cam": 3, "detail": 128}
    arrays = {key: rng.normal(size=size).astype(np.float32) for key, size in shapes.items()}
    arrays["light"] = rng.normal(size=(9, 3)).astype(np.float32)
    save_params(tmp_path / "face", {**arrays, "tform": np.eye(3)}, {"demo": True})
    for suffix in (".npz", ".json"):
        codes = load_codes(tmp_path / f"face{suffix}")
        assert isinstance(codes, Codes)
        assert codes.batch_size == 1
        assert codes.light.shape == (1, 9, 3)
        assert codes.shape.dtype == torch.float32
        np.testing.assert_array_equal(codes.detail[0].numpy(), arrays["detail"])
    save_params(tmp_path / "partial", {"shape": arrays["shape"]})
    with pytest.raises(InputError, match=r"partial\.npz: not a DECA parameter file.*missing codes"):
        load_codes(tmp_path / "partial.npz")
    save_params(tmp_path / "wrong", {**arrays, "cam": np.zeros(4)})
    with pytest.raises(InputError, match=r"wrong\.npz: code 'cam' has shape \(4,\), expected \(3,\)"):
        load_codes(tmp_path / "wrong.npz")
    with pytest.raises(InputError, match="not found"):
        load_codes(tmp_path / "nope.npz")
