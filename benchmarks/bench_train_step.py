"""Coarse-stage training step on the CPU: forward + backward of DECA's coarse loss set, batch 8.

    .venv/bin/python benchmarks/bench_train_step.py        # demo pack, 2 threads
    .venv/bin/python benchmarks/bench_train_step.py --batch 4 --json

One step as the coarse stage runs it (reference §3.8), without the identity network (not installed
here): E_flame on (B, 3, 224, 224) crops with gradients (``encode_differentiable``, train mode),
FLAME, weak-perspective projection, the SH-shaded albedo render (differentiable rasterizer), then
weighted landmarks + eye + lip + photometric + shape/expression/albedo/light regularisers with
``LossWeights`` defaults, and ``backward``. Inputs are seeded random crops and landmarks (the
numbers do not depend on the data). Timed with ``_timing.time_it`` (2 warm-up steps); prints the
median per step and per image.
"""

from __future__ import annotations

import argparse
import json

import torch

from _timing import environment, set_threads, time_it
from pydeca import DECA
from pydeca.geometry.camera import weak_perspective_project
from pydeca.train.losses import (
    LossWeights,
    eye_closure_loss,
    light_reg,
    lip_closure_loss,
    photometric_loss,
    squared_norm_reg,
    weighted_landmark_loss,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    set_threads(args.threads)
    model = DECA.load("demo", device="cpu")
    model.E_flame.train()
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(args.batch, 3, 224, 224, generator=generator)
    target = torch.rand(args.batch, 68, 2, generator=generator) * 1.2 - 0.6
    masks = torch.ones(args.batch, 224, 224)
    weights = LossWeights()
    if model.albedo_model is None:
        raise SystemExit("the demo pack has no albedo model; this benchmark needs one")

    def step() -> None:
        model.zero_grad(set_to_none=True)
        codes = model.encode_differentiable(images, use_detail=False)
        flame = model.flame(codes.shape, codes.exp, codes.pose)
        landmarks = weak_perspective_project(flame.landmarks2d, codes.cam)[..., :2]
        trans_verts = weak_perspective_project(flame.vertices, codes.cam)
        albedo = model.albedo_model(codes.tex)
        rendered, alpha = model.renderer.render_texture(
            trans_verts, albedo, 224, light=codes.light, vertices=flame.vertices
        )
        loss = (
            weights.landmark * weighted_landmark_loss(landmarks, target)
            + weights.eye * eye_closure_loss(landmarks, target)
            + weights.lip * lip_closure_loss(landmarks, target)
            + weights.photo * photometric_loss(rendered, images, masks * alpha[:, 0])
            + weights.shape * squared_norm_reg(codes.shape)
            + weights.expression * squared_norm_reg(codes.exp)
            + weights.albedo * squared_norm_reg(codes.tex)
            + weights.light * light_reg(codes.light)
        )
        loss.backward()

    timing = time_it(step, repeat=args.repeat, warmup=2)
    result = {
        "batch": args.batch,
        "median_ms_per_step": round(timing.median_ms, 1),
        "median_ms_per_image": round(timing.median_ms / args.batch, 1),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(environment())
    print(
        f"coarse step, batch {args.batch}: {result['median_ms_per_step']:.0f} ms "
        f"({result['median_ms_per_image']:.0f} ms per image), forward + backward"
    )


if __name__ == "__main__":
    main()
