"""The interactive dashboard: reconstructed faces in a browser, dialled live (viser).

Example:
    >>> import pydeca                                                    # doctest: +SKIP
    >>> from pydeca.viewer import Dashboard                              # doctest: +SKIP
    >>> model = pydeca.DECA.load(assets="demo")                          # doctest: +SKIP
    >>> face = pydeca.reconstruct(model, "selfie.jpg")                   # doctest: +SKIP
    >>> Dashboard(model, [face]).serve(port=8080)  # doctest: +SKIP

How an update travels: a widget's callback reads every dial (:class:`ControlPanel`), the
:class:`~pydeca.viewer.head.LiveHead` computes the new vertices on the server (the FLAME bases stay
there), and the scene node is updated in place — for the ``clay`` texture only the vertex
positions are sent (the browser recomputes normals); for the shaded textures a GLB of positions,
vertex colours and triangles. Writes the dashboard makes itself (reset, presets, face switch) are
muted and followed by one update (:attr:`Dashboard.updates` counts them).

Tabs: every widget and the scene are the server's, so all tabs of one dashboard show and dial one
shared head; a change in one tab appears in the others.
"""

from __future__ import annotations

import io
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import viser

from pydeca.constants import NUM_EXP, NUM_SHAPE
from pydeca.detect import FaceDetector, get_detector
from pydeca.errors import InputError, OptionError
from pydeca.io.output_names import safe_stem
from pydeca.model import DECA
from pydeca.nets import Codes
from pydeca.pipeline.faces import FaceResult
from pydeca.pipeline.writers import OutputOptions, save_face
from pydeca.render.visualize import draw_landmarks

from .controls import HeadControls
from .head import HeadMesh, LiveHead
from .panel import ControlPanel
from .scene_glb import GlbPacker
from .upload_guard import UploadGuard
from .uploads import MAX_UPLOAD_BYTES, UploadError, expression_from_upload, upload_label

__all__ = ["DOWNLOAD_FORMATS", "PANEL_PHOTO_SIZE", "Dashboard", "Expression", "expression_of"]

DOWNLOAD_FORMATS = ("obj", "glb", "npz")
"""What the panel's download buttons write (with ``deca reconstruct``'s writers)."""

PANEL_PHOTO_SIZE = 480
"""Longest side of the photo shown in the panel, pixels."""

_CLAY_COLOR = (190, 190, 190)
_HEAD_NODE = "/head"
_NO_PRESET = "—"

Expression = tuple[np.ndarray, np.ndarray]
"""An expression preset: ``(exp (50,), jaw (3,) degrees)``."""


def expression_of(codes: Codes, index: int = 0) -> Expression:
    """The expression of one face of ``codes``: its ``exp`` and jaw pose in degrees."""
    exp = codes.exp[index].detach().float().cpu().numpy().copy()
    jaw = np.degrees(codes.pose[index, 3:].detach().double().cpu().numpy()).astype(np.float32)
    return exp, jaw


