"""``run_video`` on a synthetic clip of the rendered demo head, the MP4 writer, and bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pydeca.apps.video import cam_from_photo, cam_to_photo, run_video
from pydeca.detect import Face
from pydeca.detect.crop import crop_transform
from pydeca.errors import InputError, NoFaceError
from pydeca.geometry.camera import ndc_to_pixels, weak_perspective_project
from pydeca.io.video import iter_video_frames, video_info
from pydeca.io.video_writer import VideoWriter

av = pytest.importorskip("av")

FRAMES, WIDTH, HEIGHT, FPS = 16, 320, 240, 12
YAW = 0.5 * np.sin(np.linspace(0.0, np.pi, FRAMES))
"""Known head yaw per frame, radians."""


class KnownFaceDetector:
    """Returns the rendered head's true 68 landmarks (a stand-in for a real detector)."""

    name = "known"

    def __init__(self, landmarks: dict[int, np.ndarray]) -> None:
        self.landmarks, self.calls = landmarks, 0

    def detect(self, rgb: np.ndarray) -> list[Face]:
        key = int(rgb[0, 0, 0])  # the frame index is stamped into pixel (0, 0)
        self.calls += 1
        pts = self.landmarks.get(key)
        if pts is None:
            return []
        return [Face(np.concatenate([pts.min(0), pts.max(0)]), 1.0, pts, kind="kpt68")]


class NoFaceDetector:
    name = "nothing"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return []


def _write(path: Path, frames, fps: int = FPS) -> Path:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"crf": "12"}
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def head_clip(demo_model, tmp_path_factory) -> tuple[Path, KnownFaceDetector]:
    """16 frames 320×240 @ 12 fps: the demo head turning (known yaw) over a textured background."""
    model = demo_model
    rng = np.random.default_rng(0)
    n = FRAMES
    pose = torch.zeros(n, 6)
    pose[:, 1] = torch.as_tensor(YAW, dtype=torch.float32)
    with torch.inference_mode():
        flame = model.flame(torch.zeros(n, 100), torch.zeros(n, 50), pose)
        cam = torch.tensor([[5.0, 0.0, 0.0]]).expand(n, 3)
        verts = weak_perspective_project(flame.vertices, cam)
        verts[..., 0] *= HEIGHT / WIDTH  # square pixels in the 4:3 frame
        lmk = weak_perspective_project(flame.landmarks2d, cam)[..., :2]
        lmk[..., 0] *= HEIGHT / WIDTH
        yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
        texture = 0.35 + 0.15 * np.sin(xx / 7.0)[..., None] * np.cos(yy / 11.0)[..., None] * np.array(
            [1, 0.5, 0.2]
        )
        background = torch.as_tensor(texture, dtype=torch.float32).permute(2, 0, 1)[None].expand(n, 3, -1, -1)
        images = model.renderer.render_shape(
            flame.vertices, verts, (HEIGHT, WIDTH), background=background
        ).images
    frames = np.rint(images.permute(0, 2, 3, 1).numpy() * 255 + rng.normal(0, 3, (n, HEIGHT, WIDTH, 3)))
    frames = np.clip(frames, 0, 255).astype(np.uint8)
    frames[:, :2, :2] = np.arange(n, dtype=np.uint8)[:, None, None, None] * 10  # frame stamp
    pixels = ndc_to_pixels(lmk.double(), (HEIGHT, WIDTH)).numpy()
    path = _write(tmp_path_factory.mktemp("clip") / "turn.mp4", list(frames))
    decoded = {i: int(rgb[0, 0, 0]) for i, rgb in iter_video_frames(path)}
    landmarks = {decoded[i]: pixels[i] for i in range(n)}
    return path, KnownFaceDetector(landmarks)


@pytest.fixture(scope="module")
def video_runs(demo_model, head_clip, tmp_path_factory):
    """The clip through run_video: smoothed (with meshes), and unsmoothed on every 2nd frame."""
    path, detector = head_clip
    out = tmp_path_factory.mktemp("video-out")
    common = {"model": demo_model, "quiet": True, "detector": detector, "identity_frames": 8}
    smooth = run_video(path, out / "smooth", save_meshes=True, **common)
    raw = run_video(path, out / "raw", smooth=False, every=2, **common)
    return out, smooth, raw


