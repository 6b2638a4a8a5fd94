"""Hostile, corrupt and unreadable asset files end in one-line pydeca errors, never a traceback."""

from __future__ import annotations

import io
import pickle
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import pydeca.assets.bundle as bundle_module
from asset_server import tiny_deca_checkpoint
from pydeca.apps.doctor import run_doctor
from pydeca.assets import integrity
from pydeca.assets.albedo import load_albedo_basis
from pydeca.assets.bundle import load_assets
from pydeca.assets.checkpoint import load_checkpoint, load_networks
from pydeca.assets.data import AlbedoBasis, LandmarkEmbedding
from pydeca.assets.embedding import load_landmark_embedding
from pydeca.assets.flame_model import load_flame_model
from pydeca.assets.paths import find_asset
from pydeca.assets.safe_pickle import safe_load
from pydeca.assets.uv_maps import load_uv_mask
from pydeca.assets.validate import validate_albedo, validate_landmark_embedding
from pydeca.errors import (
    AssetError,
    AssetFormatError,
    CheckpointError,
    PydecaError,
    UnsafePickleError,
)

_BIG = b"\x8a\x06" + (10**12).to_bytes(6, "little")  # LONG1 10**12


def _toy_model(num_verts: int = 6) -> dict[str, np.ndarray]:
    """A FLAME-layout dict: 6 vertices, 3 faces, 3 joints, 3 identity + 2 expression components."""
    rng = np.random.default_rng(1)
    weights = rng.random((num_verts, 3))
    return {
        "f": np.array([[0, 1, 2], [2, 3, 4], [3, 4, 5]], np.uint32),
        "v_template": rng.normal(size=(num_verts, 3)),
        "shapedirs": rng.normal(size=(num_verts, 3, 5)),
        "posedirs": rng.normal(size=(num_verts, 3, 18)),
        "J_regressor": np.full((3, num_verts), 1.0 / num_verts),
        "weights": weights / weights.sum(1, keepdims=True),
        "kintree_table": np.array([[4294967295, 0, 1], [0, 1, 2]], np.uint32),
    }


def _write_model(path: Path, **changes: np.ndarray) -> Path:
    path.write_bytes(pickle.dumps({**_toy_model(), **changes}, protocol=2))
    return path


# ----------------------------------------------------------------------- 1. unreadable files
def _deny(monkeypatch: pytest.MonkeyPatch, target: Path, method: str) -> None:
    """Make ``Path.<method>`` raise PermissionError for ``target`` (root ignores chmod)."""
    original = getattr(Path, method)

    def guarded(self: Path, *args, **kwargs):
        if self.resolve() == target.resolve():
            raise PermissionError(13, "Permission denied", str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, method, guarded)


def test_permission_denied_asset_names_the_file_and_the_fix(tmp_path, monkeypatch):
    model = _write_model(tmp_path / "generic_model.pkl")
    checkpoint = tmp_path / "deca_model.tar"
    checkpoint.write_bytes(tiny_deca_checkpoint())
    _deny(monkeypatch, model, "read_bytes")
    with pytest.raises(
        AssetError, match=r"cannot read .*generic_model\.pkl: permission denied; make it readable"
    ):
        safe_load(model)
    _deny(monkeypatch, model, "open")
    with pytest.raises(AssetError, match=r"generic_model\.pkl: permission denied") as info:
        load_flame_model(model, cache_dir=tmp_path / "cache")
    assert not isinstance(info.value, PermissionError)
    _deny(monkeypatch, checkpoint, "open")
    with pytest.raises(AssetError, match=r"cannot read .*deca_model\.tar: permission denied"):
        load_checkpoint(checkpoint)


def test_a_folder_where_an_asset_file_should_be(tmp_path):
    for name in ("generic_model.pkl", "landmark_embedding.npy", "uv_face_mask.png", "FLAME_texture.npz"):
        (tmp_path / name).mkdir()
    with pytest.raises(AssetFormatError, match=r"generic_model\.pkl is a folder"):
        load_flame_model(tmp_path / "generic_model.pkl")
    with pytest.raises(
        AssetFormatError, match=r"landmark_embedding\.npy is a folder, but the asset must be a file"
    ):
        load_landmark_embedding(tmp_path / "landmark_embedding.npy")
    with pytest.raises(AssetFormatError, match=r"uv_face_mask\.png is a folder"):
        load_uv_mask(tmp_path / "uv_face_mask.png")
    with pytest.raises(AssetFormatError, match=r"FLAME_texture\.npz is a folder"):
        load_albedo_basis(tmp_path / "FLAME_texture.npz", cache_dir=tmp_path / "cache")
    assert find_asset(tmp_path, "face_mask") == tmp_path / "uv_face_mask.png"  # reported, not "missing"


