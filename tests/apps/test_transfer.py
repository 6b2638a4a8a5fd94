"""Expression transfer (``pydeca.apps.transfer``) on the demo asset pack."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from pydeca.apps.transfer import (
    TransferOptions,
    face_from_params,
    run_transfer,
    transfer_codes,
    transfer_expression,
)
from pydeca.cli import main
from pydeca.detect import get_detector
from pydeca.io.images import load_image
from pydeca.io.mesh import read_obj
from pydeca.io.params import load_params, save_params
from pydeca.nets import Codes
from pydeca.pipeline import prepare_faces, reconstruct_batch, save


@pytest.fixture(scope="module")
def identity(demo_model, shared):
    """The demo reconstruction of an already cropped example photo (no detector)."""
    path = shared / "images" / "examples" / "IMG_0392_inputs.jpg"
    prepared = prepare_faces(load_image(path), path.stem, get_detector("none"), path)
    results, failures = reconstruct_batch(demo_model, prepared)
    assert not failures
    return results[0]


def _expression_codes(codes, jaw_x: float = 0.3, seed: int = 0):
    """Codes whose expression and jaw differ from ``codes`` (everything else kept)."""
    generator = torch.Generator().manual_seed(seed)
    exp = torch.randn(codes.exp.shape, generator=generator) * 1.5
    pose = codes.pose.clone()
    pose[:, 3:] = torch.tensor([jaw_x, 0.02, -0.01])
    cam = torch.tensor([[5.0, 0.1, -0.1]])  # must not leak into the transfer
    return type(codes)(codes.shape * 0, codes.tex, exp.to(codes.exp), pose, cam, codes.light, codes.detail)


def test_transfer_codes_replace_exp_and_jaw_only(identity):
    expression = _expression_codes(identity.codes)
    moved = transfer_codes(identity.codes, expression)
    assert torch.equal(moved.exp, expression.exp)
    assert torch.equal(moved.pose[:, 3:], expression.pose[:, 3:])
    for name in ("shape", "tex", "cam", "light", "detail"):
        assert torch.equal(getattr(moved, name), getattr(identity.codes, name)), name
    assert torch.equal(moved.pose[:, :3], identity.codes.pose[:, :3])


def test_transfer_expression_matches_decode_and_detail_decoder(demo_model, identity):
    expression = _expression_codes(identity.codes)
    rec = transfer_expression(demo_model, identity, expression)
    codes = identity.codes.to(demo_model.device)
    swapped = type(codes)(
        codes.shape,
        codes.tex,
        expression.exp,
        torch.cat([codes.pose[:, :3], expression.pose[:, 3:]], dim=1),
        codes.cam,
        codes.light,
        codes.detail,
    )
    with torch.inference_mode():
        expected = demo_model.decode(swapped)
        uv_z = demo_model.D_detail(torch.cat([expression.pose[:, 3:], expression.exp, codes.detail], dim=1))
    assert rec.batch_size == 1
    assert rec.vertices.shape == expected.vertices.shape
    torch.testing.assert_close(rec.vertices, expected.vertices, atol=1e-6, rtol=0)
    torch.testing.assert_close(rec.detail.uv_z, uv_z, atol=1e-6, rtol=0)
    # The expression really changed the face, and the detail follows the new expression.
    assert (rec.vertices - identity.reconstruction.vertices).abs().max() > 1e-4
    assert (rec.detail.uv_z - identity.reconstruction.detail.uv_z).abs().max() > 1e-6
    # The identity's photo texture is kept.
    assert torch.equal(rec.photo_texture.uv_texture_gt, identity.reconstruction.photo_texture.uv_texture_gt)


def test_transfer_expression_batch_of_two(demo_model, identity):
    from pydeca.nets import Codes

    expressions = Codes.cat(
        [_expression_codes(identity.codes, 0.1, 1), _expression_codes(identity.codes, 0.4, 2)]
    )
    rec = transfer_expression(demo_model, identity.codes, expressions)
    assert rec.batch_size == 2
    assert rec.photo_texture is None
    single = transfer_expression(demo_model, identity.codes, expressions[1])
    torch.testing.assert_close(rec.vertices[1:], single.vertices, atol=1e-6, rtol=0)


def test_run_transfer_from_images_writes_grid_meshes_and_params(demo_model, identity, shared, tmp_path):
    photo = shared / "images" / "examples" / "IMG_0392_inputs.jpg"
    expression = shared / "images" / "exp" / "7.jpg"
    options = TransferOptions(save_params=True, detector="none")
    summary = run_transfer(photo, [expression], tmp_path, options, model=demo_model, quiet=True)
    name = "IMG_0392_inputs_to_7"
    assert list(summary.outputs) == [name]
    assert not summary.failed
    assert summary.demo
    grid = np.asarray(Image.open(tmp_path / f"{name}.jpg"))
    assert grid.shape == (224, 4 * 224, 3)
    assert grid[:14].reshape(-1, 3).mean(axis=0)[0] > 120  # red demo banner on top
    for suffix in (".npz", ".json"):
        assert (tmp_path / name / f"{name}{suffix}").is_file(), suffix
    assert not (tmp_path / name / f"{name}.obj").exists()
    params = load_params(tmp_path / name / f"{name}.npz")
    assert json.loads(str(params["meta_json"]))["demo"] is True
    ident = identity.codes.to_numpy()
    np.testing.assert_allclose(params["shape"], ident["shape"][0], atol=1e-6)
    np.testing.assert_allclose(params["cam"], ident["cam"][0], atol=1e-6)
    np.testing.assert_allclose(params["pose"][:3], ident["pose"][0, :3], atol=1e-6)
    assert np.abs(params["exp"] - ident["exp"][0]).max() > 1e-4  # the expression photo's code


def test_run_transfer_from_parameter_files(demo_model, identity, tmp_path):
    save(demo_model, identity, tmp_path / "in", formats=("npz",))
    identity_npz = tmp_path / "in" / identity.name / f"{identity.name}.npz"
    expression = _expression_codes(identity.codes)
    save_params(tmp_path / "in" / "smile", {k: v[0] for k, v in expression.to_numpy().items()})
    options = TransferOptions(save_meshes=True, save_params=True)
    summary = run_transfer(
        identity_npz, [tmp_path / "in" / "smile.npz"], tmp_path / "out", options, model=demo_model
    )
    name = f"{identity.name}_to_smile"
    assert list(summary.outputs) == [name]
    assert not summary.failed
    assert np.asarray(Image.open(tmp_path / "out" / f"{name}.jpg")).shape == (224, 896, 3)
    for suffix in (".obj", "_detail.obj", ".png", "_normals.png", ".npz", ".json"):
        assert (tmp_path / "out" / name / f"{name}{suffix}").is_file(), suffix
    params = load_params(tmp_path / "out" / name / f"{name}.npz")
    np.testing.assert_allclose(params["exp"], expression.exp[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(params["pose"][3:], expression.pose[0, 3:].numpy(), atol=1e-6)
    np.testing.assert_allclose(params["shape"], identity.codes.shape[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(params["detail"], identity.codes.detail[0].numpy(), atol=1e-6)


def test_face_from_params_texture_fallbacks(demo_model, identity, tmp_path):
    save(demo_model, identity, tmp_path, formats=("npz",))
    npz = tmp_path / identity.name / f"{identity.name}.npz"
    face = face_from_params(demo_model, npz)  # no texture file: the albedo model's texture
    torch.testing.assert_close(
        face.reconstruction.photo_texture.uv_texture_gt, face.reconstruction.model_texture.uv_texture
    )
    assert face.crop.shape == (1, 3, 224, 224)
    assert face.image.shape == (224, 224, 3)
    texture = np.zeros((256, 256, 3), np.uint8)
    texture[..., 1] = 255
    Image.fromarray(texture).save(npz.with_suffix(".png"))  # what 'deca reconstruct --save-obj' writes
    face = face_from_params(demo_model, npz)
    assert face.reconstruction.photo_texture.uv_texture_gt[0, 1].min() == 1.0
    assert face.reconstruction.photo_texture.uv_texture_gt[0, 0].max() == 0.0


@pytest.fixture
def demo_cli(demo_cache, monkeypatch):
    """The CLI loads the same demo pack as ``demo_model`` (one cache)."""
    monkeypatch.setenv("PYDECA_CACHE", str(demo_cache))


def test_cli_transfer_real_photos_mesh_is_identity_with_their_expression(
    demo_model, demo_cli, shared, tmp_path, capsys
):
    """`deca transfer ID EXP --save-meshes --save-params`: the written OBJ is the identity's codes
    decoded with the expression photo's exp and jaw pose; every other code is the identity's."""
    photo = shared / "images" / "examples" / "IMG_0392_inputs.jpg"
    expression_photo = shared / "images" / "exp" / "7.jpg"
    out = tmp_path / "out"
    argv = ["transfer", str(photo), str(expression_photo), "-o", str(out), "--save-meshes", "--save-params"]
    argv += ["--detector", "none", "--assets", "demo", "--json", "--quiet"]  # both photos are face crops
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    name = "IMG_0392_inputs_to_7"
    assert report["succeeded"] == 1

    # independently: the identity's and the expression photo's codes
    none = get_detector("none")
    (ident,), _ = reconstruct_batch(demo_model, prepare_faces(load_image(photo), photo.stem, none, photo))
    crop = prepare_faces(load_image(expression_photo), "7", none, expression_photo)[0].crop
    with torch.inference_mode():
        expr = demo_model.encode(crop[None])
        codes = ident.codes
        swapped = Codes(
            codes.shape,
            codes.tex,
            expr.exp,
            torch.cat([codes.pose[:, :3], expr.pose[:, 3:]], dim=1),
            codes.cam,
            codes.light,
            codes.detail,
        )
        expected = demo_model.decode(swapped).vertices[0].numpy()
    mesh = read_obj(out / name / f"{name}.obj")
    assert mesh["vertices"].shape == expected.shape
    assert np.abs(mesh["vertices"] - expected).max() < 1e-5
    assert np.abs(expected - ident.reconstruction.vertices[0].numpy()).max() > 1e-4  # it did change

    params = load_params(out / name / f"{name}.npz")
    for key in ("shape", "tex", "cam", "light", "detail"):
        np.testing.assert_allclose(
            params[key], getattr(codes, key)[0].numpy(), atol=1e-6, rtol=0, err_msg=key
        )
    np.testing.assert_allclose(params["pose"][:3], codes.pose[0, :3].numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(params["pose"][3:], expr.pose[0, 3:].numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(params["exp"], expr.exp[0].numpy(), atol=1e-6, rtol=0)

    # the summary lists every file written, the OBJ's material and textures included
    listed = report["outputs"][name]
    on_disk = [*(str(p) for p in (out / name).iterdir()), str(out / f"{name}.jpg")]
    assert sorted(listed) == sorted(on_disk)
    for suffix in (".obj", ".mtl", ".png", "_normals.png", "_detail.obj", ".npz", ".json"):
        assert str(out / name / f"{name}{suffix}") in listed, suffix


# ------------------------------------------------------------------------ bad expression inputs
def _hostile_inputs(folder, good: dict[str, np.ndarray]) -> dict[str, str]:
    """Crafted bad expression inputs in ``folder``: file name → the message it must fail with."""
    import io
    import zipfile

    from numpy.lib import format as npy_format

    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for name, key, value, message in (
        ("nan", "exp", np.nan, "code 'exp' holds NaN or infinite values"),
        ("inf", "pose", np.inf, "code 'pose' holds NaN or infinite values"),
        ("huge", "exp", 1e30, "code 'exp' has a value of magnitude 1e+30"),
    ):
        arrays = {k: v.copy() for k, v in good.items()}
        arrays[key].flat[0] = value
        save_params(folder / name, arrays)
        expected[f"{name}.npz"] = message
        expected[f"{name}.json"] = message
    (folder / "empty.npz").write_bytes(b"")
    expected["empty.npz"] = "parameter file is empty (0 bytes)"
    save_params(folder / "whole", good)
    data = (folder / "whole.npz").read_bytes()
    (folder / "truncated.npz").write_bytes(data[: len(data) // 2])
    expected["truncated.npz"] = "cannot read parameters (BadZipFile"
    member = io.BytesIO()
    npy_format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    member.write(b"\0" * 64)
    with zipfile.ZipFile(folder / "bomb.npz", "w") as archive:
        archive.writestr("exp.npy", member.getvalue())
    expected["bomb.npz"] = "array 'exp' claims shape (1000000000000,)"
    (folder / "deep.json").write_text('{"arrays": ' + "[" * 50_000 + "]" * 50_000 + "}")
    expected["deep.json"] = "JSON nested 50001 levels deep (limit 64)"
    (folder / "junk.jpg").write_bytes(b"not a photo at all" * 20)
    expected["junk.jpg"] = "not an image file Pillow can read"
    for suffix in (".npz", ".json"):
        (folder / f"whole{suffix}").unlink()
    return expected


def test_bad_expression_inputs_fail_alone(demo_model, identity, tmp_path, capsys):
    good = {k: v[0] for k, v in _expression_codes(identity.codes).to_numpy().items()}
    expected = _hostile_inputs(tmp_path / "bad", good)
    save_params(tmp_path / "smile", good)
    inputs = [tmp_path / "smile.npz", *(tmp_path / "bad" / name for name in expected), tmp_path / "gone.npz"]
    save(demo_model, identity, tmp_path / "id", formats=("npz",))
    identity_npz = tmp_path / "id" / identity.name / f"{identity.name}.npz"
    summary = run_transfer(identity_npz, inputs, tmp_path / "out", model=demo_model, quiet=True)
    assert list(summary.outputs) == [f"{identity.name}_to_smile"]
    assert (tmp_path / "out" / f"{identity.name}_to_smile.jpg").is_file()
    assert set(summary.failed) == {str(p) for p in inputs[1:]}
    for name, message in expected.items():
        text = summary.failed[str(tmp_path / "bad" / name)]
        assert text.startswith(str(tmp_path / "bad" / name)), text
        assert message in text, (name, text)
    assert "parameter file not found" in summary.failed[str(tmp_path / "gone.npz")]
    err = capsys.readouterr().err
    assert "Traceback" not in err
    failed_lines = [line for line in err.splitlines() if line.startswith("deca: failed: ")]
    assert len(failed_lines) == len(inputs) - 1  # printed although quiet=True
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{identity.name}_to_smile.jpg"]


def test_cli_transfer_quiet_still_reports_failures_and_exits_1(
    demo_model, demo_cli, identity, tmp_path, capsys
):
    good = {k: v[0] for k, v in _expression_codes(identity.codes).to_numpy().items()}
    save_params(tmp_path / "smile", good)
    bad = dict(good, exp=np.full(50, np.nan))
    save_params(tmp_path / "nan", bad)
    save(demo_model, identity, tmp_path / "id", formats=("npz",))
    identity_npz = tmp_path / "id" / identity.name / f"{identity.name}.npz"
    argv = ["transfer", str(identity_npz), str(tmp_path / "nan.npz"), str(tmp_path / "smile.npz")]
    assert main([*argv, "-o", str(tmp_path / "out"), "--assets", "demo", "--quiet", "--json"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["succeeded"] == 1
    assert list(report["failed"]) == [str(tmp_path / "nan.npz")]
    assert captured.err.splitlines() == [
        f"deca: failed: {tmp_path / 'nan.npz'}: code 'exp' holds NaN or infinite values; write it again with "
        "'deca reconstruct' or pydeca.io.save_params"
    ]


def test_cli_transfer_bad_identity_file_is_one_line(demo_cli, tmp_path, capsys):
    (tmp_path / "id.npz").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "e.npz").write_bytes(b"")
    argv = ["transfer", str(tmp_path / "id.npz"), str(tmp_path / "e.npz"), "-o", str(tmp_path / "o")]
    status = main([*argv, "--assets", "demo", "--quiet"])
    assert status == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"deca: error: {tmp_path / 'id.npz'}: cannot read parameters")
    assert not any("Traceback" in line for line in err)
