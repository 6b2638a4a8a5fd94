"""Training data loader throughput: 224² crops per second from ``FaceDataset`` through a DataLoader.

    .venv/bin/python benchmarks/bench_data.py              # 2 workers and 0 workers
    .venv/bin/python benchmarks/bench_data.py --json

Builds a small dataset in a temporary folder (32 identities × 6 JPEG photos of 300 × 350 px with
68 landmarks each), then reads ``--epochs`` epochs of K = 4 images per identity, batch 2, with
``--workers`` DataLoader workers (and with none, for comparison). Every item is DECA's training crop:
decode, similarity warp of image and mask to 224², landmarks to crop NDC.

Target (issue 11): at least 50 crops/s with 2 workers on this 2-core machine, so the loader does not
starve a GPU. Prints crops/s and the ratio to the target.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import DataLoader

from _timing import environment
from pydeca.train.data import FaceDataset, ManifestRow

TARGET_CROPS_PER_SECOND = 50.0


def _dataset(root: Path, identities: int = 32, images: int = 6) -> list[ManifestRow]:
    """JPEG photos with an elliptic ring of 68 landmarks around the middle of each."""
    rng = np.random.default_rng(0)
    angles = np.linspace(0.0, 2.0 * np.pi, 68, endpoint=False)
    landmarks = np.stack([150 + 50 * np.cos(angles), 175 + 65 * np.sin(angles)], 1).astype(np.float32)
    rows = []
    for i in range(identities):
        for j in range(images):
            path = root / f"id{i:03d}" / f"{j}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (350, 300, 3), dtype=np.uint8)).save(path, quality=90)
            np.save(path.with_suffix(".npy"), landmarks)
            rows.append(ManifestRow(f"id{i:03d}", path, path.with_suffix(".npy")))
    return rows


def _crops_per_second(dataset: FaceDataset, workers: int, epochs: int) -> float:
    loader = DataLoader(
        dataset, batch_size=2, num_workers=workers, shuffle=True, persistent_workers=workers > 0
    )
    next(iter(loader))  # start the workers
    start, crops = time.perf_counter(), 0
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        for batch in loader:
            crops += batch["image"].shape[0] * batch["image"].shape[1]
    return crops / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pydeca-bench-data-") as folder:
        dataset = FaceDataset(_dataset(Path(folder)), k=4, seed=0)
        results = {
            f"{workers}_workers": round(_crops_per_second(dataset, workers, args.epochs), 1)
            for workers in (args.workers, 0)
        }
    ratio = results[f"{args.workers}_workers"] / TARGET_CROPS_PER_SECOND
    if args.json:
        print(json.dumps({"crops_per_second": results, "ratio_to_target": round(ratio, 2)}, indent=2))
        return
    print(environment())
    for key, value in results.items():
        print(f"{key.replace('_', ' '):10s} {value:7.1f} crops/s (224², K = 4, batch 2)")
    print(f"target ≥ {TARGET_CROPS_PER_SECOND:.0f} crops/s with {args.workers} workers: ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
