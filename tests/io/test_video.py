"""Reading videos with PyAV: every frame, every n-th frame, info, and bad files."""

from __future__ import annotations

import builtins
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from media import mux_tone
from pydeca.errors import InputError
from pydeca.io.inputs import is_video, list_inputs
from pydeca.io.video import iter_video_frames, video_info

av = pytest.importorskip("av")

N_FRAMES, WIDTH, HEIGHT, FPS = 10, 64, 48, 10


def _colour(i: int) -> np.ndarray:
    """Frame ``i``: a flat colour that changes with the index (red ramps up, blue down)."""
    return np.array([20 + 20 * i, 128, 220 - 20 * i], dtype=np.uint8)


def _write_video(path: Path) -> Path:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"qscale": "2"}
        for i in range(N_FRAMES):
            rgb = np.broadcast_to(_colour(i), (HEIGHT, WIDTH, 3)).copy()
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture
def clip(tmp_path) -> Path:
    return _write_video(tmp_path / "clip.mp4")


def test_every_frame_in_order_with_colours(clip):
    frames = list(iter_video_frames(clip))
    assert [i for i, _ in frames] == list(range(N_FRAMES))
    for i, rgb in frames:
        assert rgb.shape == (HEIGHT, WIDTH, 3)
        assert rgb.dtype == np.uint8
        mean = rgb.reshape(-1, 3).mean(axis=0)
        np.testing.assert_allclose(mean, _colour(i), atol=6)  # YUV 4:2:0 + mpeg4 round trip


def test_every_third_frame(clip):
    frames = list(iter_video_frames(clip, every=3))
    assert [i for i, _ in frames] == [0, 3, 6, 9]
    np.testing.assert_allclose(frames[2][1].reshape(-1, 3).mean(axis=0), _colour(6), atol=6)
    with pytest.raises(ValueError, match="every"):
        next(iter_video_frames(clip, every=0))


def test_video_info(clip):
    info = video_info(clip)
    assert info == {"fps": pytest.approx(FPS), "frames": N_FRAMES, "width": WIDTH, "height": HEIGHT}


def test_list_inputs_keeps_videos(clip, tmp_path):
    (tmp_path / "photo.png").write_bytes(b"")
    found = list_inputs([tmp_path])
    assert found == [clip, tmp_path / "photo.png"]
    assert [is_video(p) for p in found] == [True, False]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", r"bad\.mp4: video file is empty"),
        (b"not a video at all " * 50, r"bad\.mp4: cannot be opened as a video"),
    ],
)
def test_corrupt_video_raises_input_error(tmp_path, content, match):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(InputError, match=match):
        next(iter_video_frames(path))
    with pytest.raises(InputError, match=match):
        video_info(path)


def test_missing_video(tmp_path):
    with pytest.raises(InputError, match=r"gone\.mp4: video file not found"):
        video_info(tmp_path / "gone.mp4")


def test_truncated_video_raises_input_error_or_stops(clip):
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 3])  # moov atom is at the end: unreadable
    with pytest.raises(InputError, match=r"clip\.mp4"):
        list(iter_video_frames(clip))


def test_missing_pyav_names_the_extra(clip, monkeypatch):
    real_import = builtins.__import__

    def no_av(name, *args, **kwargs):
        if name == "av":
            raise ImportError("No module named 'av'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_av)
    with pytest.raises(InputError, match=r"pip install 'pydeca\[video\]'"):
        video_info(clip)


def _no_frame_video(path: Path, codec: str) -> Path:
    """A container with a video stream declared but not a single frame written (PyAV)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        container.start_encoding()
    return path


@pytest.mark.parametrize(
    ("name", "codec", "why"),
    [
        ("none.mp4", "libx264", "the container holds no stream"),
        ("none.mov", "libx264", "the container holds no stream"),
        ("none.mkv", "libx264", "the file ends before its first frame"),
        ("none.webm", "libvpx-vp9", "the file ends before its first frame"),
        ("none.avi", "mpeg4", "its video stream holds no picture"),
    ],
)
def test_zero_frame_video_says_it_has_no_frames(tmp_path, name, codec, why):
    path = _no_frame_video(tmp_path / name, codec)
    assert path.stat().st_size > 0  # a real, non-empty file: not the 0-byte case
    match = re.escape(f"{name}: has no frames ({why})")
    with pytest.raises(InputError, match=match):
        list(iter_video_frames(path))
    if name.endswith(".avi"):  # the stream exists: its info says 0 frames (run_video says so too)
        assert video_info(path)["frames"] == 0
    else:
        with pytest.raises(InputError, match=match):
            video_info(path)


@pytest.mark.parametrize(("fmt", "label"), [("JPEG", "JPEG"), ("PNG", "PNG")])
def test_image_renamed_as_video_is_named_an_image(tmp_path, fmt, label):
    path = tmp_path / "photo.mp4"
    Image.fromarray(np.full((HEIGHT, WIDTH, 3), 90, np.uint8)).save(path, format=fmt)
    match = rf"photo\.mp4: is an image \({label}\), not a video — use deca reconstruct"
    with pytest.raises(InputError, match=match):
        video_info(path)
    with pytest.raises(InputError, match=match):
        next(iter_video_frames(path))


def test_audio_only_file_holds_no_video_stream(tmp_path):
    path = tmp_path / "sound.mp4"
    with av.open(str(path), mode="w") as container:
        audio = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        mux_tone(container, audio, np.zeros((1, 4096), np.float32), 16000)
        for packet in audio.encode():
            container.mux(packet)
    with pytest.raises(InputError, match=r"sound\.mp4: holds no video stream \(audio only\)"):
        video_info(path)
