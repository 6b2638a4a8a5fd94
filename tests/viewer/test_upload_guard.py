"""Oversized uploads are dropped while they stream in (``pydeca.viewer.upload_guard``).

The websocket messages a browser sends for an upload are dispatched to the server's registered
handlers in order, exactly as viser's receive loop does.
"""

from __future__ import annotations

import pytest
from viser import _messages

from pydeca.viewer import Dashboard
from pydeca.viewer.uploads import MAX_UPLOAD_BYTES


@pytest.fixture
def dashboard(demo_model, demo_face):
    board = Dashboard(demo_model, [demo_face])
    board.serve(port=0, block=False)
    yield board
    board.stop()


def _dispatch(board: Dashboard, message) -> None:
    for handler in list(board.server._websock_server._incoming_handlers[type(message)]):
        handler(0, message)


def _start(board: Dashboard, transfer: str, size: int, parts: int) -> None:
    uuid = board.panel.upload._impl.uuid
    _dispatch(
        board, _messages.FileTransferStartUpload(uuid, transfer, "huge.npz", "application/zip", parts, size)
    )


def test_a_declared_oversize_is_dropped_at_the_start(dashboard) -> None:
    _start(dashboard, "t1", MAX_UPLOAD_BYTES + 1, 21)
    assert "t1" not in dashboard.server.gui._current_file_upload_states
    assert dashboard.upload_guard.refused == 1
    assert "over the 20 MiB upload limit" in dashboard.panel.status.content
    part = _messages.FileTransferPart(dashboard.panel.upload._impl.uuid, "t1", 0, b"\x00" * 1024)
    _dispatch(dashboard, part)  # later parts are ignored, nothing is buffered
    assert "t1" not in dashboard.server.gui._current_file_upload_states


def test_a_client_sending_more_than_it_declared_is_cut_off(dashboard) -> None:
    chunk = b"\x00" * (4 * 2**20)
    _start(dashboard, "t2", 1000, 8)  # declares 1000 bytes, sends 8 × 4 MiB
    uuid = dashboard.panel.upload._impl.uuid
    for index in range(8):
        _dispatch(dashboard, _messages.FileTransferPart(uuid, "t2", index, chunk))
        if "t2" not in dashboard.server.gui._current_file_upload_states:
            break
    assert index == 5  # dropped once 24 MiB > 20 MiB had arrived
    assert dashboard.upload_guard.refused == 1
    assert dashboard.presets == {}


def test_a_small_upload_passes_through(dashboard) -> None:
    _start(dashboard, "t3", 10, 1)
    assert "t3" in dashboard.server.gui._current_file_upload_states
    assert dashboard.upload_guard.refused == 0
