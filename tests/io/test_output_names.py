"""pydeca.io.output_names: safe stems, unique and claimed names, staging, output-folder checks."""

from __future__ import annotations

import json
import os
import subprocess
import unicodedata
from pathlib import Path

import pytest

from pydeca.apps.completion import CompletionLog, identity_of_array, identity_of_file
from pydeca.errors import OutputError
from pydeca.io.output_names import (
    COMPLETION_FILE,
    MAX_STEM_BYTES,
    FaceFiles,
    claim_names,
    face_name,
    frame_name,
    prepare_output_dir,
    remove_stale_partials,
    safe_stem,
    unique_output_names,
    video_files,
)

CRAFTED = [
    "..",
    ".",
    "...",
    "",
    "a/../../b",
    "..\\..\\win",
    "-rf",
    "--help",
    ".hidden",
    " spaced. ",
    "tab\tand\nnewline\x00nul\x1b[31m",
    "\u202eevil",  # right-to-left override
    "CON",
    "nul",
    "com1.backup",
    "LPT9",
    'a:b*c?d|e<f>g"h',
    "x" * 300,
    "é" * 200,
    "\udcff\udcfe",  # undecodable bytes of a Linux file name
]


@pytest.mark.parametrize("stem", CRAFTED)
def test_safe_stem_is_one_plain_component(stem: str):
    name = safe_stem(stem)
    assert name
    assert name not in (".", "..")
    assert "/" not in name
    assert "\\" not in name
    assert not name.startswith((".", "-", " "))
    assert not name.endswith((".", " "))
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Cs") for c in name)
    assert len(name.encode("utf-8")) <= MAX_STEM_BYTES
    assert name.split(".")[0].upper() not in ("CON", "NUL", "COM1", "LPT9")
    assert safe_stem(name) == name, "idempotent"
    assert Path(name).name == name


def test_safe_stem_values():
    assert [safe_stem(s) for s in ("..", "a/b", "-x", "con", "", "photo", "CON.tar")] == [
        "input",
        "a_b",
        "x",
        "con_",
        "input",
        "photo",
        "CON_.tar",
    ]
    # long names: cut to the byte cap, kept apart by a hash of the full name
    a, b = safe_stem("x" * 300 + "a"), safe_stem("x" * 300 + "b")
    assert a != b
    assert len(a.encode()) == MAX_STEM_BYTES
    assert a.startswith("x" * 100)
    assert a[-9] == "-"
    multibyte = safe_stem("é" * 200)
    assert len(multibyte.encode()) <= MAX_STEM_BYTES
    assert multibyte.startswith("é" * 50)  # never cut inside a character


def test_every_file_name_of_a_long_face_fits_a_file_system():
    name = face_name(frame_name(safe_stem("y" * 400), 123456), 3, 4)
    files = FaceFiles(name)
    longest = f".{files.orig_panel('shape_detail_images')}.tmp-0123abcd.jpg"
    assert len(longest.encode()) < 255
    assert len(f".{name}.partial-4194304-abcdef".encode()) < 255


def test_part_names():
    assert face_name("a", 0, 1) == "a"
    assert face_name("a", 1, 3) == "a_face1"
    assert frame_name("clip", 42) == "clip_frame000042"
    assert video_files("clip") == {
        "video": "clip_deca.mp4",
        "params": "clip_params.npz",
        "meshes": "clip_meshes",
    }
    files = FaceFiles("a")
    assert (files.obj, files.detail_obj, files.depth, files.kpt("kpt2d")) == (
        "a.obj",
        "a_detail.obj",
        "a_depth.jpg",
        "a_kpt2d.txt",
    )
    assert files.beside == ("a_vis.jpg", "a_vis_original_size.jpg")


def test_unique_output_names_sanitises_before_comparing():
    names = unique_output_names([Path("in/...jpg"), Path("in/..png"), Path("x/-input.png")])
    assert names == ["input_in_jpg", "input_in_png", "input_x_png"]
    assert unique_output_names([Path("a/face.png"), Path("b/face.png")]) == ["face_a", "face_b"]


def test_claim_names_never_takes_another_inputs_name():
    owned = {"face": "/day1/face.jpg", "face_2": "/day2/face.jpg", "other": ""}
    # a different input gets the next free name; the owner keeps its own
    assert claim_names(["face"], ["/day3/face.jpg"], owned.get) == ["face_3"]
    assert claim_names(["face"], ["/day1/face.jpg"], owned.get) == ["face"]
    assert claim_names(["face"], ["/day2/face.jpg"], owned.get) == ["face_2"]
    # outputs nobody recorded are never overwritten either
    assert claim_names(["other"], ["/x/other.jpg"], owned.get) == ["other_2"]
    # a name it had before is kept; names stay unique within the run (case-insensitively)
    previous = {"/day2/face.jpg": "face_2"}.get

    def folded(name: str) -> str | None:  # as CompletionLog.owner_of: case-insensitive
        return owned.get(name.casefold())

    assert claim_names(["face_a", "FACE"], ["/day2/face.jpg", "/new"], folded, previous) == [
        "face_2",
        "FACE_3",
    ]


