"""Decode and visualisation speed, and peak memory of rendering on a 12-megapixel photo.

    .venv/bin/python benchmarks/bench_decode.py          # needs ../shared (or PYDECA_SHARED)

Targets (issue 3, 2 CPU threads): ``decode`` without visualisations < 60 ms per image, with the full
visualisation grid < 120 ms (the original fork: ~240 ms and ~400 ms); rendering the panels on a
4000×3000 photo under 1.5 GB peak memory. Uses the assets the parity references were made with
(synthetic FLAME 2020 pickle, DECA's topology files, the deterministic checkpoint).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from _timing import environment, set_threads, time_it

SHARED = Path(os.environ.get("PYDECA_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def build_model(cache: str):
    from pydeca.assets.bundle import AssetBundle
    from pydeca.assets.embedding import load_landmark_embedding
    from pydeca.assets.flame_model import load_flame_model
    from pydeca.assets.synthetic_checkpoint import deterministic_checkpoint
    from pydeca.assets.template import load_template_mesh
    from pydeca.assets.uv_maps import load_fixed_displacement, load_uv_mask
    from pydeca.model import DECA

    topo = SHARED / "flame-topology"
    bundle = AssetBundle(
        asset_dir=topo,
        flame=load_flame_model(SHARED / "fixtures" / "flame2020_synthetic_chumpy.pkl", cache_dir=cache),
        embedding=load_landmark_embedding(topo / "landmark_embedding.npy"),
        template=load_template_mesh(topo / "head_template.obj"),
        face_eye_mask=load_uv_mask(topo / "uv_face_eye_mask.png"),
        face_mask=load_uv_mask(topo / "uv_face_mask.png"),
        fixed_displacement=load_fixed_displacement(topo / "fixed_displacement_256.npy"),
        checkpoint=deterministic_checkpoint(),
    )
    return DECA(bundle, cache_dir=cache)


def load_codes():
    from pydeca.nets import Codes

    with np.load(SHARED / "fixtures" / "parity" / "examples__alfw1.npz") as ref:
        codes = Codes(
            **{
                k: torch.from_numpy(ref[f"code_{k}"])[None]
                for k in ("shape", "tex", "exp", "pose", "cam", "light", "detail")
            }
        )
        image = torch.from_numpy(ref["image224"])[None]
    return codes, image


def photo_memory(cache: str) -> None:
    """Child process: peak RSS of rendering the photo panels on a 4000×3000 photo."""
    from pydeca.render.views import photo_views

    model = build_model(cache)
    codes, _ = load_codes()
    with torch.inference_mode():
        rec = model.decode(codes)
    photo = np.full((3000, 4000, 3), 90, dtype=np.uint8)
    tform = np.array([[224 / 1800, 0, -224 / 1800 * 1100], [0, 224 / 1800, -224 / 1800 * 500], [0, 0, 1.0]])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    views: dict = {}
    # one cold call: the peak RSS of the first call is what is measured
    timing = time_it(
        lambda: views.update(photo_views(model.renderer, rec, 0, photo, tform)), repeat=1, warmup=0
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    covered = float(np.any(views["shape_images"] != 90, axis=-1).mean())
    print(f"{before / 1024:.0f} {peak / 1024:.0f} {timing.median_s:.2f} {covered:.3f}")


def main() -> None:
    set_threads(2)
    with tempfile.TemporaryDirectory() as cache:
        if len(sys.argv) > 1 and sys.argv[1] == "--photo-memory":
            photo_memory(cache)
            return
        from pydeca.render.views import crop_views, visualization_grid

        print(environment())
        model = build_model(cache)
        codes, image = load_codes()

        def decode() -> None:
            with torch.inference_mode():
                model.decode(codes)

        def decode_with_grid() -> None:
            with torch.inference_mode():
                rec = model.decode(codes, images=image)
                views = crop_views(model.renderer, rec, image)
                visualization_grid({k: v[0] for k, v in views.items()})

        plain = time_it(decode, repeat=15, warmup=3)
        full = time_it(decode_with_grid, repeat=15, warmup=3)
        print(
            f"decode (B=1, no vis):   {plain.median_ms:7.1f} ms   target 60 ms   ratio {plain.ratio(60):.2f}"
        )
        print(
            f"decode + full vis grid: {full.median_ms:7.1f} ms   target 120 ms  ratio {full.ratio(120):.2f}"
        )
    child = subprocess.run(
        [sys.executable, __file__, "--photo-memory"], capture_output=True, text=True, check=True
    )
    before, peak, seconds, covered = child.stdout.split()
    print(
        f"photo panels on 4000x3000:   {float(seconds) * 1e3:7.0f} ms   peak RSS {peak} MB "
        f"(model loaded: {before} MB; target 1536 MB, ratio {float(peak) / 1536:.2f}); head covers "
        f"{float(covered) * 100:.0f}% of the photo"
    )


if __name__ == "__main__":
    main()
