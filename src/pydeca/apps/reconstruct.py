"""``deca reconstruct`` / ``deca demo``: inputs → faces → batched inference → files, streamed.

Order of work:

1. Inputs (files, folders, globs, videos) are expanded without decoding anything. An input that is
   missing, unsupported or matches nothing fails alone, with a message naming it; the others go on
   (with no usable input at all the run stops with :class:`~pydeca.errors.InputError`).
2. The device, the face detector and the output folder are checked before the model is loaded,
   so a bad option fails at once (:class:`~pydeca.errors.OutputError` for an ``-o`` that is a
   file, read-only or full; :class:`~pydeca.errors.OptionError`,
   :class:`~pydeca.errors.MissingDependencyError`). Output names are safe stems made unique within
   the run and against the inputs the folder already holds (:mod:`pydeca.io.output_names`): an
   input never takes another input's name, and keeps the name it had in an earlier run.
3. Inputs are decoded one at a time, when the batches need them: at most ``batch_size`` faces
   (and the photos they come from) are held in memory, whatever the number of photos or video
   frames. With ``skip_existing``, an input recorded as complete (:mod:`pydeca.apps.completion`:
   same resolved path, size and mtime, files still there) is skipped before it is decoded.
4. Faces are encoded and decoded in batches (:func:`pydeca.pipeline.batch.reconstruct_batch`) and
   written atomically (:mod:`pydeca.pipeline.writers`).
   A failure of one input or one face — unreadable, no face, non-finite codes, a file that cannot
   be written, even an unexpected error — is printed on stderr with its name and recorded in
   :attr:`RunSummary.failed`; the run goes on. A face is written all or nothing
   (:func:`pydeca.pipeline.writers.save_face`); an input is recorded complete after its last face.
5. Ctrl-C (``KeyboardInterrupt``) stops the run between two files: no partial face is left, the
   inputs finished so far stay recorded, a line on stderr says how many inputs are complete and to
   resume with ``--skip-existing``, and the ``KeyboardInterrupt`` is raised again.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pydeca.apps.common import load_model, say, warn
from pydeca.apps.completion import CompletionLog, InputIdentity, identity_of_array, identity_of_file
from pydeca.detect import FaceDetector, get_detector
from pydeca.detect.types import FaceSelection
from pydeca.errors import InputError, OptionError, PydecaError, RunInterrupted
from pydeca.io.images import load_image, photo_from_array
from pydeca.io.inputs import expand_inputs, is_video
from pydeca.io.output_names import claim_names, frame_name, prepare_output_dir, safe_stem, unique_output_names
from pydeca.model import DECA, resolve_device
from pydeca.pipeline.batch import reconstruct_batch
from pydeca.pipeline.faces import PreparedFace, prepare_faces
from pydeca.pipeline.writers import OutputOptions, save_face
from pydeca.results import TextureMode

__all__ = ["ReconstructOptions", "RunSummary", "run_demo", "run_reconstruct"]


@dataclass
class ReconstructOptions(OutputOptions):
    """Output options plus how to find faces and how to batch."""

    detector: str = "auto"
    faces: FaceSelection = "largest"
    """``"largest"`` or ``"all"`` faces per image."""
    batch_size: int = 1
    every: int = 1
    """Use every ``every``-th frame of videos."""
    skip_existing: bool = False
    """Skip inputs the output folder's completion record lists as complete (files still there)."""
    texture: TextureMode = "extract"


@dataclass
class RunSummary:
    """What a run did: written outputs per face, failures with their messages, skips and notes."""

    outputs: dict[str, list[str]] = field(default_factory=dict)
    """Output name of each written face → every file written for it."""
    failed: dict[str, str] = field(default_factory=dict)
    """Input (as given, or its path) or face name → the error message."""
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    demo: bool = False
    """The generated demo asset pack was used: the outputs are not real reconstructions."""
    notes: dict[str, str] = field(default_factory=dict)
    """Input → a remark that is no failure (e.g. several faces found, only the largest kept)."""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "succeeded": len(self.outputs),
            "failed": self.failed,
            "skipped": self.skipped,
            "notes": self.notes,
            "outputs": self.outputs,
            "seconds": round(self.seconds, 3),
            "demo": self.demo,
        }


