"""The teaser animation (``pydeca.apps.animate``) and the GIF/MP4 writer (``pydeca.io.animation``)."""

from __future__ import annotations

import itertools
import json
import math

import av
import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from pydeca.apps.animate import (
    ANIMATION_CAM,
    AnimationStep,
    animation_schedule,
    run_animate,
    step_codes,
)
from pydeca.cli import main
from pydeca.errors import InputError, ShapeError
from pydeca.geometry.rotations import euler_to_axis_angle
from pydeca.io.animation import gif_duration_ms, write_animation
from pydeca.io.params import save_params
from pydeca.nets import Codes

SH_BAND0 = 0.28209479
"""First SH constant: light[:, 0] = 1 / SH_BAND0 gives a uniform shading of 1."""


def _codes(jaw_x: float = 0.0, exp_scale: float = 0.0, seed: int = 0) -> Codes:
    generator = torch.Generator().manual_seed(seed)
    light = torch.zeros(1, 9, 3)
    light[:, 0] = 1.0 / SH_BAND0
    pose = torch.tensor([[0.1, 0.2, 0.0, jaw_x, 0.0, 0.0]])
    return Codes(
        shape=torch.randn(1, 100, generator=generator) * 0.5,
        tex=torch.zeros(1, 50),
        exp=torch.randn(1, 50, generator=generator) * exp_scale,
        pose=pose,
        cam=torch.tensor([[9.0, 0.01, -0.02]]),
        light=light,
        detail=torch.randn(1, 128, generator=generator),
    )


def _write_codes(path, codes: Codes):
    save_params(path, {name: value[0] for name, value in codes.to_numpy().items()})
    return path.with_suffix(".npz")


def _read_mp4(path):
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return frames


def test_default_schedule_is_24_yaw_then_16_jaw_then_expressions():
    steps = animation_schedule()
    assert len(steps) == 24 + 16 == 40
    yaw = [s.degrees for s in steps if s.kind == "yaw"]
    expected = [0, 5, 10, 15, 20, 25, 30, 25, 20, 15, 10, 5, 0, -5, -10, -15, -20, -25, -30]
    expected += [-25, -20, -15, -10, -5]  # reference §3.3; back at 0 in the first jaw frame
    assert yaw == expected
    assert [s.degrees for s in steps[24:]] == list(range(0, 31, 2))
    with_exp = animation_schedule(9)
    assert len(with_exp) == 49
    assert [s.expression for s in with_exp[40:]] == list(range(9))


