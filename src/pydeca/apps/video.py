"""``deca video``: track one face through a video, one identity, smoothed motion, streamed output.

Pipeline (streaming; memory does not grow with the clip length):
    1. Frames are decoded one at a time (every ``every``-th frame).
    2. **Tracking, per frame** (:mod:`pydeca.apps.tracking`): the face is detected once; every
       later frame is cropped with DECA's ``kpt68`` rule from the 68 landmarks predicted for the
       *previous frame* (crop NDC → crop pixels → photo pixels through ``T⁻¹``). The detector runs
       again every ``redetect_every`` frames (and after a suspicious crop step) to confirm the track
       by the IoU of the tracked and detected crops, and on every frame while no face is found.
       Because each crop depends on the previous frame's codes, E_flame runs frame by frame
       (batch 1: on an idle CPU as fast per frame as a batch of 8, 44 vs 43 ms on 2 threads;
       on a CPU shared with other jobs batch 1 suffers more from thread contention).
    3. **Identity.** shape, tex and the detail code are the mean over the first ``identity_frames``
       tracked frames, then frozen for the whole clip. E_detail needs no tracking: it runs in
       batches of ``batch_size`` on those frames' crops, and not at all after that. The
       frames of that warm-up (at most ``4 · identity_frames``) are held until the identity is
       known, so every written frame uses the same identity.
    4. **Smoothing** (``smooth=True``): causal One-Euro filters
       (:class:`~pydeca.apps.smoothing.MotionSmoother`) on pose, expression and the camera expressed
       in the *photo* frame (so per-frame crop changes do not show up as camera motion); the
       filters restart after untracked frames and when a track restarts.
    5. Decoding and rendering run in batches of ``batch_size`` frames. Output, written as it goes:
       ``OUT/<stem>_deca.mp4`` (same fps / every, same frame count; each frame ``[input | shape
       with detail | coarse shape over the frame]``, each panel the input frame scaled to at most
       ``max_height`` rows; demo banner on demo assets; audio copied), ``OUT/<stem>_params.npz``
       (one row per frame, see :func:`run_video`) and optionally
       ``OUT/<stem>_meshes/<stem>_frame<k:06d>.obj`` (coarse mesh with the FLAME UV layout).
    6. **Names and safety** (:mod:`pydeca.io.output_names`): ``<stem>`` is the video's safe stem; a
       name another input owns in ``OUT`` (recorded in ``.deca-completed.jsonl``) gets ``_2``, ...
       The outputs appear only when the whole video is done (the MP4 is written to a temporary file,
       the meshes to a staging folder); a failure or Ctrl-C leaves none of them, and says so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from pydeca.apps.common import load_model, say, warn
from pydeca.apps.completion import CompletionLog, identity_of_file
from pydeca.apps.memory import release_freed_memory
from pydeca.apps.smoothing import MotionSmoother, check_strength
from pydeca.apps.tracking import FaceTracker, TrackingOptions
from pydeca.constants import CROP_SIZE, MIN_PANEL_HEIGHT
from pydeca.detect import FaceDetector, get_detector
from pydeca.detect.crop import uncrop_points, warp_crop
from pydeca.errors import InputError, NoFaceError, OptionError, RunInterrupted
from pydeca.geometry.camera import crop_to_image_ndc, ndc_to_pixels, weak_perspective_project
from pydeca.geometry.normals import vertex_normals
from pydeca.io.atomic import atomic_write
from pydeca.io.inputs import is_video
from pydeca.io.mesh import write_obj
from pydeca.io.output_names import (
    claim_names,
    frame_name,
    prepare_output_dir,
    safe_stem,
    staging_dir,
    video_files,
)
from pydeca.io.video import iter_video_frames, video_info
from pydeca.io.video_writer import VideoWriter
from pydeca.model import DECA
from pydeca.nets import Codes
from pydeca.render.visualize import add_banner, to_uint8

__all__ = ["VideoSummary", "cam_from_photo", "cam_to_photo", "run_video", "smooth_motion"]

_TRIM_EVERY = 100
"""Frames between returns of freed heap memory to the OS (see :mod:`pydeca.apps.memory`)."""

OVERLAY_OPACITY = 0.7
"""Weight of the shape render over the frame in the overlay panel."""


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

    def to_dict(self) -> dict:
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


# ---------------------------------------------------------------------- camera in the photo frame
def cam_to_photo(cam: np.ndarray, tform: np.ndarray, crop_size: int = CROP_SIZE) -> np.ndarray:
    """Crop camera ``(s, tx, ty)`` → photo camera ``(S, TX, TY)`` for a crop ``T = [[k, 0, a], [0, k, b]]``.

    Photo pixels of a world point are ``col = S (x + TX)``, ``row = −S (y + TY)`` (S in pixels per
    metre), independent of the crop: with ``h = crop_size / 2`` and ``c = (crop_size − 1) / 2``,
    ``S = h s / k``, ``TX = tx + (c − a) / (h s)``, ``TY = ty − (c − b) / (h s)``.

    Args:
        cam: (B, 3) crop cameras.
        tform: (B, 3, 3) photo pixel → crop pixel similarities without rotation.
        crop_size: crop side in pixels (224).

    Returns:
        (B, 3) float64 photo cameras.
    """
    cam, t = np.asarray(cam, np.float64), np.asarray(tform, np.float64)
    h, c = crop_size / 2.0, (crop_size - 1) / 2.0
    k, a, b = t[:, 0, 0], t[:, 0, 2], t[:, 1, 2]
    s = cam[:, 0]
    return np.stack([h * s / k, cam[:, 1] + (c - a) / (h * s), cam[:, 2] - (c - b) / (h * s)], axis=1)


def cam_from_photo(photo_cam: np.ndarray, tform: np.ndarray, crop_size: int = CROP_SIZE) -> np.ndarray:
    """Inverse of :func:`cam_to_photo`: (B, 3) photo cameras → (B, 3) crop cameras of ``tform``."""
    p, t = np.asarray(photo_cam, np.float64), np.asarray(tform, np.float64)
    h, c = crop_size / 2.0, (crop_size - 1) / 2.0
    k, a, b = t[:, 0, 0], t[:, 0, 2], t[:, 1, 2]
    s = p[:, 0] * k / h
    return np.stack([s, p[:, 1] - (c - a) / (h * s), p[:, 2] + (c - b) / (h * s)], axis=1)


# ---------------------------------------------------------------------- pieces of the loop
def smooth_motion(
    smoother: MotionSmoother,
    pose: np.ndarray,
    exp: np.ndarray,
    cam: np.ndarray,
    tforms: np.ndarray,
    *,
    restart: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The smoothing stage of ``deca video`` for N consecutive tracked frames, in order.

    The crop cameras are moved to the photo frame (:func:`cam_to_photo`) so that per-frame crop
    changes are not mistaken for motion, filtered with pose and expression, and moved back into
    each frame's own crop. ``smoother`` keeps its state between calls (the stream goes on).

    Args:
        smoother: the filters (state carried across calls).
        pose: (N, 6) axis-angle radians.
        exp: (N, 50) expression coefficients.
        cam: (N, 3) crop cameras ``(s, tx, ty)`` of ``tforms``.
        tforms: (N, 3, 3) photo pixel → crop pixel of each frame.
        restart: (N,) bool, reset the filters before frame j (after a gap or on a new track).

    Returns:
        Smoothed ``(pose, exp, cam)``, float64, shapes as given; ``cam`` in each frame's crop.
    """
    pose, exp = np.array(pose, dtype=np.float64), np.array(exp, dtype=np.float64)
    photo_cam = cam_to_photo(cam, tforms)
    for j in range(len(pose)):
        if restart is not None and restart[j]:
            smoother.reset()
        pose[j], exp[j], photo_cam[j] = smoother(pose[j], exp[j], photo_cam[j])
    return pose, exp, cam_from_photo(photo_cam, tforms)


