"""Synthetic training data: files, ground truth, FaceDataset round trip, determinism, ``deca synth``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pydeca.cli import main
from pydeca.errors import OptionError
from pydeca.geometry.camera import ndc_to_pixels
from pydeca.io.params import load_codes
from pydeca.train.data import FaceDataset, read_manifest, read_row_landmarks
from pydeca.train.synth import GROUND_TRUTH_NAME, synthesize

SIZE = 96
SKIN_LANDMARKS = [*range(17, 36), *range(48, 60)]


@pytest.fixture(scope="module")
def synth_dir(demo_model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    synthesize(demo_model, out, identities=2, views=2, size=SIZE, seed=3)
    return out


def _ground_truth(root: Path) -> dict[str, Path]:
    lines = (root / GROUND_TRUTH_NAME).read_text().splitlines()
    return {(obj := json.loads(line))["image"]: root / obj["codes"] for line in lines}


def test_files_are_written_and_parse(synth_dir: Path):
    rows = read_manifest(synth_dir / "manifest.jsonl")
    truth = _ground_truth(synth_dir)
    assert len(rows) == 4
    assert len(truth) == 4
    assert sorted({r.identity for r in rows}) == ["synth0000", "synth0001"]
    for row in rows:
        image = np.asarray(Image.open(row.image))
        assert image.shape == (SIZE, SIZE, 3)
        assert image.dtype == np.uint8
        assert row.mask is not None
        mask = np.asarray(Image.open(row.mask))
        assert mask.shape == (SIZE, SIZE)
        assert set(np.unique(mask)) <= {0, 255}
        assert 0.1 < (mask > 127).mean() < 0.9  # a face, not the whole photo
        points = read_row_landmarks(row)
        assert points.shape == (68, 2)
        assert np.all(points > -0.5)
        assert np.all(points < SIZE - 0.5)
        codes = load_codes(truth[row.image.relative_to(synth_dir).as_posix()])
        assert codes.batch_size == 1
        assert codes.detail is None
    # an identity shares shape and albedo across its views; expressions differ
    a, b = (load_codes(truth[f"images/synth0000/view0{k}.png"]) for k in range(2))
    assert torch.equal(a.shape, b.shape)
    assert torch.equal(a.tex, b.tex)
    assert not torch.equal(a.exp, b.exp)


def test_landmarks_are_the_projection_of_the_ground_truth_codes(synth_dir: Path, demo_model):
    for image, codes_path in _ground_truth(synth_dir).items():
        codes = load_codes(codes_path)
        with torch.no_grad():
            rec = demo_model.decode(codes, use_detail=False)
        expected = ndc_to_pixels(rec.landmarks2d.double(), SIZE)[0].numpy()
        stored = np.load(synth_dir / image.replace("images/", "landmarks/").replace(".png", ".npy"))
        np.testing.assert_allclose(stored, expected, atol=1e-3)


def test_face_dataset_crops_put_landmarks_on_the_rendered_face(synth_dir: Path):
    dataset = FaceDataset(read_manifest(synth_dir / "manifest.jsonl"), k=2, seed=0)
    assert dataset.skipped == []
    assert len(dataset) == 2
    for index in range(len(dataset)):
        item = dataset[index]
        assert item["image"].shape == (2, 3, 224, 224)
        assert item["mask"].shape == (2, 224, 224)
        lmk = item["landmarks"][..., :2]  # (2, 68, 2) crop NDC
        px = ndc_to_pixels(lmk, 224).round().long().clamp(0, 223)
        for k in range(2):
            under = item["mask"][k][px[k, :, 1], px[k, :, 0]]
            # brows, nose and outer lips lie on the rendered skin (the eye and inner-lip points sit
            # on the rims of the skin mask's eye and mouth holes, the jaw line on its outline)
            assert (under[SKIN_LANDMARKS] > 0.5).float().mean() >= 0.9
            # the photo under the face differs from the background colour left and right of it
            assert item["image"][k].std() > 0.05


def test_synthesis_is_deterministic_under_the_seed(demo_model, tmp_path: Path):
    def files(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".png", ".npy", ".json", ".jsonl")
        }

    runs = [
        files(synthesize(demo_model, tmp_path / name, identities=1, views=2, size=64, seed=seed).parent)
        for name, seed in (("a", 7), ("b", 7), ("c", 8))
    ]
    assert runs[0] == runs[1]
    assert runs[0].keys() == runs[2].keys()
    assert runs[0]["images/synth0000/view00.png"] != runs[2]["images/synth0000/view00.png"]


def test_bad_counts_are_option_errors(demo_model, tmp_path: Path):
    with pytest.raises(OptionError, match="views"):
        synthesize(demo_model, tmp_path, identities=1, views=0)


def test_deca_synth_is_wired(tmp_path: Path, capsys, demo_cache: Path, monkeypatch):
    monkeypatch.setenv("PYDECA_CACHE", str(demo_cache))
    out = tmp_path / "synth"
    argv = ["synth", "-o", str(out), "--identities", "1", "--views", "2", "--size", "64"]
    status = main([*argv, "--assets", "demo", "--device", "cpu", "--seed", "1", "--json"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"] == 2
    assert Path(summary["manifest"]) == out / "manifest.jsonl"
    assert len(read_manifest(out / "manifest.jsonl")) == 2
    with pytest.raises(SystemExit) as info:
        main(["synth", "-o", str(out), "--views", "0"])
    assert info.value.code == 2
    assert "--views" in capsys.readouterr().err
