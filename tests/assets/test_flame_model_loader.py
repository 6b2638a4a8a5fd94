"""Loading FLAME's generic_model.pkl without chumpy, and its .npz cache."""

from __future__ import annotations

import importlib.util
import os
import pickle
from dataclasses import fields

import numpy as np
import pytest

from pydeca.assets import flame_model
from pydeca.assets.data import FlameModelData
from pydeca.assets.flame_model import load_flame_model
from pydeca.assets.template import load_template_mesh
from pydeca.errors import AssetFormatError, AssetNotFoundError, UnsafePickleError

TEMPLATE_SHIFT = np.array([0.0, 1.4817, 0.0])


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("flame-cache")


@pytest.fixture(scope="module")
def flame(fixtures_dir, cache_dir):
    return load_flame_model(fixtures_dir / "flame2020_synthetic_chumpy.pkl", cache_dir=cache_dir)


def test_chumpy_is_not_installed():
    assert importlib.util.find_spec("chumpy") is None


def test_chumpy_pickle_shapes_and_dtypes(flame):
    assert flame.v_template.shape == (5023, 3)
    assert flame.faces.shape == (9976, 3)
    assert flame.shapedirs.shape == (5023, 3, 300)
    assert flame.exprdirs.shape == (5023, 3, 100)
    assert flame.posedirs.shape == (5023, 3, 36)
    assert flame.J_regressor.shape == (5, 5023)
    assert flame.lbs_weights.shape == (5023, 5)
    for name in ("v_template", "shapedirs", "exprdirs", "posedirs", "J_regressor", "lbs_weights"):
        assert getattr(flame, name).dtype == np.float32, name
    assert flame.faces.dtype == np.int64
    assert flame.parents.dtype == np.int64
    np.testing.assert_array_equal(flame.parents, [-1, 0, 1, 1, 1])
    # float32 entries, summed in float64: rows sum to 1 ± 3e-8 in the fixture
    np.testing.assert_allclose(flame.J_regressor.astype(np.float64).sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(flame.lbs_weights.astype(np.float64).sum(axis=1), 1.0, atol=1e-6)
    assert np.count_nonzero(flame.J_regressor) == 5080
    assert flame.faces.min() == 0
    assert flame.faces.max() == 5022


def test_v_template_is_the_shifted_template_obj(flame, topology_dir):
    template = load_template_mesh(topology_dir / "head_template.obj")
    np.testing.assert_allclose(flame.v_template, template.verts - TEMPLATE_SHIFT, atol=1e-4)
    np.testing.assert_array_equal(flame.faces, template.faces)


def test_second_load_reads_the_npz_cache(flame, fixtures_dir, cache_dir, monkeypatch):
    caches = list(cache_dir.glob("flame_*.npz"))
    assert len(caches) == 1
    assert not list(cache_dir.glob("*.tmp"))
    with np.load(caches[0], allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(f.name for f in fields(FlameModelData))

    def refuse(*args, **kwargs):
        raise AssertionError("the cache must be used, not the pickle")

    monkeypatch.setattr(flame_model, "safe_load", refuse)
    again = load_flame_model(fixtures_dir / "flame2020_synthetic_chumpy.pkl", cache_dir=cache_dir)
    for f in fields(FlameModelData):
        np.testing.assert_array_equal(getattr(again, f.name), getattr(flame, f.name), err_msg=f.name)
        assert getattr(again, f.name).dtype == getattr(flame, f.name).dtype


def _toy_model(num_verts=6, shape_components=5):
    """A tiny FLAME-layout dict of plain ndarrays (3 identity + 2 expression with num_identity=3)."""
    rng = np.random.default_rng(0)
    weights = rng.random((num_verts, 2))
    return {
        "f": np.array([[0, 1, 2], [2, 3, 4], [3, 4, 5]], np.uint32),
        "v_template": rng.normal(size=(num_verts, 3)),
        "shapedirs": rng.normal(size=(num_verts, 3, shape_components)),
        "posedirs": rng.normal(size=(num_verts, 3, 9)),
        "J_regressor": np.full((2, num_verts), 1.0 / num_verts),
        "weights": weights / weights.sum(1, keepdims=True),
        "kintree_table": np.array([[4294967295, 0], [0, 1]], np.uint32),
        "bs_style": "lbs",
        "extra_unknown_key": [1, 2, 3],
    }


def test_plain_numpy_pickle_variant(tmp_path):
    model = _toy_model()
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps(model, protocol=2))
    data = load_flame_model(path, cache_dir=tmp_path / "cache", num_identity=3)
    assert data.shapedirs.shape == (6, 3, 3)
    assert data.exprdirs.shape == (6, 3, 2)
    np.testing.assert_array_equal(data.exprdirs, model["shapedirs"][..., 3:].astype(np.float32))
    np.testing.assert_array_equal(data.parents, [-1, 0])
    np.testing.assert_array_equal(data.faces, model["f"].astype(np.int64))
    np.testing.assert_allclose(data.J_regressor, 1.0 / 6, rtol=1e-6)


def test_default_cache_is_written_next_to_a_writable_pickle(tmp_path):
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps(_toy_model(shape_components=301), protocol=4))
    data = load_flame_model(path)
    assert data.shapedirs.shape == (6, 3, 300)
    assert data.exprdirs.shape == (6, 3, 1)
    assert len(list(tmp_path.glob("flame_*.npz"))) == 1


