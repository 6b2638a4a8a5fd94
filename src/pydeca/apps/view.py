"""``deca view``: open reconstructions in the browser dashboard (:mod:`pydeca.viewer`).

Inputs are photos (reconstructed at start with ``deca reconstruct``'s detector and face options),
``.npz`` / ``.json`` parameter files of ``deca reconstruct``, or folders and globs of them; a bad
input is reported and skipped. ``--expressions DIR`` adds the expressions of the photos and
parameter files in DIR as presets (as ``deca animate`` takes them). The server binds 127.0.0.1
unless ``host`` says otherwise, and runs until Ctrl-C.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydeca.apps.common import load_model, say, warn
from pydeca.apps.reconstruct import RunSummary
from pydeca.apps.transfer import expand_each, failure_text, report_failures
from pydeca.detect import FaceDetector, get_detector
from pydeca.detect.types import FaceSelection
from pydeca.errors import InputError, PydecaError
from pydeca.model import DECA
from pydeca.pipeline import reconstruct_all
from pydeca.pipeline.api import reconstruct
from pydeca.pipeline.faces import FaceResult
from pydeca.pipeline.sources import face_from_params, is_param_file, load_expressions
from pydeca.results import TextureMode
from pydeca.viewer import Dashboard, Expression, expression_of

__all__ = ["ViewOptions", "is_loopback", "load_presets", "load_view_faces", "open_dashboard", "run_view"]


_ANY_INTERFACE = ("0.0.0.0", "::")  # noqa: S104 - names, compared with --host, not bound here


@dataclass(frozen=True)
class ViewOptions:
    """How ``deca view`` finds faces and where it listens."""

    host: str = "127.0.0.1"
    """Interface to bind; anything but a loopback address exposes the dashboard to the network."""
    port: int = 8080
    """TCP port (the next free one is taken if it is in use)."""
    detector: str = "auto"
    """Face detector for photos (as ``deca reconstruct --detector``)."""
    face: FaceSelection = "largest"
    """Faces per photo (as ``deca reconstruct --face``)."""
    texture: TextureMode = "extract"
    """How a photo's texture is taken (as ``deca reconstruct --texture``)."""
    expressions: str | Path | None = None
    """Folder (or file / glob) of expression photos and parameter files for the presets."""


def is_loopback(host: str) -> bool:
    """True when ``host`` is reachable from this machine only (``localhost``, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_view_faces(
    model: DECA, files: Sequence[Path], detector: FaceDetector, options: ViewOptions
) -> tuple[list[FaceResult], dict[str, str]]:
    """Reconstruct photos and decode parameter files; a bad input fails alone.

    Returns:
        ``(faces, failures)`` — failures map an input to its one-line message.
    """
    faces: list[FaceResult] = []
    failures: dict[str, str] = {}
    for path in files:
        try:
            if is_param_file(path):
                faces.append(face_from_params(model, path))
            elif options.face == "all":
                faces += reconstruct_all(model, path, detector=detector, texture=options.texture)
            else:
                faces.append(reconstruct(model, path, detector=detector, texture=options.texture))
        except (PydecaError, OSError, ValueError) as error:
            failures[str(path)] = failure_text(path, error)
    return faces, failures


def load_presets(
    model: DECA, source: str | Path, detector: FaceDetector
) -> tuple[dict[str, Expression], dict[str, str]]:
    """Expression presets from the photos and parameter files of ``source`` (folder, file, glob).

    Returns:
        ``(presets, failures)``: name → ``(exp (50,), jaw (3,) degrees)``, and failed inputs.
    """
    paths, failures = expand_each([source])
    names, codes, load_failures = load_expressions(model, paths, detector)
    failures.update(load_failures)
    presets = {} if codes is None else {name: expression_of(codes, i) for i, name in enumerate(names)}
    return presets, failures


def open_dashboard(
    inputs: Sequence[str | Path],
    options: ViewOptions | None = None,
    *,
    assets: str | Path | None = None,
    device: str | None = "auto",
    quiet: bool = False,
    model: DECA | None = None,
) -> tuple[Dashboard, RunSummary]:
    """Reconstruct or load the inputs and start the dashboard's server (it runs in the background).

    Args:
        inputs: photos, parameter files, folders or globs.
        options: host, port, detector, faces, texture, expression presets.
        assets: asset directory or ``"demo"`` (see :func:`pydeca.apps.common.load_model`).
        device: ``auto``, ``cpu``, ``mps`` or ``cuda``.
        quiet: print only errors and warnings.
        model: an already loaded model (``assets`` and ``device`` are then unused).

    Returns:
        ``(dashboard, summary)``: the running dashboard (``dashboard.stop()`` ends it) and the
        summary — faces shown (``outputs``), failed inputs, the URL (``notes["url"]``).

    Raises:
        InputError: no input gave a face.
        OptionError: a bad detector, device or texture name.
    """
    options = options or ViewOptions()
    start = time.perf_counter()
    model = load_model(model, assets, device, quiet)
    detector = get_detector(options.detector, device=str(model.device))
    summary = RunSummary(demo=model.is_demo)
    files, failures = expand_each(inputs)
    faces, load_failures = load_view_faces(model, files, detector, options)
    failures.update(load_failures)
    presets: dict[str, Expression] = {}
    if options.expressions is not None:
        presets, preset_failures = load_presets(model, options.expressions, detector)
        failures.update(preset_failures)
    summary.failed.update(failures)
    report_failures(failures)
    if not faces:
        raise InputError("deca view: no face to show; pass photos or .npz files from deca reconstruct")
    summary.outputs = {face.name: [] for face in faces}
    if not is_loopback(options.host):
        warn(
            f"deca view: warning: listening on {options.host}: anyone who can reach this machine on "
            f"port {options.port} can open the dashboard and see these faces"
        )
    dashboard = Dashboard(model, faces, expressions=presets, detector=detector)
    dashboard.serve(options.host, options.port, block=False)
    shown_host = "127.0.0.1" if options.host in _ANY_INTERFACE else options.host
    summary.notes["url"] = f"http://{shown_host}:{dashboard.port}"
    summary.seconds = time.perf_counter() - start
    say(
        quiet,
        f"deca view: {len(faces)} face(s), {len(presets)} expression preset(s) at {summary.notes['url']}"
        " (Ctrl-C stops)",
    )
    return dashboard, summary


def run_view(
    inputs: Sequence[str | Path],
    options: ViewOptions | None = None,
    *,
    assets: str | Path | None = None,
    device: str | None = "auto",
    quiet: bool = False,
    model: DECA | None = None,
) -> RunSummary:
    """``deca view``: :func:`open_dashboard`, then serve until Ctrl-C (a clean stop, not an error).

    Returns:
        The summary of :func:`open_dashboard`.
    """
    dashboard, summary = open_dashboard(
        inputs, options, assets=assets, device=device, quiet=quiet, model=model
    )
    try:
        while True:
            time.sleep(0.25)
    except KeyboardInterrupt:
        say(quiet, "deca view: stopped")
    finally:
        dashboard.stop()
    return summary
