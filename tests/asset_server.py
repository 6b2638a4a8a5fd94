"""A local HTTP server on 127.0.0.1 standing in for GitHub, Google Drive and the FLAME site.

Used by the ``deca fetch`` tests (never the network). It serves in-memory files under ``/files/``
with Range support; a file named in ``state["drop_once"]`` is cut after half its bytes on its first
request (the connection hangs up); ``/html`` and ``/html-as-binary`` answer Google Drive's quota
page; ``/drop`` announces :data:`PAYLOAD` and hangs up half-way the first time; a POST is FLAME's
login: ``state["flame_zip"]`` for the right account, an HTML login page otherwise.
"""

from __future__ import annotations

import http.server
import io
import socket
import threading
import urllib.parse
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

USER, PASSWORD = "ada@example.org", "s3cret"
WRONG = "not-the-password-42"
PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes
HTML_PAGE = (
    b"\n  <!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head>"
    b"<body>Too many users have viewed or downloaded this file recently.</body></html>"
)
LOGIN_PAGE = b"<html><head><title>FLAME - Login</title></head><body>Invalid credentials</body></html>"


def flame_zip(model: bytes) -> bytes:
    """A FLAME2020.zip-like archive holding ``model`` as ``FLAME2020/generic_model.pkl``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("FLAME2020/generic_model.pkl", model)
        archive.writestr("FLAME2020/female_model.pkl", b"other")
        archive.writestr("FLAME2020/Readme.pdf", b"%PDF-1.4")
    return buf.getvalue()


def tiny_deca_checkpoint(*, drop_key: str | None = None, zip_format: bool = True) -> bytes:
    """``torch.save`` bytes with every key and shape of DECA's checkpoint, ~0.2 MB.

    Each tensor is a zero expanded to its shape (stride 0), so the file stores one number per
    tensor while loading strictly into :func:`pydeca.nets.build_networks`. ``drop_key`` (e.g.
    ``"E_flame.layers.2.bias"``) leaves one key out; ``zip_format=False`` writes torch's legacy format.
    """
    from pydeca.nets import build_networks

    state: dict[str, dict[str, torch.Tensor]] = {}
    for name, module in build_networks(device="meta").items():
        state[name] = {
            key: torch.zeros((), dtype=value.dtype).expand(value.shape)
            for key, value in module.state_dict().items()
            if f"{name}.{key}" != drop_key
        }
    buf = io.BytesIO()
    torch.save(state, buf, _use_new_zipfile_serialization=zip_format)
    return buf.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    @property
    def state(self) -> dict[str, Any]:
        return self.server.state  # type: ignore[attr-defined]

    def _send(self, body: bytes, content_type: str = "application/octet-stream") -> None:
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and self.state["honour_range"]:
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

    def _send_half_and_hang_up(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self) -> None:
        state = self.state
        path = urllib.parse.urlsplit(self.path).path
        state["log"].append(("GET", path, self.headers.get("Range")))
        name = path[len("/files/") :] if path.startswith("/files/") else None
        if name is not None and name in state["files"]:
            if name in state["drop_once"]:
                state["drop_once"].discard(name)
                self._send_half_and_hang_up(state["files"][name])
            else:
                self._send(state["files"][name])
        elif path == "/html":
            self._send(HTML_PAGE, "text/html; charset=utf-8")
        elif path == "/html-as-binary":
            self._send(HTML_PAGE, "application/octet-stream")
        elif path == "/drop":
            state["drop_calls"] += 1
            if state["drop_calls"] == 1:
                self._send_half_and_hang_up(PAYLOAD)
            else:
                self._send(PAYLOAD)
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        state = self.state
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        state["log"].append(("POST", self.path, form))
        if form.get("username") == [USER] and form.get("password") == [PASSWORD]:
            self._send(state["flame_zip"], "application/zip")
        else:
            self._send(LOGIN_PAGE, "text/html")


@contextmanager
def serve() -> Iterator[tuple[str, dict[str, Any]]]:
    """Run the server; yields its base URL and its shared state (files, request log, switches)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = {  # type: ignore[attr-defined]
        "files": {},
        "log": [],
        "drop_calls": 0,
        "drop_once": set(),
        "honour_range": True,
        "flame_zip": flame_zip(b"\x80\x02not a FLAME model"),
    }
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.state  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
