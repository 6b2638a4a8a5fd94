"""`pydeca.assets.fetch` against a local HTTP server on 127.0.0.1 (never the network).

The server (tests/asset_server.py) serves in-memory files with Range support, an HTML page posing
as a checkpoint, a connection that drops after half the bytes, and a FLAME-like POST login that
answers a zip for the right account and an HTML login page otherwise.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from asset_server import HTML_PAGE, PASSWORD, PAYLOAD, USER, WRONG, flame_zip, serve, tiny_deca_checkpoint
from pydeca.assets import fetch as F
from pydeca.assets import integrity
from pydeca.errors import AssetError, AssetFormatError, CheckpointError


@pytest.fixture
def server():
    """Base URL of a local test server and its shared state (files, request log)."""
    with serve() as (url, state):
        yield url, state


@pytest.fixture(scope="module")
def flame_pkl(fixtures_dir: Path) -> bytes:
    """A full-size FLAME-2020-format pickle (synthetic bases, chumpy inside)."""
    return (fixtures_dir / "flame2020_synthetic_chumpy.pkl").read_bytes()


@pytest.fixture(scope="module")
def tiny_checkpoint() -> bytes:
    return tiny_deca_checkpoint()


@pytest.fixture
def small_checkpoints_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accept checkpoints below the real size floor (the test checkpoint stores one number per tensor)."""
    monkeypatch.setattr(integrity, "MIN_CHECKPOINT_BYTES", 0)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_verifies_checksum(server, tmp_path: Path) -> None:
    url, state = server
    state["files"]["a.bin"] = PAYLOAD
    dest = tmp_path / "sub" / "a.bin"
    out = F.download(
        f"{url}/files/a.bin", dest, sha256=_sha(PAYLOAD), expected_size=len(PAYLOAD), progress=False
    )
    assert out == dest
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "sub" / "a.bin.part").exists()
    assert state["log"] == [("GET", "/files/a.bin", None)]


def test_download_resumes_after_dropped_connection(server, tmp_path: Path) -> None:
    url, state = server
    dest = tmp_path / "w.bin"
    with pytest.raises(AssetError, match="run the command again to resume") as info:
        F.download(f"{url}/drop", dest, sha256=_sha(PAYLOAD), progress=False, chunk_size=4096)
    assert str(dest) in str(info.value)
    part = tmp_path / "w.bin.part"
    assert part.stat().st_size == len(PAYLOAD) // 2
    assert not dest.exists()

    F.download(f"{url}/drop", dest, sha256=_sha(PAYLOAD), progress=False, chunk_size=4096)
    assert state["log"][1] == ("GET", "/drop", f"bytes={len(PAYLOAD) // 2}-")
    assert dest.read_bytes() == PAYLOAD
    assert not part.exists()


def test_resume_restarts_when_server_ignores_range(server, tmp_path: Path) -> None:
    url, state = server
    state["files"]["a.bin"] = PAYLOAD
    state["honour_range"] = False
    dest = tmp_path / "a.bin"
    (tmp_path / "a.bin.part").write_bytes(b"garbage that must not be kept")
    F.download(f"{url}/files/a.bin", dest, sha256=_sha(PAYLOAD), progress=False)
    assert state["log"][0][2] == "bytes=29-"
    assert dest.read_bytes() == PAYLOAD


def test_wrong_checksum_deletes_download(server, tmp_path: Path) -> None:
    url, state = server
    state["files"]["a.bin"] = PAYLOAD
    dest = tmp_path / "a.bin"
    with pytest.raises(AssetFormatError, match="expected sha256 0{64}, got " + _sha(PAYLOAD)) as info:
        F.download(f"{url}/files/a.bin", dest, sha256="0" * 64, progress=False)
    assert "retry" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["/html", "/html-as-binary"])
def test_html_instead_of_checkpoint(server, tmp_path: Path, path: str) -> None:
    url, _ = server
    with pytest.raises(CheckpointError) as info:
        F.fetch_deca(tmp_path, url=url + path, progress=False)
    message = str(info.value)
    assert F.DECA_MANUAL_URL in message
    assert str(tmp_path / "deca_model.tar") in message
    assert list(tmp_path.iterdir()) == []


