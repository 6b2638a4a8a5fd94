"""`pydeca.assets.fetch` against a local HTTP server on 127.0.0.1 (never the network).

The server (a ThreadingHTTPServer on an ephemeral port) serves in-memory files with Range support,
an HTML page posing as a checkpoint, a connection that drops after half the bytes, and a FLAME-like
POST login that answers a zip for the right account and an HTML login page otherwise.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import sys
import threading
import types
import urllib.parse
import zipfile
from pathlib import Path

import pytest
import torch

from pydeca.assets import fetch as F
from pydeca.errors import AssetError, AssetFormatError, CheckpointError

USER, PASSWORD = "ada@example.org", "s3cret"
WRONG = "not-the-password-42"
PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes
FLAME_PKL = b"\x80\x02fake FLAME pickle bytes" * 100
HTML_PAGE = (
    b"\n  <!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head>"
    b"<body>Too many users have viewed or downloaded this file recently.</body></html>"
)
LOGIN_PAGE = b"<html><head><title>FLAME - Login</title></head><body>Invalid credentials</body></html>"


def _flame_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("FLAME2020/generic_model.pkl", FLAME_PKL)
        archive.writestr("FLAME2020/female_model.pkl", b"other")
        archive.writestr("FLAME2020/Readme.pdf", b"%PDF-1.4")
    return buf.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _send(self, body: bytes, content_type: str = "application/octet-stream") -> None:
        state = self.server.state  # type: ignore[attr-defined]
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and state["honour_range"]:
            start = int(rng[len("bytes=") :].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        chunk = body[start:]
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        self.wfile.write(chunk)

    def do_GET(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        path = urllib.parse.urlsplit(self.path).path
        state["log"].append(("GET", path, self.headers.get("Range")))
        if path.startswith("/files/") and path[len("/files/") :] in state["files"]:
            self._send(state["files"][path[len("/files/") :]])
        elif path == "/html":
            self._send(HTML_PAGE, "text/html; charset=utf-8")
        elif path == "/html-as-binary":
            self._send(HTML_PAGE, "application/octet-stream")
        elif path == "/drop":
            state["drop_calls"] += 1
            if state["drop_calls"] == 1:  # announce everything, send half, hang up
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(PAYLOAD)))
                self.end_headers()
                self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            else:
                self._send(PAYLOAD)
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        state["log"].append(("POST", self.path, form))
        if form.get("username") == [USER] and form.get("password") == [PASSWORD]:
            self._send(_flame_zip(), "application/zip")
        else:
            self._send(LOGIN_PAGE, "text/html")


@pytest.fixture
def server():
    """Base URL of a local test server and its shared state (files, request log)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = {"files": {}, "log": [], "drop_calls": 0, "honour_range": True}  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.state  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()


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


def test_fetch_deca_accepts_torch_checkpoints(server, tmp_path: Path) -> None:
    url, state = server
    for name, zip_format in (("new.tar", True), ("legacy.tar", False)):
        buf = io.BytesIO()
        torch.save({"E_flame": {"w": torch.zeros(2)}}, buf, _use_new_zipfile_serialization=zip_format)
        state["files"][name] = buf.getvalue()
        out_dir = tmp_path / name
        path = F.fetch_deca(out_dir, url=f"{url}/files/{name}", progress=False)
        assert path == out_dir / "deca_model.tar"
        assert path.read_bytes() == buf.getvalue()
    # a valid file is kept without a request
    n = len(state["log"])
    F.fetch_deca(tmp_path / "new.tar", url=f"{url}/files/new.tar", progress=False)
    assert len(state["log"]) == n


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


def test_fetch_flame_extracts_generic_model(server, tmp_path: Path) -> None:
    url, state = server
    path = F.fetch_flame(tmp_path, username=USER, password=PASSWORD, url=f"{url}/flame", progress=False)
    assert path == tmp_path / "generic_model.pkl"
    assert path.read_bytes() == FLAME_PKL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generic_model.pkl"]
    assert state["log"][0][0] == "POST"
    assert state["log"][0][2] == {"username": [USER], "password": [PASSWORD]}


def test_fetch_flame_credentials_from_env_and_keep_zip(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = server
    monkeypatch.setenv("FLAME_USERNAME", USER)
    monkeypatch.setenv("FLAME_PASSWORD", PASSWORD)
    F.fetch_flame(tmp_path, url=f"{url}/flame", progress=False, keep_zip=True)
    assert (tmp_path / "generic_model.pkl").read_bytes() == FLAME_PKL
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

    paths = F.fetch_data(asset_dir, base_url=f"{url}/files/", progress=False)
    assert paths == [asset_dir / r.name for r in F.DATA_FILES]
    requested = sorted(entry[1].removeprefix("/files/") for entry in state["log"])
    assert requested == sorted(r.name for r in F.DATA_FILES if r.name != "head_template.obj")
    for remote in F.DATA_FILES:
        assert F.sha256_file(asset_dir / remote.name) == remote.sha256

    # second run: everything present, no request at all
    state["log"].clear()
    report = F.fetch(["data"], asset_dir, data_base_url=f"{url}/files/", progress=False)
    assert state["log"] == []
    assert report == {"downloaded": [], "present": [str(p) for p in paths]}


def test_fetch_all_reports_and_rejects_unknown_group(server, tmp_path: Path, topology_dir: Path) -> None:
    url, state = server
    for remote in F.DATA_FILES:
        state["files"][remote.name] = (topology_dir / remote.name).read_bytes()
    buf = io.BytesIO()
    torch.save({"E_flame": {}}, buf)
    state["files"]["deca_model.tar"] = buf.getvalue()
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
    assert report["present"] == []
    assert sorted(Path(p).name for p in report["downloaded"]) == sorted(
        [r.name for r in F.DATA_FILES] + ["deca_model.tar", "generic_model.pkl"]
    )
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
