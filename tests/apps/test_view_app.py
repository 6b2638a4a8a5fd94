"""``deca view`` (``pydeca.apps.view``): inputs, presets, failures, host warning, CLI wiring."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from paths import SHARED
from pydeca.apps.view import ViewOptions, is_loopback, open_dashboard
from pydeca.cli import main
from pydeca.io.params import save_params

PHOTO = SHARED / "images" / "examples" / "IMG_0392_inputs.jpg"
EXPRESSION_PHOTO = SHARED / "images" / "exp" / "0.jpg"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.3.0.9", True),
        ("0.0.0.0", False),  # noqa: S104 - a name compared, nothing bound
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_photos_parameter_files_and_presets(demo_model, tmp_path: Path, capsys) -> None:
    first, summary = open_dashboard([PHOTO], ViewOptions(port=0), model=demo_model, quiet=True)
    first.stop()
    arrays = {k: v[0] for k, v in first.head.face.codes.to_numpy().items()}
    save_params(tmp_path / "saved", arrays, {})
    expressions = tmp_path / "expressions"
    expressions.mkdir()
    shutil.copy(EXPRESSION_PHOTO, expressions / "happy.jpg")
    save_params(expressions / "stored", arrays, {})
    options = ViewOptions(port=0, expressions=expressions)
    inputs = [PHOTO, tmp_path / "saved.npz", tmp_path / "missing.jpg"]
    dashboard, summary = open_dashboard(inputs, options, model=demo_model, quiet=True)
    try:
        assert list(dashboard.faces) == ["IMG_0392_inputs", "saved"]
        assert set(dashboard.presets) == {"happy", "stored"}
        np.testing.assert_allclose(dashboard.presets["stored"][0], arrays["exp"], atol=1e-6)
        assert list(summary.failed) == [str(tmp_path / "missing.jpg")]
        assert summary.notes["url"] == f"http://127.0.0.1:{dashboard.port}"
        # the decoded parameter file shows the same head as the photo it came from
        dashboard.select_face("saved")
        saved = dashboard.mesh.vertices.copy()
        dashboard.select_face("IMG_0392_inputs")
        np.testing.assert_allclose(saved, dashboard.mesh.vertices, atol=1e-5)
    finally:
        dashboard.stop()
    assert "missing.jpg" in capsys.readouterr().err


def test_a_public_host_is_warned_about(demo_model, capsys) -> None:
    dashboard, _ = open_dashboard([PHOTO], ViewOptions(host="0.0.0.0", port=0), model=demo_model, quiet=True)  # noqa: S104
    dashboard.stop()
    assert "anyone who can reach this machine" in capsys.readouterr().err


def test_no_usable_input_is_an_error_line(tmp_path: Path, capsys, demo_cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("PYDECA_CACHE", str(demo_cache))
    assert (
        main(["view", str(tmp_path / "nobody.jpg"), "--assets", "demo", "--device", "cpu", "--port", "0"])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("deca: error: deca view: no face to show")
    with pytest.raises(SystemExit) as caught:
        main(["view", "x.jpg", "--port", "70000"])
    assert caught.value.code == 2
    assert "--port" in capsys.readouterr().err
