"""VGG19 feature taps for ID-MRF (``pydeca.train.vgg``) from a torchvision-format weight file."""

from __future__ import annotations

import pickle

import pytest
import torch

from pydeca.errors import AssetError, AssetFormatError
from pydeca.train.losses import id_mrf_loss
from pydeca.train.vgg import VGG19Features, load_vgg19_features


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> tuple:
    """A seeded random VGG19 saved as torchvision saves it (``features.*`` and ``classifier.*`` keys)."""
    torch.manual_seed(0)
    features = VGG19Features().features
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(state, path)
    return path, state


def test_layers_match_torchvisions_indices(weights) -> None:
    path, state = weights
    model = load_vgg19_features(path)
    assert len(model.features) == 37  # 16 convs, 16 ReLUs, 5 pools
    assert torch.equal(model.features[0].weight, state["features.0.weight"])
    assert torch.equal(model.features[34].bias, state["features.34.bias"])
    relu3_1, relu4_1 = model(torch.rand(2, 3, 64, 64))
    assert relu3_1.shape == (2, 256, 16, 16)  # features[11]: after 2 pools
    assert relu4_1.shape == (2, 512, 8, 8)  # features[20]: after 3 pools
    assert (relu3_1 >= 0).all()
    assert not any(p.requires_grad for p in model.parameters())


def test_id_mrf_on_vgg_features_is_smallest_for_the_same_image(weights) -> None:
    model = load_vgg19_features(weights[0])
    generator = torch.Generator().manual_seed(1)
    target = torch.rand(1, 3, 64, 64, generator=generator)
    other = torch.rand(1, 3, 64, 64, generator=generator)
    same = id_mrf_loss(model(target), model(target))
    different = id_mrf_loss(model(other), model(target))
    assert same.item() == pytest.approx(0.0, abs=1e-4)
    assert different.item() > same.item() + 0.05
    image = other.clone().requires_grad_()
    id_mrf_loss(model(image), model(target)).backward()
    assert image.grad is not None
    assert image.grad.abs().sum() > 0


def test_bad_files_are_asset_errors(tmp_path, weights) -> None:
    with pytest.raises(AssetError, match=r"vgg19-dcbb9e9d\.pth"):
        load_vgg19_features(tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(AssetFormatError, match="not a PyTorch weight file"):
        load_vgg19_features(junk)
    vgg16 = {k: v for k, v in weights[1].items() if not k.startswith("features.34")}
    torch.save(vgg16, tmp_path / "vgg16.pth")
    with pytest.raises(AssetFormatError, match=r"features\.34\.weight is missing"):
        load_vgg19_features(tmp_path / "vgg16.pth")


def test_a_pickle_that_runs_code_is_refused(tmp_path) -> None:
    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(AssetFormatError, match="not a PyTorch weight file"):
        load_vgg19_features(path)
