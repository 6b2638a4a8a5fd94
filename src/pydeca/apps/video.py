"""``deca video``: track one face through a video, one identity, smoothed motion, streamed output.

Pipeline (streaming; memory does not grow with the clip length):
    1. Frames are decoded one at a time (every ``every``-th frame).
    2. **Tracking, per frame** (:mod:`pydeca.apps.tracking`): the face is detected once; every
       later frame is cropped with DECA's ``kpt68`` rule from the 68 landmarks predicted for the
       *previous frame* (crop NDC → photo pixels, :func:`~pydeca.detect.crop.crop_ndc_to_photo_px`).
       The detector runs again every ``redetect_every`` frames (and after a suspicious crop step)
       to confirm the track by the IoU of the tracked and detected crops, and on every frame while
       no face is found. Because each crop depends on the previous frame's codes, E_flame runs
       frame by frame (batch 1: on an idle CPU as fast per frame as a batch of 8, 44 vs 43 ms on
       2 threads; on a CPU shared with other jobs batch 1 suffers more from thread contention).
    3. **Identity** (:mod:`pydeca.apps.video_identity`): shape, tex and the detail code are the
       mean over the first ``identity_frames`` tracked frames, then frozen for the whole clip.
       E_detail needs no tracking: it runs in batches of ``batch_size`` on those frames' crops, and
       not at all after that. The frames of that warm-up (at most ``4 · identity_frames``) are held
       until the identity is known, so every written frame uses the same identity.
    4. **Smoothing** (``smooth``, :func:`~pydeca.apps.smoothing.smooth_motion`): causal One-Euro
       filters on pose, expression and the camera expressed in the *photo* frame (so per-frame crop
       changes do not show up as camera motion); the filters restart after untracked frames and
       when a track restarts.
    5. Decoding and rendering (:func:`~pydeca.render.views.frame_panels`) run in batches of
       ``batch_size`` frames. Output, written as it goes: ``OUT/<stem>_deca.mp4`` (same fps / every,
       same frame count; each frame ``[input | shape with detail | coarse shape over the frame]``,
       each panel the input frame scaled to at most ``max_height`` rows; demo banner on demo
       assets; audio copied), ``OUT/<stem>_params.npz`` (one row per frame,
       :class:`~pydeca.io.params.ParameterTable`, see :func:`run_video`) and optionally
       ``OUT/<stem>_meshes/<stem>_frame<k:06d>.obj`` (coarse mesh with the FLAME UV layout).
    6. **Names and safety** (:mod:`pydeca.io.output_names`, :mod:`pydeca.apps.video_outputs`):
       ``<stem>`` is the video's safe stem; a name another input owns in ``OUT`` (recorded in
       ``.deca-completed.jsonl``) gets ``_2``, ... The outputs appear only when the whole video is
       done (the MP4 is written to a temporary file, the meshes to a staging folder); a failure or
       Ctrl-C leaves none of them, and says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from pydeca.apps.common import load_model, say, warn
from pydeca.apps.completion import CompletionLog, identity_of_file
from pydeca.apps.memory import release_freed_memory
from pydeca.apps.smoothing import MotionSmoother, check_strength, smooth_motion
from pydeca.apps.tracking import FaceTracker, TrackingOptions
from pydeca.apps.video_identity import IdentityMean
from pydeca.apps.video_outputs import VideoOutputs
from pydeca.constants import MIN_PANEL_HEIGHT
from pydeca.detect import FaceDetector, get_detector
from pydeca.detect.crop import crop_ndc_to_photo_px, warp_crop
from pydeca.errors import InputError, NoFaceError, OptionError, RunInterrupted
from pydeca.geometry.camera import weak_perspective_project
from pydeca.io.inputs import is_video
from pydeca.io.output_names import claim_names, prepare_output_dir, safe_stem
from pydeca.io.video import iter_video_frames, video_info
from pydeca.model import DECA
from pydeca.nets import Codes
from pydeca.render.views import frame_panels, panel_size

__all__ = ["VideoOptions", "VideoSummary", "run_video"]

_TRIM_EVERY = 100
"""Frames between returns of freed heap memory to the OS (see :mod:`pydeca.apps.memory`)."""


def _at_least(option: str, value: Any, minimum: int, expected: str) -> int:
    """``int(value)`` if it is ≥ ``minimum``, else OptionError naming ``option``."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        number = minimum - 1
    if number < minimum:
        raise OptionError(f"{option}: expected {expected}, got {value!r}")
    return number