def _landmarks_px(model: DECA, codes: Codes, tform: np.ndarray) -> np.ndarray:
    """(68, 2) photo pixels of the 2D landmarks of a single code (B = 1) cropped with ``tform``."""
    with torch.inference_mode():
        codes = codes.to(model.device)
        flame = model.flame(codes.shape, codes.exp, codes.pose)
        ndc = weak_perspective_project(flame.landmarks2d, codes.cam)[..., :2]
        crop_px = ndc_to_pixels(ndc.double().cpu(), CROP_SIZE)
    return uncrop_points(crop_px.numpy(), tform[None])[0]


def _panel_transform(tform: np.ndarray, shape: tuple[int, ...], panel_hw: tuple[int, int]) -> np.ndarray:
    """(B, 3, 3) panel pixel → crop pixel, for panels that rescale the (H, W) photo to ``panel_hw``."""
    rx, ry = panel_hw[1] / shape[1], panel_hw[0] / shape[0]
    scale = np.array([[rx, 0.0, 0.5 * rx - 0.5], [0.0, ry, 0.5 * ry - 0.5], [0.0, 0.0, 1.0]])
    return tform @ np.linalg.inv(scale)


def _render_panels(
    model: DECA, codes: Codes, tforms: np.ndarray, photos: list[np.ndarray], panel_hw: tuple[int, int]
) -> tuple[list[np.ndarray], list[np.ndarray], torch.Tensor]:
    """Shape-with-detail and overlay panels (each (h, w, 3) uint8) and (B, V, 3) world vertices."""
    with torch.inference_mode():
        rec = model.decode(codes.to(model.device), use_detail=True)
        t = torch.as_tensor(_panel_transform(tforms, photos[0].shape, panel_hw), dtype=torch.float32)
        verts = crop_to_image_ndc(rec.trans_verts, t.to(model.device), CROP_SIZE, panel_hw)
        view_normals = vertex_normals(rec.trans_verts, model.renderer.faces)
        fragments = model.renderer.rasterize(verts, panel_hw)
        if rec.detail is not None:
            normals = rec.detail.uv_detail_normals
            coarse, detail = model.renderer.render_shapes(
                rec.vertices, verts, normals, panel_hw, fragments=fragments, view_normals=view_normals
            )
        else:  # codes without a detail code: the coarse shape in both panels
            coarse = detail = model.renderer.render_shape(
                rec.vertices, verts, panel_hw, fragments=fragments, view_normals=view_normals
            )
        bg = torch.from_numpy(np.stack(photos)).to(model.device).permute(0, 3, 1, 2).float().div_(255.0)
        weight = coarse.alpha * OVERLAY_OPACITY
        overlay = coarse.images * weight + bg * (1.0 - weight)
    details = [to_uint8(img) for img in detail.images]
    overlays = [to_uint8(img) for img in overlay]
    return details, overlays, rec.vertices.cpu()


