"""``deca view``: server time of one slider move, per mesh and texture mode, 2 CPU threads.

    .venv/bin/python benchmarks/bench_viewer.py          # demo pack, a photo from ../shared
    .venv/bin/python benchmarks/bench_viewer.py --json

A running dashboard (viser server on a free port, no browser needed: the update is queued for
every connected tab) is driven exactly as a browser drives it: a widget value is set and its
callback runs — read the dials, FLAME for one face (and for the detail mesh the detail decoder,
whose input changes with an expression slider, then the dense vertices), and the scene update:
positions only for ``clay``, a GLB of positions + colours for the shaded textures. Timed with
``_timing.time_it`` (3 warm-up moves, ``--repeat`` timed). Also counts the head updates a reset
and a preset cause (target: 1 each).

Targets (issue 10): a slider move under 30 ms with the coarse mesh, under 150 ms with the dense
detail mesh. Prints medians and their ratio to the target.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from _timing import environment, set_threads, time_it
from pydeca import DECA, reconstruct
from pydeca.viewer import Dashboard, expression_of

SHARED = Path(os.environ.get("PYDECA_SHARED", Path(__file__).resolve().parents[2] / "shared"))
TARGET_MS = {False: 30.0, True: 150.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    set_threads(args.threads)
    model = DECA.load("demo", device="cpu")
    face = reconstruct(model, SHARED / "images" / "examples" / "IMG_0392_inputs.jpg")
    board = Dashboard(model, [face], expressions={"own": expression_of(face.codes)})
    board.serve(port=0, block=False)
    results = {}
    try:
        panel = board.panel
        for dense in (False, True):
            for texture in board.head.texture_choices:
                board.apply(replace(board.head.initial_controls(), detail=dense, texture=texture))
                values = iter(np.tile(np.linspace(-2.0, 2.0, 9), 20))
                slider = panel.expression[0]

                def move(slider=slider, values=values) -> None:
                    slider.value = float(next(values))

                timing = time_it(move, repeat=args.repeat, warmup=3)
                key = f"{'dense' if dense else 'coarse'}/{texture}"
                results[key] = {
                    "median_ms": round(timing.median_ms, 2),
                    "target_ms": TARGET_MS[dense],
                    "ratio_to_target": round(timing.median_ms / TARGET_MS[dense], 3),
                    "vertices": int(board.mesh.vertices.shape[0]),
                }
        before = board.updates
        board.panel.reset.value = True
        reset_updates = board.updates - before
        before = board.updates
        board.panel.preset.value = "own"
        preset_updates = board.updates - before
    finally:
        board.stop()
    summary = {"moves": results, "updates_per_reset": reset_updates, "updates_per_preset": preset_updates}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(environment())
    for key, row in results.items():
        print(
            f"{key:14s} {row['median_ms']:7.1f} ms per slider move ({row['vertices']} vertices), "
            f"target {row['target_ms']:.0f} ms: ratio {row['ratio_to_target']:.2f}"
        )
    print(f"updates per reset: {reset_updates}, per preset: {preset_updates} (target 1)")


if __name__ == "__main__":
    main()