def test_output_video_matches_input(video_runs, head_clip):
    out, summary, _ = video_runs
    video = out / "smooth" / "turn_deca.mp4"
    assert summary.outputs[0] == str(video)
    info = video_info(video)
    assert info["frames"] == FRAMES == summary.frames == summary.tracked
    assert info["fps"] == pytest.approx(FPS)
    assert (info["width"], info["height"]) == (3 * WIDTH, HEIGHT)  # [input | shape+detail | overlay]
    assert summary.demo
    frame = next(iter_video_frames(video))[1]
    assert frame[2:12, :, 0].mean() > 150  # the red demo banner
    # the input panel holds the input frame, the others differ from it where the head is drawn
    src = next(iter_video_frames(head_clip[0]))[1]
    assert np.abs(frame[20:, :WIDTH].astype(float) - src[20:]).mean() < 4
    assert np.abs(frame[20:, WIDTH : 2 * WIDTH].astype(float) - src[20:]).mean() > 20
    assert sorted(p.name for p in (out / "smooth" / "turn_meshes").iterdir())[0] == "turn_frame000000.obj"


def test_params_one_row_per_frame_and_one_identity(video_runs):
    out = video_runs[0]
    with np.load(out / "smooth" / "turn_params.npz") as data:
        p = {k: data[k] for k in data.files}
    assert p["frame"].tolist() == list(range(FRAMES))
    shapes = {"shape": (100,), "tex": (50,), "detail": (128,), "exp": (50,), "pose": (6,), "cam": (3,)}
    shapes |= {"light": (9, 3), "tform": (3, 3)}
    for key, shape in shapes.items():
        assert p[key].shape == (FRAMES, *shape), key
        assert np.isfinite(p[key]).all(), key
    for key in ("shape", "tex", "detail"):
        np.testing.assert_array_equal(p[key], np.broadcast_to(p[key][0], p[key].shape))
    assert p["tracked"].all()
    assert float(p["fps"]) == FPS
    assert bool(p["is_demo"])


def test_smoothing_lowers_pose_jitter(video_runs):
    out, _, raw_summary = video_runs
    with np.load(out / "smooth" / "turn_params.npz") as s:
        pose, raw_pose, exp, raw_exp = s["pose"], s["raw_pose"], s["exp"], s["raw_exp"]

    # Jitter = mean |second difference| over frames: it vanishes on steady motion (a ramp), so it
    # measures the frame-to-frame noise and not the head's real turn, which the first difference of
    # this short clip is dominated by. On this clip the filter leaves ~45% of it (0.42 pose, 0.48 exp).
    def jitter(x: np.ndarray) -> float:
        return float(np.abs(np.diff(x, n=2, axis=0)).mean())

    assert jitter(pose) < 0.6 * jitter(raw_pose)  # raw_* = what smooth=False writes
    assert jitter(exp) < 0.6 * jitter(raw_exp)
    # The smoothed motion trails the raw estimate by at most the filter's stated lag: at 12 fps with
    # the pose filter's 1.5 Hz cutoff, rate / (2π · 1.5) ≈ 1.3 frames, so the best alignment is ≤ 2.
    centred = raw_pose - raw_pose.mean(0)
    errors = [np.abs(pose[k:] - pose.mean(0) - centred[: len(pose) - k]).mean() for k in range(5)]
    assert int(np.argmin(errors)) <= 2
    # smooth=False writes the raw codes; every=2 keeps frames 0, 2, ... at half the frame rate
    with np.load(out / "raw" / "turn_params.npz") as r:
        assert r["frame"].tolist() == list(range(0, FRAMES, 2))
        np.testing.assert_array_equal(r["pose"], r["raw_pose"])
        np.testing.assert_array_equal(r["cam"], r["raw_cam"])
    assert raw_summary.frames == FRAMES // 2
    assert raw_summary.fps == pytest.approx(FPS / 2)
    assert video_info(out / "raw" / "turn_deca.mp4")["frames"] == FRAMES // 2


