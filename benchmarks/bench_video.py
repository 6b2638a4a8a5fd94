"""`deca video` speed and memory on synthetic 640×480 @ 30 fps clips (2 s and 10 s).

    .venv/bin/python benchmarks/bench_video.py [--seconds 2 10]

Each clip is scikit-image's astronaut photo drifting and zooming over a 640×480 canvas (a real
face, so the default detector works), encoded with PyAV in a temporary folder. Each clip runs in a
fresh process with the default outputs (side-by-side MP4 + params) on the demo asset pack; the
script prints frames/s (target ≥ 4) and the peak RSS per clip: streaming means the 10 s clip must
not need more memory than the 2 s clip (beyond noise).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from _timing import environment, set_threads, time_it

WIDTH, HEIGHT, FPS = 640, 480, 30


def make_clip(path: Path, seconds: float) -> Path:
    """Write the synthetic clip: the astronaut's head moving on a grey canvas."""
    import av
    from PIL import Image
    from skimage import data

    face = Image.fromarray(data.astronaut()[0:300, 100:380])  # head and shoulders
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(int(seconds * FPS)):
            t = i / FPS
            scale = 0.9 + 0.1 * np.sin(t)
            patch = face.resize((int(280 * scale), int(300 * scale)))
            canvas = Image.new("RGB", (WIDTH, HEIGHT), (90, 100, 110))
            canvas.paste(patch, (int(180 + 60 * np.sin(0.8 * t)), int(90 + 20 * np.cos(0.6 * t))))
            frame = av.VideoFrame.from_ndarray(np.asarray(canvas), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def child(clip: str, out: str) -> None:
    """Run the app once in this process; print frames/s and peak RSS as JSON."""
    set_threads(2)
    from pydeca.apps.video import run_video
    from pydeca.model import DECA

    model = DECA.load("demo", device="cpu")
    summaries = []
    # one cold run: the peak RSS of the streaming app is part of what is measured
    timing = time_it(
        lambda: summaries.append(run_video(clip, out, model=model, quiet=True)), repeat=1, warmup=0
    )
    summary, seconds = summaries[0], timing.median_s
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "frames": summary.frames,
                "seconds": seconds,
                "fps": summary.frames / seconds,
                "peak_mib": peak_mib,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[2.0, 10.0])
    parser.add_argument("--child", nargs=2, metavar=("CLIP", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    env = dict(os.environ, OMP_NUM_THREADS="2")
    set_threads(2)
    print(f"640x480 @ {FPS} fps, demo assets; {environment()}")
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in args.seconds:
            clip = make_clip(Path(tmp) / f"clip{seconds:g}s.mp4", seconds)
            run = subprocess.run(
                [sys.executable, __file__, "--child", str(clip), str(Path(tmp) / f"out{seconds:g}")],
                check=True,
                env=env,
                capture_output=True,
                text=True,
            )
            r = json.loads(run.stdout.strip().splitlines()[-1])
            print(
                f"{seconds:5.1f} s clip: {r['frames']} frames in {r['seconds']:.1f} s = "
                f"{r['fps']:.2f} frames/s (target >= 4), peak RSS {r['peak_mib']:.0f} MiB"
            )


if __name__ == "__main__":
    main()
