"""``deca animate``: DECA's teaser — repose and re-animate reconstructed faces (reference §3.3).

Schedule (the same for every input, so several inputs animate in sync, one row each):

1. **yaw sweep** — 25 frames, global pose = Euler ``(0, yaw, 0)`` degrees → axis-angle, yaw =
   0, 5, …, 25, 30, 25, …, −25, −30, −25, …, −5, 0 (0 → 30 → −30 → 0 in 5° steps; the reference
   stops at −5, §3.3);
2. **jaw opening** — 16 frames, global pose 0, jaw = Euler ``(x, 0, 0)`` with x = 0, 2, …, 30
   degrees (the face's own expression code is kept);
3. **expressions** — one frame per expression input: global pose 0, the expression's ``exp`` and
   jaw pose (every expression is used; the original drops or overwrites one, §3.3).

Every animated frame uses the camera ``(s, tx, ty) = (8, 0, 0)`` (the reference's, tuned for
FLAME's size: the head centred in the 224-pixel crop). With one input and no expressions there are
24 + 16 = 40 frames. A frame row is ``[input crop | shape with detail | textured render]`` (each
224 × 224; the texture is the one extracted from the input photo, unlit); inputs stack as rows.
Demo-asset frames carry the red demo banner.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from pydeca.apps.common import load_model, say
from pydeca.apps.reconstruct import RunSummary
from pydeca.apps.transfer import (
    expand_each,
    failure_text,
    load_expressions,
    load_face,
    report_failures,
)
from pydeca.constants import CROP_SIZE
from pydeca.detect import get_detector
from pydeca.errors import InputError, PydecaError, RunInterrupted
from pydeca.geometry.rotations import euler_to_axis_angle
from pydeca.io.animation import ANIMATION_FORMATS, write_animation
from pydeca.io.output_names import prepare_output_dir
from pydeca.model import DECA
from pydeca.nets import Codes
from pydeca.pipeline.faces import FaceResult
from pydeca.render.views import render_panels
from pydeca.render.visualize import add_banner, to_uint8
from pydeca.results import PhotoTexture

__all__ = [
    "ANIMATION_CAM",
    "JAW_DEGREES",
    "YAW_DEGREES",
    "AnimationStep",
    "AnimationSummary",
    "animation_frames",
    "animation_schedule",
    "run_animate",
    "step_codes",
]

YAW_DEGREES: tuple[int, ...] = (*range(0, 30, 5), *range(30, -30, -5), *range(-30, 0, 5))
"""The 24 yaw angles of the sweep, degrees: 0…25, 30…−25, −30…−5 in steps of 5 (reference §3.3).

