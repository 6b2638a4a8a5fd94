"""Uploaded expressions (``pydeca.viewer.uploads``): bounded, validated, never a client path."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from pydeca.detect import get_detector
from pydeca.io.params import save_params
from pydeca.viewer.uploads import MAX_UPLOAD_BYTES, UploadError, expression_from_upload, upload_label

from .conftest import PHOTO


def _leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("pydeca-upload-*")}


@pytest.fixture(scope="module")
def detector():
    return get_detector("auto")


def test_a_parameter_file_gives_its_codes(demo_model, demo_face, tmp_path, detector) -> None:
    arrays = {k: v[0] for k, v in demo_face.codes.to_numpy().items()}
    (path,) = [p for p in save_params(tmp_path / "smile", arrays, {}) if p.suffix == ".npz"]
    codes = expression_from_upload(demo_model, "smile.npz", path.read_bytes(), detector)
    torch.testing.assert_close(codes.exp, demo_face.codes.exp)
    torch.testing.assert_close(codes.pose, demo_face.codes.pose)


def test_a_photo_gives_its_encoded_expression(demo_model, demo_face, detector) -> None:
    codes = expression_from_upload(demo_model, "me.JPG", PHOTO.read_bytes(), detector)
    torch.testing.assert_close(codes.exp, demo_face.codes.exp, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", b"hello", "not a photo or parameter file"),
        ("empty.npz", b"", "empty"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "broken"),
        ("junk.npz", b"PK\x03\x04" + b"\x00" * 40, "junk"),
        ("../../etc/passwd.json", b'{"exp": "nope"}', "passwd"),
        ("blank.png", None, "no face"),
    ],
)
def test_bad_uploads_are_refused_with_a_message(demo_model, detector, name, content, message) -> None:
    if content is None:  # a valid image without a face
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(np.full((200, 200, 3), 90, np.uint8)).save(buffer, format="PNG")
        content = buffer.getvalue()
    before = _leftovers()
    with pytest.raises(UploadError, match=message) as caught:
        expression_from_upload(demo_model, name, content, detector)
    assert "/etc" not in str(caught.value)
    assert tempfile.gettempdir() not in str(caught.value)
    assert _leftovers() == before  # the private folder is gone


def test_oversized_upload_is_refused_before_parsing(demo_model, detector) -> None:
    with pytest.raises(UploadError, match="upload limit"):
        expression_from_upload(demo_model, "big.npz", b"\x00" * (MAX_UPLOAD_BYTES + 1), detector)


def test_labels_are_safe_stems() -> None:
    assert upload_label("../../evil name.npz") == "evil name"
    assert upload_label("C:\\Users\\me\\smile.jpg") == "smile"
    assert "/" not in upload_label("a/b/../../c.png")
