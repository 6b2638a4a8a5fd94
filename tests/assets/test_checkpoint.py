"""Checkpoint loading (safe, strict, clear errors) and the deterministic test checkpoint."""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from pydeca.assets.checkpoint import load_checkpoint, load_networks
from pydeca.assets.synthetic_checkpoint import (
    _manifest_layout,
    deterministic_checkpoint,
    state_sha256,
)
from pydeca.errors import AssetNotFoundError, CheckpointError
from pydeca.nets import DetailDecoder, build_networks

REFERENCE_SHA256 = "c8b9f7cb666e806dcb420d39c2af406bb999aec007d7fcbc51eecdd3d8eec883"


class _NotATensor:
    """A custom class: weights_only loading must refuse it."""


@pytest.fixture(scope="module")
def manifest(fixtures_dir: Path) -> dict:
    return json.loads((fixtures_dir / "deca_model_manifest.json").read_text())


@pytest.fixture(scope="module")
def checkpoint() -> dict[str, dict[str, torch.Tensor]]:
    """The deterministic test checkpoint (a few seconds to generate; shared by the module)."""
    return deterministic_checkpoint()


def _small_state(checkpoint) -> dict[str, dict[str, torch.Tensor]]:
    """A small, well-formed checkpoint dict: the real D_detail, one tensor for each encoder."""
    return {
        "E_flame": {"layers.2.bias": checkpoint["E_flame"]["layers.2.bias"]},
        "E_detail": {"layers.2.bias": checkpoint["E_detail"]["layers.2.bias"]},
        "D_detail": checkpoint["D_detail"],
    }


# --- the deterministic checkpoint ---------------------------------------------------------------


def test_deterministic_checkpoint_digest_and_spot_values(checkpoint, manifest):
    assert state_sha256(checkpoint) == REFERENCE_SHA256
    spots = manifest["deterministic_test_checkpoint"]["verification"]["spot_values"]
    assert spots["E_flame.encoder.conv1.weight[0,0,0,:3]"] == pytest.approx(
        checkpoint["E_flame"]["encoder.conv1.weight"][0, 0, 0, :3].double().tolist(), abs=0
    )
    ef, ed, dd = checkpoint["E_flame"], checkpoint["E_detail"], checkpoint["D_detail"]
    actual = {
        "E_flame.encoder.bn1.running_var[:3]": ef["encoder.bn1.running_var"][:3],
        "E_flame.layers.2.weight[0,:3]": ef["layers.2.weight"][0, :3],
        "E_detail.layers.2.weight[0,:3]": ed["layers.2.weight"][0, :3],
        "D_detail.conv_blocks.21.weight[0,0,0,:3]": dd["conv_blocks.21.weight"][0, 0, 0, :3],
    }
    for name, value in actual.items():
        assert value.double().tolist() == spots[name], name  # bit-exact float32 values
    assert ef["layers.2.bias"][206].item() == 9.0
    assert ef["layers.2.bias"][[203, 209, 218]].tolist() == pytest.approx([0.08, 2.8, 0.3])
    assert ef["encoder.bn1.num_batches_tracked"].dtype == torch.int64
    assert ef["encoder.bn1.num_batches_tracked"].shape == ()


def test_layout_from_networks_equals_manifest(manifest):
    # the package derives keys/shapes from build_networks() (it may not read shared/ at run time)
    assert _manifest_layout(None) == _manifest_layout(manifest)
    assert _manifest_layout(None) == _manifest_layout(manifest["state_dicts"])


def test_seed_prefix_changes_weights_not_targets():
    tiny = {
        "E_flame": {"layers.2.bias": {"shape": [236]}, "encoder.conv1.weight": {"shape": [2, 3, 7, 7]}},
        "E_detail": {"layers.2.weight": {"shape": [2, 4]}},
        "D_detail": {"conv_blocks.0.running_var": {"shape": [5]}},
    }
    base = deterministic_checkpoint(tiny)
    demo = deterministic_checkpoint(tiny, seed_prefix="demo/")
    assert torch.equal(base["E_flame"]["layers.2.bias"], demo["E_flame"]["layers.2.bias"])
    assert not torch.equal(base["E_flame"]["encoder.conv1.weight"], demo["E_flame"]["encoder.conv1.weight"])
    # same rules either way: He scale sqrt(2 / 147) for the stem conv, running_var ≥ 1
    assert 0.05 < demo["E_flame"]["encoder.conv1.weight"].std() < 0.2
    assert demo["D_detail"]["conv_blocks.0.running_var"].min() >= 1.0
    # a prefix seeds exactly like a name that starts with it (README §2 rule, CRC-32 of the name)
    z = np.random.default_rng(zlib.crc32(b"demo/E_detail.layers.2.weight"))
    expected = (z.standard_normal((2, 4)) * 1e-3).astype(np.float32)
    np.testing.assert_array_equal(demo["E_detail"]["layers.2.weight"].numpy(), expected)


def test_save_load_roundtrip_strict(checkpoint, tmp_path):
    path = tmp_path / "deca_model.tar"
    torch.save({**checkpoint, "opt": {"state": {}}, "global_step": 12, "batch_size": 4}, path)
    loaded = load_checkpoint(path)
    assert list(loaded) == ["E_flame", "E_detail", "D_detail"]  # extra entries dropped
    assert state_sha256(loaded) == REFERENCE_SHA256
    nets = {k: m.to_empty(device="cpu") for k, m in build_networks(device="meta").items()}
    load_networks(nets, loaded)
    for name, module in nets.items():
        for key, value in module.state_dict().items():
            assert torch.equal(value, checkpoint[name][key]), f"{name}.{key}"