def test_cache_key_follows_the_content(tmp_path):
    path = tmp_path / "m.pkl"
    model = _toy_model()
    path.write_bytes(pickle.dumps(model, protocol=2))
    first = load_flame_model(path, cache_dir=tmp_path, num_identity=3)
    model["v_template"] = model["v_template"] + 1.0
    path.write_bytes(pickle.dumps(model, protocol=2))
    second = load_flame_model(path, cache_dir=tmp_path, num_identity=3)
    np.testing.assert_allclose(second.v_template - first.v_template, 1.0, atol=1e-6)
    assert len(list(tmp_path.glob("flame_*.npz"))) == 2


@pytest.mark.parametrize("missing", ["shapedirs", "kintree_table", "J_regressor"])
def test_missing_key_names_key_and_file(tmp_path, missing):
    model = _toy_model()
    del model[missing]
    path = tmp_path / "broken.pkl"
    path.write_bytes(pickle.dumps(model, protocol=2))
    with pytest.raises(AssetFormatError, match=rf"broken\.pkl.*'{missing}'"):
        load_flame_model(path, cache_dir=tmp_path, num_identity=3)


def test_inconsistent_shape_is_reported(tmp_path):
    model = _toy_model()
    model["weights"] = model["weights"][:5]
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(model, protocol=2))
    with pytest.raises(AssetFormatError, match="'weights' has shape"):
        load_flame_model(path, cache_dir=tmp_path, num_identity=3)


def test_missing_file_says_how_to_fetch(tmp_path):
    with pytest.raises(AssetNotFoundError, match="deca fetch flame"):
        load_flame_model(tmp_path / "generic_model.pkl")


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > marker",))


def test_malicious_model_pickle_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps({"f": _Exploit()}, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"system"):
        load_flame_model(path, cache_dir=tmp_path)
    assert not (tmp_path / "marker").exists()
    assert not list(tmp_path.glob("flame_*.npz"))


def test_read_only_model_dir_caches_in_the_user_cache(tmp_path, monkeypatch):
    model_dir = tmp_path / "readonly"
    model_dir.mkdir()
    path = model_dir / "generic_model.pkl"
    path.write_bytes(pickle.dumps(_toy_model(shape_components=310), protocol=2))
    model_dir.chmod(0o555)
    monkeypatch.setenv("PYDECA_CACHE", str(tmp_path / "user-cache"))
    try:
        load_flame_model(path)
        assert not list(model_dir.glob("flame_*.npz"))
        assert len(list((tmp_path / "user-cache").glob("flame_*.npz"))) == 1
    finally:
        model_dir.chmod(0o755)