def test_fetch_deca_accepts_torch_checkpoints(server, tmp_path: Path, small_checkpoints_ok) -> None:
    url, state = server
    for name, zip_format in (("new.tar", True), ("legacy.tar", False)):
        data = tiny_deca_checkpoint(zip_format=zip_format)
        state["files"][name] = data
        out_dir = tmp_path / name
        report = F.fetch_deca(out_dir, url=f"{url}/files/{name}", progress=False)
        path = out_dir / "deca_model.tar"
        assert report.downloaded == (path,)
        assert report.present == ()
        assert report.checks == {path: "loads strictly into DECA's networks (53,466,077 numbers)"}
        assert path.read_bytes() == data
        record = integrity.read_manifest(out_dir)["deca_model.tar"]
        assert record["sha256"] == _sha(data)
        assert record["size"] == len(data)
        assert record["url"] == f"{url}/files/{name}"
        assert record["check"] == "loads strictly into DECA's networks (53,466,077 numbers)"
    # a valid file is kept without a request
    n = len(state["log"])
    kept = F.fetch_deca(tmp_path / "new.tar", url=f"{url}/files/new.tar", progress=False)
    assert len(state["log"]) == n
    assert kept == F.FetchReport(tmp_path / "new.tar", present=(tmp_path / "new.tar" / "deca_model.tar",))


def test_check_checkpoint_file_magic(tmp_path: Path) -> None:
    tar = tmp_path / "x.tar"
    tar.write_bytes(b"\0" * 257 + b"ustar\x0000" + b"\0" * 250)
    F.check_checkpoint_file(tar)
    junk = tmp_path / "junk"
    junk.write_bytes(b"hello world")
    with pytest.raises(CheckpointError, match="not a torch checkpoint"):
        F.check_checkpoint_file(junk)
    assert F.looks_like_html(b"\xef\xbb\xbf \n<!DocType HTML>")
    assert not F.looks_like_html(b"PK\x03\x04<html>")


def test_gdown_missing_and_drive_html(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "gdown", None)
    with pytest.raises(AssetError, match=r'pip install "pydeca\[fetch\]"'):
        F.fetch_deca(tmp_path, progress=False)

    calls = []

    def fake_download(url, output, quiet, resume):
        calls.append(url)
        Path(output).write_bytes(HTML_PAGE)
        return output

    monkeypatch.setitem(sys.modules, "gdown", types.SimpleNamespace(download=fake_download))
    with pytest.raises(CheckpointError, match="Quota exceeded") as info:
        F.fetch_deca(tmp_path, progress=False)
    assert calls == [F.DECA_WEIGHTS.url]
    assert str(tmp_path / "deca_model.tar") in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_fetch_flame_extracts_generic_model(server, tmp_path: Path, flame_pkl: bytes) -> None:
    url, state = server
    state["flame_zip"] = flame_zip(flame_pkl)
    report = F.fetch_flame(tmp_path, username=USER, password=PASSWORD, url=f"{url}/flame", progress=False)
    path = tmp_path / "generic_model.pkl"
    assert report.downloaded == (path,)
    assert "FLAME 2020 shapes" in report.checks[path]
    assert path.read_bytes() == flame_pkl
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generic_model.pkl", "pydeca_assets.json"]
    record = integrity.read_manifest(tmp_path)["generic_model.pkl"]
    assert record["sha256"] == _sha(flame_pkl)
    assert "FLAME 2020 shapes" in record["check"]
    assert PASSWORD not in (tmp_path / "pydeca_assets.json").read_text()
    assert state["log"][0][0] == "POST"
    assert state["log"][0][2] == {"username": [USER], "password": [PASSWORD]}


