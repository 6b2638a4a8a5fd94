"""``deca video``: track one face through a video, one identity, smoothed motion, streamed output.

Pipeline (streaming; memory does not grow with the clip length):
    1. Frames are decoded (every ``every``-th) and grouped in batches of ``batch_size``.
    2. **Tracking.** The first batch (and any batch after a loss) is cropped from a detection on its
       first frame (largest face, DECA's crop rule). Every later batch is cropped with one crop
       taken from the *previous batch's last frame*: its 68 predicted landmarks (crop NDC → crop
       pixels → photo pixels through ``T⁻¹``) and DECA's ``kpt68`` rule. So a whole batch shares a
       crop (one encoder pass per frame, no per-frame re-encode); the crop is 1.375× the landmark
       box, enough for the motion within a batch. Tracking is lost — the next batch re-detects —
       when those landmarks are non-finite, fewer than half of them lie in the frame, or the crop
       size changes by more than 2×.
    3. **Identity.** shape, tex and the detail code are the mean over the first ``identity_frames``
       tracked frames, then frozen for the whole clip (E_detail stops running after that). The
       frames of that warm-up (at most ``4 · identity_frames``) are held until the identity is
       known, so every written frame uses the same identity.
    4. **Smoothing** (``smooth=True``): causal One-Euro filters (:mod:`pydeca.apps.smoothing`) on
       pose, expression and the camera expressed in the *photo* frame (so crop changes between
       batches do not show up as camera jumps); the filters restart after untracked frames.
    5. Output, written as it goes: ``OUT/<stem>_deca.mp4`` (same fps / every, same frame count;
       each frame ``[input | shape with detail | coarse shape over the frame]``, each panel the
       input frame scaled to at most ``max_height`` rows; demo banner on demo assets; audio copied),
       ``OUT/<stem>_params.npz`` (one row per frame, see :func:`run_video`) and optionally
       ``OUT/<stem>_meshes/<stem>_frame<k>.obj``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from pydeca.apps.pipeline import load_model, say
from pydeca.apps.smoothing import CODE_SMOOTHING, OneEuroFilter
from pydeca.constants import CROP_SIZE
from pydeca.detect import FaceDetector, detect_faces, get_detector
from pydeca.detect.crop import crop_transform, face_transform, square_from_box, uncrop_points, warp_crop
from pydeca.errors import InputError, NoFaceError
from pydeca.geometry.camera import crop_to_image_ndc, ndc_to_pixels, weak_perspective_project
from pydeca.geometry.normals import vertex_normals
from pydeca.io.atomic import atomic_write
from pydeca.io.images import is_video
from pydeca.io.mesh import write_obj
from pydeca.io.video import iter_video_frames, video_info
from pydeca.io.video_writer import VideoWriter
from pydeca.model import DECA
from pydeca.nets import Codes
from pydeca.render.visualize import add_banner, to_uint8

__all__ = ["VideoSummary", "cam_from_photo", "cam_to_photo", "run_video"]

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
    """Detector runs that started a track (1 + re-detections after a loss)."""
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
@dataclass
class _Batch:
    """Frames of one batch and what the encoder made of them."""

    indices: list[int]
    frames: list[np.ndarray]
    tforms: np.ndarray | None = None
    """(B, 3, 3) photo → crop, or None when untracked."""
    codes: Codes | None = None
    ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    """(B,) tracked and finite."""


def _batches(path: Path, every: int, size: int) -> Iterator[_Batch]:
    batch = _Batch([], [])
    for index, frame in iter_video_frames(path, every=every):
        batch.indices.append(index)
        batch.frames.append(frame)
        if len(batch.indices) == size:
            yield batch
            batch = _Batch([], [])
    if batch.indices:
        yield batch


class _Tracker:
    """The crop for the next batch: from a detection, or from the last frame's landmarks."""

    def __init__(self, detector: FaceDetector, source: Path) -> None:
        self.detector, self.source = detector, source
        self.tform: np.ndarray | None = None
        self.size = 0.0
        self.detections = 0

    def crop(self, frame: np.ndarray) -> np.ndarray | None:
        """(3, 3) T for a batch starting with ``frame``; detects when no track; None: no face."""
        if self.tform is None:
            faces = sorted(detect_faces(self.detector, frame), key=lambda f: f.area, reverse=True)
            if not faces:
                return None
            self.tform = face_transform(faces[0], frame.shape, crop_size=CROP_SIZE)
            self.size = (CROP_SIZE - 1) / self.tform[0, 0]
            self.detections += 1
        return self.tform

    def update(self, landmarks_px: np.ndarray, shape: tuple[int, ...]) -> None:
        """Next crop from (68, 2) photo-pixel landmarks; drops the track when they look lost."""
        height, width = shape[:2]
        inside = (
            (landmarks_px[:, 0] >= 0)
            & (landmarks_px[:, 0] < width)
            & (landmarks_px[:, 1] >= 0)
            & (landmarks_px[:, 1] < height)
        )
        if not np.isfinite(landmarks_px).all() or inside.mean() < 0.5:
            self.tform = None
            return
        center, size = square_from_box(np.concatenate([landmarks_px.min(0), landmarks_px.max(0)]), "kpt68")
        if size < 8 or not 0.5 <= size / self.size <= 2.0:
            self.tform = None
            return
        self.tform, self.size = crop_transform(center, size, CROP_SIZE), size


