"""`deca` never shows a traceback: one line per failure, the right exit status, --debug for details."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import pydeca.apps.doctor as doctor_module
from pydeca.cli import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, MIN_PANEL_HEIGHT, exit_status, main
from pydeca.errors import AssetError, InputError, OptionError, OutputError


def one_line(err: str) -> str:
    """The single line of ``err`` (asserting there is exactly one and no traceback)."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["video", "v.mp4", "-o", "o", "--smoothing", "0"],
            "argument --smoothing: expected a number > 0 and ≤ 100, got '0'",
        ),
        (
            ["video", "v.mp4", "-o", "o", "--smoothing", "nan"],
            "argument --smoothing: expected a number > 0 and ≤ 100, got 'nan'",
        ),
        (["video", "v.mp4", "-o", "o", "--smoothing", "inf"], "argument --smoothing: expected a number > 0"),
        (["video", "v.mp4", "-o", "o", "--smoothing", "-1"], "argument --smoothing: expected a number > 0"),
        (
            ["video", "v.mp4", "-o", "o", "--max-height", "2"],
            f"argument --max-height: expected a whole number ≥ {MIN_PANEL_HEIGHT} and ≤ 8192, got '2'",
        ),
        (
            ["video", "v.mp4", "-o", "o", "--redetect-every", "-1"],
            "argument --redetect-every: expected a whole number ≥ 0",
        ),
        (
            ["video", "v.mp4", "-o", "o", "--identity-frames", "0"],
            "argument --identity-frames: expected a whole number ≥ 1",
        ),
        (["video", "v.mp4", "-o", "o", "--every", "1.5"], "argument --every: expected a whole number ≥ 1"),
        (
            ["animate", "a.jpg", "-o", "o", "--fps", "0"],
            "argument --fps: expected a number > 0 and ≤ 240, got '0'",
        ),
        (
            ["animate", "a.jpg", "-o", "o", "--fps", "nan"],
            "argument --fps: expected a number > 0 and ≤ 240, got 'nan'",
        ),
        (
            ["reconstruct", "a.jpg", "-o", "o", "--batch-size", "0"],
            "argument --batch-size: expected a whole number ≥ 1 and ≤ 1024",
        ),
        (
            ["reconstruct", "a.jpg", "-o", "o", "--batch-size", "1e9"],
            "argument --batch-size: expected a whole number ≥ 1",
        ),
        (["reconstruct", "a.jpg"], "the following arguments are required: -o/--output"),
        (["reconstruct", "a.jpg", "-o", "o", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_numbers_and_usage_are_one_line_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("deca: error: ")
    assert message in line
    assert line.endswith("--help')")


def test_good_numbers_parse():
    from pydeca.cli import build_parser

    args = build_parser().parse_args(
        ["video", "v.mp4", "-o", "o", "--smoothing", "2.5", "--max-height", "64"]
    )
    assert (args.smoothing, args.max_height, args.redetect_every) == (2.5, 64, 15)
    args = build_parser().parse_args(["video", "v.mp4", "-o", "o", "--redetect-every", "0"])
    assert args.redetect_every == 0


def test_cli_smoothing_limit_matches_the_api():
    from pydeca import cli
    from pydeca.apps.smoothing import MAX_STRENGTH

    assert cli.MAX_STRENGTH == MAX_STRENGTH


def test_file_name_starting_with_dash_says_use_double_dash(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-face.jpg").write_bytes(b"")
    for argv in (
        ["reconstruct", "-face.jpg", "-o", "out"],
        ["transfer", "id.npz", "-smile.npz", "-o", "out"],
    ):
        assert main(argv) == 2
        line = one_line(capsys.readouterr().err)
        assert line.startswith(
            f"deca: error: {argv[1] if argv[0] == 'reconstruct' else argv[2]}: read as an option"
        )
        assert "to pass a file whose name starts with '-', put -- before it" in line
    assert not (tmp_path / "out").exists()


def test_after_double_dash_a_dash_name_is_an_input(tmp_path, capsys, monkeypatch):
    from pydeca.cli import build_parser

    args = build_parser().parse_args(["reconstruct", "-o", "out", "--", "-face.jpg"])
    assert args.inputs == ["-face.jpg"]
    monkeypatch.chdir(tmp_path)
    assert main(["reconstruct", "-o", "out", "--", "-face.jpg", "--batch-size"]) == 2  # all inputs now
    assert "no usable input" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("error", "status", "line"),
    [
        (
            RuntimeError("boom\nsecond line"),
            1,
            "deca: internal error: RuntimeError: boom — please report it; "
            "rerun with --debug for the traceback",
        ),
        (
            PermissionError(13, "Permission denied", "/data/photo.jpg"),
            1,
            "deca: error: /data/photo.jpg: permission denied; check its permissions",
        ),
        (
            OSError(28, "No space left on device", "/out/face.obj"),
            1,
            "deca: error: /out/face.obj: no space left on device; the disk is full",
        ),
        (
            OutputError("out: is a file, not a folder; choose another -o"),
            1,
            "deca: error: out: is a file, not a folder; choose another -o",
        ),
        (
            AssetError("generic_model.pkl: damaged; run deca fetch flame"),
            2,
            "deca: error: generic_model.pkl: damaged",
        ),
        (OptionError("--detector: unknown"), 2, "deca: error: --detector: unknown"),
        (InputError("no usable input: a.jpg: not found"), 2, "deca: error: no usable input: a.jpg"),
    ],
)
def test_errors_become_one_line_with_their_status(error, status, line, capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(doctor_module, "run_doctor", fail)
    assert main(["doctor", "--assets", "demo"]) == status
    assert one_line(capsys.readouterr().err).startswith(line)
    assert exit_status(error) == status


def test_debug_before_or_after_the_command_shows_the_traceback(capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(doctor_module, "run_doctor", fail)
    for argv in (["--debug", "doctor"], ["doctor", "--debug"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("Traceback (most recent call last):")
        assert 'raise RuntimeError("boom")' in err
        assert err.splitlines()[-1].startswith("deca: internal error: RuntimeError: boom")


def test_ctrl_c_exits_130_with_one_line(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(doctor_module, "run_doctor", interrupted)
    assert main(["doctor"]) == EXIT_INTERRUPTED == 130
    assert one_line(capsys.readouterr().err) == "deca: interrupted"


def _deca(*argv: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from pydeca.cli import main; sys.exit(main())", *argv]


def test_broken_pipe_exits_quietly(tmp_path):
    """`deca doctor | head -c 0`: the reader is gone before deca writes; no traceback, exit 141."""
    env = {**os.environ, "PYDECA_CACHE": str(tmp_path / "cache")}
    process = subprocess.Popen(
        _deca("doctor", "--assets", str(tmp_path), "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    process.stdout.close()  # the reader stops reading before anything was written
    _, err = process.communicate(timeout=120)
    assert err.decode() == ""
    assert process.returncode == EXIT_BROKEN_PIPE == 141


def test_broken_pipe_after_the_first_line(tmp_path):
    """`deca doctor | head -1` as a real pipeline: head exits after one line; no traceback."""
    env = {**os.environ, "PYDECA_CACHE": str(tmp_path / "cache")}
    producer = subprocess.Popen(
        _deca("doctor", "--assets", str(tmp_path)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    head = subprocess.run(["head", "-1"], stdin=producer.stdout, capture_output=True, timeout=120, check=True)
    producer.stdout.close()
    _, err = producer.communicate(timeout=120)
    assert head.stdout.decode().startswith("pydeca ")
    assert b"Traceback" not in err
    assert err.decode() == ""
    assert producer.returncode in (0, 1, EXIT_BROKEN_PIPE)  # 1: doctor found assets missing


def test_missing_input_for_video_is_one_line(tmp_path: Path, capsys, demo_cache, monkeypatch):
    monkeypatch.setenv("PYDECA_CACHE", str(demo_cache))
    status = main(
        ["video", str(tmp_path / "none.mp4"), "-o", str(tmp_path / "v"), "--assets", "demo", "--quiet"]
    )
    assert status == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("deca: error: ")
    assert "none.mp4" in line


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("smoothing", 0.0, "smoothing"),
        ("smoothing", float("nan"), "smoothing"),
        ("max_height", 2, "max_height"),
        ("every", 0, "every"),
        ("batch_size", 0, "batch_size"),
    ],
)
def test_run_video_refuses_bad_options_before_reading(tmp_path: Path, option, value, named):
    """The API checks options as the CLI does: OptionError naming the option, no file read or made."""
    from pydeca.apps.video import VideoOptions, run_video
    from pydeca.errors import OptionError

    with pytest.raises(OptionError, match=named):
        run_video(tmp_path / "absent.mp4", tmp_path / "out", VideoOptions(**{option: value}))
    assert not (tmp_path / "out").exists()