class _Params:
    """Per-frame rows of the parameter file (kept in memory: ~1 kB per frame)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[np.ndarray]] = {
            k: []
            for k in (
                "frame",
                "tracked",
                "track",
                "exp",
                "pose",
                "cam",
                "light",
                "tform",
                "raw_exp",
                "raw_pose",
                "raw_cam",
            )
        }

    def add(self, **values: np.ndarray) -> None:
        for key, value in values.items():
            self.rows[key].append(np.asarray(value))

    def save(self, path: Path, identity: dict[str, np.ndarray], extra: dict[str, np.ndarray]) -> None:
        out = {key: np.stack(rows) for key, rows in self.rows.items()}
        count = len(out["frame"])
        for key, value in identity.items():
            out[key] = np.broadcast_to(value.astype(np.float32), (count, *value.shape)).copy()
        for key in ("exp", "pose", "cam", "light", "raw_exp", "raw_pose", "raw_cam"):
            out[key] = out[key].astype(np.float32)
        out["track"] = out["track"].astype(np.int32)
        with atomic_write(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **out, **extra)


# ---------------------------------------------------------------------- the app
def _write_rest(job: _VideoJob, out_dir: Path, rate: float) -> None:
    """After the MP4: the parameter file, then the meshes folder moved into place."""
    summary = job.summary
    params_path = out_dir / job.files["params"]
    ident = {k: v[0] for k, v in job.identity.to_numpy().items() if k in ("shape", "tex", "detail")}
    demo = np.bool_(job.model.is_demo)
    job.params.save(params_path, ident, {"fps": np.float64(rate), "is_demo": demo})
    summary.outputs.append(str(params_path))
    if job.opt["save_meshes"] and summary.tracked:
        if os.path.lexists(job.mesh_dir):
            shutil.rmtree(job.mesh_dir)  # this video's own meshes of an earlier run
        os.rename(job.mesh_stage, job.mesh_dir)
        summary.outputs.append(str(job.mesh_dir))


def _discard(job: _VideoJob) -> None:
    """Remove what a failed or interrupted video wrote: staged meshes, a finished MP4 or parameters."""
    shutil.rmtree(job.mesh_stage, ignore_errors=True)
    for written in job.summary.outputs:
        with contextlib.suppress(OSError):
            Path(written).unlink()
    job.summary.outputs.clear()


def _nan_row() -> dict[str, np.ndarray]:
    """Parameter row values of an untracked frame."""
    shapes = {"exp": 50, "pose": 6, "cam": 3, "light": (9, 3), "tform": (3, 3)}
    shapes.update({"raw_exp": 50, "raw_pose": 6, "raw_cam": 3})
    return {key: np.full(shape, np.nan) for key, shape in shapes.items()}


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


class _VideoJob:
    """State of one :func:`run_video` call: tracker, identity, smoother, writer, parameter rows."""

    def __init__(
        self, model: DECA, path: Path, out_dir: Path, rate: float, options: dict, *, name: str
    ) -> None:
        self.model, self.path, self.opt, self.name = model, path, options, name
        self.files = video_files(name)
        self.tracker = FaceTracker(options["detector"], options["tracking"])
        self.smoother = MotionSmoother(rate, options["smoothing"])
        self.params = _Params()
        self.id_sum: dict[str, torch.Tensor] = {}
        self.id_count = self.detail_count = 0
        self.detail_crops: list[torch.Tensor] = []
        """Warm-up crops waiting for E_detail (which needs no tracking, so it runs batched)."""
        self.identity: Codes | None = None
        self.pending: list[_Frame] = []
        self.mesh_dir = out_dir / self.files["meshes"]
        self.mesh_stage = staging_dir(out_dir, self.files["meshes"])
        """Meshes are written here and renamed to ``mesh_dir`` once the whole video is done."""
        self.panel_hw: tuple[int, int] | None = None
        self.summary = VideoSummary(str(path), fps=rate, demo=model.is_demo)
        self.writer = VideoWriter(out_dir / self.files["video"], rate, audio_from=path)

    # ------------------------------------------------------------------ track + encode, per frame
    def process(self, index: int, image: np.ndarray) -> None:
        """Crop one frame from the track, encode it, move the track on; write what is ready."""
        item = _Frame(index, image, self.tracker.crop(image))
        item.new_track = self.tracker.started
        item.track = self.tracker.tracks - 1 if item.tform is not None else -1
        if item.tform is not None:
            self._encode(item)
        self.pending.append(item)
        self._flush()

    def _encode(self, item: _Frame) -> None:
        model = self.model
        photo = torch.from_numpy(item.image).to(model.device).permute(2, 0, 1)[None].float().div_(255.0)
        crop = warp_crop(photo, torch.from_numpy(item.tform)[None].float())
        codes = model.encode(crop, use_detail=False).to("cpu")
        if not bool(torch.isfinite(codes.to_flame_vector()).all()):
            self.tracker.lose()
            item.tform, item.track = None, -1
            return
        item.codes = codes
        self.tracker.update(_landmarks_px(model, codes, item.tform), item.image.shape)
        if self.identity is None:
            self._add_identity({"shape": codes.shape, "tex": codes.tex})
            self.id_count += 1
            self.detail_crops.append(crop)
            if len(self.detail_crops) == self.opt["batch_size"]:
                self._encode_details()

    def _add_identity(self, values: dict[str, torch.Tensor]) -> None:
        for key, value in values.items():
            total = value.sum(dim=0, keepdim=True)
            self.id_sum[key] = self.id_sum[key] + total if key in self.id_sum else total

    def _encode_details(self) -> None:
        """E_detail on the waiting warm-up crops, one batch; non-finite rows are left out."""
        if not self.detail_crops:
            return
        with torch.inference_mode():
            detail = self.model.E_detail(torch.cat(self.detail_crops)).to("cpu")
        self.detail_crops = []
        finite = torch.isfinite(detail).all(dim=1)
        self._add_identity({"detail": detail[finite]})
        self.detail_count += int(finite.sum())

    def _flush(self) -> None:
        """Write full batches once the identity is known (before: untracked leading frames only)."""
        size = self.opt["batch_size"]
        if self.identity is None:
            while self.pending and self.pending[0].codes is None:
                self.emit([self.pending.pop(0)])
            limit = 4 * self.opt["identity_frames"]
            if self.id_count >= self.opt["identity_frames"] or len(self.pending) > limit:
                self.freeze()
            return
        while len(self.pending) >= size:
            self.emit(self.pending[:size])
            del self.pending[:size]

    def freeze(self) -> None:
        """Fix the identity to the mean so far, then write what is pending."""
        self._encode_details()
        n = self.id_count
        zeros = {"exp": torch.zeros(1, 50), "pose": torch.zeros(1, 6), "cam": torch.zeros(1, 3)}
        detail = self.id_sum["detail"] / self.detail_count if self.detail_count else torch.zeros(1, 128)
        self.identity = Codes(
            shape=self.id_sum["shape"] / n,
            tex=self.id_sum["tex"] / n,
            light=torch.zeros(1, 9, 3),
            detail=detail,
            **zeros,
        )
        self._flush()

    # ------------------------------------------------------------------ smooth + render + write
    def _smoothed_codes(self, chunk: list[_Frame]) -> tuple[Codes, dict[str, np.ndarray]]:
        """Identity substituted, motion smoothed codes of the tracked frames of ``chunk`` (in order).

        The filters restart after an untracked frame and on the first frame of a new track.
        """
        tracked = [item for item in chunk if item.codes is not None]
        codes = Codes.cat([item.codes for item in tracked])
        tforms = np.stack([item.tform for item in tracked])
        raw = codes.to_numpy()
        pose, exp, cam = raw["pose"].copy(), raw["exp"].copy(), raw["cam"].copy()
        if self.opt["smooth"]:
            restart, previous_tracked = [], True
            for item in chunk:
                if item.codes is not None:
                    restart.append(item.new_track or not previous_tracked)
                previous_tracked = item.codes is not None
            pose, exp, cam = smooth_motion(self.smoother, pose, exp, cam, tforms, restart=np.array(restart))
            if chunk[-1].codes is None:
                self.smoother.reset()
        n, ident = len(tracked), self.identity
        smoothed = Codes(
            shape=ident.shape.expand(n, -1),
            tex=ident.tex.expand(n, -1),
            exp=torch.as_tensor(exp, dtype=torch.float32),
            pose=torch.as_tensor(pose, dtype=torch.float32),
            cam=torch.as_tensor(cam, dtype=torch.float32),
            light=codes.light,
            detail=ident.detail.expand(n, -1),
        )
        return smoothed, raw

    def _panel_photos(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Frames scaled to the panel size (height ≤ max_height)."""
        h, w = frames[0].shape[:2]
        if self.panel_hw is None:
            scale = min(1.0, self.opt["max_height"] / h)
            self.panel_hw = (max(2, round(h * scale)), max(2, round(w * scale)))
        if (h, w) == self.panel_hw:
            return frames
        size = self.panel_hw[::-1]
        return [np.asarray(Image.fromarray(f).resize(size, Image.BILINEAR)) for f in frames]

    def emit(self, chunk: list[_Frame]) -> None:
        """Smooth, decode, render and write frames in order (untracked ones as they are)."""
        photos = self._panel_photos([item.image for item in chunk])
        tracked = [item for item in chunk if item.codes is not None]
        if not tracked:
            self.smoother.reset()
        else:
            smoothed, raw = self._smoothed_codes(chunk)
            tforms = np.stack([item.tform for item in tracked])
            ok_photos = [photo for photo, item in zip(photos, chunk, strict=True) if item.codes is not None]
            details, overlays, vertices = _render_panels(
                self.model, smoothed, tforms, ok_photos, self.panel_hw
            )
        j = 0
        for item, photo in zip(chunk, photos, strict=True):
            if item.codes is None:
                self.params.add(frame=item.index, tracked=False, track=-1, **_nan_row())
                self.write([photo, np.zeros_like(photo), photo])
                continue
            self.params.add(
                frame=item.index,
                tracked=True,
                track=item.track,
                exp=smoothed.exp[j].numpy(),
                pose=smoothed.pose[j].numpy(),
                cam=smoothed.cam[j].numpy(),
                light=smoothed.light[j].numpy(),
                tform=item.tform,
                raw_exp=raw["exp"][j],
                raw_pose=raw["pose"][j],
                raw_cam=raw["cam"][j],
            )
            if self.opt["save_meshes"]:
                self._write_mesh(item.index, vertices[j])
            self.summary.tracked += 1
            self.write([photo, details[j], overlays[j]])
            j += 1

    def _write_mesh(self, index: int, vertices: torch.Tensor) -> None:
        """``<name>_frame<index:06d>.obj``: coarse mesh with the FLAME UV layout (as ``deca reconstruct``)."""
        topo = self.model.topology
        write_obj(
            self.mesh_stage / f"{frame_name(self.name, index)}.obj",
            vertices,
            topo.faces,
            uvcoords=topo.uvcoords,
            uvfaces=topo.uvfaces,
            header="pydeca video frame"
            + (" - DEMO assets, not a real reconstruction" if self.model.is_demo else ""),
        )

    def write(self, panels: list[np.ndarray]) -> None:
        """Write one output frame ``[input | shape+detail | overlay]`` (banner on demo assets)."""
        frame = np.concatenate(panels, axis=1)
        self.writer.write(add_banner(frame) if self.model.is_demo else frame)
        self.summary.frames += 1

    def finish(self) -> None:
        """Freeze a late identity, write the rest, close the video; NoFaceError when no face at all."""
        if self.identity is None:
            if self.id_count == 0:
                name = getattr(self.opt["detector"], "name", "the")
                raise NoFaceError(
                    f"{self.path}: no face found in any frame by the '{name}' detector; try another "
                    "detector (--detector) or a video where the face is visible"
                )
            self.freeze()
        if self.pending:
            self.emit(self.pending)
            self.pending = []
        if self.summary.frames == 0:
            raise InputError(f"{self.path}: the video has no decodable frames; re-export it")
        tracker = self.tracker
        self.summary.detections, self.summary.tracks = tracker.detections, tracker.tracks
        self.summary.losses = tracker.losses
        self.summary.audio_note = self.writer.audio_note
        self.summary.outputs.append(str(self.writer.close()))


