"""`pydeca.io.inputs`: command-line inputs (files, folders, globs) expanded into image and video files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pydeca.errors import InputError
from pydeca.io.inputs import VIDEO_EXTENSIONS, expand_inputs, is_video, list_inputs


def test_list_inputs_folders_globs_videos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ["b.png", "a.JPG", "c.txt", "clip.mp4", "z.webp"]:
        (folder / name).write_bytes(b"")
    (folder / "nested").mkdir()
    found = list_inputs([folder])
    assert [p.name for p in found] == ["a.JPG", "b.png", "clip.mp4", "z.webp"]
    assert [is_video(p) for p in found] == [False, False, True, False]
    assert [p.name for p in list_inputs([str(folder / "*.png"), folder / "b.png"])] == ["b.png"]
    assert [p.name for p in list_inputs([folder / "z.webp", str(folder / "[ab]*")])] == [
        "z.webp",
        "a.JPG",
        "b.png",
    ]
    with pytest.raises(InputError, match="no such file"):
        list_inputs([tmp_path / "nope.jpg"])
    with pytest.raises(InputError, match="matches no image"):
        list_inputs([str(tmp_path / "*.png")])
    with pytest.raises(InputError, match="unsupported file type"):
        list_inputs([folder / "c.txt"])
    with pytest.raises(InputError, match="no image or video"):
        list_inputs([folder / "nested"])


def test_expand_inputs_keeps_going_past_bad_inputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    result = expand_inputs(["a.png", "notes.txt", "missing.jpg", "*.webp", "empty", "./a.png", str(tmp_path)])
    assert [text for text, _ in result] == [
        "a.png",
        "notes.txt",
        "missing.jpg",
        "*.webp",
        "empty",
        "./a.png",
        str(tmp_path),
    ]
    files = dict(result)
    assert files["a.png"] == [Path("a.png")]
    assert "unsupported file type '.txt'" in str(files["notes.txt"])
    assert "remove it from the inputs" in str(files["notes.txt"])
    assert f"no such file or folder; check the path (relative paths start at {tmp_path})" in str(
        files["missing.jpg"]
    )
    assert "pattern matches no image or video file" in str(files["*.webp"])
    assert "folder holds no image or video files" in str(files["empty"])
    assert files["./a.png"] == [], "the same file twice is kept once"
    assert files[str(tmp_path)] == [], "also through another spelling of its path"
    assert all(isinstance(files[key], InputError) for key in ("notes.txt", "missing.jpg", "*.webp", "empty"))


def test_video_suffixes_are_compared_lower_case():
    assert {".mp4", ".mov", ".avi", ".mkv", ".webm"} == VIDEO_EXTENSIONS
    for suffix in VIDEO_EXTENSIONS:
        assert is_video(f"clip{suffix}")
        assert is_video(f"clip{suffix.upper()}")
    assert not is_video("face.jpg")
    assert not is_video("mp4")  # a name, not a suffix


def test_input_expansion_lives_apart_from_photo_decoding():
    import pydeca.io
    import pydeca.io.images
    import pydeca.io.inputs

    for name in ("VIDEO_EXTENSIONS", "expand_inputs", "is_video", "list_inputs"):
        assert getattr(pydeca.io, name) is getattr(pydeca.io.inputs, name)
        assert not hasattr(pydeca.io.images, name)
    assert pydeca.io.is_image is pydeca.io.images.is_image
