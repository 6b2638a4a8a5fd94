"""The restricted unpickler: allow-listed globals load, everything else is refused unexecuted."""

from __future__ import annotations

import os
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse
import torch

from pydeca.assets.safe_pickle import DEFAULT_ALLOWED, safe_load
from pydeca.errors import AssetFormatError, AssetNotFoundError, UnsafePickleError


class _RunsShell:
    def __reduce__(self):
        return (os.system, ("echo pwned > marker",))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("open('marker', 'w').write('pwned')",))


@pytest.mark.parametrize("payload", [_RunsShell(), _CallsEval()], ids=["os.system", "eval"])
@pytest.mark.parametrize("protocol", [2, 4])
def test_refuses_code_execution(tmp_path, monkeypatch, payload, protocol):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": payload}, protocol=protocol))
    with pytest.raises(UnsafePickleError) as info:
        safe_load(path)
    message = str(info.value)
    assert str(path) in message
    assert ("system" in message) if isinstance(payload, _RunsShell) else ("eval" in message)
    assert not (tmp_path / "marker").exists()


def test_refusal_is_also_a_pickle_error():
    data = pickle.dumps(_RunsShell(), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=r"<bytes>.*(posix|os|nt)\.system"):
        safe_load(data)


def test_plain_containers_and_numpy():
    value = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": [1, 2.5, "x", (3, 4)],
        "s": {1, 2},
        "scalar": np.float64(2.5),
    }
    for protocol in (2, 3, 5):
        out = safe_load(pickle.dumps(value, protocol=protocol))
        np.testing.assert_array_equal(out["a"], value["a"])
        assert out["a"].dtype == np.float32
        assert out["b"] == [1, 2.5, "x", (3, 4)]
        assert out["s"] == {1, 2}
        assert out["scalar"] == 2.5


@pytest.mark.parametrize("fmt", ["csc", "csr", "coo"])
def test_sparse_matrices_rebuilt(fmt):
    dense = np.array([[0.0, 1.5, 0.0, 0.0], [2.0, 0.0, 0.0, -3.0], [0.0, 0.0, 4.0, 0.0]])
    matrix = scipy.sparse.coo_matrix(dense).asformat(fmt)
    out = safe_load(pickle.dumps({"J": matrix}, protocol=2))["J"]
    assert scipy.sparse.issparse(out)
    assert out.format == fmt
    np.testing.assert_array_equal(out.toarray(), dense)


@pytest.mark.parametrize("protocol", [1, 2])
def test_chumpy_object_becomes_its_array(monkeypatch, protocol):
    """A chumpy.ch.Ch pickled by a fake chumpy loads as its state['x'] without chumpy."""
    chumpy = types.ModuleType("chumpy")
    ch = types.ModuleType("chumpy.ch")

    class Ch:
        pass

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    ch.Ch = Ch
    chumpy.ch = ch
    obj = Ch()
    obj.__dict__.update({"_dirty_vars": {"x"}, "_itr": None, "x": np.full((2, 3, 4), 0.25)})
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "chumpy", chumpy)
        patch.setitem(sys.modules, "chumpy.ch", ch)
        data = pickle.dumps({"shapedirs": obj, "n": 3}, protocol=protocol)
    assert "chumpy" not in sys.modules
    assert (b"_reconstructor" in data) == (protocol < 2)
    out = safe_load(data)
    assert out["n"] == 3
    np.testing.assert_array_equal(out["shapedirs"], np.full((2, 3, 4), 0.25))


def test_torch_tensors_become_numpy_views_resolved():
    """Tensors pickled by torch (legacy storage bytes) load as numpy arrays, views included."""
    base = torch.arange(24, dtype=torch.int64).reshape(4, 6)
    value = {
        "long": base,
        "view": base[1:, ::2],  # storage offset 6, strides (6, 2)
        "float": torch.linspace(0, 1, 5, dtype=torch.float32),
        "double": torch.tensor([[1.5, -2.0]], dtype=torch.float64),
        "scalar": torch.tensor(7, dtype=torch.int32),
    }
    out = safe_load(pickle.dumps(value, protocol=3))
    for key, tensor in value.items():
        assert isinstance(out[key], np.ndarray), key
        assert out[key].dtype == tensor.numpy().dtype, key
        np.testing.assert_array_equal(out[key], tensor.numpy(), err_msg=key)


def test_npy_object_array_is_parsed_without_np_load(tmp_path, monkeypatch):
    path = tmp_path / "obj.npy"
    np.save(path, np.array({"k": np.arange(3)}, dtype=object), allow_pickle=True)

    def no_pickle_load(*args, **kwargs):
        if kwargs.get("allow_pickle"):
            raise AssertionError("np.load(allow_pickle=True) must not be used")
        return real_load(*args, **kwargs)

    real_load = np.load
    monkeypatch.setattr(np, "load", no_pickle_load)
    out = safe_load(path)
    assert out.shape == ()
    np.testing.assert_array_equal(out.item()["k"], np.arange(3))
    plain = tmp_path / "plain.npy"
    np.save(plain, np.eye(2))
    np.testing.assert_array_equal(safe_load(plain), np.eye(2))


def test_allowed_mapping_replaces_the_default():
    data = pickle.dumps(np.zeros(2), protocol=2)
    with pytest.raises(UnsafePickleError, match="numpy"):
        safe_load(data, allowed={})
    np.testing.assert_array_equal(safe_load(data, allowed=dict(DEFAULT_ALLOWED)), np.zeros(2))


def test_errors_for_missing_and_garbage(tmp_path):
    with pytest.raises(AssetNotFoundError):
        safe_load(tmp_path / "nope.pkl")
    with pytest.raises(AssetFormatError, match="not a readable pickle"):
        safe_load(b"this is not a pickle")
    # malformed but harmless pickles also get the clear error, not a raw Python exception
    set_with_build = b"\x80\x02c__builtin__\nset\n)R}b."  # BUILD (set state) on a set
    with pytest.raises(AssetFormatError, match="not a readable pickle"):
        safe_load(set_with_build)