@dataclass(frozen=True)
class VideoOptions:
    """How ``deca video`` tracks, smooths and writes; checked when built (OptionError naming the option)."""

    detector: str | FaceDetector = "auto"
    """Detector name (:func:`~pydeca.detect.get_detector`) or a detector object."""
    tracking: TrackingOptions = field(default_factory=TrackingOptions)
    """When the detector runs again (every 15 frames of a steady track, after a suspicious crop step,
    and while no face is found); see :mod:`pydeca.apps.tracking`."""
    smooth: bool = True
    """Smooth pose, expression and camera over time."""
    smoothing: float = 1.0
    """Strength s, 0 < s ≤ :data:`~pydeca.apps.smoothing.MAX_STRENGTH`: every One-Euro ``min_cutoff``
    is divided by s (lag bound × s)."""
    every: int = 1
    """Use every ``every``-th frame (output fps = input fps / every), ≥ 1."""
    batch_size: int = 8
    """Frames per decode / render batch (the encoder runs per frame, see step 2), ≥ 1."""
    identity_frames: int = 16
    """Tracked frames averaged into the one identity (shape, tex, detail), ≥ 1."""
    max_height: int = 480
    """Panel height cap in pixels, ≥ :data:`~pydeca.constants.MIN_PANEL_HEIGHT` (taller frames are
    scaled down for the panels; the parameters always refer to the full-size frame)."""
    save_meshes: bool = False
    """Also write one coarse OBJ (with UVs) per tracked frame."""

    def __post_init__(self) -> None:
        for option in ("every", "batch_size", "identity_frames"):
            whole = _at_least(option, getattr(self, option), 1, "a whole number >= 1")
            object.__setattr__(self, option, whole)
        object.__setattr__(self, "smoothing", check_strength(self.smoothing))
        height = _at_least("max_height", self.max_height, MIN_PANEL_HEIGHT, f">= {MIN_PANEL_HEIGHT} pixels")
        object.__setattr__(self, "max_height", height)


@dataclass
class VideoSummary:
    """What :func:`run_video` did."""

    video: str
    outputs: list[str] = field(default_factory=list)
    frames: int = 0
    """Frames written (= frames read)."""
    tracked: int = 0
    """Frames with a face."""
    detections: int = 0
    """Detector runs: the first detection, periodic confirmations, searches while no face is found."""
    tracks: int = 0
    """Tracks started (1 + restarts after a loss)."""
    losses: int = 0
    """Tracks lost (face gone, crop slid off the face, implausible landmarks)."""
    fps: float = 0.0
    """Frame rate of the output video."""
    seconds: float = 0.0
    demo: bool = False
    audio_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "video": self.video,
            "outputs": self.outputs,
            "frames": self.frames,
            "tracked": self.tracked,
            "detections": self.detections,
            "tracks": self.tracks,
            "losses": self.losses,
            "fps": self.fps,
            "seconds": round(self.seconds, 3),
            "frames_per_second": round(self.frames / self.seconds, 3) if self.seconds else 0.0,
            "demo": self.demo,
            "audio_note": self.audio_note,
        }


def _landmarks_px(model: DECA, codes: Codes, tform: np.ndarray) -> np.ndarray:
    """(68, 2) float64 photo pixels of the 2D landmarks of a single code (B = 1) cropped with ``tform``."""
    with torch.inference_mode():
        codes = codes.to(model.device)
        flame = model.flame(codes.shape, codes.exp, codes.pose)
        ndc = weak_perspective_project(flame.landmarks2d, codes.cam)  # (1, 68, 3) float32, on device
    return crop_ndc_to_photo_px(ndc[0], tform)  # float64 on the CPU only