def test_fetch_flame_credentials_from_env_and_keep_zip(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flame_pkl: bytes
) -> None:
    url, state = server
    state["flame_zip"] = flame_zip(flame_pkl)
    monkeypatch.setenv("FLAME_USERNAME", USER)
    monkeypatch.setenv("FLAME_PASSWORD", PASSWORD)
    F.fetch_flame(tmp_path, url=f"{url}/flame", progress=False, keep_zip=True)
    assert (tmp_path / "generic_model.pkl").read_bytes() == flame_pkl
    assert zipfile.is_zipfile(tmp_path / "FLAME2020.zip")


def test_fetch_flame_wrong_credentials(server, tmp_path: Path) -> None:
    url, _ = server
    with pytest.raises(AssetFormatError, match="login failed") as info:
        F.fetch_flame(
            tmp_path,
            username=USER,
            password=WRONG,
            url=f"{url}/flame",
            progress=False,
        )
    assert F.FLAME_SITE in str(info.value)
    assert WRONG not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_fetch_flame_without_credentials_non_interactive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLAME_USERNAME", raising=False)
    monkeypatch.delenv("FLAME_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(AssetError, match="FLAME_USERNAME and FLAME_PASSWORD"):
        F.fetch_flame(tmp_path, url="http://127.0.0.1:1/", progress=False)


def test_unreachable_host_names_destination(tmp_path: Path) -> None:
    dest = tmp_path / "deca_model.tar"
    with pytest.raises(AssetError, match=r"could not reach 127\.0\.0\.1:1") as info:
        F.download("http://127.0.0.1:1/deca_model.tar", dest, progress=False, timeout=2)
    assert f"put it at {dest}" in str(info.value)
    assert "http://127.0.0.1:1/deca_model.tar" in str(info.value)


def test_data_table_matches_published_files(topology_dir: Path) -> None:
    assert [r.name for r in F.DATA_FILES] == [
        "head_template.obj",
        "landmark_embedding.npy",
        "fixed_displacement_256.npy",
        "mean_texture.jpg",
        "uv_face_mask.png",
        "uv_face_eye_mask.png",
    ]
    for remote in F.DATA_FILES:
        assert remote.url == F.DATA_BASE_URL + remote.name
        assert F.sha256_file(topology_dir / remote.name) == remote.sha256
        assert (topology_dir / remote.name).stat().st_size == remote.size


def test_fetch_data_skips_present_files(server, tmp_path: Path, topology_dir: Path) -> None:
    url, state = server
    for remote in F.DATA_FILES:
        state["files"][remote.name] = (topology_dir / remote.name).read_bytes()
    asset_dir = tmp_path / "assets"
    asset_dir.mkdir()
    (asset_dir / "head_template.obj").write_bytes((topology_dir / "head_template.obj").read_bytes())
    (asset_dir / "mean_texture.jpg").write_bytes(b"stale copy with the wrong hash")

    first = F.fetch_data(asset_dir, base_url=f"{url}/files/", progress=False)
    paths = [asset_dir / r.name for r in F.DATA_FILES]
    assert first.asset_dir == asset_dir
    assert first.present == (asset_dir / "head_template.obj",)  # right hash: kept, not requested
    assert first.downloaded == tuple(p for p in paths if p.name != "head_template.obj")
    assert first.checks == dict.fromkeys(first.downloaded, "sha256 matches DECA's published file")
    requested = sorted(entry[1].removeprefix("/files/") for entry in state["log"])
    assert requested == sorted(r.name for r in F.DATA_FILES if r.name != "head_template.obj")
    for remote in F.DATA_FILES:
        assert F.sha256_file(asset_dir / remote.name) == remote.sha256

    # second run: everything present, no request at all
    state["log"].clear()
    report = F.fetch(["data"], asset_dir, data_base_url=f"{url}/files/", progress=False)
    assert state["log"] == []
    assert report == F.FetchReport(asset_dir, present=tuple(paths))
    assert report.to_dict() == {
        "asset_dir": str(asset_dir),
        "downloaded": [],
        "present": [str(p) for p in paths],
        "checks": {},
    }
    manifest = integrity.read_manifest(asset_dir)
    assert sorted(manifest) == sorted(r.name for r in F.DATA_FILES if r.name != "head_template.obj")
    assert manifest["mean_texture.jpg"]["sha256"] == F.DATA_FILES[3].sha256


@pytest.mark.usefixtures("small_checkpoints_ok")
def test_fetch_all_reports_and_rejects_unknown_group(
    server, tmp_path: Path, topology_dir: Path, flame_pkl: bytes, tiny_checkpoint: bytes
) -> None:
    url, state = server
    for remote in F.DATA_FILES:
        state["files"][remote.name] = (topology_dir / remote.name).read_bytes()
    state["files"]["deca_model.tar"] = tiny_checkpoint
    state["flame_zip"] = flame_zip(flame_pkl)
    report = F.fetch(
        ["all"],
        tmp_path,
        progress=False,
        username=USER,
        password=PASSWORD,
        data_base_url=f"{url}/files/",
        deca_url=f"{url}/files/deca_model.tar",
        flame_url=f"{url}/flame",
    )
    assert report.present == ()
    assert [p.name for p in report.downloaded] == [r.name for r in F.DATA_FILES] + [
        "deca_model.tar",
        "generic_model.pkl",
    ]  # groups in the order data, deca, flame
    assert report.checks[tmp_path / "deca_model.tar"].startswith("loads strictly")
    assert sorted(report.checks) == sorted(report.downloaded)
    as_json = report.to_dict()
    assert as_json["downloaded"] == [str(p) for p in report.downloaded]
    assert as_json["checks"][str(tmp_path / "deca_model.tar")].startswith("loads strictly")
    manifest = json.loads((tmp_path / "pydeca_assets.json").read_text())
    assert manifest["pydeca_assets"] == 1
    assert sorted(manifest["files"]) == sorted(p.name for p in report.downloaded)
    with pytest.raises(ValueError, match="unknown asset group"):
        F.fetch(["weights"], tmp_path)


def test_complete_part_is_verified_without_redownload(server, tmp_path: Path) -> None:
    url, state = server
    state["files"]["a.bin"] = PAYLOAD
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD)
    dest = F.download(
        f"{url}/files/a.bin",
        tmp_path / "a.bin",
        sha256=_sha(PAYLOAD),
        expected_size=len(PAYLOAD),
        progress=True,
    )
    assert state["log"] == [("GET", "/files/a.bin", f"bytes={len(PAYLOAD)}-")]  # answered 416
    assert dest.read_bytes() == PAYLOAD