class _Smoother:
    """One-Euro filters on pose, expression and the photo-frame camera (see module docstring)."""

    def __init__(self, rate: float, strength: float) -> None:
        def make(key: str) -> OneEuroFilter:
            cfg = CODE_SMOOTHING[key]
            return OneEuroFilter(rate, cfg.min_cutoff / strength, cfg.beta, cfg.d_cutoff)

        self.filters = {key: make(key) for key in ("pose", "exp", "cam")}

    def reset(self) -> None:
        for f in self.filters.values():
            f.reset()

    def __call__(self, pose: np.ndarray, exp: np.ndarray, photo_cam: np.ndarray) -> tuple[np.ndarray, ...]:
        """One frame: (6,), (50,), (3,) → smoothed copies."""
        return self.filters["pose"](pose), self.filters["exp"](exp), self.filters["cam"](photo_cam)


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
        common = {"fragments": fragments, "view_normals": view_normals}
        coarse, detail = model.renderer.render_shapes(
            rec.vertices, verts, rec.uv_detail_normals, panel_hw, **common
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
        with atomic_write(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **out, **extra)


# ---------------------------------------------------------------------- the app
def _nan_row() -> dict[str, np.ndarray]:
    """Parameter row values of an untracked frame."""
    shapes = {"exp": 50, "pose": 6, "cam": 3, "light": (9, 3), "tform": (3, 3)}
    shapes.update({"raw_exp": 50, "raw_pose": 6, "raw_cam": 3})
    return {key: np.full(shape, np.nan) for key, shape in shapes.items()}


class _VideoJob:
    """State of one :func:`run_video` call: tracker, identity, smoother, writer, parameter rows."""

    def __init__(self, model: DECA, path: Path, out_dir: Path, rate: float, options: dict) -> None:
        self.model, self.path, self.opt = model, path, options
        self.tracker = _Tracker(options["detector"], path)
        self.smoother = _Smoother(rate, options["smoothing"])
        self.params = _Params()
        self.id_sum: dict[str, torch.Tensor] = {}
        self.id_count = 0
        self.identity: Codes | None = None
        self.held: list[_Batch] = []
        self.mesh_dir = out_dir / f"{path.stem}_meshes"
        self.panel_hw: tuple[int, int] | None = None
        self.summary = VideoSummary(str(path), fps=rate, demo=model.is_demo)
        self.writer = VideoWriter(out_dir / f"{path.stem}_deca.mp4", rate, audio_from=path)

    # ------------------------------------------------------------------ encode + track
    def encode(self, batch: _Batch) -> None:
        """Crop (tracked or detected), encode, update the track and the identity sums."""
        size = len(batch.indices)
        batch.ok = np.zeros(size, bool)
        tform = self.tracker.crop(batch.frames[0])
        if tform is None:
            return
        model = self.model
        batch.tforms = np.repeat(tform[None], size, axis=0)
        photos = torch.from_numpy(np.stack(batch.frames)).permute(0, 3, 1, 2).float().div_(255.0)
        crops = warp_crop(photos.to(model.device), torch.from_numpy(batch.tforms).float())
        codes = model.encode(crops, use_detail=self.identity is None).to("cpu")
        vector = codes.to_flame_vector()
        if codes.detail is not None:
            vector = torch.cat([vector, codes.detail], dim=1)
        batch.ok = torch.isfinite(vector).all(dim=1).numpy()
        batch.codes = codes
        if batch.ok[-1]:
            self.tracker.update(_landmarks_px(model, codes[-1], tform), batch.frames[-1].shape)
        else:
            self.tracker.tform = None
        if self.identity is None and batch.ok.any():
            good = np.flatnonzero(batch.ok).tolist()
            for key in ("shape", "tex", "detail"):
                total = getattr(codes, key)[good].sum(dim=0, keepdim=True)
                self.id_sum[key] = self.id_sum[key] + total if key in self.id_sum else total
            self.id_count += len(good)

    def push(self, batch: _Batch) -> None:
        """Encode a batch, then write it now, or hold it until the identity is frozen."""
        self.encode(batch)
        if self.identity is not None:
            self.emit(batch)
            return
        self.held.append(batch)
        while self.held and not self.held[0].ok.any():
            self.emit(self.held.pop(0))
        held_frames = sum(len(b.indices) for b in self.held)
        if self.id_count >= self.opt["identity_frames"] or held_frames > 4 * self.opt["identity_frames"]:
            self.freeze()

    def freeze(self) -> None:
        """Fix the identity to the mean so far and write the held batches."""
        n = self.id_count
        zeros = {"exp": torch.zeros(1, 50), "pose": torch.zeros(1, 6), "cam": torch.zeros(1, 3)}
        self.identity = Codes(
            shape=self.id_sum["shape"] / n,
            tex=self.id_sum["tex"] / n,
            light=torch.zeros(1, 9, 3),
            detail=self.id_sum["detail"] / n,
            **zeros,
        )
        while self.held:
            self.emit(self.held.pop(0))

    # ------------------------------------------------------------------ smooth + render + write
    def _smoothed_codes(self, batch: _Batch, ok: np.ndarray) -> tuple[Codes, dict[str, np.ndarray]]:
        """Identity substituted and motion smoothed codes of the tracked frames ``ok`` of a batch."""
        codes, tforms = batch.codes[ok.tolist()], batch.tforms[ok]
        raw = codes.to_numpy()
        pose, exp, cam = raw["pose"].copy(), raw["exp"].copy(), raw["cam"].copy()
        if self.opt["smooth"]:
            photo_cam = cam_to_photo(cam, tforms)
            for j, i in enumerate(ok):
                if i > 0 and not batch.ok[i - 1]:
                    self.smoother.reset()
                pose[j], exp[j], photo_cam[j] = self.smoother(pose[j], exp[j], photo_cam[j])
            cam = cam_from_photo(photo_cam, tforms)
        n, ident = len(ok), self.identity
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

    def emit(self, batch: _Batch) -> None:
        """Smooth, decode, render and write one batch whose identity is known (or untracked)."""
        photos = self._panel_photos(batch.frames)
        ok = np.flatnonzero(batch.ok)
        if len(ok):
            smoothed, raw = self._smoothed_codes(batch, ok)
            ok_photos = [photos[i] for i in ok]
            details, overlays, vertices = _render_panels(
                self.model, smoothed, batch.tforms[ok], ok_photos, self.panel_hw
            )
        if not batch.ok[-1]:
            self.smoother.reset()
        for i, (index, photo) in enumerate(zip(batch.indices, photos, strict=True)):
            if not batch.ok[i]:
                self.params.add(frame=index, tracked=False, **_nan_row())
                self.write([photo, np.zeros_like(photo), photo])
                continue
            j = int(np.searchsorted(ok, i))
            self.params.add(
                frame=index,
                tracked=True,
                exp=smoothed.exp[j].numpy(),
                pose=smoothed.pose[j].numpy(),
                cam=smoothed.cam[j].numpy(),
                light=smoothed.light[j].numpy(),
                tform=batch.tforms[i],
                raw_exp=raw["exp"][j],
                raw_pose=raw["pose"][j],
                raw_cam=raw["cam"][j],
            )
            if self.opt["save_meshes"]:
                name = f"{self.path.stem}_frame{index:06d}.obj"
                write_obj(
                    self.mesh_dir / name, vertices[j], self.model.faces.cpu(), header="pydeca video frame"
                )
            self.summary.tracked += 1
            self.write([photo, details[j], overlays[j]])

    def write(self, panels: list[np.ndarray]) -> None:
        """Write one output frame ``[input | shape+detail | overlay]`` (banner on demo assets)."""
        frame = np.concatenate(panels, axis=1)
        self.writer.write(add_banner(frame) if self.model.is_demo else frame)
        self.summary.frames += 1

    def finish(self) -> None:
        """Freeze a late identity, close the video; NoFaceError when no frame had a face."""
        if self.identity is None:
            if self.id_count == 0:
                name = getattr(self.opt["detector"], "name", "the")
                raise NoFaceError(
                    f"{self.path}: no face found in any frame by the '{name}' detector; try another "
                    "detector (--detector) or a video where the face is visible"
                )
            self.freeze()
        if self.summary.frames == 0:
            raise InputError(f"{self.path}: the video has no decodable frames; re-export it")
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
        batch_size: frames per encoder batch (memory ~ batch_size frames).
        identity_frames: tracked frames averaged into the one identity (shape, tex, detail).
        max_height: panel height cap in pixels (larger frames are scaled down for the panels).
        save_meshes: also write one coarse OBJ per tracked frame.
        model: an already loaded model.

    Returns:
        :class:`VideoSummary`. ``<stem>_params.npz`` holds, for T written frames: ``frame`` (T,)
        source frame index, ``tracked`` (T,) bool, ``shape`` (T, 100), ``tex`` (T, 50), ``detail``
        (T, 128) (identical rows), ``exp`` (T, 50), ``pose`` (T, 6), ``cam`` (T, 3) crop camera of
        ``tform``, ``light`` (T, 9, 3), ``tform`` (T, 3, 3) photo pixel → crop pixel, ``raw_*``
        the unsmoothed exp/pose/cam, scalars ``fps``, ``is_demo``; NaN rows where untracked.

    Raises:
        InputError: not a video file, unreadable, or no frames. NoFaceError: no face in any frame.
    """
    start = time.perf_counter()
    path = Path(video)
    if not is_video(path):
        raise InputError(f"{path}: not a video file (expected .mp4, .mov, .avi, .mkv or .webm); pass a video")
    if int(every) < 1 or int(batch_size) < 1 or int(identity_frames) < 1 or not smoothing > 0:
        raise ValueError("every, batch_size and identity_frames must be >= 1 and smoothing > 0")
    info = video_info(path)
    if info["frames"] == 0:
        raise InputError(f"{path}: the video has no frames; re-export it")
    rate = (info["fps"] or 25.0) / every
    out_dir = Path(output)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = load_model(model, assets, device, quiet)
    options = {
        "detector": get_detector(detector) if isinstance(detector, str) else detector,
        "smooth": smooth,
        "smoothing": float(smoothing),
        "identity_frames": int(identity_frames),
        "max_height": int(max_height),
        "save_meshes": save_meshes,
    }
    job = _VideoJob(model, path, out_dir, rate, options)
    progress = tqdm(
        total=info["frames"] // every, desc="deca video", unit="frame", disable=quiet, leave=False
    )
    try:
        for batch in _batches(path, every, batch_size):
            job.push(batch)
            progress.update(len(batch.indices))
        job.finish()
    except BaseException:
        job.writer.abort()
        raise
    finally:
        progress.close()
    summary = job.summary
    params_path = out_dir / f"{path.stem}_params.npz"
    ident = {k: v[0] for k, v in job.identity.to_numpy().items() if k in ("shape", "tex", "detail")}
    job.params.save(params_path, ident, {"fps": np.float64(rate), "is_demo": np.bool_(model.is_demo)})
    summary.outputs.append(str(params_path))
    if save_meshes and summary.tracked:
        summary.outputs.append(str(job.mesh_dir))
    summary.seconds = time.perf_counter() - start
    message = f"{summary.frames} frames ({summary.tracked} with a face) in {summary.seconds:.1f} s"
    say(quiet, f"deca: {message} -> {summary.outputs[0]}")
    return summary