def test_legacy_format_and_wrapper_prefix(checkpoint, tmp_path):
    path = tmp_path / "legacy.tar"
    small = _small_state(checkpoint)
    small["D_detail"] = {f"module.{k}": v for k, v in small["D_detail"].items()}  # DataParallel
    torch.save(small, path, _use_new_zipfile_serialization=False)
    loaded = load_checkpoint(path)
    decoder = DetailDecoder()
    load_networks({"D_detail": decoder}, loaded)
    assert torch.equal(decoder.l1[0].weight, checkpoint["D_detail"]["l1.0.weight"])


def test_missing_num_batches_tracked_is_tolerated(checkpoint):
    state = {k: v for k, v in checkpoint["D_detail"].items() if not k.endswith("num_batches_tracked")}
    decoder = DetailDecoder()
    load_networks({"D_detail": decoder}, {"D_detail": state})
    assert decoder.conv_blocks[3].num_batches_tracked.item() == 0


# --- strict loading errors ------------------------------------------------------------------------


def test_key_and_shape_mismatches_reported_together(checkpoint):
    state = dict(checkpoint["D_detail"])
    del state["conv_blocks.21.bias"]
    state["conv_blocks.2.weight"] = torch.zeros(64, 128, 3, 3)
    state["conv_blocks.99.weight"] = torch.zeros(3)
    decoder = DetailDecoder()
    before = decoder.l1[0].weight.clone()
    with pytest.raises(CheckpointError) as info:
        load_networks({"D_detail": decoder, "E_flame": torch.nn.Linear(1, 1)}, {"D_detail": state})
    message = str(info.value)
    assert "missing keys (1): conv_blocks.21.bias" in message
    assert "unexpected keys (1): conv_blocks.99.weight" in message
    assert "conv_blocks.2.weight: expected (128, 128, 3, 3), got (64, 128, 3, 3)" in message
    assert "E_flame: missing from the checkpoint" in message
    assert torch.equal(decoder.l1[0].weight, before)  # nothing loaded on error


def test_missing_file(tmp_path):
    with pytest.raises(AssetNotFoundError, match="deca fetch deca") as info:
        load_checkpoint(tmp_path / "deca_model.tar")
    assert "deca_model.tar" in str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(AssetNotFoundError, match="is a directory"):
        load_checkpoint(tmp_path)


def test_zip_archive_that_is_not_torch_save(tmp_path):
    path = tmp_path / "deca_model.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("deca_model/README.txt", "weights inside")
    with pytest.raises(CheckpointError, match=r"zip archive but not a torch.save file.*README.txt"):
        load_checkpoint(path)


def test_html_page(tmp_path):
    path = tmp_path / "deca_model.tar"
    path.write_text(
        "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>"
        "<body>Google Drive can't scan this file for viruses.</body></html>"
    )
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "web page (HTML)" in message
    assert "Google Drive" in message
    assert "deca fetch deca" in message
    assert str(path) in message
    path.write_bytes(b"\n  <html lang='en'><body>Quota exceeded</body></html>")
    with pytest.raises(CheckpointError, match="web page"):
        load_checkpoint(path)


def test_truncated_zip(checkpoint, tmp_path):
    full = tmp_path / "full.tar"
    torch.save(_small_state(checkpoint), full)
    data = full.read_bytes()
    path = tmp_path / "deca_model.tar"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "truncated" in message
    assert f"{len(data) // 2:,} bytes" in message
    assert "download it again" in message


def test_truncated_legacy_pickle(checkpoint, tmp_path):
    full = tmp_path / "full.tar"
    torch.save(_small_state(checkpoint), full, _use_new_zipfile_serialization=False)
    data = full.read_bytes()
    path = tmp_path / "deca_model.tar"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path)


def test_empty_file(tmp_path):
    path = tmp_path / "deca_model.tar"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"truncated or corrupt \(0 bytes"):
        load_checkpoint(path)


def test_plain_text_file(tmp_path):
    path = tmp_path / "deca_model.tar"
    path.write_text("version https://git-lfs.github.com/spec/v1\nsize 434142943\n")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "not a PyTorch checkpoint" in message
    assert "version https" in message  # shows what the file starts with
    assert "web page" not in message
    assert "truncated" not in message


def test_not_a_dict_and_missing_modules(tmp_path):
    path = tmp_path / "deca_model.tar"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(CheckpointError, match="holds a list, not a dict"):
        load_checkpoint(path)
    torch.save({"state_dict": {"w": torch.zeros(2)}, "E_flame": {}}, path)
    with pytest.raises(CheckpointError, match=r"lacks the state dicts \['E_detail', 'D_detail'\]"):
        load_checkpoint(path)


def test_unsafe_objects_refused(tmp_path):
    path = tmp_path / "deca_model.tar"
    torch.save({"E_flame": {}, "E_detail": {}, "D_detail": {}, "extra": _NotATensor()}, path)
    with pytest.raises(CheckpointError, match="Python objects other than tensors") as info:
        load_checkpoint(path)
    assert "blocked: " in str(info.value)
    assert "_NotATensor" in str(info.value)  # names what was blocked