# ------------------------------------------------------------------- 2. corrupt FLAME cache
def _corruptions(good: bytes) -> dict[str, bytes]:
    wrong_keys, wrong_shape, nan = io.BytesIO(), io.BytesIO(), io.BytesIO()
    np.savez(wrong_keys, something=np.zeros(3))
    with np.load(io.BytesIO(good)) as npz:
        arrays = {name: npz[name] for name in npz.files}
    np.savez(wrong_shape, **{**arrays, "v_template": np.zeros((2, 2), np.float32)})
    bad = arrays["shapedirs"].copy()
    bad[0, 0, 0] = np.nan
    np.savez(nan, **{**arrays, "shapedirs": bad})
    return {
        "truncated": good[: len(good) // 2],
        "garbage": bytes(range(256)) * 8,
        "wrong keys": wrong_keys.getvalue(),
        "wrong shape": wrong_shape.getvalue(),
        "nan": nan.getvalue(),
    }


def test_corrupt_flame_cache_is_rebuilt_with_a_warning_naming_it(tmp_path):
    model = _write_model(tmp_path / "generic_model.pkl")
    cache = tmp_path / "cache"
    first = load_flame_model(model, cache_dir=cache, num_identity=3)
    (cache_file,) = cache.glob("flame_*.npz")
    good = cache_file.read_bytes()
    for kind, data in _corruptions(good).items():
        cache_file.write_bytes(data)
        with pytest.warns(
            UserWarning, match=rf"FLAME cache {cache_file} is corrupt .*rebuilding it from {model}"
        ):
            again = load_flame_model(model, cache_dir=cache, num_identity=3)
        np.testing.assert_array_equal(again.shapedirs, first.shapedirs, err_msg=kind)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # rewritten: the next load reads it silently
            np.testing.assert_array_equal(
                load_flame_model(model, cache_dir=cache, num_identity=3).faces, first.faces
            )


def test_corrupt_cache_and_unparsable_pickle_name_both(tmp_path, monkeypatch):
    import pydeca.assets.flame_model as flame_module

    model = _write_model(tmp_path / "generic_model.pkl")
    cache = tmp_path / "cache"
    load_flame_model(model, cache_dir=cache, num_identity=3)
    (cache_file,) = cache.glob("flame_*.npz")
    cache_file.write_bytes(b"garbage")

    def broken(path):
        raise AssetFormatError(f"{path}: not a readable pickle")

    monkeypatch.setattr(flame_module, "safe_load", broken)
    with pytest.warns(UserWarning, match="FLAME cache"), pytest.raises(AssetFormatError) as info:
        load_flame_model(model, cache_dir=cache, num_identity=3)
    message = str(info.value)
    assert f"the FLAME cache {cache_file} is corrupt" in message
    assert f"rebuilding it from {model} failed" in message


# -------------------------------------------------------------------- 3. bounded pickles
def _ndarray_pickle(shape_opcodes: bytes, dtype: str, data: bytes) -> bytes:
    """numpy's _reconstruct + BUILD, with the state's shape given as raw opcodes."""
    return (
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R"
        + b"(K\x01"
        + shape_opcodes
        + b"cnumpy\ndtype\nX"
        + struct.pack("<I", len(dtype))
        + dtype.encode()
        + b"\x89\x88\x87R"
        + b"(K\x03X\x01\x00\x00\x00"
        + (b"|" if dtype == "|O" else b"<")
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK"
        + (b"\x3f" if dtype == "|O" else b"\x00")
        + b"tb\x89"
        + data
        + b"tb."
    )


def _tensor_pickle(blob: bytes, size: bytes, stride: bytes) -> bytes:
    """torch._utils._rebuild_tensor_v2(_load_from_bytes(blob), 0, size, stride, False, OrderedDict())."""
    return (
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(ctorch.storage\n_load_from_bytes\nB"
        + struct.pack("<I", len(blob))
        + blob
        + b"\x85RK\x00"
        + size
        + stride
        + b"\x89ccollections\nOrderedDict\n)RtR."
    )


def _storage_blob(values: np.ndarray) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", UserWarning
        )  # TypedStorage is deprecated; its pickle is what files hold
        return torch.from_numpy(values).storage().__reduce__()[1][0]


def test_genuine_ndarray_and_tensor_pickles_still_load():
    assert safe_load(
        _ndarray_pickle(b"K\x02\x85", "<f4", b"C\x08" + np.float32([1, 2]).tobytes())
    ).tolist() == [1, 2]
    blob = _storage_blob(np.float32([1, 2, 3, 4]))
    tensor = safe_load(_tensor_pickle(blob, b"K\x02K\x02\x86", b"K\x02K\x01\x86"))
    assert type(tensor) is np.ndarray
    np.testing.assert_array_equal(tensor, [[1, 2], [3, 4]])


HOSTILE = {
    "5000 nested lists (EMPTY_LIST/APPEND)": b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b".",
    "5000 nested lists, protocol 4": b"\x80\x04" + b"]" * 5000 + b"a" * 4999 + b".",
    "nested through the memo": b"\x80\x02]q\x00" + b"]h\x00aq\x00" * 5000 + b".",
    "a tuple a million deep as a dict key": b"\x80\x02})" + b"\x85" * 1_000_000 + b"K\x01s.",
    "5000 nested tuples, protocol 4": b"\x80\x04(" * 5000 + b"t" * 5000 + b".",
    "bytes claiming 10**12": b"\x80\x04\x8e" + struct.pack("<Q", 10**12) + b"0123456789.",
    "ndarray shape (10**12,) with 10 bytes": _ndarray_pickle(_BIG + b"\x85", "<f8", b"C\x0a0123456789"),
    "object ndarray (10**12,) with a 2-list": _ndarray_pickle(_BIG + b"\x85", "|O", b"]K\x01K\x02e"),
    "ndarray _reconstruct of (10**12,)": (
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + _BIG + b"\x85C\x01b\x87R."
    ),
    "a numpy dtype state that crashes numpy's C code": (
        b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00f8\x89\x88\x87R"
        b"(K\x03X\x01\x00\x00\x00<NJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb."
    ),
    "numpy.ndarray called directly": b"\x80\x02cnumpy\nndarray\n" + _BIG + b"\x85\x85R.",
}


@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_pickles_are_refused_before_allocating(tmp_path, data):
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(data)
    with pytest.raises(AssetFormatError, match=rf"^{path}: not a readable pickle") as info:
        safe_load(path)
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(AssetFormatError):
        load_flame_model(path, cache_dir=tmp_path / "cache")


def test_nesting_message_names_the_limit():
    with pytest.raises(AssetFormatError, match="nested more than 100 levels deep"):
        safe_load(HOSTILE["5000 nested lists (EMPTY_LIST/APPEND)"])


def test_torch_tensor_and_storage_claiming_absurd_sizes():
    blob = _storage_blob(np.float32([1, 2, 3, 4]))
    huge_view = _tensor_pickle(blob, _BIG + b"\x85", b"K\x00\x85")  # stride 0: one number, 10**12 times
    with pytest.raises(AssetFormatError, match=r"a tensor claims shape \(1000000000000,\)"):
        safe_load(huge_view)
    count_at = len(blob) - 16 - 8  # int64 element count before the 16 data bytes
    assert struct.unpack("<q", blob[count_at : count_at + 8]) == (4,)
    lying = blob[:count_at] + struct.pack("<q", 10**12) + blob[count_at + 8 :]
    with pytest.raises(AssetFormatError, match="storage claims 1,000,000,000,000 elements"):
        safe_load(_tensor_pickle(lying, b"K\x04\x85", b"K\x01\x85"))


def test_mutated_pickles_only_ever_raise_pydeca_errors():
    """300 deterministic byte mutations of a genuine pickle: a value or a PydecaError, nothing else."""
    blob = _storage_blob(np.float32([1, 2, 3, 4]))
    genuine = pickle.dumps({"a": np.arange(6.0).reshape(2, 3), "b": [(1, 2), {3}]}, protocol=2)
    seeds = [genuine, _tensor_pickle(blob, b"K\x04\x85", b"K\x01\x85")]
    rng = np.random.default_rng(0)
    outcomes = {"loaded": 0, "refused": 0}
    for i in range(300):
        data = bytearray(seeds[i % 2])
        for _ in range(int(rng.integers(1, 5))):
            data[int(rng.integers(len(data)))] = int(rng.integers(256))
        try:
            safe_load(bytes(data))
            outcomes["loaded"] += 1
        except PydecaError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 100


# ------------------------------------------------------------------------ 3b. checkpoints
def _rezip_checkpoint(path: Path, edit) -> Path:
    source = zipfile.ZipFile(io.BytesIO(tiny_deca_checkpoint()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        for name in source.namelist():
            data = source.read(name)
            out.writestr(name, edit(data) if name.endswith("data.pkl") else data)
    return path


def test_checkpoint_with_deep_nesting_is_refused(tmp_path):
    deep = b"X\x01\x00\x00\x00k)" + b"\x85" * 200_000  # a dict key nested 200,000 tuples deep
    path = _rezip_checkpoint(tmp_path / "deca_model.tar", lambda pkl: pkl[:2] + b"}(" + deep + pkl[4:])
    with pytest.raises(CheckpointError, match=rf"^{path}: not a readable pickle \(containers nested"):
        load_checkpoint(path)


def test_checkpoint_storage_claiming_a_huge_size_is_refused(tmp_path):
    buf = io.BytesIO()
    torch.save({"E_flame": {"w": torch.arange(4.0)}, "E_detail": {}, "D_detail": {}}, buf)
    source = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    pkl = source.read("archive/data.pkl")
    size = pkl.index(b"QK\x00K\x04\x85") + 3  # BINPERSID, storage offset 0, then the size (4,)
    path = tmp_path / "deca_model.tar"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        for name in source.namelist():
            data = source.read(name)
            out.writestr(name, pkl[:size] + _BIG + pkl[size + 2 :] if name.endswith("data.pkl") else data)
    with pytest.raises(CheckpointError, match=rf"^{path} is truncated or corrupt"):
        load_checkpoint(path)


@pytest.mark.parametrize("error", [RecursionError, MemoryError, OverflowError, SystemError, AttributeError])
def test_any_exception_from_torch_load_becomes_a_checkpoint_error(tmp_path, monkeypatch, error):
    path = tmp_path / "deca_model.tar"
    path.write_bytes(tiny_deca_checkpoint())

    def failing(*args, **kwargs):
        raise error("boom")

    monkeypatch.setattr(torch, "load", failing)
    with pytest.raises(CheckpointError, match=rf"^{path} (is truncated or corrupt|cannot be loaded)") as info:
        load_checkpoint(path)
    if not issubclass(error, RuntimeError):  # RuntimeErrors (RecursionError) read as a broken file
        assert f"cannot be loaded as a PyTorch checkpoint ({error.__name__}: boom)" in str(info.value)


def test_legacy_format_checkpoint_still_loads_through_the_scan(tmp_path):
    path = tmp_path / "deca_model.tar"
    path.write_bytes(tiny_deca_checkpoint(zip_format=False))
    state = load_checkpoint(path)
    assert sorted(state) == ["D_detail", "E_detail", "E_flame"]


# -------------------------------------------------------- 8. num_batches_tracked of shape (1,)
def test_zero_d_buffer_stored_with_shape_one_loads_like_torch_and_two_does_not():
    module = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    state = {k: v.clone() for k, v in module.state_dict().items()}
    state["1.num_batches_tracked"] = torch.tensor([7])
    torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2)).load_state_dict(state)  # torch: ok
    load_networks({"m": module}, {"m": state})
    assert module[1].num_batches_tracked.shape == ()
    assert int(module[1].num_batches_tracked) == 7
    state["1.num_batches_tracked"] = torch.tensor([7, 8])
    with pytest.raises(CheckpointError, match=r"1\.num_batches_tracked: expected \(\), got \(2,\)"):
        load_networks({"m": module}, {"m": state})


# --------------------------------------------------------------------- 4. model validation
@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (
            {"kintree_table": np.array([[4294967295, 2, 1], [0, 1, 2]], np.uint32)},
            r"'kintree_table'.*joint 1 the parent 2",
        ),
        (
            {"kintree_table": np.array([[4294967295, 0, 9], [0, 1, 2]], np.uint32)},
            r"'kintree_table'.*parent 9 \(out of range\)",
        ),
        (
            {"kintree_table": np.array([[4294967295, 0, 2], [0, 1, 2]], np.uint32)},
            r"'kintree_table'.*joint 2 the parent 2",
        ),
        ({"shapedirs": np.full((6, 3, 5), np.nan)}, r"'shapedirs' holds 90 NaN or infinite values"),
        ({"v_template": np.full((6, 3), np.inf)}, r"'v_template' holds 18 NaN"),
        ({"posedirs": np.zeros((6, 3, 7))}, r"'posedirs' has shape \(6, 3, 7\), expected \(6, 3, 18\)"),
        ({"f": np.array([[0, 1, 6]], np.uint32)}, r"'f' indexes vertexs outside 0\.\.5"),
        ({"J_regressor": np.zeros((3, 5))}, r"'J_regressor' has shape \(3, 5\)"),
    ],
    ids=["cycle", "out-of-range", "self-parent", "nan", "inf", "posedirs", "faces", "regressor"],
)
def test_invalid_flame_models_name_the_file_and_the_field(tmp_path, change, pattern):
    path = _write_model(tmp_path / "generic_model.pkl", **change)
    with pytest.raises(AssetFormatError, match=rf"^{path}: .*{pattern}"):
        load_flame_model(path, cache_dir=tmp_path / "cache", num_identity=3)
    assert not list((tmp_path / "cache").glob("*.npz"))  # nothing invalid is cached


