"""Parameter files (``pydeca.io.params``): bounded parsing and code validation on hostile inputs."""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy_format

from pydeca.errors import InputError, ShapeError
from pydeca.io.params import (
    CODE_LIMITS,
    CODE_SHAPES,
    MAX_JSON_DEPTH,
    MAX_PARAM_FILE_BYTES,
    VIDEO_ROW_SHAPES,
    ParameterTable,
    check_codes,
    json_depth,
    load_codes,
    load_params,
    save_params,
)


def good_codes() -> dict[str, np.ndarray]:
    """One face's codes, each of its documented shape, values typical of DECA."""
    rng = np.random.default_rng(0)
    codes = {name: rng.normal(0.0, 0.5, shape) for name, shape in CODE_SHAPES.items()}
    codes["cam"] = np.array([8.5, 0.01, -0.02])
    return codes


def npz_with_member(path: Path, name: str, header: dict, payload: bytes) -> Path:
    """An .npz whose member ``name`` has the given .npy header dict and raw payload bytes."""
    member = io.BytesIO()
    npy_format.write_array_header_1_0(member, header)
    member.write(payload)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}.npy", member.getvalue())
    return path


def test_saved_codes_load_back_exactly(tmp_path: Path):
    codes = good_codes()
    npz, js = save_params(tmp_path / "face", codes, {"demo": True})
    for path in (npz, js):
        loaded = load_codes(path)
        np.testing.assert_allclose(loaded.exp[0].numpy(), codes["exp"], rtol=1e-6, atol=1e-6)
        assert tuple(loaded.light.shape) == (1, 9, 3)
        assert tuple(loaded.detail.shape) == (1, 128)


@pytest.mark.parametrize("suffix", [".npz", ".json"])
@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("exp", math.nan, "code 'exp' holds NaN or infinite values"),
        ("shape", math.inf, "code 'shape' holds NaN or infinite values"),
        ("pose", 1e30, "code 'pose' has a value of magnitude 1e+30, beyond the limit 6.28"),
        ("light", -2e3, "code 'light' has a value of magnitude 2e+03, beyond the limit 1e+03"),
        ("exp", 25.0, "code 'exp' has a value of magnitude 25, beyond the limit 20"),
    ],
)
def test_bad_code_values_name_the_file_and_key(tmp_path: Path, suffix, key, value, message):
    codes = good_codes()
    codes[key] = codes[key].copy()
    codes[key].flat[3] = value
    save_params(tmp_path / "bad", codes)
    path = tmp_path / f"bad{suffix}"
    with pytest.raises(InputError, match=re.escape(message)) as info:
        load_codes(path)
    assert str(info.value).startswith(f"{path}: ")


def test_camera_scale_must_be_positive(tmp_path: Path):
    codes = good_codes()
    codes["cam"] = np.array([0.0, 0.0, 0.0])
    with pytest.raises(InputError, match=r"code 'cam' has scale s = 0; it must be > 0"):
        check_codes(codes, "x.npz")
    codes["cam"] = np.array([8.0, 0.0, 0.0])
    assert check_codes(codes, "x.npz")["cam"][0] == 8.0


def test_limits_are_generous_but_bounded():
    assert CODE_LIMITS["pose"] == pytest.approx(2 * math.pi)
    codes = good_codes()
    codes["exp"] = np.full(50, 19.9)
    codes["pose"] = np.full(6, 6.2)
    assert check_codes(codes, "x")["exp"].max() == pytest.approx(19.9)


def test_wrong_shape_and_missing_code(tmp_path: Path):
    codes = good_codes()
    codes["exp"] = np.zeros(49)
    with pytest.raises(InputError, match=r"code 'exp' has shape \(49,\), expected \(50,\)"):
        check_codes(codes, "x.npz")
    del codes["cam"]
    with pytest.raises(InputError, match=r"missing codes \['cam'\]"):
        check_codes(codes, "x.npz")