def test_prepare_output_dir_refuses_a_file_and_a_record_folder(tmp_path: Path):
    a_file = tmp_path / "out.txt"
    a_file.write_text("x")
    with pytest.raises(OutputError, match=r"out\.txt: the output folder \(-o\) is an existing file"):
        prepare_output_dir(a_file)
    with pytest.raises(OutputError, match="cannot create the output folder"):
        prepare_output_dir(a_file / "sub")
    out = tmp_path / "out"
    (out / COMPLETION_FILE).mkdir(parents=True)
    with pytest.raises(OutputError, match="is not a file but pydeca keeps its completion record there"):
        prepare_output_dir(out)
    fresh = prepare_output_dir(tmp_path / "new" / "deeper")
    assert fresh.is_dir()
    assert list(fresh.iterdir()) == [], "the probe file is removed"


def test_prepare_output_dir_unwritable_by_access_check(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("pydeca.io.output_names.os.access", lambda *args, **kwargs: False)
    with pytest.raises(OutputError, match="the output folder is not writable; choose a folder"):
        prepare_output_dir(tmp_path)


@pytest.fixture
def mount_tmpfs(tmp_path: Path):
    """Mount a small tmpfs (root only); yields a function ``(size, ro) -> mount point``."""
    mounted: list[Path] = []

    def mount(size: str, read_only: bool = False) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        command = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)]
        done = subprocess.run(command, check=False, capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)


def fill_disk(folder: Path) -> None:
    """Write a file in ``folder`` until the file system is full."""
    with open(folder / "filler", "wb", buffering=0) as handle, pytest.raises(OSError, match="No space"):  # noqa: PT012
        while True:
            handle.write(b"\0" * 4096)


def test_prepare_output_dir_on_read_only_and_full_file_systems(mount_tmpfs):
    read_only = mount_tmpfs("1m", read_only=True)
    with pytest.raises(OutputError, match="not writable"):
        prepare_output_dir(read_only)
    with pytest.raises(OutputError, match="cannot create the output folder"):
        prepare_output_dir(read_only / "out")
    full = mount_tmpfs("64k")
    fill_disk(full)
    with pytest.raises(OutputError, match="the disk is full"):
        prepare_output_dir(full)


def test_stale_partials_are_removed_and_moved_aside_outputs_restored(tmp_path: Path):
    dead = 2**22 + 12345  # above the default pid_max: no such process
    stale = tmp_path / f".face.partial-{dead}-abc123"
    (stale / "folder").mkdir(parents=True)
    (stale / "folder" / "face.npz").write_bytes(b"half")
    moved = tmp_path / f".kept.partial-{dead}-def456"
    (moved / "old").mkdir(parents=True)
    (moved / "old" / "kept.npz").write_bytes(b"complete")
    live = tmp_path / f".busy.partial-{os.getpid()}-aaaaaa"
    live.mkdir()
    assert sorted(p.name for p in remove_stale_partials(tmp_path)) == sorted([stale.name, moved.name])
    assert not stale.exists()
    assert (tmp_path / "kept" / "kept.npz").read_bytes() == b"complete"
    assert live.is_dir(), "a running process's staging folder is left alone"


def test_completion_identity_and_old_records(tmp_path: Path):
    photo = tmp_path / "face.jpg"
    photo.write_bytes(b"one")
    out = tmp_path / "out"
    (out / "face").mkdir(parents=True)
    (out / "face" / "face.npz").write_bytes(b"x")
    old_line = {"input": str(photo), "name": "face", "files": ["face/face.npz"]}
    (out / COMPLETION_FILE).write_text(json.dumps(old_line) + "\n{torn line\n")
    log = CompletionLog(out)
    identity = identity_of_file(photo)
    assert log.owner_of("face") == identity.owner == os.path.realpath(photo)
    assert not log.is_complete(identity, "face"), "a line without size/mtime never counts as complete"
    log.mark(identity, "face", [str(out / "face" / "face.npz")])
    assert CompletionLog(out).is_complete(identity, "face")
    photo.write_bytes(b"edited")
    os.utime(photo, ns=(1, 1))
    assert not CompletionLog(out).is_complete(identity_of_file(photo), "face"), "an edited photo is redone"
    assert CompletionLog(out).owner_of("unrelated") is None
    (out / "stray_vis.jpg").write_bytes(b"x")
    assert CompletionLog(out).owner_of("stray") == "", "outputs nobody recorded are in use"
    a, b = identity_of_array([[1, 2]]), identity_of_array([[1, 3]])
    assert a.owner.startswith("memory:")
    assert a.owner != b.owner
