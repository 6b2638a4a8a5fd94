"""Stop an oversized upload while it streams in, before viser has buffered it.

viser 1.x delivers an upload to ``on_upload`` only once every part has arrived, holding the parts in
memory until then. :class:`UploadGuard` registers two more handlers on the server's websocket (they
run after viser's own, in registration order): one drops a transfer whose *declared* size is over
the limit as it starts, one drops a transfer whose received bytes pass the limit (a client may
declare less than it sends). A dropped transfer's later parts are ignored by viser, and what it had
buffered is released. The panel then says why (:attr:`UploadGuard.on_refused`).

This uses viser's upload bookkeeping (``GuiApi._current_file_upload_states``), private API pinned by
the ``viser>=1.1,<2`` requirement and covered by ``tests/viewer/test_upload_guard.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import viser
from viser import _messages

__all__ = ["UploadGuard"]


class UploadGuard:
    """Refuses uploads over ``max_bytes`` on a running viser server.

    Args:
        server: the server whose uploads are limited.
        max_bytes: the largest upload accepted, bytes.
        on_refused: called with ``(file name, size in bytes)`` when a transfer is dropped.
    """

    def __init__(
        self, server: viser.ViserServer, max_bytes: int, on_refused: Callable[[str, int], None]
    ) -> None:
        self.max_bytes = max_bytes
        self.on_refused = on_refused
        self.refused = 0
        """How many transfers were dropped."""
        self._states: dict[str, Any] = server.gui._current_file_upload_states
        websocket = server._websock_server
        websocket.register_handler(_messages.FileTransferStartUpload, self._on_start)
        websocket.register_handler(_messages.FileTransferPart, self._on_part)

    def _drop(self, transfer: str, size: int) -> None:
        state = self._states.pop(transfer, None)
        if state is not None:
            self.refused += 1
            self.on_refused(str(state.get("filename", "upload")), size)

    def _on_start(self, _client: int, message: _messages.FileTransferStartUpload) -> None:
        if message.size_bytes > self.max_bytes:
            self._drop(message.transfer_uuid, message.size_bytes)

    def _on_part(self, _client: int, message: _messages.FileTransferPart) -> None:
        state = self._states.get(message.transfer_uuid)
        if state is not None and state["transferred_bytes"] > self.max_bytes:
            self._drop(message.transfer_uuid, int(state["transferred_bytes"]))