def test_landmark_embedding_and_albedo_validation():
    ok = LandmarkEmbedding(
        static_faces=np.zeros(51, np.int64),
        static_bary=np.full((51, 3), 1 / 3, np.float32),
        dynamic_faces=np.zeros((79, 17), np.int64),
        dynamic_bary=np.full((79, 17, 3), 1 / 3, np.float32),
        full_faces=np.full(68, 9, np.int64),
        full_bary=np.full((68, 3), 1 / 3, np.float32),
    )
    validate_landmark_embedding(ok, "emb.npy", num_faces=10)
    with pytest.raises(
        AssetFormatError, match=r"emb\.npy: 'full_lmk_faces_idx' indexes triangles outside 0\.\.8"
    ):
        validate_landmark_embedding(ok, "emb.npy", num_faces=9)
    bary = ok.static_bary.copy()
    bary[3, 1] = np.nan
    with pytest.raises(AssetFormatError, match=r"'static_lmk_bary_coords' holds 1 NaN"):
        validate_landmark_embedding(LandmarkEmbedding(**{**ok.__dict__, "static_bary": bary}), "emb.npy")
    basis = np.zeros((2, 3, 4, 4), np.float32)
    basis[1, 2, 3, 3] = np.inf
    with pytest.raises(AssetFormatError, match=r"alb\.npz: 'basis' holds 1 NaN or infinite"):
        validate_albedo(
            AlbedoBasis(mean=np.zeros((3, 4, 4), np.float32), basis=basis, source="BFM"), "alb.npz"
        )


