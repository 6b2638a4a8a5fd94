"""DECA's networks: checkpoint-compatible names, parity with the reference codes, code layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from pydeca.assets.checkpoint import load_networks
from pydeca.assets.synthetic_checkpoint import deterministic_checkpoint
from pydeca.errors import ShapeError
from pydeca.nets import Codes, DetailDecoder, ResnetEncoder, build_networks
from pydeca.nets.codes import FLAME_CODE_LAYOUT
from pydeca.nets.encoder import fuse_conv_bn

PARITY_NAMES = [
    "examples__IMG_0392_inputs",
    "examples__alfw1",
    "examples__id04657-PPHljWCZ53c-000565_inputs_inputs",
]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


@pytest.fixture(scope="module")
def manifest(fixtures_dir: Path) -> dict:
    return json.loads((fixtures_dir / "deca_model_manifest.json").read_text())


@pytest.fixture(scope="module")
def networks(fixtures_dir: Path) -> dict[str, nn.Module]:
    """The three networks with the deterministic test checkpoint, eval mode."""
    nets = {k: m.to_empty(device="cpu") for k, m in build_networks(device="meta").items()}
    load_networks(nets, deterministic_checkpoint())
    return {k: m.eval() for k, m in nets.items()}


@pytest.fixture(scope="module")
def parity(fixtures_dir: Path) -> dict[str, np.ndarray]:
    """The three parity files stacked along a batch dimension."""
    files = [np.load(fixtures_dir / "parity" / f"{name}.npz") for name in PARITY_NAMES]
    keys = [f"code_{k}" for k in ("shape", "tex", "exp", "pose", "cam", "light", "detail")]
    return {k: np.stack([f[k] for f in files]) for k in ["image224", "uv_z", *keys]}


@pytest.fixture(scope="module")
def encoded(networks, parity) -> Codes:
    images = torch.from_numpy(parity["image224"])
    with torch.inference_mode():
        return Codes.from_flame_vector(networks["E_flame"](images), networks["E_detail"](images))


# --- checkpoint-compatible structure ---------------------------------------------------------


@pytest.mark.parametrize("module", ["E_flame", "E_detail", "D_detail"])
def test_state_dict_matches_manifest(manifest, module):
    state = build_networks(device="meta")[module].state_dict()
    got = [(k, list(v.shape), _dtype_name(v.dtype)) for k, v in state.items()]
    expected = [(k, v["shape"], v["dtype"]) for k, v in manifest["state_dicts"][module].items()]
    assert got == expected  # same keys, same order, same shapes and dtypes
    assert len(got) == manifest["counts"][module]
    assert sum(v.numel() for v in state.values()) == manifest["n_elements"][module]


def test_build_networks_types_and_sizes():
    nets = build_networks(device="meta")
    assert list(nets) == ["E_flame", "E_detail", "D_detail"]
    assert isinstance(nets["E_flame"], ResnetEncoder)
    assert nets["E_flame"].out_features == 236
    assert nets["E_detail"].out_features == 128
    assert isinstance(nets["D_detail"], DetailDecoder)
    trainable = {k: sum(p.numel() for p in m.parameters()) for k, m in nets.items()}
    # reference §1.9: trainable parameter counts of the released networks
    assert trainable == {"E_flame": 25_848_108, "E_detail": 25_737_408, "D_detail": 1_773_345}


def test_detail_decoder_layers():
    blocks = DetailDecoder(device="meta").conv_blocks
    bn = {i: m.eps for i, m in enumerate(blocks) if isinstance(m, nn.BatchNorm2d)}
    assert bn == {0: 1e-5, 3: 0.8, 7: 0.8, 11: 0.8, 15: 0.8, 19: 0.8}  # DCGAN eps quirk
    ups = [i for i, m in enumerate(blocks) if isinstance(m, nn.Upsample)]
    assert ups == [1, 5, 9, 13, 17]
    assert all(blocks[i].mode == "bilinear" and blocks[i].align_corners is False for i in ups)
    assert [i for i, m in enumerate(blocks) if isinstance(m, nn.LeakyReLU)] == [4, 8, 12, 16, 20]
    assert all(blocks[i].negative_slope == 0.2 for i in (4, 8, 12, 16, 20))
    assert isinstance(blocks[22], nn.Tanh)
    assert len(blocks) == 23


def test_shape_errors():
    with pytest.raises(ShapeError, match="224"):
        ResnetEncoder(8, device="meta")(torch.zeros(1, 3, 128, 128, device="meta"))
    with pytest.raises(ShapeError, match="181"):
        DetailDecoder()(torch.zeros(2, 180))


# --- parity with the reference codes (deterministic checkpoint) --------------------------------


def test_encoders_reproduce_reference_codes(encoded, parity):
    # DECA feeds the [0, 1] RGB crop unnormalised (reference §2.2); observed: bit-identical
    for name, value in encoded.to_numpy().items():
        np.testing.assert_allclose(value, parity[f"code_{name}"], rtol=0, atol=1e-3, err_msg=name)
    # and far tighter than that: the port's own batch-size differences are ≤ 3e-6
    np.testing.assert_allclose(encoded.cam.numpy(), parity["code_cam"], rtol=0, atol=1e-5)
    assert np.all(np.abs(parity["code_cam"][:, 0] - 9.0) < 0.1)  # camera scale ≈ 9 as designed


def test_detail_decoder_reproduces_uv_z(networks, parity):
    codes = Codes.from_numpy(
        {k: parity[f"code_{k}"] for k in ("shape", "tex", "exp", "pose", "cam")}
        | {
            "light": parity["code_light"],
            "detail": parity["code_detail"],
        }
    )
    latent = torch.cat([codes.pose[:, 3:], codes.exp, codes.detail], dim=1)  # reference §2.8 order
    with torch.inference_mode():
        uv_z = networks["D_detail"](latent)
    assert uv_z.shape == (3, 1, 256, 256)
    np.testing.assert_allclose(uv_z[:, 0].numpy(), parity["uv_z"], rtol=0, atol=1e-5)
    assert uv_z.abs().max() < 0.01  # tanh × 1 cm bound lives inside the decoder
    # convention pin: the other plausible order (detail first) gives a clearly different map
    with torch.inference_mode():
        wrong = networks["D_detail"](torch.cat([codes.detail, codes.pose[:, 3:], codes.exp], dim=1))
    assert (wrong[:, 0].numpy() - parity["uv_z"]).std() > 1e-4


def test_fused_encoder_matches(networks, parity, encoded):
    encoder = networks["E_flame"]
    keys_before = list(encoder.state_dict())
    fused = encoder.fuse_for_inference()
    assert fused.is_fused
    assert not encoder.is_fused
    assert list(encoder.state_dict()) == keys_before  # the original is untouched
    assert not any("bn" in k for k in fused.state_dict())  # BatchNorm folded away
    with torch.inference_mode():
        out = fused(torch.from_numpy(parity["image224"][:1]))  # one image keeps the test fast
    np.testing.assert_allclose(out.numpy(), encoded[0].to_flame_vector().numpy(), rtol=0, atol=1e-4)


def test_fuse_conv_bn_hand_computed():
    conv = nn.Conv2d(1, 2, 1, bias=False)
    bn = nn.BatchNorm2d(2, eps=0.0).eval()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([2.0, 3.0]).reshape(2, 1, 1, 1))
        bn.weight.copy_(torch.tensor([1.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.0, 1.0]))
        bn.running_mean.copy_(torch.tensor([1.0, 2.0]))
        bn.running_var.copy_(torch.tensor([4.0, 1.0]))
    fused = fuse_conv_bn(conv, bn)
    # ch0: (2x − 1)·1/2 + 0 = x − 0.5;  ch1: (3x − 2)·0.5/1 + 1 = 1.5x
    torch.testing.assert_close(fused.weight.flatten(), torch.tensor([1.0, 1.5]))
    torch.testing.assert_close(fused.bias, torch.tensor([-0.5, 0.0]))


# --- Codes ---------------------------------------------------------------------------------------


def test_code_layout_hand_values():
    codes = Codes.from_flame_vector(torch.arange(236.0).reshape(1, 236).repeat(2, 1))
    assert codes.shape[0, [0, 99]].tolist() == [0.0, 99.0]
    assert codes.tex[0, [0, 49]].tolist() == [100.0, 149.0]
    assert codes.exp[0, [0, 49]].tolist() == [150.0, 199.0]
    assert codes.pose[0].tolist() == [200.0, 201.0, 202.0, 203.0, 204.0, 205.0]
    assert codes.cam[0].tolist() == [206.0, 207.0, 208.0]
    assert codes.light.shape == (2, 9, 3)
    assert codes.light[0, 3].tolist() == [218.0, 219.0, 220.0]  # row 209 + 3k + c, k = 3
    assert codes.detail is None
    assert codes.batch_size == 2
    assert FLAME_CODE_LAYOUT["light"] == (209, 236)
    torch.testing.assert_close(codes.to_flame_vector(), torch.arange(236.0).repeat(2, 1))


def test_codes_batch_ops_and_numpy_roundtrip():
    vec = torch.randn(3, 236)
    codes = Codes.from_flame_vector(vec, torch.randn(3, 128))
    one = codes[1]
    assert one.batch_size == 1
    torch.testing.assert_close(one.cam, vec[1:2, 206:209])
    assert codes[-1].batch_size == 1
    torch.testing.assert_close(codes[-1].shape, vec[2:, :100])
    assert codes[torch.tensor([2, 0])].batch_size == 2
    joined = Codes.cat([codes[:2], codes[2:]])
    torch.testing.assert_close(joined.to_flame_vector(), vec)
    torch.testing.assert_close(joined.detail, codes.detail)
    assert Codes.cat([codes, Codes.from_flame_vector(vec)]).detail is None  # detail only if all have it
    arrays = codes.to_numpy()
    assert sorted(arrays) == ["cam", "detail", "exp", "light", "pose", "shape", "tex"]
    assert arrays["light"].shape == (3, 9, 3)
    back = Codes.from_numpy(arrays)
    torch.testing.assert_close(back.to_flame_vector(), vec)
    torch.testing.assert_close(back.detail, codes.detail)
    assert codes.to("cpu", torch.float64).cam.dtype == torch.float64
    with pytest.raises(ValueError, match="empty"):
        Codes.cat([])
    with pytest.raises(KeyError, match="cam"):
        Codes.from_numpy({k: v for k, v in arrays.items() if k != "cam"})


def test_codes_shape_checks():
    with pytest.raises(ShapeError, match="236"):
        Codes.from_flame_vector(torch.zeros(1, 235))
    with pytest.raises(ShapeError, match="detail"):
        Codes.from_flame_vector(torch.zeros(2, 236), torch.zeros(1, 128))
