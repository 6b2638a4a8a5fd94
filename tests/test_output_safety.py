"""Nothing lost, nothing overwritten: crafted names, runs sharing a folder, full disks, Ctrl-C, bad -o."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pydeca.cli import main
from pydeca.errors import RunInterrupted
from pydeca.io.output_names import COMPLETION_FILE

PARAMS_VIS = ["--no-save-obj", "--no-save-depth", "--detector", "none"]
"""Parameters, landmark tables and the visualisation (a file beside the face folder); no detector."""


@pytest.fixture
def cache_env(demo_cache: Path, monkeypatch) -> Path:
    monkeypatch.setenv("PYDECA_CACHE", str(demo_cache))
    return demo_cache


def _face(shift: int = 0) -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(np.roll(data.astronaut()[16:240, 112:336], shift, axis=1))


def run_cli(inputs: list[str], out: Path, *extra: str) -> int:
    args = ["reconstruct", *inputs, "-o", str(out), "--assets", "demo", "--device", "cpu", "--quiet"]
    return main([*args, *PARAMS_VIS, *extra])


def _records(out: Path) -> list[dict]:
    path = out / COMPLETION_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _all_files(root: Path) -> set[Path]:
    return set(root.rglob("*"))


# ---------------------------------------------------------------------- crafted names
CRAFTED_NAMES = [
    "...jpg",  # stem ".."
    "..png",  # stem "."
    "-rf.png",
    "--help.png",
    ".hidden.png",
    "con.png",
    "nul.txt.png",
    "tab\there\x1b[31m.png",
    "\u202eevil.png",
    "x" * 240 + ".png",
    "é" * 120 + ".png",
]


def test_crafted_names_never_write_outside_the_output_folder(tmp_path: Path, cache_env, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in CRAFTED_NAMES:
        fmt = "JPEG" if name.endswith(".jpg") else "PNG"
        Image.fromarray(_face()).save(inputs / name, format=fmt)
    out = tmp_path / "out"
    before = _all_files(tmp_path)
    assert run_cli([str(inputs / name) for name in CRAFTED_NAMES], out, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["succeeded"] == len(CRAFTED_NAMES), summary["failed"]
    written = _all_files(tmp_path) - before
    root = out.resolve()
    for path in written:
        assert path.resolve().is_relative_to(root), f"{path} is outside {out}"
        assert len(path.name.encode()) < 255
    for files in summary["outputs"].values():
        for path in files:
            assert Path(path).resolve().is_relative_to(root)
            assert Path(path).is_file()
    names = sorted(summary["outputs"])
    assert all(not name.startswith((".", "-")) for name in names)
    assert "con_" in names
    assert "input_jpg" in names
    assert "input_png" in names
    # every face folder holds its parameters; no staging folder is left
    for name in names:
        assert (out / name / f"{name}.npz").is_file()
        assert (out / f"{name}_vis.jpg").is_file()
    assert not [p for p in out.iterdir() if ".partial-" in p.name]


# ---------------------------------------------------------------------- runs sharing a folder
def test_same_stem_in_two_runs_never_overwrites(tmp_path: Path, cache_env, capsys):
    for day, shift in (("day1", 0), ("day2", 24)):
        (tmp_path / day).mkdir()
        Image.fromarray(_face(shift)).save(tmp_path / day / "face.png")
    day1, day2 = tmp_path / "day1" / "face.png", tmp_path / "day2" / "face.png"
    out = tmp_path / "out"
    assert run_cli([str(day1)], out) == 0
    first = (out / "face" / "face.npz").read_bytes()
    assert run_cli([str(day2)], out, "--skip-existing", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["skipped"] == [], "day2 is another input: not done yet"
    assert list(summary["outputs"]) == ["face_2"]
    assert (out / "face" / "face.npz").read_bytes() == first, "day1's result is untouched"
    meta1 = json.loads((out / "face" / "face.json").read_text())["meta"]
    meta2 = json.loads((out / "face_2" / "face_2.json").read_text())["meta"]
    assert (meta1["input"], meta2["input"]) == (str(day1), str(day2))
    # each input is skipped as complete under its own name
    for photo in (day1, day2):
        assert run_cli([str(photo)], out, "--skip-existing", "--json") == 0
        assert json.loads(capsys.readouterr().out)["skipped"] == [str(photo)]
    # the same input again, without --skip-existing, rewrites its own outputs only
    assert run_cli([str(day2)], out, "--json") == 0
    assert list(json.loads(capsys.readouterr().out)["outputs"]) == ["face_2"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["face", "face_2"]
    # an edited photo is not complete any more; it keeps its name
    Image.fromarray(_face(48)).save(day1)
    os.utime(day1, ns=(10**18, 10**18))
    assert run_cli([str(day1)], out, "--skip-existing", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["skipped"], list(summary["outputs"])) == ([], ["face"])
    assert (out / "face" / "face.npz").read_bytes() != first


def test_old_record_lines_count_as_not_complete(tmp_path: Path, cache_env, capsys):
    photo = tmp_path / "face.png"
    Image.fromarray(_face()).save(photo)
    out = tmp_path / "out"
    assert run_cli([str(photo)], out) == 0
    # the record as pydeca wrote it before identities: path and name only
    (out / COMPLETION_FILE).write_text(
        json.dumps({"input": str(photo), "name": "face", "files": ["face/face.npz"]}) + "\n"
    )
    assert run_cli([str(photo)], out, "--skip-existing", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["skipped"] == []
    assert list(summary["outputs"]) == ["face"], "the old line still says who owns the name"
    assert all("mtime_ns" in record for record in _records(out)[1:])


def test_outputs_nobody_recorded_are_not_overwritten(tmp_path: Path, cache_env):
    photo = tmp_path / "face.png"
    Image.fromarray(_face()).save(photo)
    out = tmp_path / "out"
    (out / "face").mkdir(parents=True)
    (out / "face" / "notes.txt").write_text("mine")
    assert run_cli([str(photo)], out) == 0
    assert (out / "face" / "notes.txt").read_text() == "mine"
    assert (out / "face_2" / "face_2.npz").is_file()


# ---------------------------------------------------------------------- all or nothing
def _face_files(out: Path, name: str) -> list[Path]:
    return [p for p in out.rglob("*") if name in p.name]


def test_disk_full_mid_face_leaves_nothing_of_it(tmp_path: Path, cache_env, monkeypatch, capsys):
    for name in ("disk", "fine", "other"):
        Image.fromarray(_face()).save(tmp_path / f"{name}.png")
    real_replace = os.replace

    def full_disk(source, destination, *args, **kwargs):
        if Path(destination).name == "disk.npz":  # after disk_vis.jpg and disk_kpt*.txt
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(destination))
        return real_replace(source, destination, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full_disk)
    out = tmp_path / "out"
    assert run_cli([str(tmp_path / "*.png")], out, "--json") == 1
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert sorted(summary["outputs"]) == ["fine", "other"]
    assert (
        "disk: could not write its outputs: [Errno 28] No space left on device" in summary["failed"]["disk"]
    )
    assert "deca: failed: disk" in captured.err
    assert _face_files(out, "disk") == [], "no file of the failed face remains"
    assert not [p for p in out.iterdir() if ".partial-" in p.name]
    assert {record["name"] for record in _records(out)} == {"fine", "other"}


def test_a_failed_rewrite_keeps_the_previous_outputs(tmp_path: Path, cache_env, monkeypatch):
    photo = tmp_path / "face.png"
    Image.fromarray(_face()).save(photo)
    out = tmp_path / "out"
    assert run_cli([str(photo)], out) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real_rename = os.rename

    def fail_last_step(source, destination, *args, **kwargs):
        if Path(destination) == out / "face_vis.jpg" and Path(source).parent.name == "beside":
            raise OSError(errno.EIO, "I/O error", str(destination))
        return real_rename(source, destination, *args, **kwargs)

    monkeypatch.setattr(os, "rename", fail_last_step)
    assert run_cli([str(photo)], out) == 1
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before, "the earlier complete outputs are back in place, byte for byte"


def test_real_small_disk(tmp_path: Path, cache_env, capsys):
    """Two faces on a tmpfs with room for about one and a half: the second fails alone, cleanly."""
    photos = []
    for name in ("first", "second"):
        photos.append(tmp_path / f"{name}.png")
        Image.fromarray(_face()).save(photos[-1])
    probe = tmp_path / "probe"
    assert run_cli([str(photos[0])], probe) == 0
    face_bytes = sum(-(-p.stat().st_size // 4096) * 4096 for p in probe.rglob("*") if p.is_file())
    mount = tmp_path / "small"
    mount.mkdir()
    size = 4 * 1024 * 1024
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=False, capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        free = face_bytes + face_bytes // 2 + 2 * 4096  # one face, the record, half a face
        (mount / "filler").write_bytes(b"\0" * (size - free))
        out = mount / "out"
        assert run_cli([str(p) for p in photos], out, "--json") == 1
        summary = json.loads(capsys.readouterr().out)
        assert list(summary["outputs"]) == ["first"]
        assert "No space left on device" in summary["failed"]["second"]
        assert _face_files(out, "second") == []
        assert not [p for p in out.iterdir() if ".partial-" in p.name]
        assert [record["name"] for record in _records(out)] == ["first"]
        assert np.load(out / "first" / "first.npz")["shape"].shape == (100,)
    finally:
        subprocess.run(["umount", str(mount)], check=False)


# ---------------------------------------------------------------------- interruption
def test_ctrl_c_in_process_leaves_no_partial_face(tmp_path: Path, demo_model, monkeypatch, capsys):
    from pydeca.apps.reconstruct import ReconstructOptions, run_reconstruct
    from pydeca.pipeline import writers

    for k in range(3):
        Image.fromarray(_face(8 * k)).save(tmp_path / f"p{k}.png")
    real_params = writers.save_params

    def interrupt_second(stem, *args, **kwargs):
        if Path(stem).name == "p1":
            raise KeyboardInterrupt
        return real_params(stem, *args, **kwargs)

    monkeypatch.setattr(writers, "save_params", interrupt_second)
    options = ReconstructOptions(save_obj=False, save_depth=False, detector="none")
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt) as interrupt:
        run_reconstruct([str(tmp_path / "*.png")], out, options, model=demo_model, quiet=True)
    err = str(interrupt.value)
    assert isinstance(interrupt.value, RunInterrupted)
    assert "deca: interrupted: 1 of 3 inputs complete" in err
    assert "--skip-existing" in err
    assert sorted(p.name for p in out.iterdir()) == [
        COMPLETION_FILE,
        "p0",
        "p0_vis.jpg",
        "p0_vis_original_size.jpg",
    ]


def test_sigint_mid_batch_then_resume(tmp_path: Path, shared: Path, demo_cache: Path):
    photo = shared / "images" / "examples" / "alfw1.png"
    inputs = tmp_path / "in"
    inputs.mkdir()
    for k in range(20):
        shutil.copy(photo, inputs / f"p{k:02d}.png")
    out = tmp_path / "out"
    script = Path(sys.executable).with_name("deca")
    deca = [str(script)] if script.exists() else [sys.executable, "-m", "pydeca.cli"]
    command = [*deca, "reconstruct", str(inputs), "-o", str(out), "--assets", "demo", "--device", "cpu"]
    command += ["--no-save-obj", "--no-save-vis", "--no-save-depth", "--quiet"]
    env = {**os.environ, "PYDECA_CACHE": str(demo_cache)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    record = out / COMPLETION_FILE
    deadline = time.monotonic() + 300
    while not (record.exists() and record.read_text().count("\n") >= 1):
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "no input completed in 300 s"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    err = err.decode()
    assert process.returncode == 130, err
    assert "deca: interrupted: " in err
    assert "run the same command with --skip-existing to resume" in err
    assert not [p for p in out.iterdir() if ".partial-" in p.name]
    done = [r["name"] for r in _records(out)]
    assert 1 <= len(done) < 20
    for name in done:
        with np.load(out / name / f"{name}.npz") as params:
            assert params["shape"].shape == (100,)
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == sorted(done), "every face folder is a recorded, complete face"
    resumed = subprocess.run(
        [*command, "--skip-existing", "--json"], check=False, env=env, capture_output=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr.decode()
    summary = json.loads(resumed.stdout)
    assert len(summary["skipped"]) == len(done)
    assert summary["succeeded"] == 20 - len(done)
    assert len([p for p in out.iterdir() if p.is_dir()]) == 20


# ---------------------------------------------------------------------- unusable output folders
def test_unusable_output_folders_fail_before_the_model_loads(tmp_path: Path, monkeypatch, capsys):
    import pydeca.apps.reconstruct as app

    def no_model(*args, **kwargs):
        raise AssertionError("the model must not be loaded for an unusable -o")

    monkeypatch.setattr(app, "load_model", no_model)
    photo = tmp_path / "p.png"
    Image.fromarray(_face()).save(photo)
    a_file = tmp_path / "out.txt"
    a_file.write_text("x")
    record_dir = tmp_path / "rec"
    (record_dir / COMPLETION_FILE).mkdir(parents=True)
    cases = {
        a_file: "is an existing file; pass a folder path instead",
        record_dir: "is not a file but pydeca keeps its completion record there; remove or rename it",
    }
    for out, message in cases.items():
        assert run_cli([str(photo)], out) in (1, 2)  # cli.py: OutputError → 1 (being settled)
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert err.startswith(f"deca: error: {out}")
        assert message in err
    monkeypatch.setattr("pydeca.io.output_names.os.access", lambda *args, **kwargs: False)
    assert run_cli([str(photo)], tmp_path / "ro") in (1, 2)
    err = capsys.readouterr().err
    assert "the output folder is not writable; choose a folder you can write to with -o" in err