# ------------------------------------------------------------------------------- 5. doctor
@pytest.fixture
def data_dir(tmp_path: Path, topology_dir: Path) -> Path:
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in ("head_template.obj", "landmark_embedding.npy", "uv_face_mask.png", "uv_face_eye_mask.png"):
        (assets / name).symlink_to(topology_dir / name)
    np.save(assets / "fixed_displacement_256.npy", np.zeros((256, 256), np.float32))
    return assets


def test_doctor_loads_and_reports_hostile_flame_and_truncated_checkpoint(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(integrity, "MIN_CHECKPOINT_BYTES", 0)
    hostile = data_dir / "generic_model.pkl"
    hostile.write_bytes(b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R." + b"\x00" * 48)  # 75 B
    assert hostile.stat().st_size == 75
    checkpoint = data_dir / "deca_model.tar"
    checkpoint.write_bytes(tiny_deca_checkpoint()[:5000])
    report = run_doctor(data_dir, cache_dir=tmp_path / "cache")
    assert report["ok"] is False
    text = report["text"]
    assert "all required assets are present" not in text
    flame_check = report["files"]["flame_model"]["check"]
    assert flame_check["status"] == "error"
    assert flame_check["message"].startswith(f"{hostile}: refused to load the pickled global 'os.system'")
    checkpoint_check = report["files"]["checkpoint"]["check"]
    assert checkpoint_check["status"] == "error"
    assert f"{checkpoint} is truncated or corrupt" in checkpoint_check["message"]
    assert any(problem.startswith("deca_model.tar: ") for problem in report["problems"])
    assert f"ERROR: {checkpoint} is truncated or corrupt" in text


def test_doctor_reports_a_flame_model_with_a_cyclic_tree(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(integrity, "MIN_CHECKPOINT_BYTES", 0)
    (data_dir / "deca_model.tar").write_bytes(tiny_deca_checkpoint())
    cyclic = np.array([[4294967295, 2, 1], [0, 1, 2]], np.uint32)
    shapedirs = np.zeros((6, 3, 310))  # 300 identity + 10 expression components, as the loader expects
    _write_model(data_dir / "generic_model.pkl", kintree_table=cyclic, shapedirs=shapedirs)
    report = run_doctor(data_dir, cache_dir=tmp_path / "cache")
    assert report["ok"] is False
    message = report["files"]["flame_model"]["check"]["message"]
    assert message.startswith(f"{data_dir / 'generic_model.pkl'}: 'kintree_table' gives joint 1 the parent 2")
    assert report["files"]["checkpoint"]["check"]["status"] != "error"
    assert f"ERROR: {message}" in report["text"]


# ------------------------------------------------------------------- 6. albedo in layouts
@pytest.fixture
def demo_copy(tmp_path: Path, demo_cache: Path) -> Path:
    """The demo pack, file by file symlinked into a folder of its own (its checkpoint written)."""
    source = load_assets("demo", cache_dir=demo_cache).asset_dir
    copy = tmp_path / "demo-copy"
    copy.mkdir()
    for item in source.iterdir():
        (copy / item.name).symlink_to(item)
    return copy


def test_albedo_is_found_under_flame2020_like_the_apple_silicon_port(demo_copy, tmp_path):
    (demo_copy / "FLAME2020").mkdir()
    (demo_copy / "FLAME_texture.npz").rename(demo_copy / "FLAME2020" / "FLAME_texture.npz")
    np.savez(demo_copy / "FLAME2020" / "FLAME_albedo_from_BFM.npz", MU=np.zeros(3))
    assert find_asset(demo_copy, "albedo_bfm") == demo_copy / "FLAME2020" / "FLAME_albedo_from_BFM.npz"
    (demo_copy / "FLAME2020" / "FLAME_albedo_from_BFM.npz").unlink()
    bundle = load_assets(demo_copy, cache_dir=tmp_path / "cache")
    assert bundle.albedo is not None
    assert bundle.albedo.basis.shape == (50, 3, 256, 256)
    assert bundle.sources["albedo"] == str(demo_copy / "FLAME2020" / "FLAME_texture.npz")


def test_missing_albedo_is_reported_once_per_process(demo_copy, tmp_path, monkeypatch):
    monkeypatch.setattr(bundle_module, "_albedo_absence_reported", False)
    (demo_copy / "FLAME_texture.npz").unlink()
    with pytest.warns(UserWarning, match="no albedo model") as record:
        bundle = load_assets(demo_copy, cache_dir=tmp_path / "cache")
    assert bundle.albedo is None
    messages = [str(w.message) for w in record if "albedo" in str(w.message)]
    assert len(messages) == 1
    assert messages[0].startswith(
        f"no albedo model (FLAME_albedo_from_BFM.npz or FLAME_texture.npz) in {demo_copy}"
    )
    assert "FLAME2020/" in messages[0]
    assert "texture renders" in messages[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_assets(demo_copy, cache_dir=tmp_path / "cache").albedo is None


# ------------------------------------------------------------------- 7. albedo cache bounds
def _albedo_file(path: Path, scale: float) -> Path:
    rng = np.random.default_rng(int(scale * 10))
    np.savez(path, MU=rng.random((1, 8 * 8 * 3)) * scale, PC=rng.random((1, 8 * 8 * 3, 4)))
    return path


def test_albedo_cache_is_keyed_by_content_and_bounded(tmp_path):
    cache = tmp_path / "cache"
    one = _albedo_file(tmp_path / "a.npz", 1.0)
    copy = tmp_path / "elsewhere" / "FLAME_albedo_from_BFM.npz"
    copy.parent.mkdir()
    copy.write_bytes(one.read_bytes())
    first = load_albedo_basis(one, size=8, num_components=2, cache_dir=cache)
    second = load_albedo_basis(copy, size=8, num_components=2, cache_dir=cache)
    np.testing.assert_array_equal(first.basis, second.basis)
    assert len(list(cache.glob("albedo_*.npz"))) == 1
    for i in range(4):
        load_albedo_basis(
            _albedo_file(tmp_path / f"alb{i}.npz", 2.0 + i), size=8, num_components=2, cache_dir=cache
        )
    assert len(list(cache.glob("albedo_*.npz"))) == 2


def test_unsafe_pickle_error_is_still_a_pickle_refusal(tmp_path):
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R.")
    with pytest.raises(UnsafePickleError, match=r"refused to load the pickled global 'os\.system'"):
        safe_load(path)