@dataclass
class _Input:
    """One planned input, not decoded yet: a photo file, a video file or an in-memory image."""

    name: str
    label: str
    identity: InputIdentity
    source: Path | np.ndarray
    """The file, or the in-memory image."""

    @property
    def path(self) -> Path | None:
        """The input's file; ``None`` for an in-memory image."""
        return self.source if isinstance(self.source, Path) else None


@dataclass
class _Video:
    """A video being read: complete once every kept frame is complete."""

    identity: InputIdentity
    name: str
    frames: list[str] = field(default_factory=list)
    open: int = 0
    """Frames handed out and not finished yet."""
    failed: bool = False
    read: bool = False
    """Every frame was decoded."""


@dataclass
class _Unit:
    """A photo or a video frame in flight: complete when its last face is written."""

    name: str
    label: str
    identity: InputIdentity
    base: str
    """The input's output name (``name`` is a frame's name for a video frame)."""
    pending: int = 0
    failed: bool = False
    files: list[str] = field(default_factory=list)
    video: _Video | None = None


_Work = tuple[_Unit, np.ndarray, "Path | None"]
"""A decoded input ready for detection: its unit, the photo, the photo's file (for landmark files)."""


def _describe(error: BaseException) -> str:
    """A one-line message for an error of one input or face (with the code location if unexpected)."""
    if isinstance(error, MemoryError):
        return "out of memory; use a smaller --batch-size or smaller photos"
    if isinstance(error, (PydecaError, OSError)):
        return str(error) or type(error).__name__
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return (
        f"unexpected {type(error).__name__}: {error}{where}; this is a bug in pydeca, please report it "
        "with this message"
    )


def _expand(inputs: Sequence[str | Path]) -> tuple[list[Path], dict[str, str]]:
    """Input files (nothing decoded) and the unusable inputs with their errors."""
    expanded = expand_inputs(inputs)
    files = [f for _, found in expanded if not isinstance(found, InputError) for f in found]
    bad = {text: str(found) for text, found in expanded if isinstance(found, InputError)}
    return files, bad


def _plan(
    files: Sequence[Path], named_images: Sequence[tuple[str, np.ndarray]], log: CompletionLog
) -> list[_Input]:
    """The inputs with their identities and output names (unique, never another input's)."""
    identities = [identity_of_file(path) for path in files]
    identities += [identity_of_array(image) for _, image in named_images]
    wanted = unique_output_names(files) + [safe_stem(name) for name, _ in named_images]
    owners = [identity.owner for identity in identities]
    names = claim_names(wanted, owners, log.owner_of, log.previous_name)
    labels = [str(path) for path in files] + [name for name, _ in named_images]
    sources: list[Path | np.ndarray] = [*files, *(image for _, image in named_images)]
    return [
        _Input(name, label, identity, source)
        for name, label, identity, source in zip(names, labels, identities, sources, strict=True)
    ]


def _needs_maps(options: OutputOptions) -> bool:
    """Whether any requested output needs the UV maps (detail, texture), not only the codes."""
    return any(
        (
            options.save_obj,
            options.save_vis,
            options.save_depth,
            options.save_images,
            options.save_mat,
            options.save_glb,
            options.save_ply,
        )
    )


