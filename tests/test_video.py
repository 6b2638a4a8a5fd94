"""Reading videos with PyAV: every frame, every n-th frame, info, and bad files."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest

from pydeca.errors import InputError
from pydeca.io.images import is_video, list_inputs
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