def test_photo_camera_round_trip():
    rng = np.random.default_rng(1)
    cam = np.column_stack([rng.uniform(3, 9, 5), rng.normal(0, 0.05, (5, 2))])
    tform = crop_transform(rng.uniform(50, 300, (5, 2)), rng.uniform(80, 400, 5))
    np.testing.assert_allclose(cam_from_photo(cam_to_photo(cam, tform), tform), cam, atol=1e-12)
    # the photo camera predicts the photo pixel of a world point whichever crop it came from
    x = np.array([0.03, -0.02])
    photo = cam_to_photo(cam, tform)
    crop_px = 112 * np.column_stack([cam[:, 0] * (x[0] + cam[:, 1]), -cam[:, 0] * (x[1] + cam[:, 2])]) + 111.5
    expected = (crop_px - tform[:, :2, 2]) / tform[:, 0, 0:1]
    got = np.column_stack([photo[:, 0] * (x[0] + photo[:, 1]), -photo[:, 0] * (x[1] + photo[:, 2])])
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_bad_inputs(demo_model, tmp_path):
    common = {"model": demo_model, "quiet": True}
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(InputError, match=r"notes\.txt: not a video"):
        run_video(text, tmp_path / "o", **common)
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"this is not an mp4 file at all" * 10)
    with pytest.raises(InputError, match=r"fake\.mp4"):
        run_video(fake, tmp_path / "o", **common)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.mp4"):
        run_video(empty, tmp_path / "o", **common)
    noise = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(3)]
    blank = _write(tmp_path / "blank.mp4", noise)
    with pytest.raises(NoFaceError, match=r"blank\.mp4: no face found in any frame"):
        run_video(blank, tmp_path / "o", detector=NoFaceDetector(), **common)
    assert not list((tmp_path / "o").glob("*.mp4"))  # nothing half-written is left


def test_writer_even_size_audio_and_atomic(tmp_path):
    src = tmp_path / "with_audio.mp4"
    with av.open(str(src), "w") as c:
        video = c.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = c.add_stream("aac", rate=16000)
        audio.layout = "mono"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), format="rgb24")
            for packet in video.encode(frame):
                c.mux(packet)
        tone = (0.3 * np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000)).astype(np.float32)[None]
        for k in range(0, 16000, 1024):
            chunk = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(tone[:, k : k + 1024]), format="fltp", layout="mono"
            )
            chunk.sample_rate, chunk.pts = 16000, k
            for packet in audio.encode(chunk):
                c.mux(packet)
        for stream in (audio, video):
            for packet in stream.encode():
                c.mux(packet)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, 10, audio_from=src) as writer:
        for i in range(10):
            writer.write(np.full((47, 63, 3), 20 * i, np.uint8))  # odd size → padded to even
    assert video_info(out) == {"fps": 10.0, "frames": 10, "width": 64, "height": 48}
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1
        assert c.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for p in c.demux(c.streams.audio[0]) if p.size) >= 10

    # an exception inside the block leaves no file and keeps no temporary file
    def broken() -> None:
        with VideoWriter(tmp_path / "broken.mp4", 10) as writer:
            writer.write(np.zeros((16, 16, 3), np.uint8))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        broken()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "with_audio.mp4"]


def test_writer_reencodes_audio_mp4_cannot_hold(tmp_path):
    """PCM audio (e.g. from a .mkv) cannot go into MP4 as is: it is re-encoded to AAC, not dropped."""
    src = tmp_path / "pcm.mkv"
    with av.open(str(src), "w") as c:
        video = c.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = c.add_stream("pcm_s16le", rate=16000)
        audio.layout = "mono"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), format="rgb24")
            for packet in video.encode(frame):
                c.mux(packet)
        tone = (8000 * np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000)).astype(np.int16)[None]
        for k in range(0, 16000, 1600):
            chunk = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(tone[:, k : k + 1600]), format="s16", layout="mono"
            )
            chunk.sample_rate, chunk.pts = 16000, k
            for packet in audio.encode(chunk):
                c.mux(packet)
        for stream in (audio, video):
            for packet in stream.encode():
                c.mux(packet)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, 10, audio_from=src) as writer:
        for i in range(10):
            writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    assert "re-encoded to AAC" in writer.audio_note
    with av.open(str(out)) as c:
        stream = c.streams.audio[0]
        assert stream.codec_context.name == "aac"
        samples = sum(frame.samples for frame in c.decode(stream))
    assert samples > 0.8 * 16000  # about the clip's one second of sound survives