class _Run:
    """The state of one streamed run: pending faces, completion bookkeeping, the summary."""

    def __init__(
        self,
        model: DECA,
        *,
        detector: FaceDetector,
        out_dir: Path,
        options: ReconstructOptions,
        summary: RunSummary,
        quiet: bool,
    ) -> None:
        self.model, self.detector, self.out_dir = model, detector, out_dir
        self.options, self.summary, self.quiet = options, summary, quiet
        self.log = CompletionLog(out_dir)
        self.maps = _needs_maps(options)
        self.pending: list[tuple[PreparedFace, _Unit]] = []
        self.complete = 0
        """Planned inputs complete so far (written and recorded, or skipped as complete)."""

    # ------------------------------------------------------------------ reporting
    def fail(self, label: str, message: str, unit: _Unit | None = None) -> None:
        """Record and print a failure of ``label`` (an input or a face)."""
        text = message if message.startswith(label) else f"{label}: {message}"
        self.summary.failed[label] = text
        warn(f"deca: failed: {text}")
        if unit is not None:
            unit.failed = True

    def skip(self, label: str) -> None:
        """Record an input skipped because it is complete."""
        self.summary.skipped.append(label)

    # ------------------------------------------------------------------ inputs, decoded lazily
    def units(self, plan: Sequence[_Input], progress: tqdm) -> Iterator[_Work]:
        """Yield ``(unit, photo, source)`` one input at a time, decoding only what is not skipped."""
        for item in plan:
            if self.options.skip_existing and self.log.is_complete(item.identity, item.name):
                self.skip(item.label)
                self.complete += 1
            elif item.path is not None and is_video(item.path):
                yield from self._video_units(item, item.path)
            else:
                yield from self._photo_unit(item)
            progress.update(1)

    def _photo_unit(self, item: _Input) -> Iterator[_Work]:
        try:
            source = item.source
            image = load_image(source) if isinstance(source, Path) else photo_from_array(source)
        except (PydecaError, OSError) as error:  # e.g. ShapeError for an in-memory array
            self.fail(item.label, _describe(error))
            return
        yield _Unit(item.name, item.label, item.identity, item.name), image, item.path

    def _video_units(self, item: _Input, path: Path) -> Iterator[_Work]:
        skip = self.options.skip_existing
        video = _Video(item.identity, item.name)
        try:
            from pydeca.io.video import iter_video_frames

            for index, frame in iter_video_frames(path, every=self.options.every):
                name = frame_name(item.name, index)
                video.frames.append(name)
                if skip and self.log.is_complete(item.identity, name):
                    self.skip(name)
                    continue
                video.open += 1
                yield _Unit(name, name, item.identity, item.name, video=video), frame, None
        except (PydecaError, OSError) as error:
            self.fail(item.label, _describe(error))
            video.failed = True
        video.read = True
        self._finish_video(video)

    # ------------------------------------------------------------------ faces, batched
    def add(self, unit: _Unit, image: np.ndarray, source: Path | None) -> None:
        """Detect and crop the faces of one photo, queue them, and run every full batch."""
        try:
            faces = prepare_faces(image, unit.name, self.detector, source, self.options.faces)
        except Exception as error:  # one photo fails alone, whatever went wrong
            self.fail(unit.label, _describe(error), unit)
            self._finish(unit)
            return
        found = faces[0].faces_found
        if found > len(faces):
            note = f"{found} faces found, reconstructed the largest; --face all for every face"
            self.summary.notes[unit.label] = note
            say(self.quiet, f"deca: note: {unit.label}: {note}")
        unit.pending = len(faces)
        self.pending += [(face, unit) for face in faces]
        while len(self.pending) >= self.options.batch_size:
            self.flush(self.options.batch_size)

    def flush(self, count: int | None = None) -> None:
        """Encode, decode and save the first ``count`` pending faces (all when None)."""
        count = len(self.pending) if count is None else count
        batch, self.pending = self.pending[:count], self.pending[count:]
        if not batch:
            return
        try:
            results, failures = reconstruct_batch(
                self.model, [face for face, _ in batch], self.options.texture, maps=self.maps
            )
        except Exception as error:  # the whole batch failed (e.g. out of memory)
            for face, unit in batch:
                self.fail(face.name, _describe(error), unit)
                self._face_done(unit)
            return
        by_name = {result.name: result for result in results}
        for face, unit in batch:
            if face.name in failures:
                self.fail(face.name, failures[face.name], unit)
            else:
                try:
                    files = save_face(self.model, by_name[face.name], self.out_dir, self.options)
                except Exception as error:  # a file that cannot be written fails this face only
                    self.fail(face.name, f"could not write its outputs: {_describe(error)}", unit)
                else:
                    self.summary.outputs[face.name] = files
                    unit.files += files
            self._face_done(unit)

    # ------------------------------------------------------------------ completion
    def _face_done(self, unit: _Unit) -> None:
        unit.pending -= 1
        if unit.pending == 0:
            self._finish(unit)

    def _mark(
        self,
        identity: InputIdentity,
        name: str,
        files: list[str],
        parts: list[str] | None = None,
        *,
        base: str | None = None,
    ) -> None:
        try:
            self.log.mark(identity, name, files, parts, base=base)
        except OSError as error:
            warn(f"deca: warning: cannot update {self.log.path} ({error}); --skip-existing will redo {name}")

    def _finish(self, unit: _Unit) -> None:
        if not unit.failed:
            self._mark(unit.identity, unit.name, unit.files, base=unit.base)
            if unit.video is None:
                self.complete += 1
        if unit.video is not None:
            unit.video.open -= 1
            unit.video.failed |= unit.failed
            self._finish_video(unit.video)

    def _finish_video(self, video: _Video) -> None:
        if video.read and video.open == 0 and not video.failed:
            self._mark(video.identity, video.name, [], parts=video.frames)
            self.complete += 1

    def interrupted(self, total: int) -> str:
        """The line printed when Ctrl-C stops the run: what is complete and how to resume."""
        failed = f", {len(self.summary.failed)} failed" if self.summary.failed else ""
        return (
            f"deca: interrupted: {self.complete} of {total} inputs complete{failed}, no partial "
            f"output left in {self.out_dir}; run the same command with --skip-existing to resume"
        )