def run_video(
    video: str | Path,
    output: str | Path,
    *,
    assets: str | Path | None = None,
    device: str = "auto",
    quiet: bool = False,
    detector: str | FaceDetector = "auto",
    smooth: bool = True,
    smoothing: float = 1.0,
    every: int = 1,
    batch_size: int = 8,
    identity_frames: int = 16,
    tracking: TrackingOptions | None = None,
    max_height: int = 480,
    save_meshes: bool = False,
    model: DECA | None = None,
) -> VideoSummary:
    """Reconstruct the largest face of a video into a side-by-side MP4 and per-frame parameters.

    Args:
        video: a video file (.mp4, .mov, .avi, .mkv, .webm).
        output: output folder (created).
        assets: asset directory, ``"demo"`` or None (see :meth:`DECA.load`); ignored with ``model``.
        device: ``auto``, ``cpu``, ``mps``, ``cuda``.
        quiet: no progress bar or messages.
        detector: detector name (:func:`get_detector`) or a detector object.
        smooth: smooth pose, expression and camera over time.
        smoothing: strength s > 0: every One-Euro ``min_cutoff`` is divided by s (lag bound × s).
        every: use every ``every``-th frame (output fps = input fps / every).
        batch_size: frames per decode / render batch (the encoder runs per frame, see step 2).
        identity_frames: tracked frames averaged into the one identity (shape, tex, detail).
        tracking: when the detector runs again (default :class:`TrackingOptions`: every 15
            frames of a steady track, after a suspicious crop step, and while no face is found);
            see :mod:`pydeca.apps.tracking`.
        max_height: panel height cap in pixels (taller frames are scaled down for the panels; the
            parameters always refer to the full-size frame).
        save_meshes: also write one coarse OBJ (with UVs) per tracked frame.
        model: an already loaded model.

    Returns:
        :class:`VideoSummary`. ``<stem>_params.npz`` holds, for T written frames: ``frame`` (T,)
        source frame index, ``tracked`` (T,) bool, ``track`` (T,) int32 track number (0, then +1
        at each restart, −1 untracked; motion is continuous within a track), ``shape`` (T, 100),
        ``tex`` (T, 50), ``detail`` (T, 128) (identical rows), ``exp`` (T, 50), ``pose`` (T, 6),
        ``cam`` (T, 3) crop camera of ``tform``, ``light`` (T, 9, 3), ``tform`` (T, 3, 3) photo
        pixel → crop pixel, ``raw_*`` the unsmoothed exp/pose/cam, scalars ``fps``, ``is_demo``;
        NaN rows where untracked.

    Raises:
        InputError: not a video file, unreadable, or no frames. NoFaceError: no face in any frame.
    """
    start = time.perf_counter()
    path = Path(video)
    if not is_video(path):
        raise InputError(f"{path}: not a video file (expected .mp4, .mov, .avi, .mkv or .webm); pass a video")
    for option, value in (("every", every), ("batch_size", batch_size), ("identity_frames", identity_frames)):
        if int(value) < 1:
            raise OptionError(f"{option}: expected a whole number >= 1, got {value!r}")
    smoothing = check_strength(smoothing)
    if int(max_height) < MIN_PANEL_HEIGHT:
        raise OptionError(f"max_height: expected >= {MIN_PANEL_HEIGHT} pixels, got {max_height!r}")
    info = video_info(path)
    if info["frames"] == 0:
        raise InputError(f"{path}: has no frames (its video stream holds no picture); re-export it")
    rate = (info["fps"] or 25.0) / every
    out_dir = prepare_output_dir(output)
    log = CompletionLog(out_dir)
    identity = identity_of_file(path)
    (name,) = claim_names([safe_stem(path.stem)], [identity.owner], log.owner_of, log.previous_name)
    model = load_model(model, assets, device, quiet)
    options = {
        "detector": get_detector(detector) if isinstance(detector, str) else detector,
        "tracking": tracking or TrackingOptions(),
        "smooth": smooth,
        "smoothing": float(smoothing),
        "batch_size": int(batch_size),
        "identity_frames": int(identity_frames),
        "max_height": int(max_height),
        "save_meshes": save_meshes,
    }
    job = _VideoJob(model, path, out_dir, rate, options, name=name)
    total = info["frames"] // every
    progress = tqdm(total=total, desc="deca video", unit="frame", disable=quiet, leave=False)
    try:
        for count, (index, image) in enumerate(iter_video_frames(path, every=every), start=1):
            job.process(index, image)
            progress.update(1)
            if count % _TRIM_EVERY == 0:
                release_freed_memory()  # keeps the resident memory flat over long clips
        job.finish()
        _write_rest(job, out_dir, rate)
    except BaseException as error:
        job.writer.abort()
        _discard(job)
        if isinstance(error, KeyboardInterrupt):
            raise RunInterrupted(
                f"deca: interrupted at frame {progress.n} of {total} of {path}: no partial output left "
                f"in {out_dir} (a video's outputs are kept only once it is complete); run it again"
            ) from None
        raise
    finally:
        progress.close()
    summary = job.summary
    try:
        log.mark(identity, name, summary.outputs[:2])
    except OSError as error:
        warn(f"deca: warning: cannot update {log.path} ({error})")
    summary.seconds = time.perf_counter() - start
    message = f"{summary.frames} frames ({summary.tracked} with a face) in {summary.seconds:.1f} s"
    say(quiet, f"deca: {message} -> {summary.outputs[0]}")
    return summary