The sweep returns to 0° in the next frame, the first jaw frame (yaw 0, jaw 0): 0 → 30 → −30 → 0
without showing the same pose twice in a row (a GIF would merge the two identical frames)."""

JAW_DEGREES: tuple[int, ...] = tuple(range(0, 31, 2))
"""The 16 jaw-opening angles (Euler x), degrees: 0, 2, …, 30."""

ANIMATION_CAM = (8.0, 0.0, 0.0)
"""Camera ``(s, tx, ty)`` of every animated frame (the reference's value)."""


@dataclass
class AnimationSummary(RunSummary):
    """What :func:`run_animate` did: ``outputs["animation"]`` = the written files (GIF first)."""

    faces: list[str] = field(default_factory=list)
    """Names of the animated inputs, one frame row each, top to bottom."""
    frames: int = 0
    """Frames per file."""

    def to_dict(self) -> dict:
        """JSON-ready form; ``succeeded`` counts the animated faces (rows), not the files."""
        out = super().to_dict()
        out.update(succeeded=len(self.faces), faces=self.faces, frames=self.frames)
        return out


@dataclass(frozen=True)
class AnimationStep:
    """One frame of the schedule.

    ``kind`` is ``"yaw"`` (``degrees`` = yaw), ``"jaw"`` (``degrees`` = jaw opening) or
    ``"expression"`` (``expression`` = index into the expression codes).
    """

    kind: str
    degrees: float = 0.0
    expression: int | None = None


def animation_schedule(num_expressions: int = 0) -> list[AnimationStep]:
    """The teaser's frames: 24 yaw, 16 jaw, then one per expression.

    Example:
        >>> len(animation_schedule()), len(animation_schedule(9))
        (40, 49)
    """
    steps = [AnimationStep("yaw", float(d)) for d in YAW_DEGREES]
    steps += [AnimationStep("jaw", float(d)) for d in JAW_DEGREES]
    steps += [AnimationStep("expression", expression=i) for i in range(num_expressions)]
    return steps


def step_codes(codes: Codes, steps: Sequence[AnimationStep], expressions: Codes | None = None) -> Codes:
    """The codes of ``steps`` for one face: a batch of ``len(steps)``.

    Args:
        codes: B = 1 codes of the face (shape, texture, light, detail and expression are kept).
        steps: frames to build.
        expressions: E codes for ``"expression"`` steps (their ``exp`` and jaw pose are used).

    Returns:
        N = len(steps) codes: cam = :data:`ANIMATION_CAM`; yaw steps keep the face's jaw and
        expression; jaw and expression steps have global pose 0.
    """
    count = len(steps)
    batch = codes[[0] * count]
    device, dtype = batch.pose.device, batch.pose.dtype
    global_euler = torch.zeros(count, 3, dtype=dtype, device=device)  # (N, 3) radians
    jaw_euler = torch.zeros(count, 3, dtype=dtype, device=device)
    for i, step in enumerate(steps):
        if step.kind not in ("yaw", "jaw", "expression"):
            raise InputError(f"unknown animation step kind {step.kind!r}; use yaw, jaw or expression")
        if step.kind == "yaw":
            global_euler[i, 1] = math.radians(step.degrees)
        elif step.kind == "jaw":
            jaw_euler[i, 0] = math.radians(step.degrees)
    jaw_pose = euler_to_axis_angle(jaw_euler)  # (N, 3)
    pose = torch.cat([euler_to_axis_angle(global_euler), batch.pose[:, 3:]], dim=1)  # (N, 6)
    exp = batch.exp.clone()
    for i, step in enumerate(steps):
        if step.kind == "jaw":
            pose[i, 3:] = jaw_pose[i]
        elif step.kind == "expression":
            if expressions is None or step.expression is None or step.expression >= expressions.batch_size:
                raise InputError(f"animation step {step} needs expression code {step.expression}; none given")
            source = expressions[step.expression].to(device, dtype)
            pose[i, 3:] = source.pose[0, 3:]
            exp[i] = source.exp[0]
    cam = torch.tensor(ANIMATION_CAM, dtype=dtype, device=device).expand(count, 3).clone()
    return replace(batch, exp=exp, pose=pose, cam=cam)


def _face_row(model: DECA, face: FaceResult, codes: Codes, size: int) -> list[np.ndarray]:
    """(size, 3·size, 3) uint8 rows ``[crop | shape+detail | textured]`` for N codes of one face."""
    with torch.inference_mode():
        rec = model.decode(codes)
        own = face.reconstruction.photo_texture
        if own is not None:
            texture = own.uv_texture_gt.expand(codes.batch_size, -1, -1, -1)
            rec = replace(rec, photo_texture=PhotoTexture(texture))
        panels = render_panels(model.renderer, rec, size)
        crop = torch.nn.functional.interpolate(face.crop.to(model.device), size=(size, size), mode="nearest")
    crop_image = to_uint8(crop[0])
    shapes = panels["shape_detail"]
    textured = panels.get("textured", torch.zeros_like(shapes))
    return [
        np.concatenate([crop_image, to_uint8(shapes[i]), to_uint8(textured[i])], axis=1)
        for i in range(codes.batch_size)
    ]


def animation_frames(
    model: DECA,
    results: Sequence[FaceResult],
    expression_codes: Codes | Sequence[Codes] | None = None,
    *,
    steps: Sequence[AnimationStep] | None = None,
    size: int = CROP_SIZE,
    chunk: int = 8,
) -> Iterator[np.ndarray]:
    """Yield the teaser's frames for one or more faces (one row per face).

    Args:
        model: the DECA model.
        results: reconstructed faces (B = 1 each), e.g. from :func:`pydeca.apps.transfer.load_face`.
        expression_codes: codes whose expressions are transferred after the jaw frames (a batch
            or a list of batches).
        steps: the schedule (default :func:`animation_schedule` for the given expressions).
        size: panel size in pixels.
        chunk: frames decoded and rendered per batch (memory vs speed).

    Yields:
        (len(results)·size, 3·size, 3) uint8 RGB frames.
    """
    if not results:
        raise InputError("animation needs at least one reconstructed face")
    expressions = expression_codes
    if expressions is not None and not isinstance(expressions, Codes):
        expressions = Codes.cat(list(expressions)) if len(expressions) else None
    if steps is None:
        steps = animation_schedule(expressions.batch_size if expressions is not None else 0)
    demo = any(face.reconstruction.is_demo for face in results)
    for start in range(0, len(steps), chunk):
        part = steps[start : start + chunk]
        rows = [_face_row(model, face, step_codes(face.codes, part, expressions), size) for face in results]
        for i in range(len(part)):
            frame = np.concatenate([row[i] for row in rows], axis=0)
            yield add_banner(frame) if demo else frame


def run_animate(
    inputs: Sequence[str | Path],
    output: str | Path,
    *,
    expressions_dir: str | Path | None = None,
    formats: Sequence[str] = ANIMATION_FORMATS,
    fps: float = 10.0,
    detector: str = "auto",
    assets: str | Path | None = None,
    device: str = "auto",
    quiet: bool = False,
    model: DECA | None = None,
    steps: Sequence[AnimationStep] | None = None,
) -> AnimationSummary:
    """Animate the largest face of every input into ``OUT/animation.gif`` / ``OUT/animation.mp4``.

    Args:
        inputs: photos or parameter files (``.npz`` from ``deca reconstruct``), folders, globs.
        output: output folder (created).
        expressions_dir: folder (or file / glob) of expression photos or parameter files.
        formats: any of ``"gif"``, ``"mp4"``.
        fps: frames per second.
        detector: face detector name (see ``deca doctor``).
        assets: asset directory or ``"demo"`` (ignored when ``model`` is given).
        device: ``"auto"``, ``"cpu"``, ``"mps"`` or ``"cuda"`` (ignored when ``model`` is given).
        quiet: no progress messages on stderr.
        model: an already loaded model.
        steps: a custom schedule (default :func:`animation_schedule`).

    Returns:
        :class:`AnimationSummary`: ``outputs["animation"]`` = the written files, ``faces`` the
        animated inputs (rows), ``frames`` the frame count; inputs that failed (unreadable, no
        face) are in ``failed`` and left out of the animation.

    Raises:
        InputError: no input could be reconstructed (nothing is written), or bad format / fps.
    """
    start = time.perf_counter()
    created = not Path(output).exists()
    out_dir = prepare_output_dir(output)  # before the model: OutputError for a bad -o
    model = load_model(model, assets, device, quiet)
    summary = AnimationSummary(demo=model.is_demo)
    face_detector = get_detector(detector)
    paths, failures = expand_each(inputs)
    faces = []
    for path in paths:
        try:
            faces.append(load_face(model, path, face_detector))
        except (PydecaError, OSError) as error:
            failures[str(path)] = failure_text(path, error)
    summary.failed.update(failures)
    report_failures(failures)
    if not faces:
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()  # leave no empty folder behind when nothing is written
        raise InputError("deca animate: no input face could be reconstructed; nothing written")
    expressions = None
    if expressions_dir is not None:
        expression_paths, failures = expand_each([expressions_dir])
        _, expressions, load_failures = load_expressions(model, expression_paths, face_detector)
        failures.update(load_failures)
        summary.failed.update(failures)
        report_failures(failures)
    if steps is None:
        steps = animation_schedule(expressions.batch_size if expressions is not None else 0)
    frames = animation_frames(model, faces, expressions, steps=steps)
    try:
        written = write_animation(out_dir / "animation", frames, formats, fps)
    except KeyboardInterrupt:
        raise RunInterrupted(
            f"deca: interrupted; no animation was written to {out_dir}; run the command again"
        ) from None
    summary.outputs["animation"] = [str(path) for path in written]
    summary.faces = [face.name for face in faces]
    summary.frames = len(steps)
    summary.seconds = time.perf_counter() - start
    files = ", ".join(map(str, written))
    say(quiet, f"deca: animated {len(faces)} face(s) in {summary.seconds:.1f} s -> {files}")
    return summary