def test_step_codes_pose_and_camera():
    codes = _codes(jaw_x=0.25)
    expressions = Codes.cat([_codes(jaw_x=0.4, exp_scale=1.0, seed=3)])
    steps = [
        AnimationStep("yaw", 30.0),
        AnimationStep("jaw", 20.0),
        AnimationStep("expression", expression=0),
    ]
    out = step_codes(codes, steps, expressions)
    assert out.batch_size == 3
    assert torch.equal(out.cam, torch.tensor([ANIMATION_CAM] * 3))
    yaw = euler_to_axis_angle(torch.tensor([0.0, math.radians(30.0), 0.0]))
    torch.testing.assert_close(out.pose[0, :3], yaw)
    torch.testing.assert_close(
        out.pose[0, :3], torch.tensor([0.0, math.radians(30.0), 0.0]), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(out.pose[0, 3:], codes.pose[0, 3:])  # yaw keeps the face's jaw
    assert torch.equal(out.exp[:2], codes.exp.expand(2, -1))
    torch.testing.assert_close(
        out.pose[1], torch.tensor([0, 0, 0, math.radians(20.0), 0, 0]), atol=1e-6, rtol=0
    )
    assert torch.equal(out.pose[2, :3], torch.zeros(3))
    assert torch.equal(out.pose[2, 3:], expressions.pose[0, 3:])
    assert torch.equal(out.exp[2], expressions.exp[0])
    for name in ("shape", "tex", "light", "detail"):
        assert torch.equal(getattr(out, name), getattr(codes, name).expand_as(getattr(out, name))), name
    with pytest.raises(InputError):
        step_codes(codes, [AnimationStep("expression", expression=0)])


def test_write_animation_gif_and_mp4(tmp_path):
    frames = [np.full((21, 33, 3), 40 * i, np.uint8) for i in range(5)]
    paths = write_animation(tmp_path / "anim", iter(frames), ("gif", "mp4"), fps=10)
    assert [p.name for p in paths] == ["anim.gif", "anim.mp4"]
    with Image.open(paths[0]) as gif:
        assert gif.n_frames == 5
        assert gif.size == (33, 21)
        assert gif.info["duration"] == 100
        assert gif.info["loop"] == 0
        levels = [np.asarray(f.convert("RGB")).mean() for f in ImageSequence.Iterator(gif)]
    np.testing.assert_allclose(levels, [0, 40, 80, 120, 160], atol=2)
    video = _read_mp4(paths[1])
    assert len(video) == 5
    assert video[0].shape == (22, 34, 3)
    with av.open(str(paths[1])) as container:
        assert container.streams.video[0].average_rate == 10
    assert gif_duration_ms(30) == 33
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anim.gif", "anim.mp4"]  # no temp files
    with pytest.raises(ShapeError):
        write_animation(tmp_path / "bad", [frames[0], np.zeros((4, 4, 3), np.uint8)], ("gif",))
    with pytest.raises(InputError):
        write_animation(tmp_path / "bad", frames, ("avi",))
    assert not list(tmp_path.glob("bad*"))
    assert not list(tmp_path.glob(".bad*"))


def test_run_animate_writes_gif_and_mp4(demo_model, tmp_path):
    identity = _write_codes(tmp_path / "in" / "face", _codes())
    expressions = tmp_path / "exp"
    _write_codes(expressions / "open", _codes(jaw_x=0.3, exp_scale=2.0, seed=5))
    steps = [AnimationStep("yaw", d) for d in (0.0, 15.0, 30.0)]
    steps += [AnimationStep("jaw", 25.0), AnimationStep("expression", expression=0)]
    summary = run_animate(
        [identity], tmp_path / "out", expressions_dir=expressions, model=demo_model, steps=steps, quiet=True
    )
    assert not summary.failed
    gif_path, mp4_path = (tmp_path / "out" / f"animation.{ext}" for ext in ("gif", "mp4"))
    assert summary.outputs["animation"] == [str(gif_path), str(mp4_path)]
    with Image.open(gif_path) as gif:
        assert gif.n_frames == len(steps)
        assert gif.size == (3 * 224, 224)
        frames = [np.asarray(f.convert("RGB"), dtype=np.float32) for f in ImageSequence.Iterator(gif)]
    video = _read_mp4(mp4_path)
    assert len(video) == len(steps)
    assert video[0].shape == (224, 3 * 224, 3)
    # The input column is constant; the rendered columns change wherever the pose changes.
    for a, b in itertools.pairwise(frames):
        assert np.abs(a[20:, :224] - b[20:, :224]).mean() < 1.0
        assert np.abs(a[20:, 224:] - b[20:, 224:]).mean() > 1.0
    assert frames[0][:14, :, 0].mean() > 120  # demo banner


def _changed(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of pixels whose colour changed by more than 8 levels (codec noise stays below)."""
    return float((np.abs(a.astype(np.float32) - b.astype(np.float32)).max(axis=2) > 8).mean())


def test_cli_animate_two_inputs_full_schedule_mp4(demo_cache, tmp_path, monkeypatch, capsys):
    """`deca animate A B --expressions DIR --format mp4 --fps 5`: the default schedule end to end."""
    monkeypatch.setenv("PYDECA_CACHE", str(demo_cache))
    first = _write_codes(tmp_path / "in" / "first", _codes(seed=1))
    second = _write_codes(tmp_path / "in" / "second", _codes(seed=2))
    _write_codes(tmp_path / "exp" / "open", _codes(jaw_x=0.3, exp_scale=2.0, seed=5))
    out = tmp_path / "out"
    argv = ["animate", str(first), str(second), "-o", str(out), "--expressions", str(tmp_path / "exp")]
    argv += ["--format", "mp4", "--fps", "5", "--assets", "demo", "--json", "--quiet"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    count = 24 + 16 + 1  # yaw sweep, jaw opening, one expression
    assert report["succeeded"] == 2  # two faces (rows), not one file
    assert report["faces"] == ["first", "second"]
    assert report["frames"] == count
    assert report["outputs"]["animation"] == [str(out / "animation.mp4")]
    assert sorted(p.name for p in out.iterdir()) == ["animation.mp4"]  # --format mp4: no GIF
    with av.open(str(out / "animation.mp4")) as container:
        assert container.streams.video[0].average_rate == 5
    video = _read_mp4(out / "animation.mp4")
    assert len(video) == count
    assert video[0].shape == (2 * 224, 3 * 224, 3)  # two rows [crop | shape+detail | textured]
    top, bottom = slice(20, 224), slice(224 + 20, 448)  # rows, below the demo banner's height
    assert _changed(video[0][top, 224:], video[0][bottom, 224:]) > 0.05  # two different faces
    for i, (a, b) in enumerate(itertools.pairwise(video)):
        for rows in (top, bottom):
            assert _changed(a[rows, :224], b[rows, :224]) < 0.001  # the input crop stays
            # every step changes the pose: 5° yaw (~10% of pixels), −5° → 0° yaw into the first jaw
            # frame, 2° jaw (~1%), the expression
            assert _changed(a[rows, 224:], b[rows, 224:]) > 0.004, i


def test_cli_animate_gif_with_fps(demo_cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PYDECA_CACHE", str(demo_cache))
    face = _write_codes(tmp_path / "in" / "face", _codes())
    out = tmp_path / "out"
    argv = ["animate", str(face), "-o", str(out), "--format", "gif", "--fps", "4", "--assets", "demo"]
    assert main([*argv, "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["succeeded"], report["frames"]) == (1, 40)
    assert sorted(p.name for p in out.iterdir()) == ["animation.gif"]  # --format gif: no MP4
    with Image.open(out / "animation.gif") as gif:
        assert gif.size == (3 * 224, 224)
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(gif)]
    # 40 frames of 1000 / 4 = 250 ms, each a different pose, so the GIF stores all of them
    assert durations == [250] * 40


def test_bad_inputs_and_expressions_fail_alone(demo_model, tmp_path, capsys):
    """NaN / truncated / header-bombed parameter files and a junk photo are reported, the rest animates."""
    good = _write_codes(tmp_path / "in" / "face", _codes())
    nan = _codes()
    nan.exp[0, 0] = math.nan
    bad_nan = _write_codes(tmp_path / "in" / "nan", nan)
    truncated = tmp_path / "in" / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:100])
    junk = tmp_path / "in" / "junk.png"
    junk.write_bytes(b"\x89PNG broken")
    expressions = tmp_path / "exp"
    _write_codes(expressions / "open", _codes(jaw_x=0.3, exp_scale=2.0, seed=5))
    huge = _codes(seed=6)
    huge.pose[0, 3] = 1e30
    _write_codes(expressions / "wild", huge)
    steps = [AnimationStep("yaw", 0.0), AnimationStep("expression", expression=0)]
    inputs = [good, bad_nan, truncated, junk, tmp_path / "in" / "missing.npz"]
    summary = run_animate(
        inputs, tmp_path / "out", expressions_dir=expressions, model=demo_model, steps=steps, quiet=True
    )
    assert summary.faces == ["face"]
    assert summary.frames == 2
    assert (tmp_path / "out" / "animation.gif").is_file()
    failed = summary.failed
    assert set(failed) == {str(p) for p in inputs[1:]} | {str(expressions / "wild.npz")}
    assert "code 'exp' holds NaN or infinite values" in failed[str(bad_nan)]
    assert "cannot read parameters (BadZipFile" in failed[str(truncated)]
    assert "not an image file Pillow can read" in failed[str(junk)]
    assert "code 'pose' has a value of magnitude 1e+30" in failed[str(expressions / "wild.npz")]
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()  # every failure printed, although quiet=True
    assert all(line.startswith("deca: failed: ") for line in lines)
    assert sorted(line.removeprefix("deca: failed: ").split(": ")[0] for line in lines) == sorted(failed)
    with pytest.raises(InputError, match="no input face could be reconstructed"):
        run_animate([bad_nan], tmp_path / "none", model=demo_model, steps=steps, quiet=True)
    assert not (tmp_path / "none").exists()