def _photo_with_landmarks(face: FaceResult) -> np.ndarray:
    """(h, w, 3) uint8 photo, longest side ≤ :data:`PANEL_PHOTO_SIZE`, with its 68 landmarks."""
    from PIL import Image  # noqa: PLC0415

    height, width = face.image.shape[:2]
    scale = min(1.0, PANEL_PHOTO_SIZE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    photo = np.asarray(Image.fromarray(face.image).resize(size, Image.Resampling.BILINEAR))
    pixels = face.landmarks  # photo pixels, centres at integers
    ndc = (pixels + 0.5) / np.array([width, height]) * 2.0 - 1.0
    return draw_landmarks(photo, ndc)


def _unique_names(faces: Sequence[FaceResult]) -> dict[str, FaceResult]:
    named: dict[str, FaceResult] = {}
    for face in faces:
        name, k = face.name, 1
        while name in named:
            k += 1
            name = f"{face.name} ({k})"
        named[name] = face
    return named


class Dashboard:
    """A browser dashboard for reconstructed faces (see the module docstring).

    Args:
        model: the model that reconstructed the faces.
        faces: one or more reconstructed faces (B = 1 each); a dropdown switches between them.
        expressions: expression presets by name, e.g. from
            :func:`pydeca.pipeline.load_expressions` (real codes, never hand-made numbers).
        detector: face detector for uploaded expression photos (default ``"auto"``, made on first
            use).
        seed: seed of the random expression / identity buttons.

    Raises:
        InputError: no face given.
    """

    def __init__(
        self,
        model: DECA,
        faces: Sequence[FaceResult],
        *,
        expressions: Mapping[str, Expression] | None = None,
        detector: FaceDetector | None = None,
        seed: int = 0,
    ) -> None:
        if not faces:
            raise InputError("Dashboard: no face to show; pass at least one reconstructed face")
        self.model = model
        self.faces = _unique_names(faces)
        self.presets: dict[str, Expression] = dict(expressions or {})
        self._detector = detector
        self._rng = np.random.default_rng(seed)
        self._lock = threading.RLock()
        self._muted = 0
        self.updates = 0
        """How many times the head was recomputed and sent (tests and benchmarks read it)."""
        self.face_name = next(iter(self.faces))
        self.head = LiveHead(model, self.faces[self.face_name])
        self.controls = self.head.initial_controls()
        self.mesh: HeadMesh | None = None
        """The mesh last sent to the browser."""
        self.server: viser.ViserServer | None = None
        self.panel: ControlPanel | None = None
        self._node: Any = None
        self._node_kind: tuple[bool, bool] | None = None  # (dense, coloured)
        self._packers: dict[bool, GlbPacker] = {}
        self.upload_guard: UploadGuard | None = None

    # ------------------------------------------------------------------ serving
    def serve(self, host: str = "127.0.0.1", port: int = 8080, *, block: bool = True) -> viser.ViserServer:
        """Start the web server and build the scene and panel.

        Args:
            host: interface to bind (``127.0.0.1``: this machine only).
            port: TCP port (viser picks the next free one if taken).
            block: serve until Ctrl-C (then stop cleanly); ``False`` returns the running server.

        Returns:
            The viser server (already stopped when ``block``).
        """
        server = viser.ViserServer(host=host, port=port, label="pydeca", verbose=False)
        self.server = server
        server.scene.set_up_direction("+y")
        server.gui.configure_theme(control_width="large", dark_mode=False, show_logo=False)
        self.panel = ControlPanel.build(
            server.gui,
            faces=list(self.faces),
            photo=_photo_with_landmarks(self.head.face),
            textures=self.head.texture_choices,
            presets=list(self.presets),
            has_detail=self.head.has_detail,
        )
        self._attach_callbacks(self.panel)
        self.upload_guard = UploadGuard(server, MAX_UPLOAD_BYTES, self._on_oversized_upload)
        with self._muted_widgets():
            self.panel.write(self.controls)
        self._refresh()
        self._frame_camera()
        if not block:
            return server
        try:
            while True:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
        return server

    def stop(self) -> None:
        """Stop the web server (idempotent)."""
        if self.server is not None:
            self.server.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self.server is None:
            raise RuntimeError("the dashboard is not serving; call serve() first")
        return int(self.server.get_port())

    def _frame_camera(self) -> None:
        """Point the initial camera at the face, from the front, FLAME's +y up."""
        if self.server is None or self.mesh is None:
            return
        centre = self.mesh.vertices.mean(axis=0).astype(np.float64)
        extent = float(np.ptp(self.mesh.vertices[:, 1]))
        camera = self.server.initial_camera
        camera.look_at = tuple(centre)
        camera.position = tuple(centre + np.array([0.0, 0.0, 1.4 * max(extent, 0.05)]))
        camera.up = (0.0, 1.0, 0.0)

    # ------------------------------------------------------------------ callbacks
    def _attach_callbacks(self, panel: ControlPanel) -> None:
        for widget in panel.dials():
            widget.on_update(lambda _event: self._on_dial())
        panel.face.on_update(lambda _event: self.select_face(str(panel.face.value)))
        panel.reset.on_click(lambda _event: self.reset())
        panel.neutral.on_click(lambda _event: self.set_expression(np.zeros(NUM_EXP), np.zeros(3)))
        panel.random_expression.on_click(lambda _event: self.random_expression())
        panel.random_identity.on_click(lambda _event: self.random_identity())
        panel.preset.on_update(lambda _event: self._on_preset(str(panel.preset.value)))
        panel.upload.on_upload(lambda _event: self._on_upload(panel.upload.value))
        for fmt, button in panel.downloads.items():
            button.on_click(lambda event, fmt=fmt: self._on_download(event, fmt))

    @contextmanager
    def _muted_widgets(self) -> Iterator[None]:
        """Widget writes inside do not each trigger an update."""
        with self._lock:
            self._muted += 1
            try:
                yield
            finally:
                self._muted -= 1

    def _on_dial(self) -> None:
        if self._muted or self.panel is None:
            return
        with self._lock:
            self.controls = self.panel.read(self.controls)
            self._refresh()

    def _on_preset(self, name: str) -> None:
        if not self._muted and name in self.presets:
            self.set_expression(*self.presets[name])

    def _on_upload(self, uploaded: Any) -> None:
        try:
            label = self.add_expression_upload(uploaded.name, uploaded.content)
        except UploadError as error:
            self._say(f"**Upload refused:** {error}")
            return
        self._say(f"Loaded expression **{label}**.")

    def _on_oversized_upload(self, name: str, size: int) -> None:
        self._say(
            f"**Upload refused:** {upload_label(name)}: {size / 2**20:.1f} MiB is over the "
            f"{MAX_UPLOAD_BYTES // 2**20} MiB upload limit; upload a smaller file"
        )

    def _on_download(self, event: Any, fmt: str) -> None:
        filename, content = self.download(fmt)
        if event.client is not None:
            event.client.send_file_download(filename, content, save_immediately=True)

    def _say(self, text: str) -> None:
        if self.panel is not None:
            self.panel.status.content = text

    # ------------------------------------------------------------------ actions (also the API)
    def apply(self, controls: HeadControls) -> HeadMesh:
        """Show ``controls``: widgets updated (muted) and the head updated once.

        Returns:
            The mesh sent.
        """
        with self._lock:
            self.controls = controls
            if self.panel is not None:
                with self._muted_widgets():
                    self.panel.write(controls)
            return self._refresh()

    def reset(self) -> HeadMesh:
        """Restore the reconstruction's dials (texture and detail views back to their defaults)."""
        return self.apply(self.head.initial_controls())

    def set_expression(self, exp: np.ndarray, jaw: np.ndarray | None = None) -> HeadMesh:
        """Set the expression (50,) and, if given, the jaw (3,) degrees; one update."""
        return self.apply(self.controls.with_expression(exp, jaw))

    def random_expression(self) -> HeadMesh:
        """A random expression: component k ~ N(0, 1/(1 + k/10)²), jaw open 0–20°."""
        scale = 1.0 / (1.0 + np.arange(NUM_EXP) / 10.0)
        exp = self._rng.normal(0.0, 1.0, NUM_EXP) * scale
        jaw = np.array([self._rng.uniform(0.0, 20.0), 0.0, 0.0])
        return self.set_expression(exp.astype(np.float32), jaw.astype(np.float32))

    def random_identity(self) -> HeadMesh:
        """A random identity: component k ~ N(0, 1/(1 + k/10)²) (FLAME's are unit-variance)."""
        scale = 1.0 / (1.0 + np.arange(NUM_SHAPE) / 10.0)
        shape = (self._rng.normal(0.0, 1.0, NUM_SHAPE) * scale).astype(np.float32)
        return self.apply(replace(self.controls, shape=shape))

    def select_face(self, name: str) -> HeadMesh:
        """Show another face (its reconstruction's dials; one update).

        Raises:
            OptionError: unknown face name.
        """
        if name not in self.faces:
            raise OptionError(f"face: expected one of {', '.join(map(repr, self.faces))}, got {name!r}")
        with self._lock:
            if name == self.face_name and self.mesh is not None:
                return self.mesh
            self.face_name = name
            self.head = LiveHead(self.model, self.faces[name])
            if self.panel is not None:
                with self._muted_widgets():
                    self.panel.face.value = name
                    self.panel.texture.options = self.head.texture_choices
                    self.panel.detail.disabled = not self.head.has_detail
                    self.panel.detail_strength.disabled = not self.head.has_detail
                    self.panel.photo.image = _photo_with_landmarks(self.head.face)
            return self.reset()

    def add_expression_upload(self, name: str, content: bytes) -> str:
        """Load an uploaded photo or parameter file as a preset and apply its expression.

        Args:
            name: the client's file name (only its suffix is used; the label is made safe).
            content: the file's bytes.

        Returns:
            The preset's label.

        Raises:
            UploadError: the upload cannot be used; the head and the presets are unchanged.
        """
        if self._detector is None:
            self._detector = get_detector("auto", device=str(self.model.device))
        codes = expression_from_upload(self.model, name, content, self._detector)
        label = upload_label(name)
        with self._lock:
            self.presets[label] = expression_of(codes)
            if self.panel is not None:
                with self._muted_widgets():
                    self.panel.preset.options = [_NO_PRESET, *self.presets]
                    self.panel.preset.value = label
            self.set_expression(*self.presets[label])
        return label

    @torch.inference_mode()
    def download(self, fmt: str) -> tuple[str, bytes]:
        """The current head as a file, written by ``deca reconstruct``'s writers.

        Args:
            fmt: ``"obj"`` (a zip of the coarse OBJ with its material, texture and normal map, and
                the dense detail OBJ), ``"glb"`` or ``"npz"`` (parameters, readable by
                :func:`pydeca.io.params.load_codes`).

        Returns:
            ``(file name, bytes)``.

        Raises:
            OptionError: another format.
        """
        if fmt not in DOWNLOAD_FORMATS:
            raise OptionError(f"download: expected one of {', '.join(DOWNLOAD_FORMATS)}, got {fmt!r}")
        with self._lock:
            face = self.head.reconstruction(self.controls)
        name = safe_stem(f"{face.name}_dialled")
        face = FaceResult(name, face.image, face.crop, face.tform, face.reconstruction, face.source)
        with tempfile.TemporaryDirectory(prefix="pydeca-download-") as folder:
            written = [
                Path(p) for p in save_face(self.model, face, folder, OutputOptions.from_formats([fmt]))
            ]
            if fmt == "obj":
                buffer = io.BytesIO()
                with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                    for path in sorted(written):
                        archive.write(path, path.name)
                return f"{name}_obj.zip", buffer.getvalue()
            (path,) = [p for p in written if p.suffix == f".{fmt}"]
            return path.name, path.read_bytes()

    # ------------------------------------------------------------------ scene
    def _refresh(self) -> HeadMesh:
        """Recompute the head for :attr:`controls` and send it (one update)."""
        with self._lock:
            mesh = self.head.update(self.controls)
            self.mesh = mesh
            self.updates += 1
            if self.server is not None:
                self._send(mesh)
            return mesh

    def _send(self, mesh: HeadMesh) -> None:
        if self.server is None:
            return
        scene = self.server.scene
        kind = (mesh.dense, mesh.colors is not None)
        if mesh.colors is None:
            if self._node_kind == kind:  # positions only: the browser recomputes the normals
                self._node.vertices = mesh.vertices
            else:
                self._node = scene.add_mesh_simple(
                    _HEAD_NODE, mesh.vertices, mesh.faces, color=_CLAY_COLOR, side="double"
                )
        else:
            packer = self._packers.get(mesh.dense)
            if packer is None or packer.faces.shape != mesh.faces.shape:
                packer = self._packers[mesh.dense] = GlbPacker(mesh.faces)
            data = packer.pack(mesh.vertices, mesh.colors)
            if self._node_kind == kind:
                self._node.glb_data = data
            else:
                self._node = scene.add_glb(_HEAD_NODE, data)
        self._node_kind = kind