def _check_options(options: ReconstructOptions) -> None:
    if options.faces not in ("largest", "all"):
        raise OptionError(f"--face must be 'largest' or 'all', got {options.faces!r}")
    if options.batch_size < 1 or options.every < 1:
        raise OptionError(f"--batch-size and --every must be ≥ 1, got {options.batch_size}, {options.every}")


def run_reconstruct(
    inputs: Sequence[str | Path],
    output: str | Path,
    options: ReconstructOptions | None = None,
    *,
    assets: str | Path | None = None,
    device: str = "auto",
    quiet: bool = False,
    model: DECA | None = None,
    named_images: Sequence[tuple[str, np.ndarray]] = (),
) -> RunSummary:
    """Reconstruct every face among ``inputs`` (files, folders, globs, videos) into ``output``.

    A failing input or face is reported on stderr and in ``RunSummary.failed``, and skipped.
    ``named_images`` adds in-memory images ``(name, (H, W, 3) uint8)``.

    Raises:
        InputError: no input is usable (each one's problem is in the message).
        OutputError: ``output`` is a file, not writable, or its completion record is not a file.
        KeyboardInterrupt: Ctrl-C; what is complete is kept and recorded, a line on stderr says
            how to resume (``--skip-existing``).
        OptionError: a bad option (face selection, batch size, device, detector name).
        MissingDependencyError: the chosen detector is not installed.
        AssetError: the assets are missing or unusable.
    """
    options = options or ReconstructOptions()
    start = time.perf_counter()
    _check_options(options)
    files, bad = _expand(inputs)
    if not files and not named_images:
        if bad:
            raise InputError("no usable input: " + "; ".join(bad.values()))
        raise InputError("no input given: pass image or video files, folders or glob patterns")
    resolved = model.device if model is not None else resolve_device(device)
    detector = get_detector(options.detector, device=str(resolved))  # before the (slow) model load
    out_dir = prepare_output_dir(output)  # also before the model: OutputError for a bad -o
    plan = _plan(files, named_images, CompletionLog(out_dir))
    summary = RunSummary()
    for text, message in bad.items():
        summary.failed[text] = message
        warn(f"deca: failed: {message}")
    model = load_model(model, assets, resolved, quiet)
    summary.demo = model.is_demo
    run = _Run(model, detector=detector, out_dir=out_dir, options=options, summary=summary, quiet=quiet)
    try:
        with tqdm(
            total=len(plan), desc="deca", unit="input", disable=quiet, leave=False, file=sys.stderr
        ) as bar:
            for unit, image, source in run.units(plan, bar):
                run.add(unit, image, source)
            run.flush()
    except KeyboardInterrupt:
        raise RunInterrupted(run.interrupted(len(plan))) from None  # save_face left no partial face
    summary.seconds = time.perf_counter() - start
    counts = f"{len(summary.outputs)} succeeded, {len(summary.failed)} failed, {len(summary.skipped)} skipped"
    demo = " (DEMO assets: not real reconstructions)" if summary.demo else ""
    say(quiet, f"deca: {counts} in {summary.seconds:.1f} s -> {out_dir}{demo}")
    return summary


def run_demo(
    output: str | Path,
    options: ReconstructOptions | None = None,
    *,
    assets: str | Path | None = None,
    device: str = "auto",
    quiet: bool = False,
) -> RunSummary:
    """Reconstruct scikit-image's astronaut photo (it ships offline with scikit-image); list the files."""
    from skimage import data

    image = np.ascontiguousarray(data.astronaut())
    summary = run_reconstruct(
        [], output, options, assets=assets, device=device, quiet=quiet, named_images=[("astronaut", image)]
    )
    if not quiet:
        for path in summary.outputs.get("astronaut", []):
            print(f"  wrote {path}", file=sys.stderr)
    return summary