def test_fetch_asks_for_flame_account_before_downloading(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = server
    monkeypatch.delenv("FLAME_USERNAME", raising=False)
    monkeypatch.delenv("FLAME_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(AssetError, match="FLAME_USERNAME"):
        F.fetch(["data", "flame"], tmp_path, progress=False, data_base_url=f"{url}/files/")
    assert state["log"] == []


# ------------------------------------------------------------------ verification after download


def test_fetch_deca_rejects_checkpoint_that_does_not_load_strictly(
    server, tmp_path: Path, small_checkpoints_ok
) -> None:
    url, state = server
    state["files"]["deca_model.tar"] = tiny_deca_checkpoint(drop_key="E_flame.layers.2.bias")
    with pytest.raises(CheckpointError) as info:
        F.fetch_deca(tmp_path, url=f"{url}/files/deca_model.tar", progress=False)
    message = str(info.value)
    assert "missing keys (1): layers.2.bias" in message
    assert F.DECA_MANUAL_URL in message
    assert str(tmp_path / "deca_model.tar") in message
    assert list(tmp_path.iterdir()) == []  # no checkpoint, no .part, no manifest entry


def test_fetch_deca_rejects_implausibly_small_checkpoint(
    server, tmp_path: Path, tiny_checkpoint: bytes
) -> None:
    url, state = server
    state["files"]["deca_model.tar"] = tiny_checkpoint  # right keys and shapes, but 0.2 MB
    with pytest.raises(CheckpointError, match=f"has {len(tiny_checkpoint):,} bytes: too small") as info:
        F.fetch_deca(tmp_path, url=f"{url}/files/deca_model.tar", progress=False)
    assert F.DECA_MANUAL_URL in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_min_checkpoint_bytes_fits_deca_networks() -> None:
    from pydeca.nets import build_networks

    numbers = sum(t.numel() for m in build_networks(device="meta").values() for t in m.state_dict().values())
    assert (
        numbers == 53_466_077
    )  # shared/fixtures/deca_model_manifest.json: 25,901,281 + 25,790,581 + 1,774,215
    # float32 needs 213.9 MB; the floor stays below even a float16 copy (106.9 MB)
    assert numbers * 2 > integrity.MIN_CHECKPOINT_BYTES > 50_000_000


def test_fetch_deca_replaces_html_left_by_an_earlier_attempt(
    server, tmp_path: Path, tiny_checkpoint: bytes, small_checkpoints_ok
) -> None:
    url, state = server
    state["files"]["deca_model.tar"] = tiny_checkpoint
    (tmp_path / "deca_model.tar").write_bytes(HTML_PAGE)
    report = F.fetch(["deca"], tmp_path, deca_url=f"{url}/files/deca_model.tar", progress=False)
    assert report.downloaded == (tmp_path / "deca_model.tar",)
    assert (tmp_path / "deca_model.tar").read_bytes() == tiny_checkpoint


def test_fetch_flame_rejects_a_model_that_is_not_flame2020(server, tmp_path: Path) -> None:
    url, state = server
    v, j = 10, 5  # a FLAME-format model on a 10-vertex mesh
    model = {
        "v_template": np.zeros((v, 3)),
        "f": np.zeros((4, 3), dtype=np.uint32),
        "shapedirs": np.zeros((v, 3, 400)),
        "posedirs": np.zeros((v, 3, 36)),
        "J_regressor": np.zeros((j, v)),
        "weights": np.zeros((v, j)),
        "kintree_table": np.zeros((2, j), dtype=np.int64),
    }
    buf = io.BytesIO()
    pickle.dump(model, buf, protocol=2)
    state["flame_zip"] = flame_zip(buf.getvalue())
    with pytest.raises(
        AssetFormatError, match=r"not FLAME 2020: v_template \(10, 3\) \(FLAME 2020: \(5023, 3\)\)"
    ):
        F.fetch_flame(tmp_path, username=USER, password=PASSWORD, url=f"{url}/flame", progress=False)
    assert list(tmp_path.iterdir()) == []

    state["flame_zip"] = flame_zip(b"\x80\x02not a FLAME model")
    with pytest.raises(AssetFormatError, match="not a readable pickle") as info:
        F.fetch_flame(tmp_path, username=USER, password=PASSWORD, url=f"{url}/flame", progress=False)
    assert F.FLAME_SITE in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_fetch_flame_keeps_the_model_in_deca_flame2020_folder(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flame_pkl: bytes
) -> None:
    url, state = server
    (tmp_path / "FLAME2020").mkdir()
    existing = tmp_path / "FLAME2020" / "generic_model.pkl"
    existing.write_bytes(flame_pkl)
    monkeypatch.delenv("FLAME_USERNAME", raising=False)
    monkeypatch.delenv("FLAME_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no account needed: nothing to download
    report = F.fetch(["flame"], tmp_path, flame_url=f"{url}/flame", progress=False)
    assert report.present == (existing,)
    assert report.downloaded == ()
    assert state["log"] == []
    assert F.fetch_flame(tmp_path, url=f"{url}/flame", progress=False).present == (existing,)
    assert not (tmp_path / "generic_model.pkl").exists()


# ----------------------------------------------------------------------------- URL overrides


def test_resolve_sources_precedence() -> None:
    official = F.resolve_sources(environ={})
    assert official == F.FetchSources(F.DATA_BASE_URL, F.DECA_WEIGHTS.url, F.FLAME_URL)

    env = {"PYDECA_MIRROR": "http://env-mirror/deca"}
    from_env_mirror = F.resolve_sources(environ=env)
    assert from_env_mirror.data_base_url == "http://env-mirror/deca/"
    assert from_env_mirror.deca_url == "http://env-mirror/deca/deca_model.tar"
    assert from_env_mirror.flame_url == F.FLAME_URL  # FLAME is never taken from a mirror

    env |= {
        "PYDECA_DATA_URL": "http://data",
        "PYDECA_DECA_URL": "http://w/x.tar",
        "PYDECA_FLAME_URL": "http://f",
    }
    assert F.resolve_sources(environ=env) == F.FetchSources("http://data/", "http://w/x.tar", "http://f")
    # the command line (mirror argument) beats the environment; a per-group argument beats both
    cli = F.resolve_sources(mirror="http://cli/", environ=env)
    assert (cli.data_base_url, cli.deca_url, cli.flame_url) == (
        "http://cli/",
        "http://cli/deca_model.tar",
        "http://f",
    )
    explicit = F.resolve_sources(mirror="http://cli/", deca_url="http://one.tar", environ=env)
    assert explicit.deca_url == "http://one.tar"
    assert explicit.data_base_url == "http://cli/"


def test_html_page_shorter_than_expected_is_refused_not_resumed(server, tmp_path: Path) -> None:
    """An error page served as octet-stream is complete: refused and deleted, never appended to."""
    url, _ = server
    dest = tmp_path / "uv_face_mask.png"
    with pytest.raises(AssetFormatError, match=r"returned an HTML page \('Google Drive - Quota exceeded'\)"):
        F.download(f"{url}/html-as-binary", dest, expected_size=12_112, progress=False)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------- FLAME account: a callback, never stdin


class _TerminalThatMustNotBeRead(io.StringIO):
    """A stdin that claims to be a terminal and fails the test when anything reads it."""

    def isatty(self) -> bool:
        return True

    def read(self, *args, **kwargs):
        pytest.fail("the library read stdin")

    def readline(self, *args, **kwargs):
        pytest.fail("the library read stdin")


@pytest.fixture
def no_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    """No account in the environment; input(), getpass() and stdin fail the test if used."""
    import builtins
    import getpass

    def forbidden(*args, **kwargs):
        pytest.fail("the library prompted on the terminal")

    monkeypatch.delenv("FLAME_USERNAME", raising=False)
    monkeypatch.delenv("FLAME_PASSWORD", raising=False)
    monkeypatch.setattr(builtins, "input", forbidden)
    monkeypatch.setattr(getpass, "getpass", forbidden)
    monkeypatch.setattr(sys, "stdin", _TerminalThatMustNotBeRead())


class _Asker:
    """An ``AccountPrompt`` that records its calls and answers with ``answer``."""

    def __init__(self, answer: tuple[str, str] = (USER, PASSWORD)) -> None:
        self.answer = answer
        self.calls: list[tuple[str | None, str | None]] = []

    def __call__(self, username: str | None, password: str | None) -> tuple[str, str]:
        self.calls.append((username, password))
        return self.answer


@pytest.mark.usefixtures("no_stdin")
def test_no_account_and_no_callback_is_a_clear_error_without_reading_stdin(server, tmp_path: Path) -> None:
    url, state = server
    with pytest.raises(AssetError) as info:
        F.fetch_flame(tmp_path, url=f"{url}/flame", progress=False)
    message = str(info.value)
    for part in ("FLAME_USERNAME and FLAME_PASSWORD", F.FLAME_SITE, "deca fetch", "ask_account"):
        assert part in message
    with pytest.raises(AssetError, match="FLAME_USERNAME and FLAME_PASSWORD"):
        F.fetch(["flame"], tmp_path, flame_url=f"{url}/flame", progress=False)
    assert state["log"] == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("no_stdin")
def test_fetch_flame_asks_the_callback_exactly_once(server, tmp_path: Path, flame_pkl: bytes) -> None:
    url, state = server
    state["flame_zip"] = flame_zip(flame_pkl)
    ask = _Asker()
    report = F.fetch_flame(tmp_path, ask_account=ask, url=f"{url}/flame", progress=False)
    assert ask.calls == [(None, None)]
    assert report.downloaded == (tmp_path / "generic_model.pkl",)
    assert state["log"][0][2] == {"username": [USER], "password": [PASSWORD]}

    # the model is now present: nothing to download, nobody asked
    assert F.fetch_flame(tmp_path, ask_account=ask, url=f"{url}/flame", progress=False).present
    assert len(ask.calls) == 1


@pytest.mark.usefixtures("no_stdin")
def test_callback_gets_what_is_known_and_is_skipped_when_all_is(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flame_pkl: bytes
) -> None:
    url, state = server
    state["flame_zip"] = flame_zip(flame_pkl)
    ask = _Asker()
    F.fetch_flame(tmp_path / "a", username=USER, ask_account=ask, url=f"{url}/flame", progress=False)
    assert ask.calls == [(USER, None)]  # only the password is missing

    F.fetch_flame(
        tmp_path / "b", username=USER, password=PASSWORD, ask_account=ask, url=f"{url}/flame", progress=False
    )
    monkeypatch.setenv("FLAME_USERNAME", USER)
    monkeypatch.setenv("FLAME_PASSWORD", PASSWORD)
    F.fetch_flame(tmp_path / "c", ask_account=ask, url=f"{url}/flame", progress=False)
    assert len(ask.calls) == 1, "arguments or environment variables: the callback is not called"
    for name in "abc":
        assert (tmp_path / name / "generic_model.pkl").read_bytes() == flame_pkl


@pytest.mark.usefixtures("no_stdin", "small_checkpoints_ok")
def test_fetch_all_asks_once_before_any_download(
    server, tmp_path: Path, topology_dir: Path, flame_pkl: bytes, tiny_checkpoint: bytes
) -> None:
    url, state = server
    for remote in F.DATA_FILES:
        state["files"][remote.name] = (topology_dir / remote.name).read_bytes()
    state["files"]["deca_model.tar"] = tiny_checkpoint
    state["flame_zip"] = flame_zip(flame_pkl)
    log_when_asked: list[int] = []

    def ask(username: str | None, password: str | None) -> tuple[str, str]:
        log_when_asked.append(len(state["log"]))
        return USER, PASSWORD

    report = F.fetch(
        ["all"],
        tmp_path,
        progress=False,
        ask_account=ask,
        data_base_url=f"{url}/files/",
        deca_url=f"{url}/files/deca_model.tar",
        flame_url=f"{url}/flame",
    )
    assert log_when_asked == [0], "asked once, before the first request"
    assert len(report.downloaded) == len(F.DATA_FILES) + 2


@pytest.mark.usefixtures("no_stdin")
@pytest.mark.parametrize("answer", [("", PASSWORD), (USER, "")])
def test_empty_answer_from_the_callback_is_refused(server, tmp_path: Path, answer: tuple[str, str]) -> None:
    url, state = server
    with pytest.raises(AssetError, match="both a user name and a password"):
        F.fetch_flame(tmp_path, ask_account=_Asker(answer), url=f"{url}/flame", progress=False)
    assert state["log"] == []


def test_fetch_report_is_frozen_and_to_dict_keeps_the_json_keys(tmp_path: Path) -> None:
    got, kept = tmp_path / "deca_model.tar", tmp_path / "head_template.obj"
    report = F.FetchReport(tmp_path, downloaded=(got,), present=(kept,), checks={got: "loads"})
    with pytest.raises(AttributeError):
        report.downloaded = ()  # type: ignore[misc]
    assert report.to_dict() == {
        "asset_dir": str(tmp_path),
        "downloaded": [str(got)],
        "present": [str(kept)],
        "checks": {str(got): "loads"},
    }
    assert json.loads(json.dumps(report.to_dict())) == report.to_dict()
    assert F.FetchReport(tmp_path).to_dict()["downloaded"] == []