def test_complex_and_object_arrays_are_refused(tmp_path: Path):
    codes = good_codes()
    with pytest.raises(InputError, match="array 'exp' has dtype complex128"):
        save_params(tmp_path / "c", {**codes, "exp": codes["exp"] + 1j})
    np.savez(tmp_path / "c.npz", **{**codes, "exp": codes["exp"].astype(np.complex64)})
    with pytest.raises(InputError, match="array 'exp' has complex dtype complex64"):
        load_params(tmp_path / "c.npz")
    save_params(tmp_path / "j", codes)
    document = json.loads((tmp_path / "j.json").read_text())
    for dtype, kind in (("complex128", "complex"), ("O", "object")):
        document["dtypes"]["exp"] = dtype
        (tmp_path / "j.json").write_text(json.dumps(document))
        with pytest.raises(InputError, match=f"array 'exp' has {kind} dtype"):
            load_params(tmp_path / "j.json")
    document["dtypes"].pop("exp")
    document["arrays"]["exp"] = ["a", "b"]
    (tmp_path / "j.json").write_text(json.dumps(document))
    with pytest.raises(InputError, match="array 'exp' has string dtype <U1"):
        load_params(tmp_path / "j.json")


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_empty_file(tmp_path: Path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.(npz|json): parameter file is empty \(0 bytes\)"):
        load_params(path)


def test_truncated_and_non_zip_npz(tmp_path: Path):
    npz, _ = save_params(tmp_path / "face", good_codes())
    data = npz.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        npz.write_bytes(data[:cut])
        with pytest.raises(InputError, match=r"face\.npz: cannot read parameters \(BadZipFile"):
            load_params(npz)
    npz.write_text("hello, not a zip")
    with pytest.raises(InputError, match="the file is damaged or not a parameter file"):
        load_params(npz)


def test_header_bomb_is_refused_before_allocating(tmp_path: Path):
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    path = npz_with_member(tmp_path / "bomb.npz", "exp", header, b"\0" * 400)
    claim = re.escape("array 'exp' claims shape (1000000000000,) (8000000000000 bytes) but holds 400 bytes")
    with pytest.raises(InputError, match=claim):
        load_params(path)
    small = {"descr": "<f8", "fortran_order": False, "shape": (50,)}
    path = npz_with_member(tmp_path / "short.npz", "exp", small, b"\0" * 16)  # 2 of 50 floats
    with pytest.raises(InputError, match=r"claims shape \(50,\) \(400 bytes\) but holds 16 bytes"):
        load_params(path)
    exact = npz_with_member(tmp_path / "ok.npz", "exp", small, np.arange(50.0).tobytes())
    np.testing.assert_array_equal(load_params(exact)["exp"], np.arange(50.0))


def test_object_header_in_npz_is_refused(tmp_path: Path):
    header = {"descr": "|O", "fortran_order": False, "shape": (2,)}
    path = npz_with_member(tmp_path / "obj.npz", "exp", header, b"\0" * 16)
    with pytest.raises(InputError, match="array 'exp' has object dtype"):
        load_params(path)


def test_deeply_nested_json_is_refused_without_recursion(tmp_path: Path):
    path = tmp_path / "deep.json"
    path.write_text('{"arrays": {"exp": ' + "[" * 100_000 + "]" * 100_000 + "}}")
    with pytest.raises(InputError, match=f"JSON nested 100002 levels deep \\(limit {MAX_JSON_DEPTH}\\)"):
        load_params(path)
    assert json_depth('{"a": "[[[[", "b": [[1]]}') == 3
    assert json_depth('["\\"[[["]') == 1


def test_oversized_and_odd_json(tmp_path: Path):
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(MAX_PARAM_FILE_BYTES + 1)
    with pytest.raises(InputError, match="too large for a parameter file"):
        load_params(big)
    for text, message in (
        ("[1, 2]", "JSON without an 'arrays' object"),
        ('{"arrays": {"exp": [1, [2]]}}', "cannot read parameters"),
        ("{not json", "cannot read parameters \\(JSONDecodeError"),
        ('{"arrays": {"exp": [1]}, "dtypes": {"exp": "no-such-dtype"}}', "cannot read parameters"),
    ):
        path = tmp_path / "odd.json"
        path.write_text(text)
        with pytest.raises(InputError, match=message):
            load_params(path)


def test_unknown_suffix_and_missing_file(tmp_path: Path):
    with pytest.raises(InputError, match=r"unknown parameter file suffix '\.txt'"):
        load_params(tmp_path / "x.txt")
    with pytest.raises(InputError, match="parameter file not found"):
        load_params(tmp_path / "x.npz")


# --- a video's parameter table --------------------------------------------------------------------
def test_parameter_table_rows_dtypes_and_identity(tmp_path: Path):
    rng = np.random.default_rng(2)
    table = ParameterTable()
    table.add_untracked(0)
    rows = [{key: rng.normal(size=shape).astype(np.float32) for key, shape in VIDEO_ROW_SHAPES.items()}]
    rows[0]["tform"] = rng.normal(size=(3, 3))  # float64, kept so
    table.add(2, 0, rows[0])
    identity = {"shape": np.ones(100), "tex": np.zeros(50), "detail": np.full(128, 0.5)}
    path = table.save(
        tmp_path / "clip_params.npz", identity, {"fps": np.float64(12.5), "is_demo": np.bool_(True)}
    )
    assert len(table) == 2
    with np.load(path) as data:
        got = {key: data[key] for key in data.files}
    assert list(got)[:11] == list(table.columns)
    assert got["frame"].tolist() == [0, 2]
    assert got["tracked"].tolist() == [False, True]
    assert got["track"].dtype == np.int32
    assert got["track"].tolist() == [-1, 0]
    for key, shape in VIDEO_ROW_SHAPES.items():
        assert got[key].shape == (2, *shape), key
        assert got[key].dtype == (np.float64 if key == "tform" else np.float32), key
        assert np.isnan(got[key][0]).all(), key
        np.testing.assert_array_equal(got[key][1], rows[0][key].astype(got[key].dtype), err_msg=key)
    for key, value in identity.items():
        assert got[key].dtype == np.float32
        np.testing.assert_array_equal(got[key], np.stack([value, value]).astype(np.float32))
    assert float(got["fps"]) == 12.5
    assert bool(got["is_demo"])


def test_parameter_table_refuses_a_wrong_row():
    table = ParameterTable()
    row = {key: np.zeros(shape) for key, shape in VIDEO_ROW_SHAPES.items()}
    with pytest.raises(ShapeError, match="'exp' has shape"):
        table.add(0, 0, {**row, "exp": np.zeros(49)})
    with pytest.raises(ShapeError, match="expected keys"):
        table.add(0, 0, {key: value for key, value in row.items() if key != "light"})
    assert len(table) == 0