@dataclass
class _Frame:
    """One decoded frame and what tracking and the encoder made of it."""

    index: int
    image: np.ndarray
    """(H, W, 3) uint8 RGB."""
    tform: np.ndarray | None = None
    """(3, 3) photo → crop, None when untracked."""
    codes: Codes | None = None
    """B = 1 codes (CPU), None when untracked or non-finite."""
    new_track: bool = False
    """A track started on this frame (the smoothing restarts)."""
    track: int = -1
    """0-based number of the track the frame belongs to, -1 when untracked."""


_Rendered = tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, torch.Tensor]
"""A tracked frame ready to write: parameter row, shape+detail panel, overlay panel, (V, 3) vertices."""


class _VideoJob:
    """State of one :func:`run_video` call: tracker, identity, smoother and the outputs under way."""

    def __init__(
        self,
        model: DECA,
        path: Path,
        out_dir: Path,
        rate: float,
        options: VideoOptions,
        *,
        detector: FaceDetector,
        name: str,
    ) -> None:
        self.model, self.path, self.options, self.detector = model, path, options, detector
        self.tracker = FaceTracker(detector, options.tracking)
        self.smoother = MotionSmoother(rate, options.smoothing)
        self.warmup = IdentityMean(model.E_detail, options.batch_size)
        self.identity: Codes | None = None
        self.pending: list[_Frame] = []
        self.panel_hw: tuple[int, int] | None = None
        self.summary = VideoSummary(str(path), fps=rate, demo=model.is_demo)
        self.outputs = VideoOutputs(
            out_dir, name, rate, source=path, topology=model.topology, demo=self.summary.demo
        )

    # ------------------------------------------------------------------ track + encode, per frame
    def process(self, index: int, image: np.ndarray) -> None:
        """Crop one frame from the track, encode it, move the track on; write what is ready."""
        item = _Frame(index, image, self.tracker.crop(image))
        item.new_track = self.tracker.started
        if item.tform is not None:
            item.track = self.tracker.tracks - 1
            self._encode(item, item.tform)
        self.pending.append(item)
        self._flush()

    def _encode(self, item: _Frame, tform: np.ndarray) -> None:
        model = self.model
        photo = torch.from_numpy(item.image).to(model.device).permute(2, 0, 1)[None].float().div_(255.0)
        crop = warp_crop(photo, torch.from_numpy(tform)[None].float())
        codes = model.encode(crop, use_detail=False).to("cpu")
        if not bool(torch.isfinite(codes.to_flame_vector()).all()):
            self.tracker.lose()
            item.tform, item.track = None, -1
            return
        item.codes = codes
        self.tracker.update(_landmarks_px(model, codes, tform), item.image.shape)
        if self.identity is None:
            self.warmup.add(codes, crop)

    def _flush(self) -> None:
        """Write full batches once the identity is known (before: untracked leading frames only)."""
        if self.identity is None:
            while self.pending and self.pending[0].codes is None:
                self.emit([self.pending.pop(0)])
            needed = self.options.identity_frames
            if self.warmup.frames >= needed or len(self.pending) > 4 * needed:
                self.freeze()
            return
        size = self.options.batch_size
        while len(self.pending) >= size:
            self.emit(self.pending[:size])
            del self.pending[:size]

    def freeze(self) -> Codes:
        """Fix the identity to the mean so far, then write what is pending; returns the identity."""
        identity = self.identity = self.warmup.mean()
        self._flush()
        return identity

    # ------------------------------------------------------------------ smooth + render + write
    def _smoothed_codes(self, chunk: list[_Frame], identity: Codes) -> tuple[Codes, Codes, np.ndarray]:
        """``(smoothed, raw, tforms)`` of the N tracked frames of ``chunk``, in order.

        ``smoothed``: ``identity`` with each frame's motion, smoothed when asked (the filters restart
        after an untracked frame and on the first frame of a new track); ``raw``: the encoder's
        codes; ``tforms``: (N, 3, 3) photo pixel → crop pixel.
        """
        tracked = [
            (item.codes, item.tform) for item in chunk if item.codes is not None and item.tform is not None
        ]
        raw = Codes.cat([codes for codes, _ in tracked])
        tforms = np.stack([tform for _, tform in tracked])
        motion = raw.to_numpy()
        pose, exp, cam = motion["pose"].copy(), motion["exp"].copy(), motion["cam"].copy()
        if self.options.smooth:
            restart, previous_tracked = [], True
            for item in chunk:
                if item.codes is not None:
                    restart.append(item.new_track or not previous_tracked)
                previous_tracked = item.codes is not None
            pose, exp, cam = smooth_motion(self.smoother, pose, exp, cam, tforms, restart=np.array(restart))
            if chunk[-1].codes is None:
                self.smoother.reset()
        n = len(tracked)
        smoothed = Codes(
            shape=identity.shape.expand(n, -1),
            tex=identity.tex.expand(n, -1),
            exp=torch.as_tensor(exp, dtype=torch.float32),
            pose=torch.as_tensor(pose, dtype=torch.float32),
            cam=torch.as_tensor(cam, dtype=torch.float32),
            light=raw.light,
            detail=identity.detail.expand(n, -1) if identity.detail is not None else None,
        )
        return smoothed, raw, tforms

    def _panel_photos(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Frames scaled to the panel size (height ≤ max_height)."""
        h, w = frames[0].shape[:2]
        if self.panel_hw is None:
            self.panel_hw = panel_size((h, w), self.options.max_height)
        if (h, w) == self.panel_hw:
            return frames
        size = self.panel_hw[::-1]
        return [np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BILINEAR)) for f in frames]

    def _render(self, chunk: list[_Frame], photos: list[np.ndarray]) -> list[_Rendered]:
        """Smooth, decode and render the tracked frames of ``chunk`` over their panel ``photos``."""
        if all(item.codes is None for item in chunk):
            self.smoother.reset()
            return []
        if self.identity is None:
            raise RuntimeError("deca video: a tracked frame was written before the identity was known")
        smoothed, raw, tforms = self._smoothed_codes(chunk, self.identity)
        with torch.inference_mode():
            rec = self.model.decode(smoothed.to(self.model.device), use_detail=True)
        shown = [photo for photo, item in zip(photos, chunk, strict=True) if item.codes is not None]
        image_hw = (chunk[0].image.shape[0], chunk[0].image.shape[1])
        panels = frame_panels(self.model.renderer, rec, tforms, shown, image_hw)
        values = {key: getattr(smoothed, key).numpy() for key in ("exp", "pose", "cam", "light")}
        values |= {f"raw_{key}": getattr(raw, key).numpy() for key in ("exp", "pose", "cam")}
        values["tform"] = tforms
        vertices = rec.vertices.cpu()
        return [
            (
                {k: v[j] for k, v in values.items()},
                panels["shape_detail"][j],
                panels["overlay"][j],
                vertices[j],
            )
            for j in range(len(shown))
        ]

    def emit(self, chunk: list[_Frame]) -> None:
        """Smooth, decode, render and write frames in order (untracked ones as they are)."""
        photos = self._panel_photos([item.image for item in chunk])
        rendered, outputs = iter(self._render(chunk, photos)), self.outputs
        for item, photo in zip(chunk, photos, strict=True):
            if item.codes is None:
                outputs.params.add_untracked(item.index)
                outputs.add_frame([photo, np.zeros_like(photo), photo])
            else:
                row, detail, overlay, vertices = next(rendered)
                outputs.params.add(item.index, item.track, row)
                if self.options.save_meshes:
                    outputs.add_mesh(item.index, vertices)
                self.summary.tracked += 1
                outputs.add_frame([photo, detail, overlay])
            self.summary.frames += 1

    def finish(self) -> None:
        """Freeze a late identity, write the rest, close the video; NoFaceError when no face at all."""
        identity = self.identity
        if identity is None:
            if self.warmup.frames == 0:
                name = getattr(self.detector, "name", "the")
                raise NoFaceError(
                    f"{self.path}: no face found in any frame by the '{name}' detector; try another "
                    "detector (--detector) or a video where the face is visible"
                )
            identity = self.freeze()
        if self.pending:
            self.emit(self.pending)
            self.pending = []
        if self.summary.frames == 0:
            raise InputError(f"{self.path}: the video has no decodable frames; re-export it")
        tracker, summary = self.tracker, self.summary
        summary.detections, summary.tracks, summary.losses = (
            tracker.detections,
            tracker.tracks,
            tracker.losses,
        )
        summary.audio_note = self.outputs.writer.audio_note
        self.outputs.close_video()
        self.outputs.commit(identity)


def run_video(
    video: str | Path,
    output: str | Path,
    options: VideoOptions | None = None,
    *,
    assets: str | Path | None = None,
    device: str = "auto",
    quiet: bool = False,
    model: DECA | None = None,
) -> VideoSummary:
    """Reconstruct the largest face of a video into a side-by-side MP4 and per-frame parameters.

    Args:
        video: a video file (.mp4, .mov, .avi, .mkv, .webm).
        output: output folder (created).
        options: detector, tracking, smoothing, batch sizes, panel height, meshes
            (:class:`VideoOptions`; default: its defaults).
        assets: asset directory, ``"demo"`` or None (see :meth:`DECA.load`); ignored with ``model``.
        device: ``auto``, ``cpu``, ``mps``, ``cuda``.
        quiet: no progress bar or messages.
        model: an already loaded model.

    Returns:
        :class:`VideoSummary`. ``<stem>_params.npz`` holds one row per written frame (NaN where
        untracked), laid out as :class:`~pydeca.io.params.ParameterTable` describes.

    Raises:
        InputError: not a video file, unreadable, or no frames. NoFaceError: no face in any frame.
        RunInterrupted: Ctrl-C (no partial output is left).
    """
    options = options if options is not None else VideoOptions()
    start = time.perf_counter()
    path = Path(video)
    if not is_video(path):
        raise InputError(f"{path}: not a video file (expected .mp4, .mov, .avi, .mkv or .webm); pass a video")
    info = video_info(path)
    if info["frames"] == 0:
        raise InputError(f"{path}: has no frames (its video stream holds no picture); re-export it")
    rate = (info["fps"] or 25.0) / options.every
    out_dir = prepare_output_dir(output)
    log = CompletionLog(out_dir)
    identity = identity_of_file(path)
    (name,) = claim_names([safe_stem(path.stem)], [identity.owner], log.owner_of, log.previous_name)
    model = load_model(model, assets, device, quiet)
    detector = get_detector(options.detector) if isinstance(options.detector, str) else options.detector
    job = _VideoJob(model, path, out_dir, rate, options, detector=detector, name=name)
    total = info["frames"] // options.every
    progress = tqdm(total=total, desc="deca video", unit="frame", disable=quiet, leave=False)
    try:
        for count, (index, image) in enumerate(iter_video_frames(path, every=options.every), start=1):
            job.process(index, image)
            progress.update(1)
            if count % _TRIM_EVERY == 0:
                release_freed_memory()  # keeps the resident memory flat over long clips
        job.finish()
    except BaseException as error:
        job.outputs.discard()
        if isinstance(error, KeyboardInterrupt):
            raise RunInterrupted(
                f"deca: interrupted at frame {progress.n} of {total} of {path}: no partial output left "
                f"in {out_dir} (a video's outputs are kept only once it is complete); run it again"
            ) from None
        raise
    finally:
        progress.close()
    summary = job.summary
    summary.outputs = list(job.outputs.written)
    try:
        log.mark(identity, name, summary.outputs[:2])
    except OSError as error:
        warn(f"deca: warning: cannot update {log.path} ({error})")
    summary.seconds = time.perf_counter() - start
    message = f"{summary.frames} frames ({summary.tracked} with a face) in {summary.seconds:.1f} s"
    say(quiet, f"deca: {message} -> {summary.outputs[0]}")
    return summary
