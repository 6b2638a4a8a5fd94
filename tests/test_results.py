"""``pydeca.results``: the reconstruction records are frozen, checked, and keep DECA's key names."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from pydeca.errors import ShapeError
from pydeca.nets import Codes
from pydeca.results import DetailMaps, PhotoTexture, Reconstruction, TextureMaps

B, V, R = 2, 5, 4


def _rec(*, maps: bool = True) -> Reconstruction:
    g = torch.Generator().manual_seed(0)

    def t(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g)

    codes = Codes.from_flame_vector(t(B, 236), detail=t(B, 128))
    extra = {}
    if maps:
        extra = {
            "detail": DetailMaps(t(B, 1, R, R), t(B, 1, R, R), t(B, 3, R, R)),
            "model_texture": TextureMaps(t(B, 3, R, R), t(B, 3, R, R), t(B, 3, R, R)),
            "photo_texture": PhotoTexture(t(B, 3, R, R), texture_mode="extract"),
        }
    return Reconstruction(
        codes, t(B, V, 3), t(B, V, 3), t(B, V, 3), t(B, 68, 2), t(B, 68, 4), t(B, 68, 3), False, **extra
    )


def test_to_numpy_keys_are_decas_names_in_order():
    keys = list(_rec().to_numpy())
    codes = ["code_shape", "code_tex", "code_exp", "code_pose", "code_cam", "code_light", "code_detail"]
    core = ["vertices", "normals", "trans_verts", "landmarks2d", "landmarks3d", "landmarks3d_world"]
    maps = ["uv_z", "displacement_map", "uv_detail_normals", "albedo", "uv_shading", "uv_texture"]
    assert keys == [*codes, *core, *maps, "uv_texture_gt"]
    assert list(_rec(maps=False).to_numpy()) == [*codes, *core]
    assert all(v.dtype == np.float32 for k, v in _rec().to_numpy().items() if not k.startswith("code_"))


def test_records_are_frozen():
    rec = _rec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.vertices = rec.normals  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.photo_texture.uv_texture_gt = rec.detail.uv_detail_normals  # type: ignore[misc,union-attr]
    texture = torch.zeros(B, 3, R, R)
    changed = dataclasses.replace(rec, photo_texture=PhotoTexture(texture))
    assert changed.photo_texture.uv_texture_gt is texture
    assert changed.photo_texture.texture_mode is None
    assert rec.photo_texture.texture_mode == "extract"  # the original is unchanged


@pytest.mark.parametrize("index", [0, 1, -1, slice(0, 2)])
def test_select_takes_every_tensor_and_the_codes(index):
    rec = _rec()
    one = rec.select(index)
    rows = slice(index, index + 1 if index != -1 else None) if isinstance(index, int) else index
    for name, value in one.tensors().items():
        torch.testing.assert_close(value, rec.tensors()[name][rows], msg=name)
    torch.testing.assert_close(one.codes.detail, rec.codes.detail[rows])
    assert one.batch_size == (1 if isinstance(index, int) else 2)
    assert one.photo_texture.texture_mode == "extract"


def test_to_and_detach_keep_values():
    rec = _rec()
    moved = rec.to("cpu", torch.float64).detach()
    assert all(v.dtype == torch.float64 for v in moved.tensors().values())
    assert moved.codes.cam.dtype == torch.float64
    for name, value in rec.tensors().items():
        torch.testing.assert_close(moved.tensors()[name], value.double(), msg=name)


def test_shapes_are_checked_across_fields():
    rec = _rec()
    with pytest.raises(ShapeError, match="normals"):
        dataclasses.replace(rec, normals=rec.normals[:1])
    with pytest.raises(ShapeError, match="landmarks3d"):
        dataclasses.replace(rec, landmarks3d=rec.landmarks3d[..., :3])
    bad = DetailMaps(rec.detail.uv_z, rec.detail.displacement_map, torch.zeros(B, 3, R + 1, R + 1))
    with pytest.raises(ShapeError, match="uv_detail_normals"):
        dataclasses.replace(rec, detail=bad)
